"""Training recipes: the learner and optimiser settings every method of a benchmark shares.

A :class:`Recipe` names a learner (a GRU or LSTM, or the paper's Elman RNN as
a reference), its width and depth, Adam's learning rate and its schedule
(constant or cosine decay), the batch size, the number of epochs and whether
the inputs are standardised with statistics fitted on the training split
(:class:`rntk.rent.Standardizer`). ``verify/rent_recipe.py`` chooses one per
task on the validation split; ``verify/rent_benchmark.py --tier recipe``
trains every method with it.

Imports numpy only; :meth:`Recipe.model` imports torch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from itertools import product

from .._validation import check_positive_int
from ._config import LR_SCHEDULES, RentConfig, default_training
from ._data import Standardizer

__all__ = ["Recipe", "LEARNERS", "recipe_grid", "elman_reference"]

LEARNERS = ("elman", "gru", "lstm")


@dataclass(frozen=True)
class Recipe:
    """How a learner is trained, whatever the example-selection method.

    Parameters
    ----------
    learner : {"gru", "lstm", "elman"}
        The recurrent cell (Elman: tanh).
    hidden, n_layers : int
        Units per layer and depth.
    lr : float
        Adam's (first) learning rate.
    lr_schedule : {"cosine", "constant"}
        See :meth:`RentConfig.epoch_lr`.
    batch_size, epochs : int
    standardize : bool
        Standardise every input feature with the training split's mean and
        standard deviation (over valid steps); validation and test data are
        mapped with the same statistics.
    """

    learner: str = "gru"
    hidden: int = 128
    n_layers: int = 1
    lr: float = 2e-3
    lr_schedule: str = "cosine"
    batch_size: int = 64
    epochs: int = 15
    standardize: bool = True

    def __post_init__(self):
        if self.learner not in LEARNERS:
            raise ValueError(f"learner must be one of {LEARNERS}, got {self.learner!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        for name in ("hidden", "n_layers", "batch_size", "epochs"):
            check_positive_int(getattr(self, name), name)
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")

    @property
    def name(self) -> str:
        """A file-name-safe key, e.g. ``gru-h128x1-lr0.002-cosine-b64-e15-std``."""
        return (f"{self.learner}-h{self.hidden}x{self.n_layers}-lr{self.lr:g}-{self.lr_schedule}"
                f"-b{self.batch_size}-e{self.epochs}-{'std' if self.standardize else 'raw'}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Recipe":
        """The recipe of :meth:`to_dict`'s output; unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        extra = set(d) - known
        if extra:
            raise ValueError(f"unknown recipe fields {sorted(extra)}")
        return cls(**d)

    def splits(self, task):
        """(train, val, test) of ``task`` as this recipe feeds them (standardised on train when asked)."""
        if not self.standardize:
            return task.train, task.val, task.test
        st = Standardizer.fit(task.train)
        return st.transform(task.train), st.transform(task.val), st.transform(task.test)

    def model(self, task, seed: int):
        """A fresh :class:`rntk.rent.SequenceModel` for ``task``, initialised from ``torch.manual_seed(seed)``."""
        import torch

        from ._models import SequenceModel

        torch.manual_seed(seed)
        return SequenceModel(self.learner, task.input_dim, self.hidden, self.n_layers, task.out_dim, level=task.level)

    def config(self, method: str, kind: str, seed: int, **overrides) -> RentConfig:
        """The :class:`RentConfig` of ``method`` at this recipe (``kind``: "regression" or
        "classification"); ``overrides``: the method's schedule and other fields."""
        return RentConfig(method=method, task=kind, epochs=self.epochs, batch_size=self.batch_size, lr=self.lr,
                          lr_schedule=self.lr_schedule, seed=seed, **overrides)


def recipe_grid(learners=("gru", "lstm"), hidden=(64, 128), lr=(1e-3, 2e-3), *, n_layers=1, batch_size=64,
                epochs=15, lr_schedule="cosine", standardize=True) -> list:
    """The recipes of the search grid: learners x hidden x lr (in that order), the rest fixed."""
    return [Recipe(c, h, n_layers, a, lr_schedule, batch_size, epochs, standardize)
            for c, h, a in product(learners, hidden, lr)]


def elman_reference(task_name: str, epochs: int = 15) -> Recipe:
    """The paper's learner as the earlier benchmark tiers trained it: a 2-layer tanh Elman
    RNN, raw inputs, constant Adam step, the task's Table-4-like width, rate and batch size."""
    t = default_training(task_name)
    return Recipe("elman", t["hidden"], 2, t["lr"], "constant", t["batch_size"], epochs, False)
