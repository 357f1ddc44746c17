"""Gradient descent on the diagonal Elman RNN of Cayci & Eryilmaz: plain and
max-norm projected, its risk and gradient, and the transport-map teacher.

The model, its sensitivities and kernels are in ``_diagonal``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._validation import as_generator as _rng
from ._diagonal import DiagonalRNN, _check_inputs, _check_positive, _project, _states

__all__ = ["GDResult", "project_max_norm", "risk_and_gradient", "train_gd", "transport_target"]


def project_max_norm(A, A0, radius: float) -> np.ndarray:
    """Euclidean projection onto {A : max_i ||A_i - A0_i||_2 <= radius}.

    The set is a product of per-row balls, so the projection shrinks each row's
    offset onto its ball and leaves rows inside unchanged. 1-d arrays are
    treated as rows of length 1 (a clip to [A0_i - radius, A0_i + radius]).
    """
    A = np.asarray(A, dtype=float)
    A0 = np.asarray(A0, dtype=float)
    if A.shape != A0.shape:
        raise ValueError(f"A and A0 must have the same shape; got {A.shape} and {A0.shape}")
    if not (np.isfinite(A).all() and np.isfinite(A0).all()):
        raise ValueError("A and A0 must be finite")
    radius = _check_positive(radius, "radius", allow_zero=True)
    D = (A - A0).reshape(A.shape[0], -1) if A.ndim else (A - A0).reshape(1, 1)
    norms = np.linalg.norm(D, axis=1, keepdims=True)
    scale = np.where(norms > radius, radius / np.where(norms > 0, norms, 1.0), 1.0)
    return A0 + (D * scale).reshape(A.shape)


@dataclass(frozen=True)
class GDResult:
    """Outcome of :func:`train_gd`.

    Attributes
    ----------
    model : DiagonalRNN
        Final parameters.
    risk : ndarray of shape (steps + 1,)
        Empirical risk R(Theta(s)) for s = 0 .. steps.
    """

    model: DiagonalRNN
    risk: np.ndarray


def risk_and_gradient(model: DiagonalRNN, X, Y):
    """R = (1/n) sum_j sum_t (F_t - Y_t)^2 and its gradient w.r.t. (w, U).

    Back-propagation through time (reverse mode), written out for the diagonal
    cell; :func:`sensitivities` (forward mode) is the independent check.

    X : (n, T, d); Y : (n, T) targets for t = 1 .. T.
    Returns (R, grad_w of shape (m,), grad_U of shape (m, d)).
    """
    n, T, _ = X.shape
    g = model.gain
    H = _states(model.w, model.U, X, g)  # (T+1, n, m)
    cs = model.c / np.sqrt(model.m)
    r = H[1:] @ cs - Y.T  # (T, n)
    R = float((r**2).sum() / n)
    dH = np.zeros_like(H[0])  # dR/dH_t carried backwards (from later steps)
    gw = np.zeros(model.m)
    delta = np.empty_like(H[1:])  # dR/d(pre-activation) at each step
    for t in range(T, 0, -1):
        dH = dH + (2.0 / n) * r[t - 1][:, None] * cs
        da = dH * g * (1.0 - H[t] ** 2)
        delta[t - 1] = da
        gw += (da * H[t - 1]).sum(0)
        dH = da * model.w
    gU = delta.reshape(-1, model.m).T @ np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(-1, X.shape[2])
    return R, gw, gU


def train_gd(model: DiagonalRNN, X, Y, *, eta: float, steps: int, rho_w: float | None = None,
             rho_u: float | None = None) -> GDResult:
    """Gradient descent on R = (1/n) sum_j sum_t (F_t - Y_t)^2 (the paper's eq. 1, 5).

    With ``rho_w``/``rho_u`` given this is the paper's ||.||_{2,inf}-projected
    GD: after every step W_ii is projected onto [W_ii(0) +- rho_w/sqrt(m)] and
    each row U_i onto the ball of radius rho_u/sqrt(m) around U_i(0). With both
    None it is plain GD.

    Parameters
    ----------
    X : ndarray of shape (n, T, d)
    Y : ndarray of shape (n, T)
    """
    X = _check_inputs(X, model.d)
    Y = np.asarray(Y, dtype=float)
    if Y.shape != X.shape[:2]:
        raise ValueError(f"Y must have shape {X.shape[:2]}; got {Y.shape}")
    if not np.isfinite(Y).all():
        raise ValueError("Y contains NaN or infinite values")
    eta = _check_positive(eta, "eta")
    if int(steps) != steps or steps < 0:
        raise ValueError(f"steps must be a non-negative integer; got {steps!r}")
    if (rho_w is None) != (rho_u is None):
        raise ValueError("give both rho_w and rho_u (projected GD) or neither (plain GD)")
    sq = np.sqrt(model.m)
    rw = None if rho_w is None else _check_positive(rho_w, "rho_w") / sq
    ru = None if rho_u is None else _check_positive(rho_u, "rho_u") / sq
    risk = np.empty(steps + 1)
    for s in range(steps + 1):
        R, gw, gU = risk_and_gradient(model, X, Y)
        if not np.isfinite(R):
            raise FloatingPointError(f"risk became {R} at step {s}; lower eta")
        risk[s] = R
        if s == steps:
            break
        w, U = model.w - eta * gw, model.U - eta * gU
        if rw is not None:
            w = project_max_norm(w, model.w0, rw)
            U = project_max_norm(U, model.U0, ru)
        model = replace(model, w=w, U=U)
    return GDResult(model=model, risk=risk)


def transport_target(X, *, alpha: float, v_u, v_w: float = 0.0, n_draws: int = 2**16, seed=None,
                     gain: float = 1.0, chunk: int = 2**12) -> np.ndarray:
    """A dynamical system in the paper's class F_{nu_w, nu_u} (eq. 8, 9), by Monte Carlo.

    F~_t(X) = E[ sum_{k=0}^{t-1} w0^k (v_u . X_{t-k-1} + v_w h_{t-k-1}) prod_{s=0}^{k} I_{t-s-1} ]
            = E[ v_u . dh_t/du + v_w dh_t/dw ]
    for constant transport maps v_u(u) = v_u (a vector) and v_w(w) = v_w,
    so sup ||v_u|| = ||v_u|| and sup |v_w| = |v_w|.

    Note: with an odd sigma and symmetric u0, dh/du is even in u0 and dh/dw
    odd, so an odd v_u or any v_w averages to ~0; a constant v_u does not.

    Returns ndarray of shape (n, T): F~_t for t = 1 .. T.
    """
    X = _check_inputs(X)
    v_u = np.asarray(v_u, dtype=float)
    if v_u.shape != (X.shape[2],) or not np.isfinite(v_u).all():
        raise ValueError(f"v_u must be a finite vector of length {X.shape[2]}")
    alpha = _check_positive(alpha, "alpha")
    rng = _rng(seed)
    n, T, d = X.shape
    total = np.zeros((T, n))
    done = 0
    while done < n_draws:
        c = min(chunk, n_draws - done)
        w0 = alpha * rng.choice([-1.0, 1.0], size=c)
        u0 = rng.standard_normal((c, d))
        proj = _project(X, u0)
        xv = X @ v_u  # (n, T)
        h = np.zeros((n, c))
        tan = np.zeros((n, c))  # v_u . dh/du + v_w dh/dw, forward mode
        for t in range(1, T + 1):
            h_new = np.tanh(gain * (w0 * h + proj[t - 1]))
            der = gain * (1.0 - h_new**2)
            tan = (xv[:, t - 1, None] + float(v_w) * h + w0 * tan) * der
            h = h_new
            total[t - 1] += tan.sum(1)
        done += c
    return (total / n_draws).T
