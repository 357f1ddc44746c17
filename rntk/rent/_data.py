"""The labelled sequences a ReNT run trains and evaluates on (numpy only)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SequenceData", "Standardizer"]


@dataclass(frozen=True)
class SequenceData:
    """A labelled set of sequences.

    Parameters
    ----------
    X : ndarray
        (N, T, m) floats, left-aligned and padded after each length, or
        (N, T) integer token ids.
    lengths : ndarray
        (N,) integers in [1, T].
    y : ndarray
        Sequence level: (N,) class ids, or (N,) / (N, H) regression targets.
        Element level: (N, T) class ids, or (N, T) / (N, T, H) targets.

    Raises
    ------
    ValueError
        On inconsistent shapes, lengths out of range, or NaN or infinite
        values inside a sequence or in ``y``.
    """

    X: np.ndarray
    lengths: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        X, lengths, y = np.asarray(self.X), np.asarray(self.lengths), np.asarray(self.y)
        if X.ndim not in (2, 3) or X.shape[0] == 0:
            raise ValueError(f"X must be (N, T, m) values or (N, T) token ids, got shape {X.shape}")
        N, T = X.shape[:2]
        if lengths.shape != (N,) or lengths.min() < 1 or lengths.max() > T:
            raise ValueError(f"lengths must be (N,) = ({N},) integers in [1, {T}]")
        if y.shape[0] != N:
            raise ValueError(f"y has {y.shape[0]} rows but X has {N} sequences")
        if np.issubdtype(X.dtype, np.floating):
            valid = np.arange(T)[None, :] < lengths[:, None]
            if not np.isfinite(X[valid]).all():
                raise ValueError("X contains NaN or infinite values inside a sequence")
        if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")

    def __len__(self):
        return len(self.lengths)


@dataclass(frozen=True)
class Standardizer:
    """Per-feature input standardisation, fitted on one set (the training split).

    The mean and standard deviation of every input feature are taken over the
    valid steps of all sequences (padding after a sequence's length is left
    out), and :meth:`transform` maps any split with them, so that validation
    and test data never enter the fit. Targets are left as they are.

    Attributes
    ----------
    mean, std : ndarray
        (m,) per-feature statistics; a constant feature gets std 1.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, data: SequenceData) -> "Standardizer":
        """The statistics of ``data``'s valid steps; ValueError for token ids."""
        X = np.asarray(data.X)
        if X.ndim != 3 or not np.issubdtype(X.dtype, np.floating):
            raise ValueError("standardisation applies to (N, T, m) real-valued inputs, not token ids")
        valid = np.arange(X.shape[1])[None, :] < np.asarray(data.lengths)[:, None]
        steps = X[valid].astype(np.float64)  # (sum of lengths, m)
        sd = steps.std(axis=0)
        return cls(steps.mean(axis=0), np.where(sd > 0, sd, 1.0))

    def transform(self, data: SequenceData) -> SequenceData:
        """``data`` with standardised inputs (padding stays zero), same lengths and targets."""
        X = np.asarray(data.X, dtype=np.float64)
        valid = (np.arange(X.shape[1])[None, :] < np.asarray(data.lengths)[:, None])[..., None]
        Z = np.where(valid, (X - self.mean) / self.std, 0.0).astype(np.asarray(data.X).dtype)
        return SequenceData(Z, data.lengths, data.y)
