"""Finite-width RNNs and their empirical kernels (torch)."""
from ._ntk import MonteCarloNTK, empirical_ntk, jacobian_ntk, monte_carlo_ntk
from ._rnn import RNN, as_batch

__all__ = ["RNN", "as_batch", "empirical_ntk", "jacobian_ntk", "monte_carlo_ntk", "MonteCarloNTK"]
