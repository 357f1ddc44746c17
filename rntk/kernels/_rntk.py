"""The analytic RNTK: parameters, result container and the public ``gram``."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence, Union

import numpy as np

from .._validation import (
    SequenceBatch,
    check_diagonal_range,
    check_finite_result,
    check_pair,
    check_positive_int,
    check_sequences,
    check_sigma,
    overflow_limit,
)
from ._activations import get_dual
from ._batching import batched_gram
from ._recursion import cross_pairs, diagonal, diagonal_scan, self_variance_table

__all__ = ["RNTK", "KernelResult"]

Sigma = Union[float, Sequence[float]]
BACKENDS = ("auto", "numba", "numpy", "reference", "cupy", "cupy-vectorized")
_GPU = ("cupy", "cupy-vectorized")


@dataclass(frozen=True)
class KernelResult:
    """Kernel values of a Gram evaluation.

    Attributes
    ----------
    ntk : ndarray of shape (n_x, n_y), or (n_x,) for a diagonal
        The neural tangent kernel Theta.
    nngp : ndarray of the same shape
        The output covariance at initialisation, E[f(x) f(x')].
    """

    ntk: np.ndarray
    nngp: np.ndarray


def _check_dtype(dtype) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


@dataclass(frozen=True)
class RNTK:
    """Recurrent neural tangent kernel of an L-layer Elman RNN (SPEC §1-2).

    One frozen declaration describes both the infinite-width kernel and the
    finite network it is the limit of (NTK parametrisation; all raw weights
    N(0, 1), hidden state h(l, 0) ~ N(0, sigma_h^2) per sequence).

    Parameters
    ----------
    n_layers : int, >= 1
    activation : {"relu", "erf"} or callable
        A vectorised callable gets its dual by Gauss-Hermite quadrature (see
        ``rntk.kernels._activations.QuadratureDual`` for its accuracy); it runs
        on the "numpy" and "reference" backends only.
    sigma_w, sigma_u, sigma_b, sigma_h : float or sequence of n_layers floats
        Standard deviations (>= 0) of the recurrent weights, input weights,
        biases and initial hidden state, per layer.
    sigma_v : float
        Standard deviation of the read-out weights.
    activation_derivative : callable, optional
        phi' for a callable activation; a five-point finite difference if None.

    Examples
    --------
    >>> import numpy as np
    >>> from rntk import RNTK
    >>> k = RNTK(sigma_w=2**0.5, sigma_u=1.0)
    >>> res = k.gram(np.array([[1.0, -1.0, 1.0], [0.5, 0.2, np.nan]]))
    >>> res.ntk.shape
    (2, 2)
    >>> bool((res.ntk == res.ntk.T).all())
    True

    References
    ----------
    S. Alemohammad, Z. Wang, R. Balestriero, R. Baraniuk, "The Recurrent Neural
    Tangent Kernel", ICLR 2021, https://arxiv.org/abs/2006.10246
    """

    n_layers: int = 1
    activation: Union[str, Callable] = "relu"
    sigma_w: Sigma = 2**0.5
    sigma_u: Sigma = 1.0
    sigma_b: Sigma = 0.0
    sigma_h: Sigma = 0.0
    sigma_v: float = 1.0
    activation_derivative: Callable | None = field(default=None, compare=True)

    def __post_init__(self):
        L = self.n_layers
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"n_layers must be an integer >= 1, got {L!r}")
        object.__setattr__(self, "n_layers", int(L))
        for name in ("sigma_w", "sigma_u", "sigma_b", "sigma_h"):
            object.__setattr__(self, name, check_sigma(getattr(self, name), name, int(L)))
        object.__setattr__(self, "sigma_v", check_sigma(self.sigma_v, "sigma_v", None))
        object.__setattr__(self, "_dual", get_dual(self.activation, self.activation_derivative))

    def _squares(self):
        sq = lambda v: tuple(s * s for s in v)  # noqa: E731
        return sq(self.sigma_w), sq(self.sigma_u), sq(self.sigma_b), sq(self.sigma_h)

    # -- public API -----------------------------------------------------------
    def gram(
        self,
        X: Any,
        Y: Any = None,
        backend: str = "auto",
        dtype="float64",
        batch_size: int | None = None,
        n_jobs: int | None = None,
        progress: bool = False,
    ) -> KernelResult:
        """Gram matrices Theta(X, Y) and the NNGP kernel.

        Parameters
        ----------
        X : list of arrays of shape (T_i, m), or array of shape (N, T, m) or (N, T)
            Sequences; trailing NaN time steps mark a shorter sequence.
        Y : same layout as X, optional
            If None, the training Gram of X: exactly symmetric, with the sigma_h
            term on the diagonal only (SPEC §3.1). ``gram(X, X)`` never adds it.
        backend : {"auto", "numba", "numpy", "reference", "cupy", "cupy-vectorized"}
            "numba" is the fused parallel CPU kernel (relu/erf); "numpy" the
            vectorised array-namespace path; "reference" the literal per-pair
            SPEC §2 recursion (slow); "cupy" the fused CUDA kernel on an NVIDIA
            GPU (relu/erf, depth <= 8) and "cupy-vectorized" the array-namespace
            path on the GPU. "auto" picks "numba" when the activation has a
            fused form and "numpy" otherwise (never the GPU). With the GPU
            backends X and Y may be CuPy arrays; the result is then CuPy
            arrays (numpy inputs give numpy results); mixing the two is an error.
        dtype : {"float64", "float32"}
            Arithmetic and result precision of the pair recursion.
        batch_size : int, optional
            Evaluate in tiles of at most ``batch_size`` sequences a side (bounds
            memory; gives exactly the same result). Default: untiled for
            "numba", ~2e6 pairs a tile for "numpy".
        n_jobs : int, optional
            Threads for "numba" (default: numba's default); restored afterwards.
        progress : bool
            Show a progress bar over tiles.

        Returns
        -------
        KernelResult
            ``ntk`` and ``nngp`` of shape (len(X), len(Y or X)).

        Raises
        ------
        ValueError
            On bad input; a ``KernelOverflowError`` (a ValueError) when the
            kernel's values would leave ``dtype``'s range, found from the
            O(N T L) diagonal before any pair is computed (with "numba" and
            ``batch_size``, before each tile's pairs).
        """
        dt = _check_dtype(dtype)
        backend = self._resolve_backend(backend, dt)
        if backend in _GPU:
            return self._gram_gpu(X, Y, backend, dt, batch_size)
        bx, by = check_pair(X, Y)
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        if batch_size is None and backend == "numpy":
            n = len(bx) if by is None else max(len(bx), len(by))
            batch_size = max(1, min(n, int(2e6**0.5)))
        if backend != "numba":  # the fused kernel checks in its own per-sample pass, at no cost
            self._check_range(bx, by, dt)
        name_y = "X" if by is None else "Y"

        def tile(ix, iy):
            sx = bx.subset(ix)
            sy = None if iy is None else (bx if by is None else by).subset(iy)
            return self._gram_tile(sx, sy, backend, dt, n_jobs, (ix, iy), ("X", name_y))

        ntk, nngp = batched_gram(tile, len(bx), None if by is None else len(by), batch_size, dt, progress)
        check_finite_result(ntk, nngp, dt)
        if dt == np.float32 and np.abs(ntk).max() < 1e6 * np.finfo(np.float32).tiny:
            warnings.warn(
                "float32 Gram values are all below 1e-32: the kernel has (nearly) left "
                "float32's range and is dominated by underflow; use dtype='float64'",
                RuntimeWarning,
                stacklevel=2,
            )
        return KernelResult(ntk, nngp)

    def diag(self, X: Any, dtype="float64") -> KernelResult:
        """Diagonal of ``gram(X)`` (sigma_h included) in O(N T L), shape (N,).

        Raises a ``KernelOverflowError`` (a ValueError) as :meth:`gram` does.
        """
        bx = check_sequences(X, "X")
        dt = _check_dtype(dtype)
        ntk, nngp, peak, first_bad = diagonal_scan(bx.data, bx.lengths, self, overflow_limit(dt))
        check_diagonal_range(first_bad, peak, bx.lengths, dt, "X")
        ntk, nngp = ntk.astype(dt), nngp.astype(dt)
        check_finite_result(ntk, nngp, dt)
        return KernelResult(ntk, nngp)

    def gram_torch(self, X, Y=None, sigma=None, lengths_x=None, lengths_y=None, diag=False) -> KernelResult:
        """Differentiable Gram of torch tensors (relu/erf; imports torch lazily).

        ``X`` of shape (N, T, m), right-aligned (sequence i is
        ``X[i, T - lengths_x[i]:]``, as for ``rntk.empirical.RNN``); ``sigma``
        an optional dict of tensors overriding the hyperparameters ("sigma_w",
        "sigma_u", "sigma_b", "sigma_h" of shape (n_layers,), "sigma_v" scalar)
        so that the result can be differentiated with respect to them; ``diag``
        only the pairs (X[i], Y[i]). Same values as :meth:`gram`; see
        ``rntk.kernels._torch.rntk_torch``. Returns a :class:`KernelResult`
        whose ``ntk`` and ``nngp`` are torch tensors of shape (N, M). A
        non-finite result raises a ``KernelOverflowError`` (a ValueError).
        """
        import torch

        from ._torch import rntk_torch

        ntk, nngp = rntk_torch(X, Y, self, sigma, lengths_x, lengths_y, diag)
        # checked after, not before: ``sigma`` may override the hyperparameters
        # with tensors, so the float64 diagonal scan would need them on the host
        dt = "float32" if ntk.dtype == torch.float32 else "float64"
        check_finite_result(ntk.detach(), nngp.detach(), dt, xp=torch)
        return KernelResult(ntk, nngp)

    # -- implementation ---------------------------------------------------------
    def _gram_gpu(self, X, Y, backend, dt, batch_size):
        import cupy

        from ._cupy import cupy_gram, is_cupy_array

        on_gpu = is_cupy_array(X) or (isinstance(X, (list, tuple)) and any(is_cupy_array(a) for a in X))
        if Y is not None:
            y_gpu = is_cupy_array(Y) or (isinstance(Y, (list, tuple)) and any(is_cupy_array(a) for a in Y))
            if y_gpu != on_gpu:
                raise ValueError("X and Y live in different array namespaces (one CuPy, one not); pass both "
                                 "as CuPy arrays or both as host arrays")

        def host(A):
            if A is None:
                return None
            if isinstance(A, (list, tuple)):
                return [a.get() if is_cupy_array(a) else a for a in A]
            return A.get() if is_cupy_array(A) else A

        bx, by = check_pair(host(X), host(Y))  # validation on the host: NaN layout, shapes
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        self._check_range(bx, by, dt)
        ntk, nngp = cupy_gram(self, bx, by, dt, fused=backend == "cupy", tile=batch_size or 8192)
        check_finite_result(ntk, nngp, dt, xp=cupy)
        if not on_gpu:
            ntk, nngp = ntk.get(), nngp.get()
        return KernelResult(ntk, nngp)

    def _resolve_backend(self, backend: str, dt: np.dtype) -> str:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
        fused_ok = self._dual.fused
        if backend == "auto":
            backend = "numba" if fused_ok else "numpy"
            if backend == "numba":
                try:
                    import numba  # noqa: F401
                except ImportError:  # pragma: no cover - numba is a core dependency
                    warnings.warn("numba is not importable; using the slower numpy backend")
                    backend = "numpy"
        if backend == "numba" and not fused_ok:
            raise ValueError(
                f"backend='numba' supports the 'relu' and 'erf' activations only, not "
                f"{self._dual.name!r}; use backend='numpy'"
            )
        if backend in _GPU:
            try:
                import cupy

                cupy.cuda.runtime.getDeviceCount()
            except Exception as e:  # noqa: BLE001 - any failure means no usable GPU
                raise ValueError(f"backend={backend!r} needs CuPy and an NVIDIA GPU ({type(e).__name__}: {e}); "
                                 "install rntk[gpu] on a GPU machine or use backend='numba'") from e
            if backend == "cupy" and not fused_ok:
                raise ValueError(f"backend='cupy' supports the 'relu' and 'erf' activations only, not "
                                 f"{self._dual.name!r}; use backend='cupy-vectorized'")
        if backend == "reference" and dt != np.float64:
            raise ValueError("the reference backend computes in float64 only")
        return backend

    def _check_range(self, bx, by, dt):
        """Refuse, before any pair is computed, a Gram whose diagonal leaves ``dt``'s range.

        Every entry is bounded by its two samples' diagonal values, which one
        O(N T L) float64 scan of each side gives (~30 ms at N = T = 500).
        """
        limit = overflow_limit(dt)
        for name, b in (("X", bx), ("Y", by)):
            if b is not None:
                _, _, peak, first_bad = diagonal_scan(b.data, b.lengths, self, limit)
                check_diagonal_range(first_bad, peak, b.lengths, dt, name)

    def _tables(self, b: SequenceBatch, width: int):
        XR = b.right_aligned(width)
        start = width - b.lengths
        return XR, start, self_variance_table(XR, start, self)

    def _gram_tile(self, bx, by, backend, dt, n_jobs, index=(None, None), names=("X", "Y")):
        """Gram of one tile: ``by is None`` means the symmetric training Gram.

        ``index``, ``names``: where the tile's samples come from, for error messages.
        """
        if backend == "reference":
            return self._gram_reference(bx, by)
        sym = by is None
        if backend == "numba":
            from ._fused_driver import fused_gram

            return fused_gram(self, bx, by, dt, n_jobs, index, names)
        by_ = bx if sym else by
        W = int(max(bx.lengths.max(), by_.lengths.max()))
        nx, ny = len(bx), len(by_)
        XR, sx, Sx = self._tables(bx, W)
        YR, sy, Sy = (XR, sx, Sx) if sym else self._tables(by_, W)
        ntk = np.empty((nx, ny), dtype=dt)
        nngp = np.empty((nx, ny), dtype=dt)
        if sym:
            ip, jp = np.triu_indices(nx, 1)
        else:
            ip, jp = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"))
        if len(ip):
            t, g = cross_pairs(XR.astype(dt), sx, Sx.astype(dt), YR.astype(dt), sy, Sy.astype(dt), ip, jp, self)
            ntk[ip, jp], nngp[ip, jp] = t, g
            if sym:
                ntk[jp, ip], nngp[jp, ip] = t, g
        if sym:
            d_ntk, d_nngp = diagonal(Sx, sx, self)
            idx = np.arange(nx)
            ntk[idx, idx], nngp[idx, idx] = d_ntk, d_nngp
        return ntk, nngp

    def _gram_reference(self, bx, by):
        from ._reference import pair_aligned

        sym = by is None
        by_ = bx if sym else by
        xs = [bx.data[i, : bx.lengths[i]].tolist() for i in range(len(bx))]
        ys = xs if sym else [by_.data[j, : by_.lengths[j]].tolist() for j in range(len(by_))]
        ntk = np.empty((len(xs), len(ys)))
        nngp = np.empty_like(ntk)
        for i, x in enumerate(xs):
            for j, y in enumerate(ys):
                if sym and j < i:
                    ntk[i, j], nngp[i, j] = ntk[j, i], nngp[j, i]
                    continue
                ntk[i, j], nngp[i, j] = pair_aligned(x, y, self, same=sym and i == j, M=math)
        return ntk, nngp
