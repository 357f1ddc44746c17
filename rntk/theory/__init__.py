"""Checks of RNN theory papers: Cayci & Eryilmaz (gradient descent for diagonal
Elman RNNs) and Livi (the learnability window of gated RNNs).

Importing this package loads numpy only; the torch parts (:func:`gate_transport`,
:func:`controlled_cell`, :func:`diagonal_rnn_torch`) import torch when called.
"""
from ._diagonal import (
    DiagonalRNN,
    empirical_ntk_diagonal,
    limiting_kernel,
    mu0,
    mu1,
    sensitivities,
    symmetric_init,
)
from ._diagonal_gd import GDResult, project_max_norm, risk_and_gradient, train_gd, transport_target
from ._gates import cell_step, controlled_cell, gate_transport
from ._stable import detection_curves, symmetric_stable, threshold_crossing
from ._torch_diagonal import autograd_ntk, diagonal_rnn_torch

__all__ = [
    "DiagonalRNN",
    "GDResult",
    "autograd_ntk",
    "cell_step",
    "controlled_cell",
    "detection_curves",
    "diagonal_rnn_torch",
    "empirical_ntk_diagonal",
    "gate_transport",
    "limiting_kernel",
    "mu0",
    "mu1",
    "project_max_norm",
    "risk_and_gradient",
    "sensitivities",
    "symmetric_init",
    "symmetric_stable",
    "threshold_crossing",
    "train_gd",
    "transport_target",
]
