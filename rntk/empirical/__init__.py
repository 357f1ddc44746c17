"""Finite-width RNNs and their empirical kernels (torch)."""
from ._ntk import MonteCarloNTK, empirical_ntk, jacobian_ntk, monte_carlo_ntk
from ._rnn import RNN

__all__ = ["RNN", "empirical_ntk", "jacobian_ntk", "monte_carlo_ntk", "MonteCarloNTK"]
