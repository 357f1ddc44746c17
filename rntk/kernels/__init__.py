"""Analytic kernels: the RNTK and the baselines that share its ``gram`` API."""
from ._baselines import MLPNTK, GAKKernel, PolynomialKernel, RBFKernel, pad_sequences
from ._rntk import RNTK, KernelResult

__all__ = ["RNTK", "KernelResult", "MLPNTK", "RBFKernel", "PolynomialKernel", "GAKKernel", "pad_sequences"]
