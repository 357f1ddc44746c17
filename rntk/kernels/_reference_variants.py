"""Literal per-pair reference implementations of the RNTK authors' kernel variants.

The oracles of ``RNTK(frozen_layers=..., direction=..., readout=...)``: the
derivations of ``docs/kernel.md`` ("Kernel variants") written out for plain floats (or
``M = mpmath``), the way :mod:`rntk.kernels._reference` writes the plain
kernel, and checked against wide finite networks in
``tests/test_kernel_variants.py``. All return ``(ntk, nngp)`` for one pair
``x`` (T, m), ``y`` (T', m); ``same`` marks one and the same sample (it
switches on the sigma_h term, as in the plain kernel).

* :func:`pair_frozen` / :func:`pair_frozen_forward`: the lowest ``frozen``
  layers are not trained; only layers ``frozen+1..L`` and the read-out
  contribute gradient inner products.
* :func:`pair_reversed`, :func:`pair_bidirectional`: the RNN reads the
  sequence backwards; two independent RNNs, one per direction, whose outputs
  are added.
* :func:`pair_per_step` / :func:`pair_per_step_pi`: an independent read-out
  vector at every step (counted back from the end of the sequence), output
  scaled by ``1/sqrt(T)``.
* :func:`pair_mean`: one shared read-out vector on the mean hidden state
  ``(1/T) sum_t h(L, t)``; needs Sigma and Pi on the whole T x T' grid.
"""
from __future__ import annotations

import math

from ._reference import (
    _aligned_backward,
    _aligned_forward,
    _shorter_first,
    _sq,
    general_backward,
    general_forward,
    pair_aligned,
)

__all__ = [
    "pair_bidirectional",
    "pair_frozen",
    "pair_frozen_forward",
    "pair_mean",
    "pair_per_step",
    "pair_per_step_pi",
    "pair_reversed",
    "per_step",
]


def _check_frozen(frozen, L):
    if not (isinstance(frozen, int) and 0 <= frozen <= L):
        raise ValueError(f"frozen_layers must be an int in [0, {L}], got {frozen!r}")


def pair_frozen(x, y, p, frozen_layers=0, same=False, M=math):
    """Pi form with the lowest ``frozen_layers`` layers frozen.

    ntk = sum_{l > k} sum_t Pi(l,t,t+tau) Sigma(l,t,t+tau) + nngp. Pi is the
    plain backward recursion (it runs from the read-out downwards, so the Pi
    of a trained layer never involves a frozen one), and Sigma the plain
    forward one (frozen layers still carry their random weights).
    """
    _check_frozen(frozen_layers, p.n_layers)
    x, y = _shorter_first(x, y)
    return _aligned_backward(*_aligned_forward(x, y, p, same, M), p, M, trained_from=frozen_layers)


def pair_frozen_forward(x, y, p, frozen_layers=0, same=False, M=math):
    """Forward (Q) form of :func:`pair_frozen`: a frozen layer adds no Sigma to Q.

    Q(l,s) = [l > k] Sigma(l,s) + sw^2 V'(l,s-1) Q(l,s-1) + su^2 V'(l-1,s) Q(l-1,s),
    so Q = 0 in every frozen layer and the trained ones start from scratch.
    """
    L = p.n_layers
    _check_frozen(frozen_layers, L)
    x, y = _shorter_first(x, y)
    sw2, su2, _, _, sv2 = _sq(p, M)
    T = len(x)
    S, VD = _aligned_forward(x, y, p, same, M)
    Q = [[None] * T for _ in range(L)]
    for s in range(T):
        for l in range(L):
            q = S[l][s] if l >= frozen_layers else 0
            if s >= 1:
                q += sw2[l] * VD[l][s - 1][1] * Q[l][s - 1]
            if l >= 1:
                q += su2[l] * VD[l - 1][s][1] * Q[l - 1][s]
            Q[l][s] = q
    v, d = VD[L - 1][T - 1]
    return sv2 * v + sv2 * d * Q[L - 1][T - 1], sv2 * v


def pair_reversed(x, y, p, same=False, M=math):
    """The RNN reads each sequence backwards: the plain kernel of the reversed sequences.

    End alignment of the reversed sequences is start alignment of the
    originals: x_j meets y_j for j = 1..min(T, T').
    """
    return pair_aligned(list(x)[::-1], list(y)[::-1], p, same, M)


