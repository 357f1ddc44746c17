"""Literal per-pair implementations of the RNTK, for checking the fast paths.

Three independent-by-construction forms of the recursion (``docs/kernel.md``), written for clarity, not
speed, and generic over the scalar type (``M = math`` for float64, ``M =
mpmath`` for many-digit arithmetic):

* :func:`pair_general` evaluates Sigma(l, t, t') and Pi(l, t, t') for *every*
  (t, t'), as in the derivation, without assuming that only the end-aligned
  diagonal t' - t = T' - T matters;
* :func:`pair_aligned` is the recursion as the paper states it: forward on the aligned diagonal,
  Pi backward on it;
* :func:`pair_forward` is the forward form that carries the running tangent
  kernel Q(l, s) instead of Pi; the vectorised and fused paths implement it.

All take ``x`` of shape (T, m) and ``y`` of shape (T', m) as nested sequences
of scalars, ``p`` a :class:`rntk.RNTK`, and ``same`` (the pair is one and the
same sample, which switches on the sigma_h term). They return
``(ntk, nngp)``.
"""
from __future__ import annotations

import math

__all__ = ["general_backward", "general_forward", "pair_aligned", "pair_forward", "pair_general", "self_variances"]


def _sq(p, M):
    f = (lambda v: M.mpf(v)) if hasattr(M, "mpf") else float
    sq = lambda vals: [f(v) ** 2 for v in vals]
    return sq(p.sigma_w), sq(p.sigma_u), sq(p.sigma_b), sq(p.sigma_h), f(p.sigma_v) ** 2


def _dot(a, b):
    return sum(ai * bi for ai, bi in zip(a, b))


def self_variances(x, p, M=math):
    """Sigma(l, t, t)(x, x) for every layer and time step (sigma_h included)."""
    sw2, su2, sb2, sh2, _ = _sq(p, M)
    dual, m = p.dual, len(x[0])
    S = [[None] * len(x) for _ in range(p.n_layers)]
    for t in range(len(x)):
        for l in range(p.n_layers):
            w = sw2[l] * (dual.scalar_diag(S[l][t - 1], M)[0] if t >= 1 else sh2[l])
            if l == 0:
                inp = su2[0] / m * _dot(x[t], x[t])
            else:
                inp = su2[l] * dual.scalar_diag(S[l - 1][t], M)[0]
            S[l][t] = w + inp + sb2[l]
    return S


def _cross_dual(dual, Sx, Sy, S, l, t, u, same, M):
    if same and t == u:  # a sequence paired with itself: c = 1 exactly
        return dual.scalar_diag(Sx[l][t], M)
    return dual.scalar(Sx[l][t], Sy[l][u], S, M)


def general_forward(x, y, p, same=False, M=math):
    """Sigma(l, t, t') and (V, V')(l, t, t') on the whole T x T' grid.

    Sigma(l,t,t') = sw^2 V(l,t-1,t'-1) + [input term at (t, t')] + sb^2: every
    diagonal t' - t = const of the grid is a chain of its own. The recurrent
    term is 0 where a chain starts (t = 0 or t' = 0: the initial state of one
    sequence is independent of the other's states), except sw^2 sh^2 at
    (0, 0) for one and the same sample.
    """
    sw2, su2, sb2, sh2, _ = _sq(p, M)
    dual, L, m = p.dual, p.n_layers, len(x[0])
    T, Tp = len(x), len(y)
    Sx, Sy = self_variances(x, p, M), self_variances(y, p, M)
    S = [[[None] * Tp for _ in range(T)] for _ in range(L)]
    VD = [[[None] * Tp for _ in range(T)] for _ in range(L)]
    for l in range(L):
        for t in range(T):
            for u in range(Tp):
                if t >= 1 and u >= 1:
                    w = sw2[l] * VD[l][t - 1][u - 1][0]
                elif t == 0 and u == 0 and same:
                    w = sw2[l] * sh2[l]
                else:
                    w = 0
                if l == 0:
                    inp = su2[0] / m * _dot(x[t], y[u])
                else:
                    inp = su2[l] * VD[l - 1][t][u][0]
                S[l][t][u] = w + inp + sb2[l]
                VD[l][t][u] = _cross_dual(dual, Sx, Sy, S[l][t][u], l, t, u, same, M)
    return S, VD


