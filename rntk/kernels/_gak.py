"""The global alignment kernel: the alignment-based baseline, on variable-length sequences.

Computed by ``tslearn`` (an optional dependency, ``rntk[bench]``), imported
inside ``gram`` only.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .._validation import check_pair, check_sequences
from ._classic import classical_result, finite_real, mirror_upper
from ._declaration import Capabilities, KernelResult, check_dtype

__all__ = ["GAKKernel"]


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

    Attributes
    ----------
    capabilities : Capabilities
        Variable-length inputs; ``diag`` (the normalised kernel's diagonal is
        1); no backend choice or tiling.

    Notes
    -----
    Inputs as for :meth:`rntk.RNTK.gram`: sequences of different lengths (a
    list, or trailing NaN) are aligned as they are, without padding. Like the
    classical kernels, ``gram`` returns the kernel matrix in both fields of
    its :class:`~rntk.KernelResult`.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(variable_length=True, diag=True)

    sigma: float = 1.0
    n_jobs: int | None = None

    def __post_init__(self):
        s = finite_real(self.sigma, "sigma")
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
        """Kernel matrix k(X, Y).

        Parameters
        ----------
        X : list of arrays of shape (T_i, m) or (T_i,), or array of shape (N, T, m) or (N, T)
            Sequences; trailing NaN time steps mark a shorter sequence.
        Y : same layout as X, optional
            If None, k(X, X), exactly symmetric with unit diagonal.
        dtype : {"float64", "float32"}
            Result precision (computed in float64).

        Returns
        -------
        KernelResult
            ``ntk`` and ``nngp`` both the kernel, of shape (len(X), len(Y or X)).
        """
        try:
            from tslearn.metrics import cdist_gak
        except ImportError as e:  # an optional dependency
            raise ImportError("GAKKernel needs tslearn: pip install 'rntk[bench]'") from e

        dt = check_dtype(dtype)
        bx, by = check_pair(X, Y)
        x = self._tslearn_layout(bx)
        K = cdist_gak(
            x,
            None if by is None else self._tslearn_layout(by),
            sigma=self.sigma,
            n_jobs=self.n_jobs,
        )
        if by is None:
            K = mirror_upper(K)
            np.fill_diagonal(K, 1.0)
        return classical_result(K, by is None, dt)

    def diag(self, X: Any, dtype="float64") -> KernelResult:
        """Diagonal of ``gram(X)``: 1 for every sequence (the kernel is normalised), shape (N,).

        X is checked as :meth:`gram` checks it; tslearn is not needed.
        """
        dt = check_dtype(dtype)
        ones = np.ones(len(check_sequences(X, "X")), dtype=dt)
        return KernelResult(ones, ones.copy())
