"""Functional gradient descent (FGD) for a fixed kernel, and its closed form.

Loss convention (the same as :func:`rntk.dynamics.train_pgd`): the mean
squared error L(f) = (1/N) sum_i (f_i - y_i)^2, whose gradient with respect
to the function values is (2/N)(f - y). FGD in the RKHS of K, restricted to
the training points, is

    f_{k+1} = f_k - eta_k K (2/N) (f_k - y),
    f*_{k+1} = f*_k - eta_k K_* (2/N) (f_k - y)      (test points),

the function-space image of parameter GD with the kernel K = J J^T (ReNT
eq. 15 without the remainder; Jacot et al. 2018). In continuous time with
"integrated learning rate" tau = sum_k eta_k the solution is closed form:

    f(tau) - y = exp(-(2/N) K tau) (f_0 - y),
    f*(tau) = f*_0 - K_* V diag((1 - exp(-(2/N) lam tau)) / lam) V^T (f_0 - y),

with K = V diag(lam) V^T (for lam = 0 the factor is its limit (2/N) tau).
As tau -> inf the test predictions become kernel regression on the
residual, f*_0 + K_* K^+ (y - f_0).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_positive_int as _check_positive_int

__all__ = ["functional_gd", "FGDResult", "KernelFlow", "cosine_schedule", "constant_schedule"]


def cosine_schedule(lr: float, n_steps: int, final: float = 0.0) -> np.ndarray:
    """Cosine-decayed rates eta_k = final + (lr - final)(1 + cos(pi k / n)) / 2, k < n."""
    _check_positive_int(n_steps, "n_steps")
    _check_rate(lr, "lr")
    if not np.isfinite(final) or final < 0:
        raise ValueError(f"final must be a finite rate >= 0, got {final!r}")
    k = np.arange(n_steps)
    return final + (lr - final) * 0.5 * (1.0 + np.cos(np.pi * k / n_steps))


def constant_schedule(lr: float, n_steps: int) -> np.ndarray:
    """n_steps copies of lr."""
    _check_positive_int(n_steps, "n_steps")
    _check_rate(lr, "lr")
    return np.full(n_steps, float(lr))


def _check_rate(lr, name):
    if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating, np.integer)) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {lr!r}")


def _vector(a, name, n=None):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise ValueError(f"{name} has {a.shape[0]} entries, expected {n}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return a


def _check_kernels(K, y, f0, K_test, f0_test):
    K = np.asarray(K, dtype=np.float64)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or K.shape[0] == 0:
        raise ValueError(f"K must be a non-empty square (N, N) Gram matrix, got shape {K.shape}")
    if not np.isfinite(K).all():
        raise ValueError("K contains NaN or infinite values")
    n = K.shape[0]
    scale = max(np.abs(K).max(), np.finfo(float).tiny)
    if np.abs(K - K.T).max() > 1e-10 * scale:
        raise ValueError("K is not symmetric (a training Gram must be)")
    y = _vector(y, "y", n)
    f0 = np.zeros(n) if f0 is None else _vector(f0, "f0", n)
    if K_test is None:
        if f0_test is not None:
            raise ValueError("f0_test given without K_test")
        return K, y, f0, None, None
    K_test = np.asarray(K_test, dtype=np.float64)
    if K_test.ndim != 2 or K_test.shape[1] != n:
        raise ValueError(f"K_test must have shape (M, {n}) (test x train), got {K_test.shape}")
    if not np.isfinite(K_test).all():
        raise ValueError("K_test contains NaN or infinite values")
    m = K_test.shape[0]
    f0_test = np.zeros(m) if f0_test is None else _vector(f0_test, "f0_test", m)
    return K, y, f0, K_test, f0_test


def check_rates(rates) -> np.ndarray:
    """Step sizes as a float64 array; ``ValueError`` unless 1-D, non-empty, finite and >= 0."""
    rates = np.asarray(rates, dtype=np.float64)
    if rates.ndim != 1 or rates.size == 0 or not np.isfinite(rates).all() or (rates < 0).any():
        raise ValueError("rates must be a non-empty 1-D array of finite step sizes >= 0")
    return rates


def iterations(values, n_steps, name) -> np.ndarray:
    """Sorted unique iterations from ``values``, each in [0, n_steps] (may be empty)."""
    s = np.unique(np.asarray(list(values), dtype=np.int64))
    if s.size and (s.min() < 0 or s.max() > n_steps):
        raise ValueError(f"{name} must hold iterations in [0, {n_steps}]")
    return s


@dataclass(frozen=True)
class FGDResult:
    """Recorded function values of a gradient-descent run.

    Attributes
    ----------
    steps : ndarray (R,)
        Iterations at which values were recorded (k updates done).
    train : ndarray (R, N)
        Function values on the training points.
    test : ndarray (R, M) or None
        Function values on the test points.
    """

    steps: np.ndarray
    train: np.ndarray
    test: np.ndarray | None = None


def functional_gd(K, y, rates, *, f0=None, K_test=None, f0_test=None, record=None) -> FGDResult:
    """Discrete FGD on the MSE with step sizes ``rates`` (see the module doc).

    Parameters
    ----------
    K : (N, N) training Gram; y : (N,) targets; rates : (n_steps,) step sizes,
        e.g. :func:`cosine_schedule`. f0 : (N,) initial function values
        (default 0). K_test : (M, N) test x train Gram; f0_test : (M,).
    record : iterable of int, optional
        Iterations 0..n_steps at which to record (default: all).
    """
    K, y, f0, K_test, f0_test = _check_kernels(K, y, f0, K_test, f0_test)
    rates = check_rates(rates)
    n_steps = rates.size
    steps = np.arange(n_steps + 1) if record is None else iterations(record, n_steps, "record")
    if steps.size == 0:
        raise ValueError(f"record must hold iterations in [0, {n_steps}]")
    want = np.zeros(n_steps + 1, dtype=bool)
    want[steps] = True
    n = K.shape[0]
    f, ft = f0.copy(), None if K_test is None else f0_test.copy()
    train, test = [], []
    for k in range(n_steps + 1):
        if want[k]:
            train.append(f.copy())
            if ft is not None:
                test.append(ft.copy())
        if k == n_steps:
            break
        g = (2.0 / n) * (f - y)
        if ft is not None:
            ft -= rates[k] * (K_test @ g)
        f -= rates[k] * (K @ g)
    return FGDResult(steps, np.array(train), np.array(test) if ft is not None else None)


class KernelFlow:
    """Closed-form continuous-time MSE gradient flow for a fixed kernel.

    ``predict(tau)`` gives the train (and test) function values after an
    integrated learning rate ``tau`` (for constant steps eta, tau = k eta).
    """

    def __init__(self, K, y, *, f0=None, K_test=None, f0_test=None):
        K, y, f0, K_test, f0_test = _check_kernels(K, y, f0, K_test, f0_test)
        lam, V = np.linalg.eigh(0.5 * (K + K.T))
        # a PSD Gram's eigenvalues can come out a few ulps negative; they are 0
        self._lam = np.clip(lam, 0.0, None)
        self._V = V
        self._n = K.shape[0]
        self._y, self._f0 = y, f0
        self._r0 = V.T @ (f0 - y)
        self._K_test_V = None if K_test is None else K_test @ V
        self._f0_test = f0_test

    def predict(self, tau):
        """(train, test) values at tau (scalar or 1-D array); test is None without K_test.

        Shapes: (N,) and (M,) for a scalar tau, (len(tau), N) and (len(tau), M) otherwise.
        """
        t = np.asarray(tau, dtype=np.float64)
        if not np.isfinite(t).all() or (t < 0).any():
            raise ValueError("tau must be finite and >= 0")
        scalar = t.ndim == 0
        t = np.atleast_1d(t)
        rate = (2.0 / self._n) * self._lam  # (N,)
        decay = np.exp(-np.outer(t, rate))  # (R, N)
        train = self._y + (decay * self._r0) @ self._V.T
        test = None
        if self._K_test_V is not None:
            lam = self._lam
            safe = np.where(lam > 0, lam, 1.0)
            integral = np.where(lam > 0, -np.expm1(-np.outer(t, rate)) / safe, (2.0 / self._n) * t[:, None])
            test = self._f0_test - (integral * self._r0) @ self._K_test_V.T
        if scalar:
            return train[0], None if test is None else test[0]
        return train, test
