"""``RNTK``: the kernel declaration plus the ways to compute it."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from .._validation import check_finite_result, check_pair, check_positive_int, check_sequences
from ._batching import batched_gram, pairwise
from ._declaration import (
    BACKENDS,
    Capabilities,
    KernelResult,
    RNTKDeclaration,
    check_backend,
    check_dtype,
)
from ._vectorized import check_range, vectorized_diagonal, vectorized_gram

__all__ = ["RNTK"]


def _reversed(b):
    """The sequences of a checked batch, each read from its last step to its first."""
    return [b.data[i, : b.lengths[i]][::-1].copy() for i in range(len(b))]

_GPU = ("gpu-fused", "gpu-vectorized")


@dataclass(frozen=True)
class RNTK(RNTKDeclaration):
    """Recurrent neural tangent kernel of an L-layer Elman RNN.

    The infinite-width NTK (and NNGP) of the network declared by the
    parameters below, in the NTK parametrisation (all raw weights N(0, 1),
    hidden state h(l, 0) ~ N(0, sigma_h^2) per sequence). The network, the
    recursion and the conventions are stated in ``docs/kernel.md``.

    Parameters
    ----------
    n_layers : int, >= 1
    activation : {"relu", "erf"} or callable
        A vectorised callable gets its dual by Gauss-Hermite quadrature (see
        ``rntk.kernels._activations.QuadratureDual`` for its accuracy); it is
        probed once at construction (shape, dtype, finiteness) and runs on the
        vectorized and reference backends only.
    sigma_w, sigma_u, sigma_b, sigma_h : float or sequence of n_layers floats
        Standard deviations (>= 0) of the recurrent weights, input weights,
        biases and initial hidden state, per layer.
    sigma_v : float
        Standard deviation of the read-out weights.
    activation_derivative : callable, optional
        phi' for a callable activation; a central difference if None.
    frozen_layers : int, 0 <= frozen_layers <= n_layers
        The lowest ``frozen_layers`` layers keep their initial weights; only
        the layers above and the read-out are trained, so the NTK sums their
        gradient inner products only (``n_layers``: the NTK equals the NNGP).
    direction : {"forward", "reversed", "bidirectional"}
        "reversed": the RNN reads each sequence from its last step to its
        first (sequences of different lengths then meet start-aligned);
        "bidirectional": two independent RNNs, one per direction, whose
        outputs are added, so both kernels are the sums of the two directions'.
    readout : {"last", "per-step", "mean"}
        "last": one read-out of the last hidden state. "per-step": an
        independent read-out vector for every step counted back from the end,
        f = T^(-1/2) sum_s sigma_v/sqrt(n) v_s^T h(L, T - s); the kernel is
        (T T')^(-1/2) times the sum of the plain kernels of the end-aligned
        prefixes (for equal lengths the mean over t of the prefix kernels).
        "mean": one read-out vector on the mean top-layer state,
        f = sigma_v/sqrt(n) v^T (1/T) sum_t h(L, t); its kernel averages the
        tangent kernels of all step pairs (t, t'), aligned or not, so it costs
        O(L T T') per pair instead of O(L min(T, T')) (every backend but
        "gpu-fused").

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

    capabilities: ClassVar[Capabilities] = Capabilities(
        variable_length=True, diag=True, backends=tuple(BACKENDS), differentiable=True, batch_size=True,
    )

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
            term on the diagonal only (a sample meets its own initial state).
            ``gram(X, X)`` never adds it.
        backend : str
            One of ``rntk.kernels.BACKENDS`` (its values say what each is).
            "auto" picks "cpu-fused" when the activation has a fused form and
            "cpu-vectorized" otherwise (never the GPU). With the GPU backends
            X and Y may be CuPy arrays; the result is then CuPy arrays (numpy
            inputs give numpy results); mixing the two is an error.
        dtype : {"float64", "float32"}
            Arithmetic and result precision of the pair recursion.
        batch_size : int, optional
            Evaluate in tiles of at most ``batch_size`` sequences a side (bounds
            memory; gives exactly the same result). Default: untiled for
            "cpu-fused", ~2e6 pairs a tile for "cpu-vectorized".
        n_jobs : int, optional
            Threads for "cpu-fused" (default: numba's default); restored afterwards.
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
            O(N T L) diagonal before any pair is computed (with "cpu-fused"
            and ``batch_size``, before each tile's pairs).
        """
        dt = check_dtype(dtype)
        backend = self._resolve_backend(backend, dt)
        if self.direction != "forward":
            return self._directed(X, Y, lambda k, A, B: k.gram(A, B, backend, dtype, batch_size, n_jobs, progress))
        if backend in _GPU:
            return self._gram_gpu(X, Y, backend, dt, batch_size)
        bx, by = check_pair(X, Y)
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        if batch_size is None and backend == "cpu-vectorized":
            n = len(bx) if by is None else max(len(bx), len(by))
            batch_size = max(1, min(n, int(2e6**0.5)))
        if backend != "cpu-fused":  # the fused kernel checks in its own per-sample pass, at no cost
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
        if self.direction != "forward":
            return self._directed(X, None, lambda k, A, _: k.diag(A, dtype))
        bx = check_sequences(X, "X")
        dt = check_dtype(dtype)
        ntk, nngp = check_range(bx, self.squares(), self.dual, dt)
        if self.readout == "mean":  # the scan computes the aligned steps only
            ntk, nngp = vectorized_diagonal(bx, self.squares(), self.dual, dt)
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
        only the pairs (X[i], Y[i]). Same values as :meth:`gram`: the same
        recursion, run on torch tensors. Returns a :class:`KernelResult` whose
        ``ntk`` and ``nngp`` are torch tensors of shape (N, M). A non-finite
        result raises a ``KernelOverflowError`` (a ValueError).
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
    def _directed(self, X, Y, call):
        """The reversed kernel, or the sum of both directions': ``call(forward_kernel, X, Y)``.

        A sequence read backwards is the forward kernel of the reversed
        sequence; a bidirectional network is two independent RNNs whose
        outputs add, so its kernels are the sums of the two directions'.
        """
        fwd = replace(self, direction="forward")
        bx, by = check_pair(X, Y)
        rev = call(fwd, _reversed(bx), None if by is None else _reversed(by))
        if self.direction == "reversed":
            return rev
        out = call(fwd, X, Y)
        return KernelResult(out.ntk + rev.ntk, out.nngp + rev.nngp)

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
        ntk, nngp = cupy_gram(self, bx, by, dt, fused=backend == "gpu-fused", tile=batch_size or 8192)
        check_finite_result(ntk, nngp, dt, xp=cupy)
        if not on_gpu:
            ntk, nngp = ntk.get(), nngp.get()
        return KernelResult(ntk, nngp)

    def _resolve_backend(self, backend: str, dt: np.dtype) -> str:
        backend = check_backend(backend)
        fused_ok = self.dual.fused
        # the CUDA kernel lacks the mean read-out; numba has every read-out (any direction)
        gpu_readout = self.readout in ("last", "per-step")
        if backend == "auto":
            backend = "cpu-fused" if fused_ok else "cpu-vectorized"
        if not gpu_readout and backend == "gpu-fused":
            raise ValueError(f"backend='gpu-fused' does not implement readout={self.readout!r}; "
                             "use backend='gpu-vectorized' or 'cpu-fused'")
        if backend in ("cpu-fused", "gpu-fused") and not fused_ok:
            alt = backend.replace("fused", "vectorized")
            raise ValueError(
                f"backend={backend!r} supports the 'relu' and 'erf' activations only, not "
                f"{self.dual.name!r}; use backend={alt!r}"
            )
        if backend in _GPU:
            try:
                import cupy

                cupy.cuda.runtime.getDeviceCount()
            except Exception as e:  # noqa: BLE001 - any failure means no usable GPU
                raise ValueError(f"backend={backend!r} needs CuPy and an NVIDIA GPU ({type(e).__name__}: {e}); "
                                 "install rntk[gpu] on a GPU machine or use backend='cpu-fused'") from e
        if backend == "reference" and dt != np.float64:
            raise ValueError("the reference backend computes in float64 only")
        return backend

    def _check_range(self, bx, by, dt):
        """Refuse, before any pair is computed, a Gram whose diagonal leaves ``dt``'s range."""
        for name, b in (("X", bx), ("Y", by)):
            if b is not None:
                check_range(b, self.squares(), self.dual, dt, name)

    def _gram_tile(self, bx, by, backend, dt, n_jobs, index=(None, None), names=("X", "Y")):
        """Gram of one tile: ``by is None`` means the symmetric training Gram.

        ``index``, ``names``: where the tile's samples come from, for error messages.
        """
        if backend == "reference":
            return self._gram_reference(bx, by)
        if backend == "cpu-fused":
            from ._fused_driver import fused_gram

            return fused_gram(self, bx, by, dt, n_jobs, index, names)
        return vectorized_gram(bx, by, self.squares(), self.dual, dt)

    def _gram_reference(self, bx, by):
        from functools import partial

        from ._reference import pair_aligned
        from ._reference_variants import pair_frozen, pair_mean, per_step

        if self.frozen_layers:
            pair_aligned = partial(pair_frozen, frozen_layers=self.frozen_layers)
        if self.readout == "per-step":
            pair_aligned = partial(per_step, pair_aligned)
        if self.readout == "mean":
            pair_aligned = partial(pair_mean, frozen_layers=self.frozen_layers)

        sym = by is None
        by_ = bx if sym else by
        xs = [bx.data[i, : bx.lengths[i]].tolist() for i in range(len(bx))]
        ys = xs if sym else [by_.data[j, : by_.lengths[j]].tolist() for j in range(len(by_))]
        return pairwise(len(xs), len(ys), sym,
                        lambda i, j: pair_aligned(xs[i], ys[j], self, same=sym and i == j, M=math))
