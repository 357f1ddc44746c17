"""Per-sample discrepancy scores, numpy."""
from __future__ import annotations

import numpy as np

__all__ = ["regression_scores", "classification_scores", "element_scores"]


def regression_scores(pred, y):
    """||yhat_i - y_i||_2 per sample (= |dL/df| / 2 for the squared error)."""
    pred, y = np.asarray(pred, dtype=float), np.asarray(y, dtype=float)
    if pred.shape != y.shape or pred.ndim not in (1, 2):
        raise ValueError(f"pred and y must have the same shape (N,) or (N, H); got {pred.shape}, {y.shape}")
    d = pred - y
    return np.abs(d) if d.ndim == 1 else np.linalg.norm(d, axis=1)


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def classification_scores(logits, labels):
    """||softmax(z_i) - onehot(y_i)||_2 = ||dCE/dlogits||, per sample."""
    z = np.asarray(logits, dtype=float)
    labels = np.asarray(labels)
    if z.ndim != 2 or labels.shape != (z.shape[0],):
        raise ValueError(f"logits must be (N, C) and labels (N,); got {z.shape}, {labels.shape}")
    if labels.min() < 0 or labels.max() >= z.shape[1]:
        raise ValueError(f"labels must lie in [0, {z.shape[1]})")
    p = _softmax(z)
    p[np.arange(len(labels)), labels] -= 1.0
    return np.linalg.norm(p, axis=1)


def element_scores(pred, target, lengths, length_norm="mean", probabilities=True):
    """||P_i - Y_i||_F over the first lengths[i] steps, normalised by length.

    pred : (N, T, C) logits (``probabilities=True`` applies softmax) or
    predictions; target : (N, T) integer labels (one-hot internally) or
    (N, T, C) targets; padded steps t >= lengths[i] are ignored entirely.
    length_norm : "mean" (divide by L_i, default), "sqrt" or "none".
    """
    P = np.asarray(pred, dtype=float)
    if P.ndim != 3:
        raise ValueError(f"pred must be (N, T, C), got {P.shape}")
    N, T, C = P.shape
    lengths = np.asarray(lengths)
    if lengths.shape != (N,) or lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"lengths must be (N,) integers in [1, {T}]")
    if probabilities:
        P = _softmax(P)
    tgt = np.asarray(target)
    if tgt.shape == (N, T):
        Y = np.zeros((N, T, C))
        valid = np.arange(T)[None, :] < lengths[:, None]
        lab = np.where(valid, tgt, 0).astype(np.int64)
        if lab.min() < 0 or lab.max() >= C:
            raise ValueError(f"labels must lie in [0, {C})")
        Y[np.arange(N)[:, None], np.arange(T)[None, :], lab] = 1.0
    elif tgt.shape == (N, T, C):
        Y = tgt.astype(float)
    else:
        raise ValueError(f"target must be (N, T) labels or (N, T, C); got {tgt.shape}")
    mask = (np.arange(T)[None, :] < lengths[:, None])[..., None]
    sq = (((P - Y) * mask) ** 2).sum(axis=(1, 2))
    norm = {"mean": lengths.astype(float), "sqrt": np.sqrt(lengths), "none": np.ones(N)}
    if length_norm not in norm:
        raise ValueError(f"length_norm must be 'mean', 'sqrt' or 'none', got {length_norm!r}")
    return np.sqrt(sq) / norm[length_norm]
