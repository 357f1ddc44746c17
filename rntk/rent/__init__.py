"""ReNT: greedy example selection for faster RNN training (nonparametric teaching).

Selection rules, schedules and scores (numpy; rent-theory-spec §1.2-1.4,
checked exactly by experiment R-1), and a trainer with models (torch,
imported on first use of ``SequenceModel``, ``RentConfig``, ``SequenceData``
or ``train``). Not built yet: the offline benchmark datasets, the OBS,
Selective-Backprop and RHO-LOSS baselines, the CLI and the benchmark script.
"""
from ._schedules import ratio_schedule, trigger_epochs
from ._scores import classification_scores, element_scores, regression_scores
from ._selection import (
    n_selected,
    partition,
    quotas,
    random_batches,
    random_sequences,
    scores_by_id,
    select_batches,
    select_global,
    select_sequences,
)

__all__ = [
    "ratio_schedule", "trigger_epochs",
    "regression_scores", "classification_scores", "element_scores",
    "partition", "n_selected", "quotas", "select_global", "select_batches", "select_sequences",
    "random_batches", "random_sequences", "scores_by_id",
    "SequenceModel", "RentConfig", "SequenceData", "train", "CheckpointError",
]

_LAZY = {"SequenceModel": "_models", "RentConfig": "_trainer", "SequenceData": "_trainer", "train": "_trainer",
         "CheckpointError": "_trainer"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'rntk.rent' has no attribute {name!r}")
