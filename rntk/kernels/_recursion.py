"""Array-namespace implementation of the RNTK recursion (forward form, SPEC §2).

Everything here is written against ``xp`` (numpy now; CuPy runs the same code)
and vectorised over samples or pairs, with a Python loop over time columns and
layers. Sequences are end-aligned: column ``c`` of a right-aligned array holds
step ``c - start + 1`` of a sequence that starts at column ``start``, and the
aligned steps of a pair share a column.

Functions assume checked inputs (see ``rntk._validation``).
"""
from __future__ import annotations

import numpy as np

__all__ = ["self_variance_table", "diagonal", "cross_pairs"]


def self_variance_table(XR, start, p, xp=np):
    """Sigma(l, t, t)(x, x) for every sample, sigma_h included (SPEC §3.1).

    Parameters
    ----------
    XR : array of shape (N, W, m)
        Right-aligned sequences.
    start : array of shape (N,)
        First column of every sequence.

    Returns
    -------
    S : array of shape (L, W, N)
        0 before a sequence's first column.
    """
    N, W, m = XR.shape
    L, dual = p.n_layers, p._dual
    sw2, su2, sb2, sh2 = p._squares()
    S = xp.zeros((L, W, N), dtype=XR.dtype)
    sq = xp.sum(XR * XR, axis=-1)
    for c in range(int(start.min()), W):
        active = start <= c
        first = start == c
        for l in range(L):
            prev = dual.diag(S[l, c - 1], xp)[0] if c > 0 else xp.zeros(N, dtype=XR.dtype)
            w = xp.where(first, sh2[l], prev)
            inp = su2[0] / m * sq[:, c] if l == 0 else su2[l] * dual.diag(S[l - 1, c], xp)[0]
            S[l, c] = xp.where(active, sw2[l] * w + inp + sb2[l], 0.0)
    return S


def diagonal(S, start, p, xp=np):
    """Exact diagonal of the training Gram: every sample paired with itself (c = 1).

    Returns ``(ntk, nngp)``, arrays of shape (N,).
    """
    L, W, N = S.shape
    dual = p._dual
    sw2, su2, _, _ = p._squares()
    sv2 = p.sigma_v**2
    Q = xp.zeros((L, N), dtype=S.dtype)
    Dp = xp.zeros((L, N), dtype=S.dtype)
    for c in range(int(start.min()), W):
        active = start <= c
        for l in range(L):
            sig = S[l, c]
            v, d = dual.diag(sig, xp)
            q = sig + sw2[l] * Dp[l] * Q[l]
            if l > 0:
                q = q + su2[l] * Dp[l - 1] * Q[l - 1]
            Q[l] = xp.where(active, q, 0.0)
            Dp[l] = xp.where(active, d, 0.0)
    v, d = dual.diag(S[L - 1, W - 1], xp)
    return sv2 * v + sv2 * d * Q[L - 1], sv2 * v


def cross_pairs(XR, sx, Sx, YR, sy, Sy, ip, jp, p, xp=np):
    """RNTK of the pairs (X[ip[k]], Y[jp[k]]), vectorised over pairs.

    Pairs are ordered by their first aligned column so that the pairs active at
    a column are a prefix; a pair's state is exactly zero before it starts.
    No sigma_h term: a cross pair is never one and the same sample.

    Returns ``(ntk, nngp)``, arrays of shape (len(ip),).
    """
    L, W = Sx.shape[0], Sx.shape[1]
    dual = p._dual
    sw2, su2, sb2, _ = p._squares()
    sv2 = p.sigma_v**2
    m = XR.shape[2]
    pstart = xp.maximum(sx[ip], sy[jp])
    order = xp.argsort(pstart, kind="stable")
    ip, jp, pstart = ip[order], jp[order], pstart[order]
    P = ip.shape[0]
    Vp = xp.zeros((L, P), dtype=XR.dtype)
    Dp = xp.zeros((L, P), dtype=XR.dtype)
    Q = xp.zeros((L, P), dtype=XR.dtype)
    n_active = xp.searchsorted(pstart, xp.arange(W), side="right")
    n_active = [int(v) for v in (n_active.get() if hasattr(n_active, "get") else n_active)]
    for c in range(int(pstart[0]), W):
        n = n_active[c]
        a, b = ip[:n], jp[:n]
        for l in range(L):
            if l == 0:
                inp = su2[0] / m * xp.sum(XR[a, c, :] * YR[b, c, :], axis=-1)
                qin = 0.0
            else:
                inp = su2[l] * Vp[l - 1, :n]
                qin = su2[l] * Dp[l - 1, :n] * Q[l - 1, :n]
            sig = sw2[l] * Vp[l, :n] + inp + sb2[l]
            Q[l, :n] = sig + sw2[l] * Dp[l, :n] * Q[l, :n] + qin
            Vp[l, :n], Dp[l, :n] = dual.pair(Sx[l, c][a], Sy[l, c][b], sig, xp)
    ntk = xp.empty(P, dtype=XR.dtype)
    nngp = xp.empty(P, dtype=XR.dtype)
    ntk[order] = sv2 * Vp[L - 1] + sv2 * Dp[L - 1] * Q[L - 1]
    nngp[order] = sv2 * Vp[L - 1]
    return ntk, nngp
