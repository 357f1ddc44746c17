"""The selection methods of the trainer, one :class:`Strategy` each, by name."""
from __future__ import annotations

from .._config import RentConfig
from ._base import Run, Strategy
from ._baselines import OnlineBatchSelection, RhoLoss, SelectiveBackprop
from ._rent import (
    BudgetFull,
    FusedSequences,
    Full,
    Global,
    RandomBatches,
    RandomSequences,
    ReNTBatches,
    ReNTSequences,
)

__all__ = ["STRATEGIES", "Run", "Strategy", "strategy_name", "make_strategy"]

# every name of rntk.rent.METHODS, and rent-s with fused scoring
STRATEGIES = {
    "full": Full,
    "budget-full": BudgetFull,
    "rent-b": ReNTBatches,
    "rent-s": ReNTSequences,
    "rent-s-fused": FusedSequences,
    "global": Global,
    "random-b": RandomBatches,
    "random-s": RandomSequences,
    "selective-backprop": SelectiveBackprop,
    "obs": OnlineBatchSelection,
    "rho-loss": RhoLoss,
}


def strategy_name(cfg: RentConfig) -> str:
    """The key of :data:`STRATEGIES` that trains ``cfg``."""
    return "rent-s-fused" if cfg.fused else cfg.method


def make_strategy(run: Run) -> Strategy:
    """The strategy of ``run.cfg``, fresh (load a checkpoint's state with ``load_state_dict``)."""
    return STRATEGIES[strategy_name(run.cfg)](run)
