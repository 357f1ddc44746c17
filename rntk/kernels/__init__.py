"""Analytic kernels: the RNTK and the baselines that share its ``gram`` API."""
from ._classic import PolynomialKernel, RBFKernel, pad_sequences
from ._declaration import BACKENDS, Capabilities, KernelResult
from ._gak import GAKKernel
from ._gated import GRUNTK, LSTMNTK
from ._mlp import MLPNTK
from ._rntk import RNTK
from .._validation import KernelOverflowError

__all__ = ["RNTK", "GRUNTK", "LSTMNTK", "KernelResult", "Capabilities", "BACKENDS", "KernelOverflowError", "MLPNTK", "RBFKernel",
           "PolynomialKernel", "GAKKernel", "pad_sequences"]