def general_backward(S, VD, p, source, trained_from=0, M=math):
    """sum over l >= ``trained_from`` and all (t, t') of Pi(l,t,t') Sigma(l,t,t').

    Pi(l,t,t') = V'(l,t,t') [sw^2 Pi(l,t+1,t'+1) + su^2 Pi(l+1,t,t') + source(t, t')],
    with ``source(t, t')`` the read-out's weight on the top layer's state at
    (t, t') (sv^2 at the last steps for the plain read-out). Pi runs from the
    read-out downwards, so a frozen layer's Pi is the plain one.
    """
    sw2, su2, _, _, _ = _sq(p, M)
    L, T, Tp = p.n_layers, len(S[0]), len(S[0][0])
    P = [[[0] * Tp for _ in range(T)] for _ in range(L)]
    ntk = 0
    for l in reversed(range(L)):
        for t in reversed(range(T)):
            for u in reversed(range(Tp)):
                acc = source(t, u) if l == L - 1 else 0
                if t + 1 < T and u + 1 < Tp:
                    acc += sw2[l] * P[l][t + 1][u + 1]
                if l + 1 < L:
                    acc += su2[l + 1] * P[l + 1][t][u]
                P[l][t][u] = VD[l][t][u][1] * acc
                if l >= trained_from:
                    ntk += P[l][t][u] * S[l][t][u]
    return ntk


def pair_general(x, y, p, same=False, M=math):
    """All-(t, t') recursion; see the module docstring."""
    sv2 = _sq(p, M)[4]
    T, Tp = len(x), len(y)
    S, VD = general_forward(x, y, p, same, M)
    last = lambda t, u: sv2 if (t, u) == (T - 1, Tp - 1) else 0
    nngp = sv2 * VD[p.n_layers - 1][T - 1][Tp - 1][0]
    return general_backward(S, VD, p, last, 0, M) + nngp, nngp


def _aligned_forward(x, y, p, same, M):
    """Sigma and (V, V') on the end-aligned diagonal; x must be the shorter."""
    sw2, su2, sb2, sh2, _ = _sq(p, M)
    dual, L, m = p.dual, p.n_layers, len(x[0])
    T, tau = len(x), len(y) - len(x)
    Sx, Sy = self_variances(x, p, M), self_variances(y, p, M)
    S = [[None] * T for _ in range(L)]
    VD = [[None] * T for _ in range(L)]
    for s in range(T):
        for l in range(L):
            if s >= 1:
                w = sw2[l] * VD[l][s - 1][0]
            elif same:  # s = 0 and tau = 0 for one and the same sample
                w = sw2[l] * sh2[l]
            else:
                w = 0
            if l == 0:
                inp = su2[0] / m * _dot(x[s], y[s + tau])
            else:
                inp = su2[l] * VD[l - 1][s][0]
            S[l][s] = w + inp + sb2[l]
            VD[l][s] = _cross_dual(dual, Sx, Sy, S[l][s], l, s, s + tau, same, M)
    return S, VD


def _shorter_first(x, y):
    return (x, y) if len(x) <= len(y) else (y, x)


def _aligned_backward(S, VD, p, M, trained_from=0):
    """Pi backward from the read-out; (ntk, nngp) summing Pi Sigma over the layers from ``trained_from`` (0-based)."""
    sw2, su2, _, _, sv2 = _sq(p, M)
    L, T = p.n_layers, len(S[0])
    P = [[0] * T for _ in range(L)]
    ntk = 0
    for l in reversed(range(L)):
        for s in reversed(range(T)):
            if l == L - 1 and s == T - 1:
                P[l][s] = sv2 * VD[l][s][1]
            else:
                acc = sw2[l] * P[l][s + 1] if s + 1 < T else 0
                if l + 1 < L:
                    acc += su2[l + 1] * P[l + 1][s]
                P[l][s] = VD[l][s][1] * acc
            if l >= trained_from:
                ntk += P[l][s] * S[l][s]
    nngp = sv2 * VD[L - 1][T - 1][0]
    return ntk + nngp, nngp


def pair_aligned(x, y, p, same=False, M=math):
    """The paper's form: aligned Sigma forward, Pi backward."""
    x, y = _shorter_first(x, y)
    return _aligned_backward(*_aligned_forward(x, y, p, same, M), p, M)


def pair_forward(x, y, p, same=False, M=math):
    """Forward form: Q(l,s) = Sigma(l,s) + sw^2 V'(l,s-1) Q(l,s-1) + su^2 V'(l-1,s) Q(l-1,s)."""
    x, y = _shorter_first(x, y)
    sw2, su2, _, _, sv2 = _sq(p, M)
    L, T = p.n_layers, len(x)
    S, VD = _aligned_forward(x, y, p, same, M)
    Q = [[None] * T for _ in range(L)]
    for s in range(T):
        for l in range(L):
            q = S[l][s]
            if s >= 1:
                q += sw2[l] * VD[l][s - 1][1] * Q[l][s - 1]
            if l >= 1:
                q += su2[l] * VD[l - 1][s][1] * Q[l - 1][s]
            Q[l][s] = q
    v, d = VD[L - 1][T - 1]
    return sv2 * v + sv2 * d * Q[L - 1][T - 1], sv2 * v