def pair_bidirectional(x, y, p, same=False, M=math):
    """Two independent RNNs (forward, reversed), f = f_fwd + f_rev.

    Each part has its own W, U, b, v (read-out sigma_v/sqrt(n) on its own
    width-n state) and its own h(l, 0). Disjoint parameters and independent
    zero-mean outputs: ntk = ntk_fwd + ntk_rev, nngp = nngp_fwd + nngp_rev.
    """
    a = pair_aligned(x, y, p, same, M)
    b = pair_reversed(x, y, p, same, M)
    return a[0] + b[0], a[1] + b[1]


def per_step(pair, x, y, p, same=False, M=math):
    """The per-step read-out kernel built from any per-pair kernel ``pair`` of the prefixes."""
    T, Tp = len(x), len(y)
    x, y = list(x), list(y)
    ntk = nngp = 0
    for s in range(min(T, Tp)):
        a, b = pair(x[: T - s], y[: Tp - s], p, same=same, M=M)
        ntk += a
        nngp += b
    c = 1 / M.sqrt(T * Tp)
    return c * ntk, c * nngp


def pair_per_step(x, y, p, same=False, M=math):
    """Independent read-outs at every step, f = T^(-1/2) sum_s sigma_v/sqrt(n) v_s^T h(L, T-s).

    v_s reads the state s steps before the end (s = 0..T-1; v_0 is the plain
    read-out). Cross terms between different v_s vanish, so
    Theta = (T T')^(-1/2) sum_{s=0}^{min(T,T')-1} Theta(x_{1:T-s}, y_{1:T'-s}),
    each term the plain (end-aligned) kernel of two prefixes; same for the NNGP.
    """
    return per_step(pair_aligned, x, y, p, same, M)


def pair_per_step_pi(x, y, p, same=False, M=math):
    """:func:`pair_per_step` in one Pi pass: a read-out source at every aligned step.

    Pi(L,t,t+tau) = V'(L,t) (sw^2 Pi(L,t+1,t+1+tau) + c sv^2), with c = (T T')^(-1/2);
    deeper layers as in the plain recursion;
    ntk = sum_l sum_t Pi Sigma + c sv^2 sum_t V(L,t), nngp = c sv^2 sum_t V(L,t).
    """
    c = 1 / M.sqrt(len(x) * len(y))
    x, y = _shorter_first(x, y)
    sw2, su2, _, _, sv2 = _sq(p, M)
    L, T = p.n_layers, len(x)
    S, VD = _aligned_forward(x, y, p, same, M)
    P = [[0] * T for _ in range(L)]
    ntk = 0
    for l in reversed(range(L)):
        for s in reversed(range(T)):
            acc = sw2[l] * P[l][s + 1] if s + 1 < T else 0
            if l + 1 < L:
                acc += su2[l + 1] * P[l + 1][s]
            else:
                acc += c * sv2
            P[l][s] = VD[l][s][1] * acc
            ntk += P[l][s] * S[l][s]
    nngp = c * sv2 * sum(VD[L - 1][s][0] for s in range(T))
    return ntk + nngp, nngp


def pair_mean(x, y, p, frozen_layers=0, same=False, M=math):
    """One read-out of the mean top-layer state, f = sigma_v/sqrt(n) v^T (1/T) sum_t h(L, t).

    The output is a sum over all steps, so the kernel sums every (t, t') pair
    of the grid, aligned or not (no alignment is chosen: each sequence is
    averaged over its own steps)::

        nngp = sv^2/(T T') sum_{t,t'} V(L, t, t')
        ntk  = nngp + sum_{l > k} sum_{t,t'} Pi(l,t,t') Sigma(l,t,t')

    with Pi's read-out source sv^2/(T T') at every (t, t') of the top layer.
    Cost O(L T T') per pair, against O(L min(T, T')) for the other read-outs.
    """
    L = p.n_layers
    _check_frozen(frozen_layers, L)
    sv2 = _sq(p, M)[4]
    c = sv2 / (len(x) * len(y))
    S, VD = general_forward(x, y, p, same, M)
    nngp = c * sum(v for row in VD[L - 1] for v, _ in row)
    return general_backward(S, VD, p, lambda t, u: c, frozen_layers, M) + nngp, nngp
