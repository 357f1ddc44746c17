"""The neural tangent kernel of an L-hidden-layer MLP, on fixed-length vectors.

A baseline with the RNTK's ``gram`` API: the RNTK paper's Appendix A.1 with
its misprints corrected (see :class:`MLPNTK`). Inputs are handled as for the
classical kernels (``rntk.kernels._classic``): fixed-length only, with
:func:`rntk.pad_sequences` for variable-length data.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence, Union

import numpy as np

from .._validation import check_positive_int, check_sigma
from ._activations import get_dual
from ._batching import batched_gram
from ._classic import fixed_pair, fixed_vectors, mirror_upper
from ._declaration import Capabilities, KernelResult, check_dtype

__all__ = ["MLPNTK"]

Sigma = Union[float, Sequence[float]]


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

    Attributes
    ----------
    capabilities : Capabilities
        Fixed-length inputs; ``diag``; ``batch_size`` tiling; float64 and
        float32 arithmetic; no backend choice.

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

    capabilities: ClassVar[Capabilities] = Capabilities(
        variable_length=False, diag=True, batch_size=True
    )

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
            error; pad variable-length sequences with :func:`rntk.pad_sequences`.
        Y : same layout as X, optional
            If None, the training Gram of X: exactly symmetric, its diagonal
            computed with the exact self-correlation c = 1.
        dtype : {"float64", "float32"}
            Arithmetic and result precision.
        batch_size : int, optional
            Run the layer recursion in tiles of at most ``batch_size`` samples
            a side (its intermediates then take a few arrays of batch_size^2
            entries, besides the results and the (len(X), len(Y)) inner
            products). The result is bitwise the same for every batch size.
            Default: tiles of up to 2048.

        Returns
        -------
        KernelResult
            ``ntk`` and ``nngp`` of shape (len(X), len(Y or X)).
        """
        dt = check_dtype(dtype)
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        x, y = fixed_pair(X, Y, "MLPNTK")
        x = x.astype(dt)
        y = None if y is None else y.astype(dt)
        if batch_size is None:
            batch_size = 2048
        # The inner products are formed once for the whole Gram: a BLAS product
        # of a tile sums in an order that depends on the tile's shape, which
        # would make the result depend on batch_size in the last bits.
        sx = np.einsum("ij,ij->i", x, x)
        if y is None:
            G, sy = mirror_upper(x @ x.T), sx
            G[np.diag_indices(len(x))] = sx
        else:
            G, sy = x @ y.T, np.einsum("ij,ij->i", y, y)

        def tile(ix, iy):
            if iy is None:
                return self._gram_arrays(G[np.ix_(ix, ix)], sx[ix], None, x.shape[1], dt)
            return self._gram_arrays(G[np.ix_(ix, iy)], sx[ix], sy[iy], x.shape[1], dt)

        ntk, nngp = batched_gram(tile, len(x), None if y is None else len(y), batch_size, dt)
        return KernelResult(ntk, nngp)

    def diag(self, X: Any, dtype="float64") -> KernelResult:
        """Diagonal of ``gram(X)`` in O(N (d + L)), by the recursion on the self-pairs.

        Parameters
        ----------
        X : as for :meth:`gram`
        dtype : {"float64", "float32"}
            Arithmetic and result precision.

        Returns
        -------
        KernelResult
            ``ntk`` and ``nngp`` of shape (len(X),).
        """
        dt = check_dtype(dtype)
        x = fixed_vectors(X, "X", "MLPNTK").astype(dt)
        sx = np.einsum("ij,ij->i", x, x)
        sw2, sb2, sv2 = self._squares()
        dual = self._dual

        def cast(a):
            return np.asarray(a, dtype=dt)

        Sx = cast(sw2[0] / x.shape[1] * sx + sb2[0])
        Q = Sx
        for l in range(1, self.n_layers):
            v, dv = dual.diag(Sx, np)
            v, dv = cast(v), cast(dv)
            Sx = cast(sw2[l] * v + sb2[l])
            Q = cast(Sx + sw2[l] * dv * Q)
        v, dv = dual.diag(Sx, np)
        nngp = cast(sv2 * cast(v))
        ntk = cast(nngp + sv2 * cast(dv) * Q)
        return KernelResult(ntk, nngp)

    def _squares(self):
        return [s * s for s in self.sigma_w], [s * s for s in self.sigma_b], self.sigma_v**2

    def _gram_arrays(
        self, G: np.ndarray, sx: np.ndarray, sy: np.ndarray | None, d: int, dt: np.dtype
    ):
        """(ntk, nngp) of one tile from its inner products ``G`` and the self
        inner products of its rows ``sx`` and columns ``sy``; ``sy is None``:
        a diagonal tile of the training Gram (``G`` symmetric)."""
        sym = sy is None
        dual = self._dual
        sw2, sb2, sv2 = self._squares()

        def cast(a):
            return np.asarray(a, dtype=dt)

        S = cast(sw2[0] / d * G + sb2[0])
        Sx = cast(sw2[0] / d * sx + sb2[0])
        Sy = Sx if sym else cast(sw2[0] / d * sy + sb2[0])
        Q = S
        idx = np.arange(len(sx))

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
            ntk, nngp = mirror_upper(ntk), mirror_upper(nngp)
        return ntk, nngp
