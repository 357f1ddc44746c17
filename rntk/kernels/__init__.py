"""Analytic kernels: the RNTK and the baselines that share its ``gram`` API."""
from ._baselines import MLPNTK, PolynomialKernel, RBFKernel, pad_sequences
from ._rntk import RNTK, KernelResult

__all__ = ["RNTK", "KernelResult", "MLPNTK", "RBFKernel", "PolynomialKernel", "pad_sequences"]
