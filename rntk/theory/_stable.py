"""Symmetric alpha-stable noise (Chambers-Mallows-Stuck) and the detection
experiment of Livi's learnability-window paper (sample size needed to see a mean shift f).
"""
from __future__ import annotations

import numpy as np

from .._validation import as_generator as _rng

__all__ = ["detection_curves", "symmetric_stable", "threshold_crossing"]



def symmetric_stable(alpha: float, size, seed=None, scale: float = 1.0) -> np.ndarray:
    """Draw symmetric alpha-stable variables S_alpha(scale, beta=0, 0).

    Chambers-Mallows-Stuck: V ~ U(-pi/2, pi/2), W ~ Exp(1),
    X = sin(alpha V) / cos(V)^(1/alpha) * (cos((1 - alpha) V) / W)^((1 - alpha)/alpha),
    and X = tan(V) at alpha = 1. This is the parametrisation of
    ``scipy.stats.levy_stable`` with beta = 0 (alpha = 2 gives N(0, 2 scale^2)).

    Parameters
    ----------
    alpha : float in (0, 2]
    size : int or tuple of int
    seed : int, None or numpy Generator
    scale : float, > 0
    """
    a = float(alpha)
    if not np.isfinite(a) or not 0 < a <= 2:
        raise ValueError(f"alpha must lie in (0, 2]; got {alpha!r}")
    scale = float(scale)
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError(f"scale must be positive and finite; got {scale!r}")
    rng = _rng(seed)
    V = rng.uniform(-np.pi / 2, np.pi / 2, size)
    if a == 1.0:
        return scale * np.tan(V)
    W = rng.standard_exponential(size)
    X = np.sin(a * V) / np.cos(V) ** (1.0 / a) * (np.cos((1.0 - a) * V) / W) ** ((1.0 - a) / a)
    return scale * X


def detection_curves(null_stats: np.ndarray, alt_stats: np.ndarray, shifts, level: float = 0.05):
    """Power of a one-sided test of a mean shift, for every N and every shift f.

    Parameters
    ----------
    null_stats : ndarray of shape (R0, G)
        The statistic (e.g. the mean of the first N noise draws) under no
        shift, R0 replicates, at G sample sizes.
    alt_stats : ndarray of shape (R1, G)
        The same statistic of an independent noise matrix; the statistic under
        a shift f is f + alt_stats (true for the mean and the median).
    shifts : sequence of float
    level : float
        False-alarm rate; the threshold is the (1 - level) quantile of the null.

    Returns
    -------
    power : ndarray of shape (len(shifts), G)
    """
    thr = np.quantile(null_stats, 1.0 - level, axis=0)
    shifts = np.asarray(shifts, dtype=float)
    return np.stack([np.mean(f + alt_stats > thr, axis=0) for f in shifts])


def threshold_crossing(ns, power, target: float = 0.8) -> float:
    """Smallest N at which ``power`` reaches ``target`` (log-linear interpolation
    between grid points); NaN when the grid never reaches it."""
    ns = np.asarray(ns, dtype=float)
    power = np.asarray(power, dtype=float)
    # first index from which the power stays >= target (robust to noise wiggles)
    ok = power >= target
    if not ok[-1]:
        return float("nan")
    bad = np.flatnonzero(~ok)
    j = 0 if bad.size == 0 else bad[-1] + 1
    if j == 0:
        return float(ns[0])
    p0, p1 = power[j - 1], power[j]
    frac = (target - p0) / (p1 - p0) if p1 > p0 else 1.0
    return float(np.exp(np.log(ns[j - 1]) + frac * (np.log(ns[j]) - np.log(ns[j - 1]))))
