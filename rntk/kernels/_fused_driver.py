"""Host-side preparation and launch of the fused numba kernel."""
from __future__ import annotations

import numpy as np

from ._fused import ALIGN, ERF, FROZEN, PLAIN, RELU, TILE_I, constants, fused_cross

__all__ = ["READOUTS", "fused_gram", "sides", "thread_count"]

#: The read-outs the fused numba kernels implement ("mean" in ``_fused_mean``).
READOUTS = ("last", "per-step", "mean")

# columns of a tile (its TILE_I rows are fixed by the kernel): the SIMD loop
# runs along the columns (long loops, few loop overheads); 2 state arrays x
# L x TILE_I x TILE_J doubles stay in cache
TILE_J = 512


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


def _tiles(nx, ny, symmetric):
    """Tiles (i0, i1, j0, j1) covering the pairs, and the pair steps each costs per column.

    With ``symmetric`` only pairs j > i are computed (the diagonal is exact
    elsewhere) and tiles holding none are left out.
    """
    I0, J0 = (a.ravel() for a in np.meshgrid(np.arange(0, nx, TILE_I), np.arange(0, ny, TILE_J),
                                             indexing="ij"))
    I1, J1 = np.minimum(I0 + TILE_I, nx), np.minimum(J0 + TILE_J, ny)
    if symmetric:
        keep = J1 - 1 > I0
        I0, I1, J0, J1 = I0[keep], I1[keep], J0[keep], J1[keep]
        # the kernel steps all TILE_I rows from the first row's column block
        # (rounded down to ALIGN) on, pairs j <= i and padding rows included
        jlo = np.clip(I0 + 1 - J0, 0, J1 - J0)
        pairs = TILE_I * (J1 - J0 - (jlo - jlo % ALIGN))
    else:
        pairs = TILE_I * (J1 - J0)  # padding rows past I1 are computed too
    return np.stack([I0, I1, J0, J1], axis=1).astype(np.int64), pairs


