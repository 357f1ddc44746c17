"""Input checking and conversion at the public boundary.

Everything behind these functions may assume checked inputs: finite values,
at least one sequence, every sequence non-empty, one feature size.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

__all__ = [
    "SequenceBatch",
    "check_sequences",
    "check_sigma",
    "check_pair",
    "check_positive_int",
    "as_generator",
    "KernelOverflowError",
    "overflow_limit",
    "check_diagonal_range",
    "check_finite_result",
]


@dataclass(frozen=True)
class SequenceBatch:
    """A checked collection of sequences.

    Attributes
    ----------
    data : ndarray of shape (n_sequences, max_length, n_features), float64
        Values, left-aligned; time steps past a sequence's length are 0.
    lengths : ndarray of shape (n_sequences,), int64
        Length of every sequence (>= 1).
    """

    data: np.ndarray
    lengths: np.ndarray

    @property
    def n_features(self) -> int:
        return self.data.shape[2]

    def __len__(self) -> int:
        return self.data.shape[0]

    def right_aligned(self, width: int | None = None) -> np.ndarray:
        """Return the values end-aligned in an array of ``width`` time steps.

        End alignment is the RNTK's own pairing of time steps: step
        ``t`` of the shorter sequence meets step ``t + T' - T`` of the longer
        one, which is the same column once both are right-aligned.
        """
        width = self.data.shape[1] if width is None else width
        t = np.arange(width)[None, :] - (width - self.lengths)[:, None]  # step held by each column
        src = np.take_along_axis(self.data, np.clip(t, 0, self.data.shape[1] - 1)[:, :, None], axis=1)
        return np.where((t >= 0)[:, :, None], src, 0.0)

    def subset(self, index) -> "SequenceBatch":
        index = np.asarray(index)
        if index.shape == (len(self),) and (index == np.arange(len(self))).all():
            return self  # the whole batch (an untiled Gram): no copy
        lengths = self.lengths[index]
        return SequenceBatch(self.data[index, : int(lengths.max())], lengths)


def _strip_trailing_nan(seq: np.ndarray, where: str) -> np.ndarray:
    """Drop trailing all-NaN time steps; any other non-finite value is an error."""
    finite = np.isfinite(seq)
    if finite.all():
        return seq
    if np.isinf(seq).any():
        t = int(np.argwhere(np.isinf(seq))[0, 0])
        raise ValueError(f"{where} contains an infinite value at time step {t}")
    nan_step = np.isnan(seq)
    partial = nan_step.any(axis=1) & ~nan_step.all(axis=1)
    if partial.any():
        t = int(np.argmax(partial))
        raise ValueError(
            f"{where} has NaN in only some features at time step {t}; "
            "NaN may only pad whole time steps at the end of a sequence"
        )
    is_pad = nan_step.all(axis=1)
    length = len(seq)
    while length > 0 and is_pad[length - 1]:
        length -= 1
    if is_pad[:length].any():
        t = int(np.argmax(is_pad[:length]))
        raise ValueError(
            f"{where} has NaN inside the sequence (time step {t} of {length}); "
            "NaN may only pad the end of a sequence (UCR convention)"
        )
    return seq[:length]


def _as_float_array(a: Any, where: str) -> np.ndarray:
    if hasattr(a, "__cuda_array_interface__") or type(a).__module__.startswith("cupy"):
        raise ValueError(
            f"{where} is a GPU array; this backend takes host (numpy) arrays"
        )
    arr = np.asarray(a)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating)
        or np.issubdtype(arr.dtype, np.integer)
        or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{where} must hold real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def check_sequences(X: Any, name: str = "X") -> SequenceBatch:
    """Validate a collection of sequences and return a :class:`SequenceBatch`.

    Parameters
    ----------
    X : list of array-like of shape (T_i, m) or (T_i,), or array-like of shape
        (N, T, m) or (N, T)
        A 2-D array means one feature (m = 1). Trailing all-NaN time steps mark
        a shorter sequence (the UCR convention); NaN anywhere else, infinite
        values, empty sequences and empty collections raise ``ValueError``.
    name : str
        Name used in error messages.
    """
    if isinstance(X, SequenceBatch):
        return X
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError(f"{name} is empty: it holds no sequences")
        seqs = []
        for i, s in enumerate(X):
            a = _as_float_array(s, f"{name}[{i}]")
            if a.ndim == 1:
                a = a[:, None]
            elif a.ndim != 2:
                raise ValueError(
                    f"{name}[{i}] must have shape (T, m) or (T,), got ndim {a.ndim}"
                )
            seqs.append(a)
        widths = {s.shape[1] for s in seqs}
        if len(widths) > 1:
            raise ValueError(
                f"the sequences in {name} have different feature sizes {sorted(widths)}"
            )
    else:
        arr = _as_float_array(X, name)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        elif arr.ndim != 3:
            raise ValueError(
                f"{name} must have shape (N, T, m) or (N, T) or be a list of "
                f"(T_i, m) arrays, got an array of ndim {arr.ndim}"
            )
        if arr.shape[0] == 0:
            raise ValueError(f"{name} is empty: it holds no sequences")
        if arr.shape[2] == 0:
            raise ValueError(f"{name} has zero features per time step")
        return _check_array(arr, name)
    m = seqs[0].shape[1]
    if m == 0:
        raise ValueError(f"{name} has zero features per time step")
    out = []
    for i, s in enumerate(seqs):
        s = _strip_trailing_nan(s, f"sequence {i} of {name}")
        if len(s) == 0:
            raise ValueError(f"sequence {i} of {name} is empty (length 0 or all NaN)")
        out.append(s)
    lengths = np.array([len(s) for s in out], dtype=np.int64)
    data = np.zeros((len(out), int(lengths.max()), m))
    for i, s in enumerate(out):
        data[i, : len(s)] = s
    return SequenceBatch(data, lengths)


def _check_array(arr: np.ndarray, name: str) -> SequenceBatch:
    """:func:`check_sequences` of an (N, T, m) array, vectorised over sequences.

    A sequence is valid when its non-finite values are exactly its trailing
    all-NaN steps and it keeps at least one step; the first invalid one is
    passed to the per-sequence check, which raises the specific error.
    """
    N, T, _ = arr.shape
    if T == 0:
        raise ValueError(f"sequence 0 of {name} is empty (length 0 or all NaN)")
    finite = np.isfinite(arr)
    if finite.all():
        return SequenceBatch(np.ascontiguousarray(arr), np.full(N, T, dtype=np.int64))
    pad_step = np.isnan(arr).all(axis=2)[:, ::-1]  # reversed time: trailing steps first
    n_pad = np.where(pad_step.all(axis=1), T, np.argmin(pad_step, axis=1))
    lengths = (T - n_pad).astype(np.int64)
    in_seq = np.arange(T)[None, :] < lengths[:, None]
    bad = ((~finite).any(axis=2) & in_seq).any(axis=1) | (lengths == 0)
    if bad.any():
        i = int(np.argmax(bad))
        _strip_trailing_nan(arr[i], f"sequence {i} of {name}")
        raise ValueError(f"sequence {i} of {name} is empty (length 0 or all NaN)")
    data = np.where(in_seq[:, :, None], arr, 0.0)[:, : int(lengths.max())]
    return SequenceBatch(np.ascontiguousarray(data), lengths)


def check_pair(X: Any, Y: Any | None) -> tuple[SequenceBatch, SequenceBatch | None]:
    """Validate ``X`` and optional ``Y`` and check that their feature sizes agree."""
    bx = check_sequences(X, "X")
    if Y is None:
        return bx, None
    by = check_sequences(Y, "Y")
    if by.n_features != bx.n_features:
        raise ValueError(
            f"X and Y have mismatched feature sizes: m = {bx.n_features} vs "
            f"m = {by.n_features}"
        )
    return bx, by


def check_sigma(value: Any, name: str, n_layers: int | None) -> tuple[float, ...] | float:
    """Check a standard deviation: finite, >= 0; per-layer sequences of length L.

    Returns a tuple of length ``n_layers`` (a scalar is repeated), or a float when
    ``n_layers`` is None (a quantity that is not per layer).
    """
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if n_layers is not None and isinstance(value, (Sequence, np.ndarray)) and np.ndim(value) == 1:
        vals = [v for v in value]
        if len(vals) != n_layers:
            raise ValueError(
                f"{name} has {len(vals)} per-layer values but n_layers = {n_layers}"
            )
    elif np.ndim(value) == 0:
        vals = [value] * (n_layers or 1)
    else:
        raise ValueError(f"{name} must be a number or a per-layer sequence")
    out = []
    for v in vals:
        if isinstance(v, bool) or not isinstance(v, (numbers.Real, np.floating, np.integer)):
            raise ValueError(f"{name} must be real, got {v!r}")
        v = float(v)
        if not math.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v}")
        if v < 0:
            raise ValueError(f"{name} must be >= 0 (it is a standard deviation), got {v}")
        out.append(v)
    return tuple(out) if n_layers is not None else out[0]


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int if it is an integer >= 1 (bool excluded), else ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def as_generator(seed: Any) -> np.random.Generator:
    """A numpy Generator: ``seed`` itself if it is one, else ``np.random.default_rng(seed)``."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


