"""Memory tiling of a Gram evaluation, orthogonal to the kernel's math.

``batched_gram(tile, n_x, n_y, batch_size, ...)`` calls ``tile(ix, iy)`` on
index blocks and assembles the result; ``iy is None`` asks for a symmetric
(training) tile. Every pair is computed by the same elementwise arithmetic
whatever tile it lands in, so tiled and untiled results are identical.
"""
from __future__ import annotations

import numpy as np

__all__ = ["batched_gram", "pairwise"]


def batched_gram(tile, n_x, n_y, batch_size, dtype, progress=False):
    sym = n_y is None
    if batch_size is None or (batch_size >= n_x and (sym or batch_size >= n_y)):
        ix = np.arange(n_x)
        return tile(ix, None if sym else np.arange(n_y))
    ny = n_x if sym else n_y
    xs = [np.arange(a, min(a + batch_size, n_x)) for a in range(0, n_x, batch_size)]
    ys = [np.arange(a, min(a + batch_size, ny)) for a in range(0, ny, batch_size)]
    jobs = [(a, b) for a in range(len(xs)) for b in range(len(ys)) if not sym or b >= a]
    ntk = np.empty((n_x, ny), dtype=dtype)
    nngp = np.empty((n_x, ny), dtype=dtype)
    if progress:
        from tqdm.auto import tqdm

        jobs = tqdm(jobs, desc="Gram tiles", unit="tile")
    for a, b in jobs:
        ix, iy = xs[a], ys[b]
        t, g = tile(ix, None if (sym and a == b) else iy)
        ntk[ix[0] : ix[-1] + 1, iy[0] : iy[-1] + 1] = t
        nngp[ix[0] : ix[-1] + 1, iy[0] : iy[-1] + 1] = g
        if sym and a != b:
            ntk[iy[0] : iy[-1] + 1, ix[0] : ix[-1] + 1] = t.T
            nngp[iy[0] : iy[-1] + 1, ix[0] : ix[-1] + 1] = g.T
    return ntk, nngp


def pairwise(n_x, n_y, symmetric, value):
    """``(ntk, nngp)`` of shape (n_x, n_y) from ``value(i, j) -> (ntk_ij, nngp_ij)``, one pair at a time.

    With ``symmetric`` only j >= i is evaluated and mirrored, so the result is
    exactly symmetric (the per-pair reference loops of the kernels).
    """
    ntk = np.empty((n_x, n_y))
    nngp = np.empty_like(ntk)
    for i in range(n_x):
        for j in range(n_y):
            if symmetric and j < i:
                ntk[i, j], nngp[i, j] = ntk[j, i], nngp[j, i]
            else:
                ntk[i, j], nngp[i, j] = value(i, j)
    return ntk, nngp

