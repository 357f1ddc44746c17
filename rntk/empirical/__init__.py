"""Finite-width RNNs and their empirical kernels (torch)."""
from ._gated import GatedMonteCarlo, GatedRNN, gated_monte_carlo, gated_ntk
from ._ntk import MonteCarloNTK, empirical_ntk, jacobian_ntk, monte_carlo_ntk
from ._rnn import RNN, as_batch
from ._variants import VariantRNN, variant_ntk

__all__ = ["RNN", "VariantRNN", "as_batch", "empirical_ntk", "jacobian_ntk", "monte_carlo_ntk",
           "MonteCarloNTK", "variant_ntk",
           "GatedRNN", "gated_ntk", "gated_monte_carlo", "GatedMonteCarlo"]
