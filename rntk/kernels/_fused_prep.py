"""Per-sample tables for the fused kernel, in one compiled pass.

The same quantities as ``_recursion.self_variance_table`` and
``_recursion.diagonal`` (which stay the array-namespace reference for the
numpy and CuPy paths), computed per sample in numba: the numpy versions loop
over time columns in Python and were ~15 % of a fused Gram's wall time.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = ["self_tables"]


@njit(inline="always", error_model="numpy")
def _diag_dual(k, erf):
    """(V, V') of a sequence paired with itself at variance k (c = 1 exactly)."""
    if erf:
        return 2.0 / math.pi * math.asin(2.0 * k / (1.0 + 2.0 * k)), 4.0 / (math.pi * math.sqrt(1.0 + 4.0 * k))
    return k / 2.0, 0.5 if k > 0 else 0.25


@njit(parallel=True, cache=True, error_model="numpy")
def self_tables(XR, start, sw2, su2, sb2, sh2, sv2, erf):
    """Self-variances S (L, W, N) and the exact training-Gram diagonal (N,) x 2.

    XR : (N, W, m) right-aligned sequences; start : (N,) first columns;
    sw2, su2, sb2, sh2 : (L,) squared sigmas (su2[0] not divided by m).
    """
    N, W, m = XR.shape
    L = sw2.shape[0]
    S = np.zeros((L, W, N))
    ntk = np.empty(N)
    nngp = np.empty(N)
    for i in prange(N):
        Q = np.zeros(L)
        Dp = np.zeros(L)
        for c in range(start[i], W):
            for l in range(L):
                w = sh2[l] if c == start[i] else _diag_dual(S[l, c - 1, i], erf)[0]
                if l == 0:
                    sq = 0.0
                    for f in range(m):
                        sq += XR[i, c, f] * XR[i, c, f]
                    inp = su2[0] / m * sq
                else:
                    inp = su2[l] * _diag_dual(S[l - 1, c, i], erf)[0]
                sig = sw2[l] * w + inp + sb2[l]
                S[l, c, i] = sig
                d = _diag_dual(sig, erf)[1]
                q = sig + sw2[l] * Dp[l] * Q[l]
                if l > 0:
                    q = q + su2[l] * Dp[l - 1] * Q[l - 1]
                Q[l] = q
                Dp[l] = d
        v, d = _diag_dual(S[L - 1, W - 1, i], erf)
        ntk[i] = sv2 * v + sv2 * d * Q[L - 1]
        nngp[i] = sv2 * v
    return S, ntk, nngp
