"""Per-sample inputs of the fused kernel, in one compiled pass.

The same quantities as ``_recursion.self_variance_table`` and
``_recursion.diagonal`` (which stay the array-namespace reference for the
numpy and CuPy paths), computed per sample in numba and written straight into
the layout the pair kernel reads (sorted by length, right-aligned,
time-major): host-side transposes, gathers and per-sample factors were ~20 %
of a fused Gram's wall time at N = 500.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["sample_tables"]


@njit(inline="always", error_model="numpy")
def _diag_dual(k, erf):
    """(V, V') of a sequence paired with itself at variance k (c = 1 exactly)."""
    if erf:
        return 2.0 / math.pi * math.asin(2.0 * k / (1.0 + 2.0 * k)), 4.0 / (math.pi * math.sqrt(1.0 + 4.0 * k))
    return k / 2.0, 0.5 if k > 0 else 0.25


@njit(inline="always", error_model="numpy")
def _note(x, t, limit, pk, bad, b):
    """Track the largest checked value and the first step past ``limit``; a NaN
    (inf - inf, 0 * inf) counts as past it and sticks as the peak."""
    if (x > pk[b] or x != x) and pk[b] == pk[b]:  # noqa: PLR0124 - NaN tests, in numba
        pk[b] = x
    if not (x <= limit) and bad[b] < 0:
        bad[b] = t


_BLOCK = 64  # samples per parallel work item: column-major writes stay in a few cache lines


@njit(parallel=True, cache=True, error_model="numpy")
def sample_tables(data, lengths, order, sw2, su2, sb2, sh2, sv2, own, per_step, erf, tiny, limit,
                  P, d_ntk, d_nngp, peak, first_bad):
    """Fill the pair kernel's per-sample inputs and the exact self-pair values.

    data : (N, T, m) left-aligned values; lengths : (N,); order : (N,) the
    sample at sorted position k is ``order[k]``, longest first; sw2, su2, sb2,
    sh2 : (L,) squared sigmas (su2[0] not divided by m); own : (L,) the
    weight of each layer's own Sigma in Q (1.0 trained, 0.0 frozen);
    per_step : the per-step read-out (the diagonal is then the mean over the
    steps of the prefix kernels); tiny : variances below this count as zero
    (1/sqrt would overflow the kernel's dtype).

    Written at sorted position k, column c = W - T_i + t of sequence step t
    (W = P.shape[0]), into P (W, m + 2L, N): rows [0, m) the values, rows
    m + l and m + L + l the factors of Sigma(l, t, t)(x, x) (sigma_h
    included) that the duals need: relu 1/sqrt(S) (0 if S < tiny) and
    sqrt(S / (2 pi)) (the dual's 1/(2 pi) split between the two samples);
    erf 1/sqrt(1 + 2 S) and 0. Every entry is written (0 before a
    sequence starts), so P may come uninitialised. Written at the original
    index i: d_ntk, d_nngp (N,) the training-Gram diagonal; peak (N,) the
    largest value it checks, as ``_vectorized.check_range`` does (Sigma and Q at every
    step and layer, erf also (1 + 2 Sigma)^2, the final NTK; NaN once one is NaN) and
    first_bad (N,) the first step at which one exceeds ``limit`` or is NaN
    (-1: none), so that the caller can refuse before the pair kernel runs.

    Blocks of samples run in parallel, each column by column, so the writes
    to the time-major outputs are contiguous.
    """
    N, _, m = data.shape
    W = P.shape[0]  # P may hold more than N samples: the caller's padding
    L = sw2.shape[0]
    for blk in prange((N + _BLOCK - 1) // _BLOCK):
        k0 = blk * _BLOCK
        nb = min(_BLOCK, N - k0)
        S = np.zeros((L, nb))  # S[l, k]: layer l at the latest column it has reached
        Q = np.zeros((L, nb))
        Dp = np.zeros((L, nb))
        pk = np.zeros(nb)
        acc_ntk = np.zeros(nb)  # per-step: the read-outs of the steps so far
        acc_nngp = np.zeros(nb)
        bad = np.full(nb, -1, dtype=np.int64)
        for c in range(W):
            for b in range(nb):
                k = k0 + b
                i = order[k]
                t = c - (W - lengths[i])
                if t < 0:
                    for r in range(m + 2 * L):
                        P[c, r, k] = 0.0
                    continue
                sq = 0.0
                for f in range(m):
                    x = data[i, t, f]
                    P[c, f, k] = x
                    sq += x * x
                for l in range(L):
                    w = sh2[l] if t == 0 else _diag_dual(S[l, b], erf)[0]
                    inp = su2[0] / m * sq if l == 0 else su2[l] * _diag_dual(S[l - 1, b], erf)[0]
                    sig = sw2[l] * w + inp + sb2[l]
                    S[l, b] = sig
                    if erf:
                        P[c, m + l, k] = 1.0 / math.sqrt(1.0 + 2.0 * sig)
                        P[c, m + L + l, k] = 0.0
                    elif sig >= tiny:
                        r = math.sqrt(sig)
                        P[c, m + l, k] = 1.0 / r
                        P[c, m + L + l, k] = math.sqrt(sig / (2.0 * math.pi))
                    else:
                        P[c, m + l, k] = 0.0
                        P[c, m + L + l, k] = 0.0
                    d = _diag_dual(sig, erf)[1]
                    q = own[l] * sig + sw2[l] * Dp[l, b] * Q[l, b]
                    if l > 0:
                        q = q + su2[l] * Dp[l - 1, b] * Q[l - 1, b]
                    Q[l, b] = q
                    Dp[l, b] = d
                    _note(q, t, limit, pk, bad, b)
                    _note(sig, t, limit, pk, bad, b)  # q >= sig unless the layer is frozen
                    if erf:
                        e = 1.0 + 2.0 * sig
                        _note(e * e, t, limit, pk, bad, b)
                if per_step:  # this step's read-out: the plain kernel of the prefix ending here
                    v = _diag_dual(S[L - 1, b], erf)[0]
                    acc_ntk[b] += sv2 * v + sv2 * Dp[L - 1, b] * Q[L - 1, b]
                    acc_nngp[b] += sv2 * v
        for b in range(nb):
            i = order[k0 + b]
            if per_step:
                inv_len = 1.0 / lengths[i]
                d_ntk[i] = acc_ntk[b] * inv_len
                d_nngp[i] = acc_nngp[b] * inv_len
            else:
                v, d = _diag_dual(S[L - 1, b], erf)
                d_ntk[i] = sv2 * v + sv2 * d * Q[L - 1, b]
                d_nngp[i] = sv2 * v
            _note(d_ntk[i], lengths[i] - 1, limit, pk, bad, b)
            peak[i] = pk[b]
            first_bad[i] = bad[b]
