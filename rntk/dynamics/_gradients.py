"""Order-aware parameter gradients of an L-layer Elman RNN (ReNT eqs 9-12).

Network (ReNT eq. 2, row vectors): for layers l = 1..L and steps s = 1..S,

    z^(l,s) = X^(l-1,s) W^(l) + X^(l,s-1) W_r^(l) + b^(l),   X^(l,s) = sigma(z^(l,s)),

X^(0,s) the input element, X^(l,0) = 0, output f = X^(L,S) v (scalar).

The printed eqs 9-12 are OCR-damaged; what they state is the unrolled chain
rule, which is derived here and checked against autograd in the tests. With
D^(l,s) = diag(sigma'(z^(l,s))) and delta^(l,s) = df/dz^(l,s) (a column),

    delta^(l,s) = sum over monotone lattice paths (l,s) -> (L,S) of
                  D^(l,s) A_1 D^(.) A_2 ... D^(L,S) v,

each step of a path being either one time step in layer l' (A = W_r^(l'))
or one layer up at step s' (A = W^(l'+1)). The number of time steps taken
in a layer is the power of W_r^(l) that ReNT's eqs 10-11 display per order s.
Then

    df/dW^(l) = sum_s X^(l-1,s)^T delta^(l,s)^T = Xcat^(l-1) Delta^(l)   (eq. 12),
    df/dW_r^(l) = sum_s X^(l,s-1)^T delta^(l,s)^T,   df/db^(l) = sum_s delta^(l,s),

where Xcat stacks the S inputs as columns (h_{l-1} x S) and Delta the S
sensitivities as rows (S x h_l): the gradient's shape does not depend on S.
For S = 1 the recurrent terms vanish (X^(l,0) = 0) and the gradient is that
of the MLP X^(l) = sigma(X^(l-1) W^(l) + b^(l)).

Two independent evaluations are provided: ``form="paths"`` (the explicit sum
over paths, exponential in depth, for checking) and ``form="matrix"`` (the
same sensitivities by the backward recursion, then eq. 12's products).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["elman_forward", "order_aware_gradients"]

_ACT = {
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
}


def _check(params, S):
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    if L == 0:
        raise ValueError("params must hold W1 .. WL, Wr1 .. WrL, b1 .. bL and v")
    S = np.asarray(S, dtype=np.float64)
    if S.ndim != 2 or S.shape[0] == 0:
        raise ValueError(f"S must be a non-empty (length, features) array, got shape {S.shape}")
    P = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    width = S.shape[1]
    for l in range(1, L + 1):
        W, Wr, b = P.get(f"W{l}"), P.get(f"Wr{l}"), P.get(f"b{l}")
        if W is None or Wr is None or b is None:
            raise ValueError(f"layer {l} needs W{l}, Wr{l} and b{l}")
        h = W.shape[1]
        if W.shape != (width, h) or Wr.shape != (h, h) or b.shape != (h,):
            raise ValueError(
                f"layer {l}: W{l} must be ({width}, h), Wr{l} (h, h), b{l} (h,); got "
                f"{W.shape}, {Wr.shape}, {b.shape}"
            )
        width = h
    if "v" not in P or P["v"].shape != (width,):
        raise ValueError(f"v must have shape ({width},)")
    return P, L, S


def elman_forward(params, S, activation="tanh"):
    """(f, Z, X): output, pre-activations Z[l][s] and states X[l][s] (X[l][0] = 0 for l >= 1).

    Layers are numbered 1..L (Z[0] unused); X[0][s] is input element s (1-based).
    """
    P, L, S = _check(params, S)
    phi, _ = _ACT[activation]
    T = S.shape[0]
    X = [[None] + list(S)] + [[np.zeros(P[f"b{l}"].shape)] for l in range(1, L + 1)]
    Z = [None] + [[None] for _ in range(L)]
    for s in range(1, T + 1):
        for l in range(1, L + 1):
            z = X[l - 1][s] @ P[f"W{l}"] + X[l][s - 1] @ P[f"Wr{l}"] + P[f"b{l}"]
            Z[l].append(z)
            X[l].append(phi(z))
    return float(X[L][T] @ P["v"]), Z, X


@lru_cache(maxsize=None)
def _paths(l, s, L, T):
    """All monotone paths from (l, s) to (L, T): tuples of moves 't' (time) / 'u' (up)."""
    if (l, s) == (L, T):
        return ((),)
    out = []
    if s < T:
        out += [("t",) + p for p in _paths(l, s + 1, L, T)]
    if l < L:
        out += [("u",) + p for p in _paths(l + 1, s, L, T)]
    return tuple(out)


def _deltas_paths(P, L, T, D):
    delta = [None] + [[None] * (T + 1) for _ in range(L)]
    for l in range(1, L + 1):
        for s in range(1, T + 1):
            total = np.zeros(P[f"b{l}"].shape)
            for path in _paths(l, s, L, T):
                # product D^(l,s) A_1 D A_2 ... D^(L,T) v, evaluated right to left
                nodes, mats = [(l, s)], []
                ll, ss = l, s
                for move in path:
                    if move == "t":
                        mats.append(P[f"Wr{ll}"])
                        ss += 1
                    else:
                        mats.append(P[f"W{ll + 1}"])
                        ll += 1
                    nodes.append((ll, ss))
                vec = D[nodes[-1][0]][nodes[-1][1]] * P["v"]
                for A, (nl, ns) in zip(reversed(mats), reversed(nodes[:-1])):
                    vec = D[nl][ns] * (A @ vec)
                total += vec
            delta[l][s] = total
    return delta


def _deltas_backward(P, L, T, D):
    delta = [None] + [[None] * (T + 2) for _ in range(L)]
    for s in range(T, 0, -1):
        for l in range(L, 0, -1):
            g = P["v"] if (l == L and s == T) else np.zeros(P[f"b{l}"].shape)
            if s < T:
                g = g + P[f"Wr{l}"] @ delta[l][s + 1]
            if l < L:
                g = g + P[f"W{l + 1}"] @ delta[l + 1][s]
            delta[l][s] = D[l][s] * g
    return delta


def order_aware_gradients(params, S, activation="tanh", form="matrix"):
    """Gradient of f(S) w.r.t. every parameter, as a dict with the keys of ``params``.

    params : W1..WL (h_{l-1}, h_l), Wr1..WrL (h_l, h_l), b1..bL (h_l,), v (h_L,)
    S : (length, h_0) input sequence; activation : "tanh" or "relu";
    form : "matrix" (backward recursion + eq. 12) or "paths" (explicit sum
    over lattice paths, the expanded eqs 9-11; cost grows combinatorially).
    """
    if activation not in _ACT:
        raise ValueError(f"activation must be one of {sorted(_ACT)}, got {activation!r}")
    if form not in ("matrix", "paths"):
        raise ValueError(f"form must be 'matrix' or 'paths', got {form!r}")
    P, L, S = _check(params, S)
    _, dphi = _ACT[activation]
    T = S.shape[0]
    f, Z, X = elman_forward(P, S, activation)
    D = [None] + [[None] + [dphi(Z[l][s]) for s in range(1, T + 1)] for l in range(1, L + 1)]
    delta = _deltas_paths(P, L, T, D) if form == "paths" else _deltas_backward(P, L, T, D)
    grads = {"v": X[L][T].copy()}
    for l in range(1, L + 1):
        Delta = np.stack([delta[l][s] for s in range(1, T + 1)])  # (S, h_l)
        Xin = np.stack([X[l - 1][s] for s in range(1, T + 1)], axis=1)  # (h_{l-1}, S)
        Xprev = np.stack([X[l][s - 1] for s in range(1, T + 1)], axis=1)  # (h_l, S)
        grads[f"W{l}"] = Xin @ Delta
        grads[f"Wr{l}"] = Xprev @ Delta
        grads[f"b{l}"] = Delta.sum(axis=0)
    return grads
