"""rntk: recurrent neural tangent kernels you can run, check and build on.

``import rntk`` imports numpy and scipy only; torch, CuPy and matplotlib are
imported where they are used.
"""
from .kernels import GRUNTK, LSTMNTK, MLPNTK, RNTK, GAKKernel, KernelResult, PolynomialKernel, RBFKernel, pad_sequences

__version__ = "0.1.0"

__all__ = [
    "RNTK",
    "GRUNTK",
    "LSTMNTK",
    "KernelResult",
    "MLPNTK",
    "RBFKernel",
    "PolynomialKernel",
    "GAKKernel",
    "pad_sequences",
    "__version__",
]
