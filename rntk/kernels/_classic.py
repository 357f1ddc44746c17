"""Classical kernels on fixed-length vectors, and the input handling they share.

* :class:`RBFKernel` and :class:`PolynomialKernel`, the classical kernels the
  RNTK paper compares against;
* :func:`pad_sequences`, which turns anything the RNTK accepts into an
  (N, length*m) array for the kernels that take fixed-length inputs.

Fixed-length kernels (these two and :class:`rntk.MLPNTK`) take an array of
shape (N, d), an array of shape (N, T, m) (flattened to (N, T*m), time-major),
or a list of equally long sequences. Variable-length sequences (ragged lists,
or trailing-NaN padding in the UCR convention) are refused with a pointer to
:func:`pad_sequences`.

A classical kernel has no tangent/output distinction, so the
:class:`~rntk.KernelResult` of its ``gram`` holds **the same kernel matrix in
both fields**. scikit-learn is imported inside ``gram`` only, so that
``import rntk`` stays numpy/scipy-only.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validation import SequenceBatch, check_positive_int, check_sequences
from ._declaration import Capabilities, KernelResult, check_dtype

__all__ = ["RBFKernel", "PolynomialKernel", "pad_sequences"]


# -- input handling shared by the fixed-length kernels ---------------------------
def _contains_nan(X: Any) -> bool:
    """Whether a raw input holds a NaN (False when it cannot be read as floats;
    :func:`check_sequences` then reports the problem)."""
    parts = X if isinstance(X, (list, tuple)) else [X]
    for p in parts:
        if hasattr(p, "__cuda_array_interface__"):
            return False
        try:
            a = np.asarray(p)
        except Exception:  # noqa: BLE001 - unreadable input, reported later
            return False
        if a.dtype.kind in "fc" and np.isnan(a).any():
            return True
    return False


def _pad_hint(name: str) -> str:
    return (
        f"pad them to one length first, e.g. {name} = rntk.pad_sequences({name}, "
        f"length=T, value=0.0)"
    )


def fixed_vectors(X: Any, name: str, kernel: str) -> np.ndarray:
    """Check a fixed-length input and return it as a float64 array (N, d)."""
    if isinstance(X, SequenceBatch):
        b = X
    else:
        # looked at before check_sequences, which would read trailing NaN as
        # shorter sequences: here NaN is an error, named as such
        has_nan = _contains_nan(X)
        try:
            b = check_sequences(X, name)
        except ValueError as exc:
            if has_nan:
                where = ""
                if not isinstance(X, (list, tuple)):
                    first = np.argwhere(np.isnan(np.asarray(X)))[0]
                    where = f" at index {tuple(int(i) for i in first)}"
                raise ValueError(
                    f"{name} contains NaN{where}; {kernel} takes fixed-length inputs, "
                    "which must be finite"
                ) from exc
            raise
        if has_nan:
            raise ValueError(
                f"{name} contains NaN (trailing NaN time steps mark variable-length "
                f"sequences); {kernel} takes fixed-length finite inputs: " + _pad_hint(name)
            )
    lengths = b.lengths
    if (lengths != b.data.shape[1]).any():
        raise ValueError(
            f"the sequences in {name} have different lengths (from {int(lengths.min())} "
            f"to {int(lengths.max())}); {kernel} takes fixed-length inputs: " + _pad_hint(name)
        )
    return b.data.reshape(len(b), -1)


def fixed_pair(X: Any, Y: Any, kernel: str):
    """:func:`fixed_vectors` of X and of an optional Y, with matching sizes."""
    x = fixed_vectors(X, "X", kernel)
    if Y is None:
        return x, None
    y = fixed_vectors(Y, "Y", kernel)
    if y.shape[1] != x.shape[1]:
        raise ValueError(
            f"X and Y have mismatched input sizes: d = {x.shape[1]} (X) vs "
            f"d = {y.shape[1]} (Y), where d = T * m for sequence inputs"
        )
    return x, y


def pad_sequences(
    X: Any, length: int | None = None, value: float = 0.0, side: str = "end"
) -> np.ndarray:
    """Pad variable-length sequences to one length and flatten them.

    Parameters
    ----------
    X : list of arrays of shape (T_i, m) or (T_i,), or array of shape (N, T, m) or (N, T)
        Any input :meth:`rntk.RNTK.gram` accepts; trailing all-NaN time steps
        mark a shorter sequence (UCR convention).
    length : int, optional
        Target length T (>= the longest sequence). Default: the longest.
    value : float
        Finite fill value for the padded time steps.
    side : {"end", "start"}
        Pad after the sequence ("end", values left-aligned) or before it
        ("start", values right-aligned, the RNTK's own end alignment).

    Returns
    -------
    ndarray of shape (N, length * m), float64
        Row i holds sequence i's padded (length, m) values, time-major.

    Examples
    --------
    >>> import numpy as np
    >>> from rntk import pad_sequences
    >>> pad_sequences([np.array([1.0, 2.0]), np.array([3.0])])
    array([[1., 2.],
           [3., 0.]])
    """
    b = check_sequences(X, "X")
    t_max = int(b.lengths.max())
    if length is None:
        length = t_max
    else:
        length = check_positive_int(length, "length")
    if length < t_max:
        i = int(np.argmax(b.lengths))
        raise ValueError(
            f"length = {length} is shorter than sequence {i} of X (length {t_max}); "
            "pad_sequences does not truncate"
        )
    value = finite_real(value, "value")
    if side not in ("end", "start"):
        raise ValueError(f"side must be 'end' or 'start', got {side!r}")
    N, _, m = b.data.shape
    out = np.full((N, length, m), value)
    for i, t in enumerate(b.lengths):
        if side == "end":
            out[i, :t] = b.data[i, :t]
        else:
            out[i, length - t :] = b.data[i, :t]
    return out.reshape(N, length * m)


def mirror_upper(K: np.ndarray) -> np.ndarray:
    """Exactly symmetric copy of a square matrix from its upper triangle."""
    iu = np.triu_indices(K.shape[0], 1)
    K = K.copy()
    K[iu[1], iu[0]] = K[iu]
    return K


def finite_real(value: Any, name: str) -> float:
    """``value`` as a finite float, or a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def classical_result(K: np.ndarray, sym: bool, dt: np.dtype) -> KernelResult:
    """One kernel matrix as both fields of a :class:`KernelResult`."""
    K = np.asarray(K, dtype=np.float64)
    if sym:
        K = mirror_upper(K)
    K = K.astype(dt)
    return KernelResult(K, K.copy())


# -- the kernels -------------------------------------------------------------------
@dataclass(frozen=True)
class RBFKernel:
    """Gaussian (RBF) kernel ``k(x, x') = exp(-gamma ||x - x'||^2)``.

    Parameters
    ----------
    gamma : float, > 0
        Inverse length scale.

    Attributes
    ----------
    capabilities : Capabilities
        Fixed-length inputs; ``diag``; no backend choice or tiling.

    Notes
    -----
    ``gram`` returns a :class:`KernelResult` whose ``ntk`` and ``nngp`` fields
    both hold the kernel matrix (a classical kernel has no tangent/output
    distinction), so it drops in wherever an RNTK Gram is used.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(variable_length=False, diag=True)

    gamma: float = 1.0

    def __post_init__(self):
        g = finite_real(self.gamma, "gamma")
        if g <= 0:
            raise ValueError(f"gamma must be > 0, got {g}")
        object.__setattr__(self, "gamma", g)

    def gram(self, X: Any, Y: Any = None, dtype="float64") -> KernelResult:
        """Kernel matrix k(X, Y).

        Parameters
        ----------
        X : array of shape (N, d) or (N, T, m), or list of N equally long sequences
            Fixed-length inputs, as for :meth:`rntk.MLPNTK.gram`.
        Y : same layout as X, optional
            If None, k(X, X), exactly symmetric with unit diagonal.
        dtype : {"float64", "float32"}
            Result precision (computed in float64).

        Returns
        -------
        KernelResult
            ``ntk`` and ``nngp`` both the kernel, of shape (len(X), len(Y or X)).
        """
        from sklearn.metrics.pairwise import rbf_kernel

        dt = check_dtype(dtype)
        x, y = fixed_pair(X, Y, "RBFKernel")
        K = rbf_kernel(x, y, gamma=self.gamma)
        if y is None:
            np.fill_diagonal(K, 1.0)
        return classical_result(K, y is None, dt)

    def diag(self, X: Any, dtype="float64") -> KernelResult:
        """Diagonal of ``gram(X)``: k(x, x) = 1 for every input, shape (N,).

        X is checked as :meth:`gram` checks it.
        """
        dt = check_dtype(dtype)
        ones = np.ones(len(fixed_vectors(X, "X", "RBFKernel")), dtype=dt)
        return KernelResult(ones, ones.copy())


@dataclass(frozen=True)
class PolynomialKernel:
    """Polynomial kernel ``k(x, x') = (coef0 + <x, x'>)^degree``.

    The paper's form ``(r + <x, x'>)^d`` (scikit-learn's with ``gamma = 1``).

    Parameters
    ----------
    degree : int, >= 1
    coef0 : float
        The offset r (finite). The kernel is positive semi-definite for r >= 0.

    Attributes
    ----------
    capabilities : Capabilities
        Fixed-length inputs; ``diag``; no backend choice or tiling.

    Notes
    -----
    ``gram`` returns a :class:`KernelResult` whose ``ntk`` and ``nngp`` fields
    both hold the kernel matrix.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(variable_length=False, diag=True)

    degree: int = 3
    coef0: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "degree", check_positive_int(self.degree, "degree"))
        object.__setattr__(self, "coef0", finite_real(self.coef0, "coef0"))

    def gram(self, X: Any, Y: Any = None, dtype="float64") -> KernelResult:
        """Kernel matrix k(X, Y).

        Parameters
        ----------
        X : array of shape (N, d) or (N, T, m), or list of N equally long sequences
            Fixed-length inputs, as for :meth:`rntk.MLPNTK.gram`.
        Y : same layout as X, optional
            If None, k(X, X), exactly symmetric.
        dtype : {"float64", "float32"}
            Result precision (computed in float64).

        Returns
        -------
        KernelResult
            ``ntk`` and ``nngp`` both the kernel, of shape (len(X), len(Y or X)).
        """
        from sklearn.metrics.pairwise import polynomial_kernel

        dt = check_dtype(dtype)
        x, y = fixed_pair(X, Y, "PolynomialKernel")
        K = polynomial_kernel(x, y, degree=self.degree, gamma=1.0, coef0=self.coef0)
        return classical_result(K, y is None, dt)

    def diag(self, X: Any, dtype="float64") -> KernelResult:
        """Diagonal of ``gram(X)``, (coef0 + ||x||^2)^degree, in O(N d); shape (N,).

        X and dtype as for :meth:`gram`; ``ntk`` and ``nngp`` both the diagonal.
        """
        dt = check_dtype(dtype)
        x = fixed_vectors(X, "X", "PolynomialKernel")
        d = ((self.coef0 + np.einsum("ij,ij->i", x, x)) ** self.degree).astype(dt)
        return KernelResult(d, d.copy())
