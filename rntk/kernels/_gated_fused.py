"""Compiled pair loops of the closed gated kernels (backend ``"cpu-fused"``, numba, parallel).

The recursions are those of ``GRUNTK._pairs`` and ``LSTMNTK._pairs`` (identity
cell), which stay the array-namespace statement of them: the same forward pass
over a pair's aligned columns, the same backward pass, and the gate
expectations by Mehler's series from the same per-sequence coefficient tables
(``_gated._series_table``). What changes is the order of work: one pair's
whole recursion runs in one compiled loop (its per-step values in a scratch
buffer of W rows), pairs run in parallel, and a series is summed in four
interleaved partial sums (k = 0, 1, 2, 3 mod 4) instead of numpy's one. The
results therefore differ from ``"cpu-series"`` by rounding only; each product
``A_k B_k`` is formed before it meets ``c^k``, so a pair's value does not depend
on which sequence is x (the tables of x and y enter symmetrically).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["gated_pairs"]


@njit(cache=True, error_model="numpy")
def _rho(k1, k2, k3):
    """Correlation of the pair, clipped to [-1, 1] (0 when a variance is 0), as ``_gated._correlation``."""
    s = np.sqrt(k1) * np.sqrt(k2)
    if not s > 0.0:
        return 0.0
    c = k3 / s
    return min(max(c, -1.0), 1.0)


@njit(cache=True, error_model="numpy")
def _mehler(A, B, p, c):
    """(sum_k c^k A[p, k] B[p, k], sum_k c^k A[p+1, k] B[p+1, k]) over k < K (K a multiple of 4)."""
    K = A.shape[1]
    c2 = c * c
    c4 = c2 * c2
    w0, w1, w2, w3 = 1.0, c, c2, c2 * c
    s0 = s1 = s2 = s3 = 0.0
    d0 = d1 = d2 = d3 = 0.0
    for k in range(0, K, 4):
        s0 += (A[p, k] * B[p, k]) * w0
        s1 += (A[p, k + 1] * B[p, k + 1]) * w1
        s2 += (A[p, k + 2] * B[p, k + 2]) * w2
        s3 += (A[p, k + 3] * B[p, k + 3]) * w3
        d0 += (A[p + 1, k] * B[p + 1, k]) * w0
        d1 += (A[p + 1, k + 1] * B[p + 1, k + 1]) * w1
        d2 += (A[p + 1, k + 2] * B[p + 1, k + 2]) * w2
        d3 += (A[p + 1, k + 3] * B[p + 1, k + 3]) * w3
        w0 *= c4
        w1 *= c4
        w2 *= c4
        w3 *= c4
    return (s0 + s1) + (s2 + s3), (d0 + d1) + (d2 + d3)


@njit(cache=True, error_model="numpy")
def _dot(XA, i, XB, j, c):
    s = 0.0
    for f in range(XA.shape[2]):
        s += XA[i, c, f] * XB[j, c, f]
    return s


@njit(cache=True, error_model="numpy")
def _gru_pair(XA, i, sA, QA, CA, RA, xxA, XB, j, sB, QB, CB, RB, xxB, sw2, su2m, sb2, sv2, buf):
    W = XA.shape[1]
    start = max(sA[i], sB[j])
    qc = 0.0
    for c in range(start, W):
        xy = _dot(XA, i, XB, j, c)
        a1 = sw2 * QA[i, c] + su2m * xxA[i, c] + sb2
        a2 = sw2 * QB[j, c] + su2m * xxB[j, c] + sb2
        a3 = sw2 * qc + su2m * xy + sb2
        r = _rho(a1, a2, a3)
        rho_r, drho_r = _mehler(CA[i, c], CB[j, c], 0, r)
        rho_z, drho_z = _mehler(CA[i, c], CB[j, c], 4, r)
        zbar = 1.0 - RA[i, c, 1] - RB[j, c, 1] + rho_z
        n1 = sw2 * (RA[i, c, 0] * QA[i, c]) + su2m * xxA[i, c] + sb2
        n2 = sw2 * (RB[j, c, 0] * QB[j, c]) + su2m * xxB[j, c] + sb2
        n3 = sw2 * (rho_r * qc) + su2m * xy + sb2
        nu, dnu = _mehler(CA[i, c], CB[j, c], 2, _rho(n1, n2, n3))
        b = buf[c]
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9] = (
            a3, n3, rho_r, drho_r, rho_z, drho_z, zbar, nu, dnu, qc)
        qc = zbar * nu + rho_z * qc
    nngp = sv2 * qc
    ntk, Ph = nngp, sv2
    for c in range(W - 1, start - 1, -1):
        b = buf[c]
        a3, n3, rho_r, drho_r, rho_z, drho_z, zbar, nu, dnu, q_prev = (
            b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9])
        Pn = Ph * zbar * dnu
        Pz = Ph * drho_z * (q_prev + nu)
        Pr = sw2 * Pn * q_prev * drho_r
        ntk += a3 * (Pr + Pz) + n3 * Pn
        Ph = rho_z * Ph + sw2 * (rho_r * Pn + Pz + Pr)
    return ntk, nngp


@njit(cache=True, error_model="numpy")
def _lstm_pair(XA, i, sA, QA, CA, xxA, XB, j, sB, QB, CB, xxB, sw2, su2m, sb2, sv2, buf):
    W = XA.shape[1]
    start = max(sA[i], sB[j])
    qc = 0.0
    kc = 0.0
    for c in range(start, W):
        a1 = sw2 * QA[i, c] + su2m * xxA[i, c] + sb2
        a2 = sw2 * QB[j, c] + su2m * xxB[j, c] + sb2
        a3 = sw2 * qc + su2m * _dot(XA, i, XB, j, c) + sb2
        r = _rho(a1, a2, a3)
        rho, drho = _mehler(CA[i, c], CB[j, c], 0, r)
        rho_f, drho_f = _mehler(CA[i, c], CB[j, c], 4, r)
        nu, dnu = _mehler(CA[i, c], CB[j, c], 2, r)
        k_prev = kc
        kc = rho_f * kc + rho * nu
        qc = rho * kc
        b = buf[c]
        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8] = a3, rho, drho, rho_f, drho_f, nu, dnu, k_prev, kc
    nngp = sv2 * qc
    ntk, Ph, Pc, f_next = nngp, sv2, 0.0, 0.0
    for c in range(W - 1, start - 1, -1):
        b = buf[c]
        a3, rho, drho, rho_f, drho_f, nu, dnu, k_prev, k_now = b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8]
        Pc = Ph * rho + f_next * Pc
        S = Ph * drho * k_now + Pc * drho_f * k_prev + Pc * drho * nu + Pc * rho * dnu
        ntk += a3 * S
        Ph, f_next = sw2 * S, rho_f
    return ntk, nngp


@njit(parallel=True, cache=True, error_model="numpy")
def gated_pairs(gru, XA, sA, QA, CA, RA, XB, sB, QB, CB, RB, ip, jp, sw2, su2m, sb2, sv2, ntk, nngp):
    """GRU (``gru``) or LSTM (h = o * c) kernel of the pairs (XA[ip[p]], XB[jp[p]]) into ntk[p], nngp[p].

    X*: (N, W, m) right-aligned sequences; s*: (N,) first columns; Q*: (N, W + 1)
    self E[h^2] before each column; C*: (N, W, 6, K) Mehler tables of
    (sigmoid, sigmoid', tanh, tanh', and sigmoid, sigmoid' of the gate with the
    bias mean); R*: (N, W, 2) self E[r^2] and E[z] (GRU; unused for the LSTM);
    su2m = sigma_u^2 / m.
    """
    W = XA.shape[1]
    xxA = _squares(XA)
    xxB = _squares(XB)
    n_chunks = min(len(ip), 64 * 8)
    for w in prange(n_chunks):
        buf = np.empty((W, 10))
        for p in range(w * len(ip) // n_chunks, (w + 1) * len(ip) // n_chunks):
            if gru:
                ntk[p], nngp[p] = _gru_pair(XA, ip[p], sA, QA, CA, RA, xxA, XB, jp[p], sB, QB, CB, RB, xxB,
                                            sw2, su2m, sb2, sv2, buf)
            else:
                ntk[p], nngp[p] = _lstm_pair(XA, ip[p], sA, QA, CA, xxA, XB, jp[p], sB, QB, CB, xxB,
                                             sw2, su2m, sb2, sv2, buf)


@njit(cache=True, error_model="numpy")
def _squares(X):
    N, W, m = X.shape
    out = np.zeros((N, W))
    for n in range(N):
        for c in range(W):
            s = 0.0
            for f in range(m):
                s += X[n, c, f] * X[n, c, f]
            out[n, c] = s
    return out
