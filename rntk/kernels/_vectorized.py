"""The array-namespace backends: the recursion of ``_recursion`` on numpy or CuPy.

``vectorized_gram`` computes one tile of a Gram (numpy: "cpu-vectorized";
CuPy arrays in, CuPy arrays out: "gpu-vectorized"); ``check_range`` is the
float64 pre-check every backend but the fused CPU one runs (that one does the
same inside its compiled per-sample pass).
"""
from __future__ import annotations

from functools import partial

import numpy as np

from .._validation import check_diagonal_range, overflow_limit
from ._recursion import cross_pairs, diagonal, self_variance_table, training_diagonal

__all__ = ["check_range", "duals_for", "tables", "vectorized_diagonal", "vectorized_gram"]

# samples per block of the range scan: its self-variance table is L x T x block floats
_SCAN_BLOCK = 4096


def duals_for(dual, xp):
    """``(pair, diag)`` of a dual activation bound to the namespace ``xp``."""
    return partial(dual.pair, xp=xp), partial(dual.diag, xp=xp)


def tables(b, width, hp, diag, xp=np):
    """Right-aligned float64 sequences, start columns and self-variance table of a batch.

    The table is float64 whatever the Gram's dtype: it feeds every pair of the
    sample, and its rounding would otherwise enter them all.
    """
    XR = xp.asarray(b.right_aligned(width))
    start = xp.asarray(width - b.lengths)
    return XR, start, self_variance_table(XR, start, hp, diag)


def vectorized_gram(bx, by, hp, dual, dt, xp=np):
    """Gram of two checked batches; ``by is None``: the symmetric training Gram.

    The training Gram computes the pairs j > i once, mirrors them, and puts
    the exact same-sample values (sigma_h included) on the diagonal.

    Returns ``(ntk, nngp)``, arrays of ``xp`` of shape (len(bx), len(by or bx)).
    """
    pair, diag = duals_for(dual, xp)
    sym = by is None
    by_ = bx if sym else by
    W = int(max(bx.lengths.max(), by_.lengths.max()))
    nx, ny = len(bx), len(by_)
    XR, sx, Sx = tables(bx, W, hp, diag, xp)
    YR, sy, Sy = (XR, sx, Sx) if sym else tables(by_, W, hp, diag, xp)
    ntk = xp.zeros((nx, ny), dtype=dt)
    nngp = xp.zeros((nx, ny), dtype=dt)
    if sym:
        ip, jp = (xp.asarray(a) for a in np.triu_indices(nx, 1))
    else:
        ip, jp = (xp.asarray(a.ravel()) for a in np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"))
    if len(ip):
        t, g = cross_pairs(XR.astype(dt), sx, Sx.astype(dt), YR.astype(dt), sy, Sy.astype(dt), ip, jp, hp, pair)
        ntk[ip, jp], nngp[ip, jp] = t, g
        if sym:
            ntk[jp, ip], nngp[jp, ip] = t, g
    if sym:
        d_ntk, d_nngp = training_diagonal(XR, sx, Sx, hp, pair, diag)  # float64, as the range scan
        idx = xp.arange(nx)
        ntk[idx, idx], nngp[idx, idx] = d_ntk, d_nngp
    return ntk, nngp


def vectorized_diagonal(b, hp, dual, dt):
    """Diagonal of the training Gram of a checked batch (float64 recursion, result in ``dt``)."""
    pair, diag = duals_for(dual, np)
    out = np.empty((2, len(b)), dtype=dt)
    for k0 in range(0, len(b), _SCAN_BLOCK):
        ix = np.arange(k0, min(k0 + _SCAN_BLOCK, len(b)))
        blk = b.subset(ix)
        XR, start, S = tables(blk, int(blk.lengths.max()), hp, diag)
        out[:, ix] = training_diagonal(XR, start, S, hp, pair, diag)
    return out[0], out[1]


class _RangeWatch:
    """Largest tangent-kernel value of every sample, and the first step past ``limit``.

    Checked: the running tangent kernel Q at every column and layer (Q >=
    Sigma bounds a pair's Sigma and Q by Cauchy-Schwarz), for erf also
    (1 + 2 Sigma)^2 (its closed-form pair dual multiplies two such factors),
    and the final NTK. NaN counts as out of range.
    """

    def __init__(self, start, limit, erf):
        self.start, self.limit, self.erf = start, limit, erf
        self.peak = np.zeros(len(start))
        self.first_bad = np.full(len(start), -1, dtype=np.int64)

    def note(self, x, t, active):
        self.peak = np.where(active & ((x > self.peak) | np.isnan(x)) & ~np.isnan(self.peak), x, self.peak)
        bad = active & ~(x <= self.limit) & (self.first_bad < 0)
        self.first_bad = np.where(bad, t, self.first_bad)

    def __call__(self, c, sig, q, active):
        t = c - self.start
        self.note(q, t, active)
        self.note(sig, t, active)  # q >= sig unless the layer is frozen
        if self.erf:
            self.note((1.0 + 2.0 * sig) ** 2, t, active)


def check_range(b, hp, dual, dt, name="X", index=None):
    """Refuse, before any pair is computed, a batch whose diagonal leaves ``dt``'s range.

    Every Gram entry is bounded by its two samples' diagonal values, so one
    O(N T L) float64 pass over the samples (in blocks, to bound memory) finds
    an overflow of the whole Gram. Raises ``KernelOverflowError``.

    Returns the float64 diagonal ``(ntk, nngp)`` of ``gram(b)``, shape (N,).
    """
    pair, diag = duals_for(dual, np)
    limit = overflow_limit(dt)
    out_ntk, out_nngp = np.empty(len(b)), np.empty(len(b))
    with np.errstate(over="ignore", invalid="ignore"):
        for k0 in range(0, len(b), _SCAN_BLOCK):
            ix = np.arange(k0, min(k0 + _SCAN_BLOCK, len(b)))
            blk = b.subset(ix)
            W = int(blk.lengths.max())
            _, start, S = tables(blk, W, hp, diag)
            watch = _RangeWatch(start, limit, dual.name == "erf")
            ntk, nngp = diagonal(S, start, hp, diag, watch)
            watch.note(ntk, blk.lengths - 1, np.ones(len(ix), dtype=bool))
            check_diagonal_range(watch.first_bad, watch.peak, blk.lengths, dt, name,
                                 ix if index is None else np.asarray(index)[ix])
            out_ntk[ix], out_nngp[ix] = ntk, nngp
    return out_ntk, out_nngp