def _side(p, b, width, order, dt, name, index):
    """One side's per-sample table, sorted by ``order``, and its exact self-pair values.

    The table's sample count is padded to a multiple of ``ALIGN`` with zero
    samples that start with the last real one (so starts stay sorted).
    Raises ``KernelOverflowError`` (naming sample ``index[i]`` of ``name``)
    if a sample's diagonal leaves ``dt``'s range: it bounds every pair.
    """
    from .._validation import check_diagonal_range, overflow_limit
    from ._fused_prep import sample_tables

    n = len(b)
    n_pad = -(-n // ALIGN) * ALIGN
    # one allocation: >= 4 MiB tables get transparent huge pages (numpy asks
    # for them), where three separate ones page-faulted 4 KiB at a time
    P = np.empty((width, b.n_features + 2 * p.n_layers, n_pad), dtype=dt)
    P[:, :, n:] = 0
    d_ntk, d_nngp = np.empty(n), np.empty(n)
    peak, first_bad = np.empty(n), np.empty(n, dtype=np.int64)
    hp = p.squares()
    sw2, su2, sb2, sh2 = (np.array(v) for v in (hp.sw2, hp.su2, hp.sb2, hp.sh2))
    own = np.ones(p.n_layers) if hp.trained is None else np.array(hp.trained, dtype=np.float64)
    sample_tables(np.ascontiguousarray(b.data), b.lengths, order, sw2, su2, sb2, sh2, p.sigma_v**2,
                  own, bool(hp.per_step), p.dual.name == "erf", float(np.finfo(dt).tiny),
                  overflow_limit(dt), P, d_ntk, d_nngp, peak, first_bad)
    check_diagonal_range(first_bad, peak, b.lengths, dt, name, index)
    # the values carry sigma_u / sqrt(m), so the input term of a pair is the product
    # of the two samples' scaled values: the same bits whichever sample plays x
    # (sigma_u^2 x_i * y_j is not), and the pair kernels take sigma_u^2 = 1 at layer 1
    P[:, :b.n_features, :n] *= dt.type(np.sqrt(hp.su2[0] / b.n_features))
    start = (width - b.lengths)[order]
    start = np.concatenate([start, np.full(n_pad - n, start[-1])])
    return P, start, (d_ntk, d_nngp)


def thread_count(n_jobs):
    """numba threads for a call: ``n_jobs``, or numba's current setting when None."""
    import numba

    n = numba.get_num_threads() if n_jobs is None else int(n_jobs)
    if n < 1:
        raise ValueError(f"n_jobs must be >= 1, got {n_jobs}")
    return n


def sides(p, bx, by, dt, index, names):
    """Both sides' tables, sorted longest first, right-aligned to the common width W.

    Returns ``(W, ox, X, sx, diag, oy, Y, sy)``: per side the sort order, the
    table and the first columns; ``diag`` the exact self-pair values of bx
    (last / per-step read-outs). ``by is None``: Y is X.
    """
    symmetric = by is None
    W = int(bx.lengths.max() if symmetric else max(bx.lengths.max(), by.lengths.max()))
    # longest first: the pairs of a tile then start at nearly the same column
    ox = np.argsort(-bx.lengths, kind="stable")
    X, sx, diag = _side(p, bx, W, ox, dt, names[0], index[0])
    if symmetric:
        return W, ox, X, sx, diag, ox, X, sx
    oy = np.argsort(-by.lengths, kind="stable")
    Y, sy, _ = _side(p, by, W, oy, dt, names[1], index[1])
    return W, ox, X, sx, diag, oy, Y, sy


def fused_gram(p, bx, by, dt, n_jobs=None, index=(None, None), names=("X", "Y")):
    """Gram of two checked batches with the fused kernel; ``by is None``: training Gram.

    The training Gram's diagonal is the exact self-pair value (sigma_h included).
    ``p`` may freeze layers and read out per step or from the mean state.
    ``index`` and ``names``: the caller's sample numbers and names of bx and by
    (for error messages about a tile of a larger Gram).
    Returns ``(ntk, nngp)``, two views of one array.
    """
    import numba

    if p.readout not in READOUTS:
        raise ValueError(f"the fused kernel implements readout in {READOUTS}, not {p.readout!r}; "
                         "use backend='cpu-vectorized'")
    if p.readout == "mean":
        from ._fused_mean import fused_mean_gram

        return fused_mean_gram(p, bx, by, dt, n_jobs, index, names)
    symmetric = by is None
    n_threads = thread_count(n_jobs)
    W, ox, X, sx, diag, oy, Y, sy = sides(p, bx, by, dt, index, names)
    nx, ny = len(bx), len(sy)  # y padded to a multiple of ALIGN
    tiles, pairs = _tiles(nx, ny, symmetric)
    first = np.maximum(sx[tiles[:, 0]], sy[tiles[:, 2]])
    order, bounds = _assign(pairs * (W - first).astype(float), n_threads)
    tiles = np.ascontiguousarray(tiles[order])
    hp = p.squares()
    sw2, su2, sb2 = (np.array(v, dtype=dt) for v in (hp.sw2, hp.su2, hp.sb2))
    su2[0] = 1  # in the tables' values (``_side``)
    out = np.empty((2, nx, len(oy)), dtype=dt)
    threads_before = numba.get_num_threads()
    try:
        numba.set_num_threads(n_threads)
        fused_cross(X, sx, Y, sy, bx.n_features, tiles, bounds, symmetric,
                    ERF if p.dual.name == "erf" else RELU, sw2, su2, sb2, dt.type(p.sigma_v**2),
                    FROZEN if p.frozen_layers else PLAIN, p.frozen_layers, bool(hp.per_step),
                    constants(dt), ox, oy, out)
    finally:
        numba.set_num_threads(threads_before)
    if symmetric:
        idx = np.arange(nx)
        out[0, idx, idx], out[1, idx, idx] = diag
    return out[0], out[1]
