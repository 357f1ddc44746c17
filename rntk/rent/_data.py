"""The labelled sequences a ReNT run trains and evaluates on (numpy only)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SequenceData"]


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
