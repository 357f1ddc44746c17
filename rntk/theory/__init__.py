"""Checks of RNN theory papers: seed 004 (Cayci & Eryilmaz, GD for diagonal
RNNs) and seed 002 (Livi, learnability window of gated RNNs).

Importing this package loads numpy only; the torch parts (:func:`gate_transport`,
:func:`controlled_cell`, :func:`diagonal_rnn_torch`) import torch when called.
"""
from ._diagonal import (
    DiagonalRNN,
    GDResult,
    empirical_ntk_diagonal,
    limiting_kernel,
    mu0,
    mu1,
    project_max_norm,
    risk_and_gradient,
    sensitivities,
    symmetric_init,
    train_gd,
    transport_target,
)
from ._gates import cell_step, controlled_cell, gate_transport
from ._stable import detection_curves, symmetric_stable, threshold_crossing
from ._torch_diagonal import diagonal_rnn_torch, autograd_ntk

__all__ = [
    "DiagonalRNN",
    "GDResult",
    "symmetric_init",
    "sensitivities",
    "empirical_ntk_diagonal",
    "limiting_kernel",
    "project_max_norm",
    "risk_and_gradient",
    "train_gd",
    "transport_target",
    "mu0",
    "mu1",
    "symmetric_stable",
    "detection_curves",
    "threshold_crossing",
    "controlled_cell",
    "cell_step",
    "gate_transport",
    "diagonal_rnn_torch",
    "autograd_ntk",
]
