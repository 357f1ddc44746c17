"""Fused CPU kernel of the mean-state read-out (``readout="mean"``, numba, parallel).

The read-out sees every hidden state, so a pair's state is not one value per
layer but a row over all of y's columns: at column c of x, entry c' holds V,
V' and Q of the step pair (c, c'), and its recurrent input is entry
(c - 1, c' - 1) of the previous column (the forward form of
``_recursion.mean_pairs``, which stays the array-namespace reference). Each
pair costs O(L T T') dual evaluations. Pairs run in parallel (one per
iteration of a ``prange``); a pair's column update is one branch-free loop
over y's columns that reads the previous column's buffer and writes the
current one (double buffering, so LLVM can vectorise it), with the same
duals as the fused kernel of the other read-outs (``_fused._dual``).

The per-sample tables (values and the duals' factors of Sigma(l, t, t)) are
those of ``_fused_prep.sample_tables``. The same-sample pairs of a training
Gram's diagonal use the exact self dual at the aligned entries c = c' and
sigma_h at the first step, as the reference does.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ._fused import _FLAGS, _INV_2PI, _ZERO, ERF, RELU, _dual, constants, register_constants
from ._fused_prep import _diag_dual

__all__ = ["fused_mean_gram"]


@njit(fastmath=_FLAGS, error_model="numpy")
def _pair(X, i, sx, YT, j, sy, m, L, kind, erf, same, sw2, su2, sb2, sh2, own, K, buf, g, sg, dn, dg):
    """sum over (c, c') of [V + V' Q] and of V, top layer, of the pair (x_i, y_j).

    ``YT``: y's table with time last, (N, m + 2L, W), so the loop over y's
    columns reads contiguous memory. ``buf``: (2, 3, L, W + 1) buffers (V, V',
    Q) of the previous and the current column; index c' + 1 holds y's column
    c', index 0 stays 0 (the state before y starts). ``g``, ``sg``: (W,)
    scratch for the inputs' inner products and the covariances of a column.
    ``dn``, ``dg``: (2W + 1,) float64 sums of [V + V' Q] and V along each
    diagonal c - c' (at index W + c - c'), added up symmetrically at the end.
    Values are in the tables' dtype (float32 stays float32 in the loop).
    """
    W = X.shape[0]
    K = register_constants(K)  # scalars: loads from the array in the loops would block SIMD
    zero = K[_ZERO]
    inv_2pi = K[_INV_2PI]
    # unsigned indices: numba then emits no negative-index wrap-around, which blocks SIMD
    lo, hi, one = np.uint64(sy), np.uint64(W), np.uint64(1)
    buf[:] = 0.0
    dn[:] = 0.0
    dg[:] = 0.0
    p, q = 0, 1  # buf[p]: the previous column, buf[q]: the current one
    for c in range(sx, W):
        g[:] = zero
        for f in range(m):
            xv = X[c, f, i]
            for cp in range(lo, hi):
                g[cp] += xv * YT[j, f, cp]
        for l in range(L):
            a1x, a2x = X[c, m + l, i], X[c, m + L + l, i]
            w2, u2, b2, o = sw2[l], su2[l], sb2[l], own[l]
            Vp, Dp, Qp = buf[p, 0, l], buf[p, 1, l], buf[p, 2, l]
            Vc, Dc, Qc = buf[q, 0, l], buf[q, 1, l], buf[q, 2, l]
            A1, A2 = YT[j, m + l], YT[j, m + L + l]
            # three loops of few arrays each: one loop touching all of them needs more runtime
            # alias checks than LLVM makes, and is then not vectorised
            if l == 0:
                for cp in range(lo, hi):
                    sg[cp] = w2 * Vp[cp] + u2 * g[cp] + b2
            else:
                Vb = buf[q, 0, l - 1]
                for cp in range(lo, hi):
                    sg[cp] = w2 * Vp[cp] + u2 * Vb[cp + one] + b2
            for cp in range(lo, hi):
                v, d = _dual(kind, sg[cp], a1x, a2x, A1[cp], A2[cp], K)
                Vc[cp + one] = v
                Dc[cp + one] = d * inv_2pi
            if l == 0:
                for cp in range(lo, hi):
                    Qc[cp + one] = o * sg[cp] + w2 * Dp[cp] * Qp[cp]
            else:
                Db, Qb = buf[q, 1, l - 1], buf[q, 2, l - 1]
                for cp in range(lo, hi):
                    Qc[cp + one] = o * sg[cp] + w2 * Dp[cp] * Qp[cp] + u2 * Db[cp + one] * Qb[cp + one]
            if same:  # the aligned entry of a sample with itself: exact self dual, sigma_h first
                w = sh2[l] if c == sx else Vp[c]
                inp = u2 * g[c] if l == 0 else u2 * buf[q, 0, l - 1, c + 1]
                sig = w2 * w + inp + b2
                v, dd = _diag_dual(sig, erf)
                qq = o * sig + w2 * Dp[c] * Qp[c]
                if l > 0:
                    qq += u2 * buf[q, 1, l - 1, c + 1] * buf[q, 2, l - 1, c + 1]
                Vc[c + 1], Dc[c + 1], Qc[c + 1] = v, dd, qq
        Vt, Dt, Qt = buf[q, 0, L - 1], buf[q, 1, L - 1], buf[q, 2, L - 1]
        base = np.uint64(W + c)
        for cp in range(lo, hi):  # entry (c, c') goes to the sums of its diagonal c - c'
            v = np.float64(Vt[cp + one])
            dn[base - cp] += v + np.float64(Dt[cp + one]) * np.float64(Qt[cp + one])
            dg[base - cp] += v
        p, q = q, p
    # diagonal d with diagonal -d: IEEE addition commutes, so the pair gives the same
    # bits whichever sample plays x (and a tile of a Gram the same bits as the whole)
    acc_ntk, acc_nngp = dn[W], dg[W]
    for d in range(1, W):
        acc_ntk += dn[W + d] + dn[W - d]
        acc_nngp += dg[W + d] + dg[W - d]
    return acc_ntk, acc_nngp


@njit(parallel=True, cache=True, error_model="numpy")
def _mean_cross(X, sx, YT, sy, m, ii, jj, same, kind, erf, sw2, su2, sb2, sh2, own, sv2, K, out_ntk, out_nngp):
    """The pairs (ii[k], jj[k]) of the sorted tables X (time first) and YT (time last), in parallel."""
    W = X.shape[0]
    L = sw2.shape[0]
    for k in prange(ii.shape[0]):
        i, j = ii[k], jj[k]
        buf = np.empty((2, 3, L, W + 1), dtype=X.dtype)
        g = np.empty(W, dtype=X.dtype)
        sg = np.empty(W, dtype=X.dtype)
        dn = np.empty(2 * W + 1)
        dg = np.empty(2 * W + 1)
        a, b = _pair(X, i, sx[i], YT, j, sy[j], m, L, kind, erf, same, sw2, su2, sb2, sh2, own, K, buf, g, sg, dn, dg)
        scale = sv2 / ((W - sx[i]) * (W - sy[j]))
        out_ntk[k] = a * scale
        out_nngp[k] = b * scale


def fused_mean_gram(p, bx, by, dt, n_jobs=None, index=(None, None), names=("X", "Y")):
    """Gram of the mean read-out of two checked batches; ``by is None``: training Gram.

    Same contract as ``_fused_driver.fused_gram``: the training Gram's
    diagonal holds the exact self-pair values (sigma_h included) and is
    exactly symmetric. Returns ``(ntk, nngp)``.
    """
    import numba

    from ._fused_driver import sides, thread_count

    symmetric = by is None
    n_threads = thread_count(n_jobs)
    W, ox, X, sx, _, oy, Y, sy = sides(p, bx, by, dt, index, names)
    nx, ny = len(bx), len(oy)
    hp = p.squares()
    sw2, su2, sb2, sh2 = (np.array(v, dtype=dt) for v in (hp.sw2, hp.su2, hp.sb2, hp.sh2))
    su2[0] = 1  # in the tables' values (``_fused_driver._side``)
    own = np.ones(p.n_layers, dtype=dt) if hp.trained is None else np.array(hp.trained, dtype=dt)
    kind, erf = (ERF, True) if p.dual.name == "erf" else (RELU, False)
    if symmetric:
        ii, jj = np.triu_indices(nx, 1)
    else:
        ii, jj = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"))
    # the longest pairs first, so the last pairs to finish are the short ones
    cost = (W - sx[ii]).astype(np.int64) * (W - sy[jj])
    first = np.argsort(-cost, kind="stable")
    ii, jj = np.ascontiguousarray(ii[first]), np.ascontiguousarray(jj[first])
    K = constants(dt)
    args = (kind, erf, sw2, su2, sb2, sh2, own, dt.type(p.sigma_v**2), K)
    out = np.zeros((2, nx, ny), dtype=dt)
    ntk, nngp = np.empty(len(ii), dtype=dt), np.empty(len(ii), dtype=dt)
    threads_before = numba.get_num_threads()
    try:
        numba.set_num_threads(n_threads)
        YT = np.ascontiguousarray(Y.transpose(2, 1, 0))
        _mean_cross(X, sx, YT, sy, bx.n_features, ii, jj, False, *args, ntk, nngp)
        rows, cols = ox[ii], oy[jj]
        out[0, rows, cols], out[1, rows, cols] = ntk, nngp
        if symmetric:
            out[0, cols, rows], out[1, cols, rows] = ntk, nngp
            idx = np.arange(nx)
            dn, dg = np.empty(nx, dtype=dt), np.empty(nx, dtype=dt)
            XT = YT if Y is X else np.ascontiguousarray(X.transpose(2, 1, 0))
            _mean_cross(X, sx, XT, sx, bx.n_features, idx, idx, True, *args, dn, dg)
            out[0, ox, ox], out[1, ox, ox] = dn, dg
    finally:
        numba.set_num_threads(threads_before)
    return out[0], out[1]
