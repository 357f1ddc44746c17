"""ReNT: greedy example selection for faster RNN training (nonparametric teaching).

At every trigger epoch ReNT scores the training samples by how far the model
is from their targets and trains on the top fraction r(e) until the next
trigger. ``import rntk.rent`` loads numpy only: the selection rules,
schedules and scores, the configuration, method and task names with each
task's defaults, the data container, the input standardisation, the training
recipes and the training history. The models and the trainer (torch) are
imported on first use of ``SequenceModel``, ``train`` or ``CheckpointError``.
"""
from ._config import METHODS, TASK_NAMES, RentConfig, default_schedule, default_training
from ._data import SequenceData, Standardizer
from ._history import EpochRecord, TrainHistory
from ._recipe import LEARNERS, Recipe, elman_reference, recipe_grid
from ._schedules import ratio_schedule, trigger_epochs
from ._scores import classification_scores, element_scores, regression_scores
from ._tasks import load_task
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
    "RentConfig", "METHODS", "TASK_NAMES", "default_schedule", "default_training", "load_task",
    "SequenceData", "Standardizer", "TrainHistory", "EpochRecord",
    "Recipe", "LEARNERS", "recipe_grid", "elman_reference",
    "SequenceModel", "train", "CheckpointError",
]

_LAZY = {"SequenceModel": "_models", "train": "_trainer", "CheckpointError": "_checkpoint"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'rntk.rent' has no attribute {name!r}")
