"""Training losses (torch), selection scores and validation metrics (numpy) of model outputs.

Element-level outputs (B, T, ...) are masked to each sample's length: padding
never reaches a loss, a score or a metric.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ._scores import classification_scores, element_scores, regression_scores

__all__ = ["loss", "per_sample_loss", "scores", "metrics", "primary"]


def _valid(out, lengths):
    return torch.arange(out.shape[1], device=out.device)[None, :] < lengths.to(out.device)[:, None]


def loss(out, y, lengths, classification: bool, element: bool):
    """The mean training loss of a batch: cross-entropy or MSE, over its valid steps at element level."""
    if not element:
        if classification:
            return F.cross_entropy(out, y)
        return F.mse_loss(out.reshape(y.shape), y)
    mask = _valid(out, lengths)
    if classification:
        return F.cross_entropy(out[mask], y[mask])
    return F.mse_loss(out[mask].reshape(y[mask].shape), y[mask])


def per_sample_loss(out, y, lengths, classification: bool, element: bool):
    """The training loss of every sample of a batch (element level: mean over its valid steps)."""
    if not element:
        if classification:
            return F.cross_entropy(out, y, reduction="none")
        return ((out.reshape(y.shape) - y) ** 2).reshape(len(y), -1).mean(dim=1)
    mask = _valid(out, lengths)
    if classification:
        tok = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none").reshape(y.shape)
    else:
        tok = ((out.reshape(y.shape) - y) ** 2).reshape(y.shape[0], y.shape[1], -1).mean(dim=2)
    return (tok * mask).sum(dim=1) / mask.sum(dim=1)


def scores(cfg, out: np.ndarray, y, lengths) -> np.ndarray:
    """ReNT's selection score of every sample (larger: more to learn), from outputs as numpy."""
    y = np.asarray(y)
    if out.ndim == 3:
        return element_scores(out, y, np.asarray(lengths), cfg.length_norm,
                              probabilities=cfg.task == "classification")
    if cfg.task == "classification":
        return classification_scores(out, y)
    return regression_scores(out.reshape(y.shape), y)


def metrics(cfg, out: np.ndarray, data) -> dict:
    """{"accuracy"} or {"mse", "mae"} of outputs on ``data`` (over the valid steps at element level)."""
    y = np.asarray(data.y)
    lengths = np.asarray(data.lengths)
    if out.ndim == 3:
        valid = np.arange(out.shape[1])[None, :] < lengths[:, None]
        if cfg.task == "classification":
            return {"accuracy": float((out.argmax(-1) == y)[valid].mean())}
        d = out[valid].reshape(y[valid].shape) - y[valid]
        return {"mse": float(np.mean(d**2)), "mae": float(np.mean(np.abs(d)))}
    if cfg.task == "classification":
        return {"accuracy": float((out.argmax(-1) == y).mean())}
    d = out.reshape(y.shape) - y
    return {"mse": float(np.mean(d**2)), "mae": float(np.mean(np.abs(d)))}


def primary(cfg, m: dict) -> float:
    """The metric that picks the best epoch, larger is better: accuracy, or -MSE."""
    return m["accuracy"] if cfg.task == "classification" else -m["mse"]
