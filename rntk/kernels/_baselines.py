"""Baseline kernels on fixed-length vectors that share the RNTK's ``gram`` API.

* :class:`MLPNTK`, the neural tangent kernel of an L-hidden-layer MLP (the
  RNTK paper's Appendix A.1, with its misprints corrected, see the class);
* :class:`RBFKernel` and :class:`PolynomialKernel`, the classical kernels the
  paper compares against.

All three take fixed-length inputs: an array of shape (N, d), an array of shape
(N, T, m) (flattened to (N, T*m), time-major), or a list of equally long
sequences. Variable-length sequences (ragged lists, or trailing-NaN padding in
the UCR convention) are refused with a pointer to :func:`pad_sequences`, which
turns anything the RNTK accepts into an (N, length*m) array.

``gram`` returns a :class:`~rntk.kernels._rntk.KernelResult`. For the MLP NTK,
``ntk`` is the tangent kernel and ``nngp`` the output covariance; for the
classical kernels, which have no tangent/output distinction, **both fields hold
the same kernel matrix**.

scikit-learn is imported inside the classical kernels' ``gram`` only, so that
``import rntk`` stays numpy/scipy-only.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

import numpy as np

from .._validation import SequenceBatch, check_positive_int, check_sequences, check_sigma
from ._activations import get_dual
from ._batching import batched_gram
from ._declaration import KernelResult, check_dtype as _check_dtype

__all__ = ["MLPNTK", "RBFKernel", "PolynomialKernel", "GAKKernel", "pad_sequences"]

Sigma = Union[float, Sequence[float]]


# -- input handling -------------------------------------------------------------
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


def _fixed_vectors(X: Any, name: str, kernel: str) -> np.ndarray:
    """Check a fixed-length input and return it as a float64 array (N, d)."""
    if isinstance(X, SequenceBatch):
        b = X
    else:
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
                f"sequences); {kernel} takes fixed-length finite inputs: "
                + _pad_hint(name)
            )
    lengths = b.lengths
    if (lengths != b.data.shape[1]).any():
        raise ValueError(
            f"the sequences in {name} have different lengths (from {int(lengths.min())} "
            f"to {int(lengths.max())}); {kernel} takes fixed-length inputs: "
            + _pad_hint(name)
        )
    return b.data.reshape(len(b), -1)


def _fixed_pair(X: Any, Y: Any, kernel: str):
    x = _fixed_vectors(X, "X", kernel)
    if Y is None:
        return x, None
    y = _fixed_vectors(Y, "Y", kernel)
    if y.shape[1] != x.shape[1]:
        raise ValueError(
            f"X and Y have mismatched input sizes: d = {x.shape[1]} (X) vs "
            f"d = {y.shape[1]} (Y), where d = T * m for sequence inputs"
        )
    return x, y


def pad_sequences(X: Any, length: int | None = None, value: float = 0.0, side: str = "end") -> np.ndarray:
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
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"value must be a real number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"value must be finite, got {value}")
    if side not in ("end", "start"):
        raise ValueError(f"side must be 'end' or 'start', got {side!r}")
    N, _, m = b.data.shape
    out = np.full((N, length, m), float(value))
    for i, t in enumerate(b.lengths):
        if side == "end":
            out[i, :t] = b.data[i, :t]
        else:
            out[i, length - t :] = b.data[i, :t]
    return out.reshape(N, length * m)


def _mirror_upper(K: np.ndarray) -> np.ndarray:
    """Exactly symmetric copy of a square matrix from its upper triangle."""
    iu = np.triu_indices(K.shape[0], 1)
    K = K.copy()
    K[iu[1], iu[0]] = K[iu]
    return K


# -- MLP NTK --------------------------------------------------------------------
@dataclass(frozen=True)
class MLPNTK:
    """Neural tangent kernel of an L-hidden-layer MLP (RNTK paper, Appendix A.1).

    The network, in NTK parametrisation with all raw weights N(0, 1), is
    ``g1 = sigma_w1 / sqrt(d) W1 x + sigma_b1 b1``,
    ``g_l = sigma_wl / sqrt(n) W_l phi(g_{l-1}) + sigma_bl b_l`` (l = 2..L) and
    ``f = sigma_v / sqrt(n) v . phi(g_L)``. Its infinite-width kernel is, with
    ``V`` and ``V'`` the dual activations of the 2x2 covariance
    ``K_l = [[Sigma_l(x, x), Sigma_l(x, x')], [., Sigma_l(x', x')]]``::

        Sigma_1 = sigma_w1^2 / d <x, x'> + sigma_b1^2
        Sigma_l = sigma_wl^2 V[K_{l-1}] + sigma_bl^2                (l = 2..L)
        nngp    = sigma_v^2 V[K_L]
        Sdot_l  = sigma_w{l+1}^2 V'[K_l]  (l < L),   Sdot_L = sigma_v^2 V'[K_L]
        ntk     = sum_{l=1..L} Sigma_l prod_{l'=l..L} Sdot_l' + nngp

    The paper prints the product as running over l' = l+1..L and the read-out
    factor with the wrong variance; the form above is the corrected one (it is
    the RNTK at T = 1, which the tests check). It is computed in the equivalent
    forward form ``Q_1 = Sigma_1``, ``Q_l = Sigma_l + sigma_wl^2 V'[K_{l-1}]
    Q_{l-1}``, ``ntk = sigma_v^2 (V[K_L] + V'[K_L] Q_L)``.

    Parameters
    ----------
    n_layers : int, >= 1
        Number of hidden layers L.
    activation : {"relu", "erf"} or callable
        A vectorised callable gets its dual by Gauss-Hermite quadrature
        (see ``rntk.kernels._activations.QuadratureDual``).
    sigma_w, sigma_b : float or sequence of n_layers floats
        Standard deviations (>= 0) of the weights and biases, per layer.
    sigma_v : float
        Standard deviation of the read-out weights.
    activation_derivative : callable, optional
        phi' for a callable activation; a five-point finite difference if None.

    Examples
    --------
    >>> import numpy as np
    >>> from rntk import MLPNTK
    >>> res = MLPNTK(n_layers=2).gram(np.array([[1.0, 0.0], [0.6, 0.8]]))
    >>> res.ntk.shape
    (2, 2)
    >>> bool((res.ntk == res.ntk.T).all())
    True
    """

    n_layers: int = 1
    activation: Union[str, Callable] = "relu"
    sigma_w: Sigma = 2**0.5
    sigma_b: Sigma = 0.0
    sigma_v: float = 1.0
    activation_derivative: Callable | None = None

    def __post_init__(self):
        L = self.n_layers
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"n_layers must be an integer >= 1, got {L!r}")
        object.__setattr__(self, "n_layers", int(L))
        for name in ("sigma_w", "sigma_b"):
            object.__setattr__(self, name, check_sigma(getattr(self, name), name, int(L)))
        object.__setattr__(self, "sigma_v", check_sigma(self.sigma_v, "sigma_v", None))
        object.__setattr__(self, "_dual", get_dual(self.activation, self.activation_derivative))

    def gram(
        self, X: Any, Y: Any = None, dtype="float64", batch_size: int | None = None
    ) -> KernelResult:
        """Gram matrices Theta(X, Y) and the NNGP kernel.

        Parameters
        ----------
        X : array of shape (N, d) or (N, T, m), or list of N equally long sequences
            Fixed-length inputs; (N, T, m) is flattened to (N, T*m). NaN is an
            error; pad variable-length sequences with :func:`pad_sequences`.
        Y : same layout as X, optional
            If None, the training Gram of X: exactly symmetric, its diagonal
            computed with the exact self-correlation c = 1.
        dtype : {"float64", "float32"}
            Arithmetic and result precision.
        batch_size : int, optional
            Evaluate in tiles of at most ``batch_size`` samples a side (bounds
            memory to a few arrays of batch_size^2 entries). Default: tiles of
            up to 2048.

        Returns
        -------
        KernelResult
            ``ntk`` and ``nngp`` of shape (len(X), len(Y or X)).
        """
        dt = _check_dtype(dtype)
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        x, y = _fixed_pair(X, Y, "MLPNTK")
        x = x.astype(dt)
        y = None if y is None else y.astype(dt)
        if batch_size is None:
            batch_size = 2048

        def tile(ix, iy):
            return self._gram_arrays(x[ix], None if iy is None else (x if y is None else y)[iy], dt)

        ntk, nngp = batched_gram(tile, len(x), None if y is None else len(y), batch_size, dt)
        return KernelResult(ntk, nngp)

    def _gram_arrays(self, x: np.ndarray, y: np.ndarray | None, dt: np.dtype):
        """(ntk, nngp) of checked arrays; ``y is None``: the symmetric Gram of x."""
        sym = y is None
        y = x if sym else y
        d = x.shape[1]
        dual = self._dual
        sw2 = [s * s for s in self.sigma_w]
        sb2 = [s * s for s in self.sigma_b]
        sv2 = self.sigma_v**2

        def cast(a):
            return np.asarray(a, dtype=dt)

        # Layer 1: cross covariances and the self variances of both sides.
        G = x @ y.T
        sx = np.sum(x * x, axis=1)
        sy = sx if sym else np.sum(y * y, axis=1)
        idx = np.arange(len(x))
        if sym:
            G = _mirror_upper(G)
            G[idx, idx] = sx
        S = cast(sw2[0] / d * G + sb2[0])
        Sx = cast(sw2[0] / d * sx + sb2[0])
        Sy = Sx if sym else cast(sw2[0] / d * sy + sb2[0])
        Q = S

        def duals(S, Sx, Sy):
            v, dv = dual.pair(Sx[:, None], Sy[None, :], S, np)
            v, dv = cast(v), cast(dv)
            if sym:  # a sample with itself: c = 1 exactly
                vd, dd = dual.diag(Sx, np)
                v[idx, idx], dv[idx, idx] = vd, dd
            return v, dv

        for l in range(1, self.n_layers):
            v, dv = duals(S, Sx, Sy)
            S = cast(sw2[l] * v + sb2[l])
            Q = cast(S + sw2[l] * dv * Q)
            Sx = cast(sw2[l] * dual.diag(Sx, np)[0] + sb2[l])
            Sy = Sx if sym else cast(sw2[l] * dual.diag(Sy, np)[0] + sb2[l])
        v, dv = duals(S, Sx, Sy)
        nngp = cast(sv2 * v)
        ntk = cast(nngp + sv2 * dv * Q)
        if sym:  # the elementwise recursion keeps symmetry; make it exact anyway
            ntk, nngp = _mirror_upper(ntk), _mirror_upper(nngp)
        return ntk, nngp


# -- classical kernels ----------------------------------------------------------
def _finite_real(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def _classical_result(K: np.ndarray, sym: bool, dt: np.dtype) -> KernelResult:
    K = np.asarray(K, dtype=np.float64)
    if sym:
        K = _mirror_upper(K)
    K = K.astype(dt)
    return KernelResult(K, K.copy())


@dataclass(frozen=True)
class RBFKernel:
    """Gaussian (RBF) kernel ``k(x, x') = exp(-gamma ||x - x'||^2)``.

    Parameters
    ----------
    gamma : float, > 0
        Inverse length scale.

    Notes
    -----
    ``gram`` returns a :class:`KernelResult` whose ``ntk`` and ``nngp`` fields
    both hold the kernel matrix (a classical kernel has no tangent/output
    distinction), so it drops in wherever an RNTK Gram is used.
    """

    gamma: float = 1.0

    def __post_init__(self):
        g = _finite_real(self.gamma, "gamma")
        if g <= 0:
            raise ValueError(f"gamma must be > 0, got {g}")
        object.__setattr__(self, "gamma", g)

    def gram(self, X: Any, Y: Any = None, dtype="float64") -> KernelResult:
        """Kernel matrix k(X, Y).

        Parameters
        ----------
        X : array of shape (N, d) or (N, T, m), or list of N equally long sequences
            Fixed-length inputs, as for :meth:`MLPNTK.gram`.
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

        dt = _check_dtype(dtype)
        x, y = _fixed_pair(X, Y, "RBFKernel")
        K = rbf_kernel(x, y, gamma=self.gamma)
        if y is None:
            np.fill_diagonal(K, 1.0)
        return _classical_result(K, y is None, dt)


@dataclass(frozen=True)
class PolynomialKernel:
    """Polynomial kernel ``k(x, x') = (coef0 + <x, x'>)^degree``.

    The paper's form ``(r + <x, x'>)^d`` (scikit-learn's with ``gamma = 1``).

    Parameters
    ----------
    degree : int, >= 1
    coef0 : float
        The offset r (finite). The kernel is positive semi-definite for r >= 0.

    Notes
    -----
    ``gram`` returns a :class:`KernelResult` whose ``ntk`` and ``nngp`` fields
    both hold the kernel matrix.
    """

    degree: int = 3
    coef0: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "degree", check_positive_int(self.degree, "degree"))
        object.__setattr__(self, "coef0", _finite_real(self.coef0, "coef0"))

    def gram(self, X: Any, Y: Any = None, dtype="float64") -> KernelResult:
        """Kernel matrix k(X, Y).

        Parameters
        ----------
        X : array of shape (N, d) or (N, T, m), or list of N equally long sequences
            Fixed-length inputs, as for :meth:`MLPNTK.gram`.
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

        dt = _check_dtype(dtype)
        x, y = _fixed_pair(X, Y, "PolynomialKernel")
        K = polynomial_kernel(x, y, degree=self.degree, gamma=1.0, coef0=self.coef0)
        return _classical_result(K, y is None, dt)


@dataclass(frozen=True)
class GAKKernel:
    """Global alignment kernel (Cuturi et al., ICML 2007; Cuturi, ICML 2011), normalised.

    k(x, y) = sum over all monotone alignments of the product of local kernels
    exp(-phi(x_i, y_j)), phi(a, b) = ||a - b||^2 / (2 sigma^2) + log(2 - exp(-||a - b||^2 / (2 sigma^2))),
    divided by sqrt(k(x, x) k(y, y)). Computed by ``tslearn.metrics.cdist_gak``
    (install ``rntk[bench]``); O(N^2 T^2). The alignment-based kernel that
    users of time-series SVMs would otherwise pick, with the same ``gram``
    interface as the RNTK.

    Parameters
    ----------
    sigma : float, > 0
        Bandwidth of the local Gaussian kernel (``tslearn.metrics.sigma_gak``
        gives Cuturi's median heuristic).
    n_jobs : int, optional
        Passed to ``cdist_gak`` (None: one process).

    Notes
    -----
    Inputs as for :meth:`RNTK.gram`: sequences of different lengths (a list,
    or trailing NaN) are aligned as they are, without padding.
    """

    sigma: float = 1.0
    n_jobs: int | None = None

    def __post_init__(self):
        s = _finite_real(self.sigma, "sigma")
        if s <= 0:
            raise ValueError(f"sigma must be > 0, got {s}")
        object.__setattr__(self, "sigma", s)

    @staticmethod
    def _tslearn_layout(b) -> np.ndarray:
        """(N, T, m) with NaN after each sequence's end: tslearn's variable-length layout."""
        out = np.array(b.data, dtype=np.float64)
        out[np.arange(out.shape[1])[None, :] >= b.lengths[:, None]] = np.nan
        return out

    def gram(self, X: Any, Y: Any = None, dtype="float64") -> KernelResult:
        """Kernel matrix k(X, Y); exactly symmetric with unit diagonal when ``Y is None``."""
        try:
            from tslearn.metrics import cdist_gak
        except ImportError as e:  # an optional dependency
            raise ImportError("GAKKernel needs tslearn: pip install 'rntk[bench]'") from e
        from .._validation import check_pair

        dt = _check_dtype(dtype)
        bx, by = check_pair(X, Y)
        x = self._tslearn_layout(bx)
        K = cdist_gak(x, None if by is None else self._tslearn_layout(by), sigma=self.sigma, n_jobs=self.n_jobs)
        if by is None:
            K = _mirror_upper(K)
            np.fill_diagonal(K, 1.0)
        return _classical_result(K, by is None, dt)
