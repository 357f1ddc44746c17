"""Analytic kernels: the RNTK and the baselines that share its ``gram`` API."""
from ._rntk import KernelResult, RNTK

__all__ = ["RNTK", "KernelResult"]
