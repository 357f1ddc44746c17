"""Synthetic element-level tasks of the offline benchmark.

* NARMA-10 (element-level regression): u_t ~ U[0, 0.5],
  y_{t+1} = 0.3 y_t + 0.05 y_t sum_{i=0..9} y_{t-i} + 1.5 u_{t-9} u_t + 0.1;
  a sequence with |y| > 1 (rare divergence) is redrawn.
* Switching-AR(2) regime tagging (element-level classification with a known
  ceiling): a Markov chain over regimes (1.4, -0.6), (0.5, 0.3), (-0.6, 0.2)
  (stay probability 0.98, otherwise a uniformly chosen other regime) drives
  x_t = a1 x_{t-1} + a2 x_{t-2} + eps_t, eps ~ N(0, 0.5^2); the label of step t
  is its regime. The Bayes ceiling is the causal HMM forward filter with the
  true parameters (:func:`regime_filter`).
"""
from __future__ import annotations

import numpy as np

from .._validation import as_generator as _rng
from .._validation import check_positive_int

__all__ = ["narma10", "switching_ar2", "regime_filter", "REGIMES"]

REGIMES = ((1.4, -0.6), (0.5, 0.3), (-0.6, 0.2))



def _check(n, length, min_length=1):
    check_positive_int(n, "n_sequences")
    check_positive_int(length, "length")
    if length < min_length:
        raise ValueError(f"length must be >= {min_length}, got {length}")


def narma10(n_sequences: int, length: int = 200, *, seed, max_tries: int = 100):
    """(u, y): inputs (N, T, 1) and targets (N, T); y_0..y_9 = 0 start the recursion."""
    _check(n_sequences, length, 11)
    rng = _rng(seed)
    U = np.empty((n_sequences, length, 1))
    Y = np.empty((n_sequences, length))
    todo = np.arange(n_sequences)
    for _ in range(max_tries):  # vectorised over sequences; diverging draws are redrawn
        u = rng.uniform(0.0, 0.5, (len(todo), length))
        y = np.zeros((len(todo), length))
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(9, length - 1):
                y[:, t + 1] = (0.3 * y[:, t] + 0.05 * y[:, t] * y[:, t - 9 : t + 1].sum(axis=1)
                               + 1.5 * u[:, t - 9] * u[:, t] + 0.1)
            ok = np.abs(y).max(axis=1) <= 1.0
        U[todo[ok], :, 0], Y[todo[ok]] = u[ok], y[ok]
        todo = todo[~ok]
        if todo.size == 0:
            break
    else:  # pragma: no cover - divergence is rare
        raise RuntimeError("NARMA-10 diverged in every try")
    return U, Y


def _transitions(stay, k):
    A = np.full((k, k), (1.0 - stay) / (k - 1))
    np.fill_diagonal(A, stay)
    return A


def switching_ar2(n_sequences: int, length: int = 200, *, seed, stay: float = 0.98, noise_std: float = 0.5,
                  regimes=REGIMES):
    """(x, labels): series (N, T, 1) and regimes (N, T); x_{-1} = x_{-2} = 0, regime_0 uniform."""
    _check(n_sequences, length)
    if not 0 < stay < 1:
        raise ValueError(f"stay must be in (0, 1), got {stay!r}")
    rng = _rng(seed)
    k = len(regimes)
    coef = np.asarray(regimes, dtype=float)
    X = np.zeros((n_sequences, length, 1))
    Z = np.empty((n_sequences, length), dtype=np.int64)
    z = rng.integers(k, size=n_sequences)
    x1 = np.zeros(n_sequences)
    x2 = np.zeros(n_sequences)
    for t in range(length):  # vectorised over sequences
        if t > 0:
            # leave with probability 1 - stay, to a uniformly chosen other regime
            move = rng.random(n_sequences) >= stay
            z = np.where(move, (z + rng.integers(1, k, size=n_sequences)) % k, z)
        x = coef[z, 0] * x1 + coef[z, 1] * x2 + noise_std * rng.standard_normal(n_sequences)
        X[:, t, 0], Z[:, t] = x, z
        x2, x1 = x1, x
    return X, Z


def regime_filter(X, *, stay: float = 0.98, noise_std: float = 0.5, regimes=REGIMES):
    """Causal posterior P(regime_t | x_0..x_t) (N, T, K) by the HMM forward filter."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 3:
        X = X[..., 0]
    coef = np.asarray(regimes, dtype=float)
    k = len(coef)
    A = _transitions(stay, k)
    N, T = X.shape
    prev1 = np.concatenate([np.zeros((N, 1)), X[:, :-1]], axis=1)
    prev2 = np.concatenate([np.zeros((N, 2)), X[:, :-2]], axis=1)[:, :T]
    mean = prev1[..., None] * coef[:, 0] + prev2[..., None] * coef[:, 1]  # (N, T, K)
    loglik = -0.5 * ((X[..., None] - mean) / noise_std) ** 2
    post = np.empty((N, T, k))
    alpha = np.full((N, k), 1.0 / k)
    for t in range(T):
        prior = alpha if t == 0 else alpha @ A
        w = loglik[:, t] - loglik[:, t].max(axis=1, keepdims=True)
        a = prior * np.exp(w)
        alpha = a / a.sum(axis=1, keepdims=True)
        post[:, t] = alpha
    return post
