"""Gaussian processes and Bayesian optimisation with the RNTK (imports gpytorch).

``RNTKKernel`` is a ``gpytorch.kernels.Kernel`` with sigma_w, sigma_u, sigma_b,
sigma_h as constrained, learnable hyperparameters; sequences enter it through
``encode_sequences`` (a length column, then the steps). ``loo_ridge_loss`` and
``fit_loo_hyperparameters`` learn the kernel for classification by the
closed-form leave-one-out error of kernel ridge regression. See ``docs/gp.md``.
Needs the ``gp`` extra (``pip install rntk[gp]``).
"""
from ._encoding import decode_sequences, encode_sequences
from ._kernel import RNTKKernel
from ._loo import LOOFit, fit_loo_hyperparameters, loo_ridge_loss

__all__ = [
           "LOOFit",
           "RNTKKernel",
           "decode_sequences",
           "encode_sequences",
           "fit_loo_hyperparameters",
           "loo_ridge_loss",
]
