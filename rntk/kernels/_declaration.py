"""What a kernel is, independent of how it is computed.

The leaf of ``rntk.kernels``: the RNTK's hyperparameters and their
validation, the dtype rule, the result container and the capability record
every kernel carries. Backends receive what they need from here (squared
hyperparameters, the dual activation) as arguments and import nothing from
one another.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Sequence, Union

import numpy as np

from .._validation import check_sigma
from ._activations import get_dual

__all__ = ["KernelResult", "Capabilities", "Hyper", "RNTKDeclaration", "check_dtype", "BACKENDS", "DIRECTIONS"]

Sigma = Union[float, Sequence[float]]

#: Every backend name, and what it is: one algorithm, several implementations.
BACKENDS = {
    "auto": "cpu-fused where the activation has a fused form, else cpu-vectorized",
    "cpu-fused": "compiled numba kernel, one SIMD loop over pairs, parallel over tiles",
    "cpu-vectorized": "the array-namespace recursion on numpy, vectorised over pairs",
    "gpu-fused": "CUDA kernel on an NVIDIA GPU through CuPy, one thread per pair",
    "gpu-vectorized": "the array-namespace recursion on CuPy",
    "reference": "the literal per-pair recursion in Python floats (slow; for checking)",
}

#: Which way the RNN reads a sequence.
DIRECTIONS = ("forward", "reversed", "bidirectional")

#: What the network reads out.
READOUTS = ("last", "per-step", "mean")

#: Names used before the backends were named for what they are.
RENAMED_BACKENDS = {"numba": "cpu-fused", "numpy": "cpu-vectorized", "cupy": "gpu-fused",
                    "cupy-vectorized": "gpu-vectorized"}


@dataclass(frozen=True)
class KernelResult:
    """Kernel values of a Gram evaluation.

    Attributes
    ----------
    ntk : array of shape (n_x, n_y), or (n_x,) for a diagonal
        The neural tangent kernel Theta (numpy, CuPy or torch, as computed).
    nngp : array of the same shape
        The output covariance at initialisation, E[f(x) f(x')]. For kernels
        that are not network limits (RBF, polynomial, GAK) it equals ``ntk``.
    """

    ntk: Any
    nngp: Any


@dataclass(frozen=True)
class Capabilities:
    """What a kernel can do; estimators and searches read this, not the type.

    Attributes
    ----------
    variable_length : bool
        ``gram`` accepts sequences of different lengths (a list of (T_i, m)
        arrays, or trailing NaN).
    diag : bool
        ``diag(X)`` gives the diagonal of ``gram(X)`` without the full Gram.
    backends : tuple of str
        Values accepted by ``gram(..., backend=)``; empty if there is no choice.
    differentiable : bool
        A torch path differentiable in inputs and hyperparameters exists.
    dtypes : tuple of str
        Values accepted by ``gram(..., dtype=)``.
    batch_size : bool
        ``gram`` takes ``batch_size=`` (memory tiling, identical results).
    """

    variable_length: bool
    diag: bool
    backends: tuple[str, ...] = ()
    differentiable: bool = False
    dtypes: tuple[str, ...] = ("float64", "float32")
    batch_size: bool = False


class Hyper(NamedTuple):
    """Squared hyperparameters as the recursion uses them (per layer, and sigma_v^2).

    Entries are floats, or 0-d torch tensors when a caller differentiates
    with respect to them. ``trained[l]`` is 1.0 for a trained layer and 0.0
    for a frozen one: the weight of the layer's own Sigma in the tangent kernel
    (None: every layer trained). ``per_step``: independent read-outs at every
    step; ``mean``: one read-out of the mean state (see ``RNTK``'s ``readout``).
    """

    sw2: tuple
    su2: tuple
    sb2: tuple
    sh2: tuple
    sv2: Any
    trained: tuple | None = None
    per_step: bool = False
    mean: bool = False


def check_dtype(dtype) -> np.dtype:
    """``dtype`` as a numpy dtype; float64 and float32 only."""
    dt = np.dtype(dtype)
    if dt not in (np.float64, np.float32):
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


def check_backend(backend: str) -> str:
    """A known backend name; a renamed one gets its new name in the error."""
    if backend in RENAMED_BACKENDS:
        raise ValueError(f"backend {backend!r} is now called {RENAMED_BACKENDS[backend]!r}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {tuple(BACKENDS)}")
    return backend


@dataclass(frozen=True)
class RNTKDeclaration:
    """The hyperparameters of an L-layer Elman RNN in the NTK parametrisation.

    One frozen declaration describes both the infinite-width kernel
    (:class:`rntk.RNTK` adds the ways to compute it) and the finite network it
    is the limit of (:class:`rntk.empirical.RNN` is built from it).

    The parameters are documented on :class:`rntk.RNTK`, which adds the ways
    to compute the kernel; they are validated here, once.

    Attributes
    ----------
    dual : object
        The dual activation (``pair``, ``diag`` on arrays; ``name``; ``fused``
        whether compiled kernels implement it).
    """

    n_layers: int = 1
    activation: Union[str, Callable] = "relu"
    sigma_w: Sigma = 2**0.5
    sigma_u: Sigma = 1.0
    sigma_b: Sigma = 0.0
    sigma_h: Sigma = 0.0
    sigma_v: float = 1.0
    activation_derivative: Callable | None = None
    frozen_layers: int = 0
    direction: str = "forward"
    readout: str = "last"
    dual: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        L = self.n_layers
        if isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1:
            raise ValueError(f"n_layers must be an integer >= 1, got {L!r}")
        object.__setattr__(self, "n_layers", int(L))
        for name in ("sigma_w", "sigma_u", "sigma_b", "sigma_h"):
            object.__setattr__(self, name, check_sigma(getattr(self, name), name, int(L)))
        object.__setattr__(self, "sigma_v", check_sigma(self.sigma_v, "sigma_v", None))
        k = self.frozen_layers
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= L:
            raise ValueError(f"frozen_layers must be an integer in [0, n_layers = {L}], got {k!r}")
        object.__setattr__(self, "frozen_layers", int(k))
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if self.readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {self.readout!r}")
        object.__setattr__(self, "dual", get_dual(self.activation, self.activation_derivative))

    def squares(self) -> Hyper:
        """The squared hyperparameters, as the recursion takes them."""
        sq = lambda v: tuple(s * s for s in v)  # noqa: E731
        k = self.frozen_layers
        trained = None if k == 0 else (0.0,) * k + (1.0,) * (self.n_layers - k)
        return Hyper(sq(self.sigma_w), sq(self.sigma_u), sq(self.sigma_b), sq(self.sigma_h),
                     self.sigma_v**2, trained, self.readout == "per-step",
                     self.readout == "mean")