class KernelOverflowError(ValueError, FloatingPointError):
    """A kernel's values leave the floating-point range of the requested dtype.

    A ``ValueError`` because the hyperparameters and inputs are what cannot be
    represented (and callers report ValueErrors as bad input), and a
    ``FloatingPointError`` because that is what happened.
    """


# The pair recursion forms intermediates up to 8x its pair's diagonal bound
# (erf: 2 pi V' <= 8) and sums a few of them; 2^10 leaves two orders of
# magnitude beyond that. It refuses a geometrically growing kernel only
# log(1024)/log(growth) steps earlier (10 steps at ReLU, sigma_w = 2).
_OVERFLOW_MARGIN = 2.0**10


def overflow_limit(dtype) -> float:
    """Largest diagonal kernel value accepted in ``dtype``: its max / 1024."""
    return float(np.finfo(dtype).max) / _OVERFLOW_MARGIN


_REMEDY = "a smaller sigma_w, shorter sequences or rescaled inputs"


def _remedies(dtype) -> str:
    if np.dtype(dtype) == np.float32:
        return f"use dtype='float64', {_REMEDY}"
    return f"use {_REMEDY}"


def check_diagonal_range(first_bad, peak, lengths, dtype, name: str = "X", index=None) -> None:
    """Raise :class:`KernelOverflowError` if a sample's diagonal left the range.

    ``first_bad`` (N,) is the first time step at which a sample's checked
    diagonal value exceeded ``overflow_limit(dtype)`` (-1: never), ``peak``
    (N,) its largest such value; ``index`` maps a subset's positions to the
    caller's sample numbers. The sample that overflows first is named.
    """
    first_bad = np.asarray(first_bad)
    bad = np.flatnonzero(first_bad >= 0)
    if len(bad) == 0:
        return
    k = int(bad[np.argmin(first_bad[bad])])
    i = k if index is None else int(np.asarray(index)[k])
    dt = np.dtype(dtype)
    top = float(peak[k])
    where = (f"the kernel of sequence {i} of {name} with itself, which bounds every Gram entry "
             "of that sequence,")
    step = f"at time step {int(first_bad[k])} of {int(lengths[k])}"
    if math.isnan(top):
        raise KernelOverflowError(
            f"the RNTK is not a number: {where} becomes NaN {step} (an activation that returns "
            f"NaN, or inf - inf after an overflow); {_remedies(dt)}"
        )
    reached = f"{top:.3g}" if math.isfinite(top) else "inf (beyond float64)"
    raise KernelOverflowError(
        f"the RNTK overflows {dt.name}: {where} exceeds {overflow_limit(dt):.3g} "
        f"({dt.name}'s largest value / {_OVERFLOW_MARGIN:.0f}) {step} and reaches {reached}; "
        "the kernel grows geometrically with the sequence length when sigma_w is large: "
        f"{_remedies(dt)}"
    )


def check_finite_result(ntk, nngp, dtype, xp=np) -> None:
    """Raise :class:`KernelOverflowError` if a computed kernel has a non-finite entry.

    The backstop behind :func:`check_diagonal_range`: one pass over the result.
    """
    for what, K in (("ntk", ntk), ("nngp", nngp)):
        finite = xp.isfinite(K)
        if not bool(finite.all()):
            n_bad = int((~finite).sum())
            size = K.numel() if hasattr(K, "numel") else K.size  # torch's size is a method
            raise KernelOverflowError(
                f"the RNTK {what} has {n_bad} non-finite of {size} entries in "
                f"{np.dtype(dtype).name} (overflow, or an activation that returns inf or NaN "
                f"for large inputs); {_remedies(dtype)}"
            )
