"""Sequences of different lengths as the rows of one NaN-free matrix.

GPyTorch and BoTorch take inputs of shape (..., N, D): one fixed-width row per
sample. A collection of variable-length sequences of m features is encoded as::

    x[i, 0]               = T_i, the length of sequence i (a whole number, 1 <= T_i <= T)
    x[i, 1 + t*m + j]     = feature j at step t of sequence i    (t < T_i)
    x[i, 1 + t*m + j]     = ignored for t >= T_i                 (the encoder writes 0)

so D = 1 + T*m, the steps are left-aligned and time-major (a (T, m) array
flattened row by row). The feature size m is not recoverable from D and is
stored on the kernel (``RNTKKernel(n_features=m)``).

Why a length column and not rntk's trailing-NaN convention: GPyTorch's
``ExactGP`` checks in training mode (``settings.debug``, on by default) that
it is called with its training inputs by ``torch.equal``, which is False for
any tensor holding NaN, so training refuses NaN-padded inputs; BoTorch's models
reject NaN in ``train_X`` outright. The length column is also what a BoTorch
optimiser can hold fixed (``fixed_features={0: T}``) to search over sequences
of a chosen length.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import check_sequences

__all__ = ["decode_sequences", "encode_sequences", "split_encoded"]

_HINT = ("encode sequences with rntk.gp.encode_sequences: column 0 holds the length, "
         "then the steps, time-major, left-aligned")


def encode_sequences(X, max_length: int | None = None, dtype=torch.float64) -> torch.Tensor:
    """Encode sequences as rows ``[T_i, x_1, ..., x_{T_i}, 0, ...]`` of width 1 + T*m.

    Parameters
    ----------
    X : list of arrays of shape (T_i, m) or (T_i,), or array of shape (N, T, m) or (N, T)
        rntk's sequence conventions (trailing all-NaN steps mark a shorter sequence).
    max_length : int, optional
        T, the number of step slots (default: the longest sequence). Give the same
        value for training and test inputs so that their widths agree.
    dtype : torch dtype
        float64 (default) or float32.

    Returns
    -------
    tensor of shape (N, 1 + T*m)

    Examples
    --------
    >>> from rntk.gp import encode_sequences
    >>> encode_sequences([[1.0, 2.0], [3.0]]).tolist()
    [[2.0, 1.0, 2.0], [1.0, 3.0, 0.0]]
    """
    b = check_sequences(X, "X")
    longest = int(b.lengths.max())
    T = longest if max_length is None else int(max_length)
    if max_length is not None and (isinstance(max_length, bool) or T != max_length or T < 1):
        raise ValueError(f"max_length must be a positive integer, got {max_length!r}")
    if longest > T:
        raise ValueError(f"a sequence of X has {longest} steps, more than max_length = {T}")
    N, _, m = b.data.shape
    vals = np.zeros((N, T, m))
    vals[:, : b.data.shape[1]] = b.data  # check_sequences zeroes the steps past each length
    out = np.concatenate([b.lengths[:, None].astype(np.float64), vals.reshape(N, T * m)], axis=1)
    return torch.as_tensor(out, dtype=dtype)


def decode_sequences(x, n_features: int = 1) -> list[np.ndarray]:
    """The sequences of encoded rows, as a list of (T_i, m) float64 arrays.

    Parameters
    ----------
    x : tensor or array of shape (N, 1 + T*m)
    n_features : int
        m.
    """
    x = torch.as_tensor(x).detach()
    if x.ndim != 2:
        raise ValueError(f"x must have shape (N, 1 + T*m), got {tuple(x.shape)}")
    values, lengths = split_encoded(x.to(torch.float64), n_features, "x")
    v = values.cpu().numpy()
    return [v[i, : int(t)].copy() for i, t in enumerate(lengths.tolist())]


def split_encoded(x: torch.Tensor, n_features: int, name: str = "x"):
    """Check encoded rows and split them into values and lengths.

    Parameters
    ----------
    x : tensor of shape (..., N, 1 + T*m)
    n_features : int
        m.

    Returns
    -------
    values : tensor of shape (..., N, T, m)
        Left-aligned; differentiable in ``x`` (the steps past a length are
        what ``x`` holds there; callers mask them).
    lengths : int64 tensor of shape (..., N)
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    if x.dtype not in (torch.float64, torch.float32):
        raise ValueError(f"{name} must be float64 or float32, got {x.dtype}")
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (..., N, 1 + T*m), got {tuple(x.shape)}")
    D, m = x.shape[-1], n_features
    if D < 1 + m or (D - 1) % m:
        raise ValueError(
            f"{name} has {D} columns, not 1 + T*m for n_features m = {m} and some T >= 1; {_HINT}"
        )
    T = (D - 1) // m
    with torch.no_grad():
        if bool(torch.isnan(x).any()):
            raise ValueError(
                f"{name} contains NaN; variable lengths are given by a length column, not by NaN "
                f"padding (GPyTorch and BoTorch refuse NaN inputs); {_HINT}"
            )
        raw = x[..., 0]
        bad = ~((raw == torch.round(raw)) & (raw >= 1) & (raw <= T))
        if bool(bad.any()):
            v = float(raw[bad].flatten()[0])
            raise ValueError(
                f"{name}[..., 0] must hold each sequence's length, a whole number in [1, {T}]; "
                f"got {v if math.isfinite(v) else repr(v)}; {_HINT}"
            )
        lengths = raw.long()
    values = x[..., 1:].reshape(*x.shape[:-1], T, m)
    with torch.no_grad():
        used = torch.arange(T, device=x.device) < lengths[..., None]
        if bool((~torch.isfinite(values) & used[..., None]).any()):
            raise ValueError(f"{name} has an infinite value inside a sequence")
    return values, lengths
