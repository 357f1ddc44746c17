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

from ._activations import ErfDual

__all__ = ["self_variance_table", "diagonal", "diagonal_scan", "cross_pairs"]


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


def diagonal_scan(data, lengths, p, limit):
    """The training-Gram diagonal of every sample, and where it leaves ``[0, limit]``.

    The recursion of :func:`self_variance_table` and :func:`diagonal`, run
    along each sample's own time steps (the diagonal does not depend on
    alignment) with O(N L) state, in float64. The diagonal bounds the whole
    Gram: every Sigma and Q of a pair is at most the geometric mean of the two
    samples' own (Cauchy-Schwarz), so checking the diagonal's path is enough
    to know that a pair recursion stays in range.

    Checked at every step and layer: the accumulated NTK sum Q (>= Sigma), for
    erf also (1 + 2 Sigma)^2 (the closed-form pair dual forms the product of
    two such factors), and at the end the NTK value (>= the NNGP value).

    Parameters
    ----------
    data : array of shape (N, T, m), left-aligned, float64
    lengths : array of shape (N,)
    limit : float

    Returns
    -------
    ntk, nngp : arrays of shape (N,)
        As :func:`diagonal` gives them.
    peak : array of shape (N,)
        Largest checked value of every sample (NaN if it became NaN).
    first_bad : array of shape (N,) of int64
        First time step at which a checked value exceeded ``limit`` (or was
        not a number), -1 for none.
    """
    N, T, m = data.shape
    L, dual = p.n_layers, p._dual
    sw2, su2, sb2, sh2 = p._squares()
    erf = isinstance(dual, ErfDual)
    sq = np.sum(data * data, axis=-1)
    V = np.zeros((L, N))
    Dp = np.zeros((L, N))
    Q = np.zeros((L, N))
    peak = np.zeros(N)
    first_bad = np.full(N, -1, dtype=np.int64)

    def note(x, t, active):
        # NaN (inf - inf, 0 * inf) must count as out of range: compare by "not <="
        peak[:] = np.where(active & ((x > peak) | np.isnan(x)) & ~np.isnan(peak), x, peak)
        bad = active & ~(x <= limit) & (first_bad < 0)
        first_bad[:] = np.where(bad, t, first_bad)

    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(int(lengths.max())):
            active = t < lengths
            for l in range(L):
                w = sh2[l] if t == 0 else V[l]
                inp = su2[0] / m * sq[:, t] if l == 0 else su2[l] * V[l - 1]
                sig = sw2[l] * w + inp + sb2[l]
                v, d = dual.diag(sig)
                q = sig + sw2[l] * Dp[l] * Q[l]
                if l > 0:
                    q = q + su2[l] * Dp[l - 1] * Q[l - 1]
                V[l] = np.where(active, v, V[l])
                Dp[l] = np.where(active, d, Dp[l])
                Q[l] = np.where(active, q, Q[l])
                note(q, t, active)
                if erf:
                    note((1.0 + 2.0 * sig) ** 2, t, active)
        sv2 = p.sigma_v**2
        ntk = sv2 * V[L - 1] + sv2 * Dp[L - 1] * Q[L - 1]
        nngp = sv2 * V[L - 1]
        note(ntk, lengths - 1, np.ones(N, dtype=bool))
    return ntk, nngp, peak, first_bad


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
