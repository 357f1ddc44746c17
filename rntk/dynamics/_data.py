"""The synthetic task of ReNT's Figure 3: AR(2) windows and Fourier features.

ReNT (Sec. 5 / Fig. 3, OCR-damaged):
x_t = 1.4 x_{t-1} - 0.6 x_{t-2} + eps_t, eps_t white noise of variance 0.47,
x_{-2} = 1.2, x_{-1} = -0.1; the learner maps the window (x_{t-2}, x_{t-1})
to x_t. The characteristic roots have modulus sqrt(0.6), so the series is
stationary with a damped oscillation of period about 14 steps. Each window
element is embedded by random Fourier features (Tancik et al. 2020),
gamma(x) = [sin(2 pi B x), cos(2 pi B x)], x scaled to [-1, 1], B ~ N(0, s^2).
"""
from __future__ import annotations

import numpy as np

from .._validation import as_generator as _rng
from .._validation import check_positive_int

__all__ = ["ar2_series", "ar2_windows", "fourier_features"]



def ar2_series(n: int, *, seed, phi=(1.4, -0.6), noise_var: float = 0.47, init=(1.2, -0.1)) -> np.ndarray:
    """x_0 .. x_{n-1} of the AR(2) process started from (x_{-2}, x_{-1}) = init."""
    check_positive_int(n, "n")
    if not np.isfinite(noise_var) or noise_var < 0:
        raise ValueError(f"noise_var must be finite and >= 0, got {noise_var!r}")
    a1, a2 = (float(v) for v in phi)
    rng = _rng(seed)
    eps = rng.standard_normal(n) * np.sqrt(noise_var)
    x = np.empty(n + 2)
    x[0], x[1] = init
    for t in range(2, n + 2):
        x[t] = a1 * x[t - 1] + a2 * x[t - 2] + eps[t - 2]
    return x[2:]


def ar2_windows(n_windows: int, *, seed, **kwargs):
    """Consecutive windows of one AR(2) series: X (N, 2) = (x_{t-2}, x_{t-1}), y (N,) = x_t.

    The series includes the two initial values, so the first window is
    (x_{-2}, x_{-1}) -> x_0. ``kwargs`` go to :func:`ar2_series`.
    """
    x = ar2_series(n_windows, seed=seed, **kwargs)
    init = kwargs.get("init", (1.2, -0.1))
    full = np.concatenate([np.asarray(init, dtype=float), x])
    X = np.stack([full[:-2], full[1:-1]], axis=1)
    return X, full[2:].copy()


def fourier_features(X, *, n_freq: int = 64, sigma: float = 1.0, seed, scale: float | None = None):
    """Embed every scalar element: (N, T) -> (N, T, 2 n_freq).

    Values are divided by ``scale`` (default max |X|, so that they lie in
    [-1, 1]); B ~ N(0, sigma^2) has n_freq entries, shared by all elements.
    Returns (features, scale) so that test data can reuse the training scale.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.size == 0:
        raise ValueError(f"X must be a non-empty (N, T) array of scalar sequences, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError("X contains NaN or infinite values")
    check_positive_int(n_freq, "n_freq")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma must be > 0, got {sigma!r}")
    if scale is None:
        scale = float(np.abs(X).max()) or 1.0
    elif not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    B = _rng(seed).normal(0.0, sigma, n_freq)
    arg = 2.0 * np.pi * (X / scale)[..., None] * B
    return np.concatenate([np.sin(arg), np.cos(arg)], axis=-1), scale
