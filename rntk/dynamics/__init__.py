"""Training dynamics: function-space vs parameter-space gradient descent.

* :func:`functional_gd`, :class:`KernelFlow`: gradient descent on the vector
  of function values for a fixed kernel (discrete steps with any learning-rate
  schedule) and its continuous-time closed form for the mean squared error.
* :func:`train_pgd` (torch): full-batch parameter gradient descent of a torch
  model that records the function values, and optionally the empirical NTK,
  at chosen iterations.
* :func:`order_aware_gradients`: the explicit, unrolled parameter gradient of
  an L-layer Elman RNN (ReNT eqs 9-12), two forms, for checking against
  autograd.
* :func:`ar2_windows`, :func:`fourier_features`: the synthetic AR(2) task of
  ReNT's Figure 3.

The torch-based :func:`train_pgd` is imported on first use, so that function-
space code runs without importing torch.
"""
from ._data import ar2_series, ar2_windows, fourier_features
from ._fgd import FGDResult, KernelFlow, constant_schedule, cosine_schedule, functional_gd
from ._gradients import elman_forward, order_aware_gradients

__all__ = [
    "functional_gd",
    "FGDResult",
    "KernelFlow",
    "cosine_schedule",
    "constant_schedule",
    "train_pgd",
    "PGDResult",
    "order_aware_gradients",
    "elman_forward",
    "ar2_series",
    "ar2_windows",
    "fourier_features",
]


def __getattr__(name):
    if name in ("train_pgd", "PGDResult"):
        from . import _pgd

        return getattr(_pgd, name)
    raise AttributeError(f"module 'rntk.dynamics' has no attribute {name!r}")
