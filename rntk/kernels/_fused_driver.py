"""Host-side preparation and launch of the fused numba kernel."""
from __future__ import annotations

import numpy as np

from ._fused import ERF, RELU, constants, fused_cross

__all__ = ["fused_gram", "fused_tables"]

# rows x columns of a tile: the SIMD loop runs along a row (long rows, few
# loop overheads); 3 state arrays x L x TILE_I x TILE_J doubles stay in cache
TILE_I, TILE_J = 4, 512


def _aux(S, erf, dt):
    """Per-sample factors (computed in float64, then cast): see ``fused_cross``."""
    if erf:
        a1 = 1.0 / np.sqrt(1.0 + 2.0 * S)
        a2 = np.zeros_like(S)
    else:
        # variances below dt's normal range count as zero (1/sqrt would overflow)
        r = np.sqrt(np.where(S >= np.finfo(dt).tiny, S, 0.0))
        a1 = np.divide(1.0, r, out=np.zeros_like(S), where=r > 0)
        a2 = r
    return np.ascontiguousarray(a1, dtype=dt), np.ascontiguousarray(a2, dtype=dt)


def _assign(cost, n_workers):
    """Longest-processing-time-first split of tiles over workers.

    Returns (order, bounds): worker w runs tiles order[bounds[w]:bounds[w+1]].
    """
    load = np.zeros(n_workers)
    owner = np.empty(len(cost), dtype=np.int64)
    for t in np.argsort(-cost, kind="stable"):
        w = int(np.argmin(load))
        owner[t] = w
        load[w] += cost[t]
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(n_workers + 1)).astype(np.int64)
    return order, bounds


def _pairs_in_tiles(tiles, symmetric):
    """Number of computed pairs per tile (j > i only when symmetric)."""
    rows = tiles[:, 1] - tiles[:, 0]
    cols = tiles[:, 3] - tiles[:, 2]
    if not symmetric:
        return rows * cols
    out = np.empty(len(tiles), dtype=np.int64)
    for k, (i0, i1, j0, j1) in enumerate(tiles):
        i = np.arange(i0, i1)
        out[k] = np.clip(j1 - np.maximum(j0, i + 1), 0, None).sum()
    return out


def fused_tables(p, b, width):
    """Right-aligned values, first columns, self-variances and the exact diagonal."""
    from ._fused_prep import self_tables

    XR = b.right_aligned(width)
    start = width - b.lengths
    sw2, su2, sb2, sh2 = (np.array(v) for v in p._squares())
    S, d_ntk, d_nngp = self_tables(XR, start, sw2, su2, sb2, sh2, p.sigma_v**2, p._dual.name == "erf")
    return XR, start, S, (d_ntk, d_nngp)


def fused_gram(p, XR, sx, Sx, YR, sy, Sy, symmetric, dt, n_jobs=None):
    """Run ``fused_cross``; the diagonal of a symmetric Gram is left to the caller."""
    import numba

    erf = p._dual.name == "erf"
    nx, ny = XR.shape[0], YR.shape[0]
    # longest first: pairs of a tile then start at nearly the same column
    ox = np.argsort(sx, kind="stable")
    oy = ox if symmetric else np.argsort(sy, kind="stable")
    W = XR.shape[1]
    xT = np.ascontiguousarray(XR[ox].transpose(1, 2, 0), dtype=dt)
    yT = xT if symmetric else np.ascontiguousarray(YR[oy].transpose(1, 2, 0), dtype=dt)
    A1, A2 = _aux(Sx[:, :, ox], erf, dt)
    B1, B2 = (A1, A2) if symmetric else _aux(Sy[:, :, oy], erf, dt)
    sxs, sys_ = np.ascontiguousarray(sx[ox]), np.ascontiguousarray(sy[oy])
    tiles = np.array(
        [
            (i, min(i + TILE_I, nx), j, min(j + TILE_J, ny))
            for i in range(0, nx, TILE_I)
            for j in range(0, ny, TILE_J)
            if not symmetric or min(j + TILE_J, ny) - 1 > i
        ],
        dtype=np.int64,
    ).reshape(-1, 4)
    first = np.maximum(sxs[tiles[:, 0]], sys_[tiles[:, 2]])
    threads_before = numba.get_num_threads()
    n_threads = threads_before if n_jobs is None else int(n_jobs)
    if n_threads < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    cost = _pairs_in_tiles(tiles, symmetric) * (W - first).astype(float)
    order, bounds = _assign(cost, n_threads)
    tiles = np.ascontiguousarray(tiles[order])
    sw2, su2, sb2, _ = (np.array(v, dtype=dt) for v in p._squares())
    su2[0] = su2[0] / XR.shape[2]
    ntk = np.empty((nx, ny), dtype=dt)
    nngp = np.empty((nx, ny), dtype=dt)
    try:
        numba.set_num_threads(n_threads)
        fused_cross(xT, sxs, A1, A2, yT, sys_, B1, B2, tiles, bounds, symmetric, ERF if erf else RELU,
                    sw2, su2, sb2, dt.type(p.sigma_v**2), constants(dt), ntk, nngp)
    finally:
        numba.set_num_threads(threads_before)
    out_ntk = np.empty_like(ntk)
    out_nngp = np.empty_like(nngp)
    out_ntk[np.ix_(ox, oy)] = ntk
    out_nngp[np.ix_(ox, oy)] = nngp
    return out_ntk, out_nngp
