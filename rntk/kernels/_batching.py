"""Memory tiling of a Gram evaluation, orthogonal to the kernel's math.

``batched_gram(tile, n_x, n_y, batch_size, ...)`` calls ``tile(ix, iy)`` on
index blocks and assembles the result; ``iy is None`` asks for a symmetric
(training) tile. Every pair is computed by the same elementwise arithmetic
whatever tile it lands in, so tiled and untiled results are identical.
"""
from __future__ import annotations

import numpy as np

__all__ = ["batched_gram"]


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
