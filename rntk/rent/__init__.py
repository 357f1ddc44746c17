"""ReNT: greedy example selection for faster RNN training (nonparametric teaching).

This subpackage so far holds the selection logic, the schedules and the
scores (rent-theory-spec §1.2-1.4, checked exactly by experiment R-1); the
trainer, models, baselines and benchmark of the ReNT issue are not built yet.
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
]
