"""ReNT's configuration, method names and per-task defaults.

Imports numpy only (never torch or a data package), so that command lines and
scripts can list the methods and tasks, look up a task's defaults and build a
configuration before deciding to train.
"""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from .._validation import check_positive_int
from ._schedules import ratio_schedule, trigger_epochs

__all__ = ["METHODS", "LR_SCHEDULES", "RentConfig", "TASK_NAMES", "TaskInfo", "TASK_INFO", "task_info",
           "default_schedule", "default_training", "ratios_budget", "backward_budget"]

METHODS = ("full", "budget-full", "rent-b", "rent-s", "global", "random-b", "random-s", "selective-backprop", "obs",
           "rho-loss")
# the methods that keep one subset from a trigger epoch to the next; the
# others choose afresh every epoch (or never choose)
TRIGGERED_METHODS = ("rent-b", "rent-s", "global", "random-b", "random-s")
LR_SCHEDULES = ("constant", "cosine")  # Adam's step over the epochs (RentConfig.epoch_lr)


@dataclass(frozen=True)
class RentConfig:
    """Every choice of a training run: the method, its schedules and the baselines' settings.

    The schedule defaults are ReNT's for sequence-level regression; see
    :func:`default_schedule` for the other kinds of task.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    task : {"regression", "classification"}
        The loss: mean squared error or cross-entropy.
    epochs, batch_size : int
        Training length and minibatch size.
    lr : float
        Adam's learning rate (of the first epoch).
    lr_schedule : {"constant", "cosine"}
        ``cosine``: epoch e trains at lr (1 + cos(pi e / epochs)) / 2 (cosine
        decay stepped per epoch, as torch's ``CosineAnnealingLR(T_max=epochs)``),
        see :meth:`RentConfig.epoch_lr`.
    ratio : {"step", "r-step", "constant"}
        The selection ratio schedule r(e) (see :func:`rntk.rent.ratio_schedule`),
        starting at ``r0``; ``r-step`` falls to ``r_min`` in ``n_stages`` stages.
    r0, r_min : float
        The first ratio, and the last one of ``r-step``.
    n_stages : int
        Stages of ``step`` and ``r-step``.
    trigger : {"incremental", "constant", "every"}
        The epochs at which the subset is re-selected (see
        :func:`rntk.rent.trigger_epochs`).
    every : int
        Epochs between triggers of ``constant``.
    warmup : float
        Fraction of the epochs at the start of ``incremental`` that all trigger.
    stratified : bool
        Class-balanced selection (sequence-level classification; rent-s,
        random-s and global).
    length_norm : str
        How element-level scores are normalised by the sequence length.
    clip_norm : float or None
        Gradient-norm clipping.
    budget : int or None
        budget-full: the backward samples of the whole run; by default what
        the ratio schedule trains, sum_e r(e) N.
    measure_amplification : bool
        At rent-b and rent-s triggers, log the gradient norm of the selection
        against random subsets of the same size (a measurement, untimed).
    fused : bool
        rent-s only: score each batch from its own training forward and
        backpropagate its top quota, instead of a separate scoring pass.
    plateau_patience : int or None
        Stop once the validation metric has not improved for this many epochs.
    obs_refresh : int
        OBS: epochs between the full passes that refresh the stale losses.
    obs_pressure : tuple of two floats
        OBS: selection pressure at the first and last epoch (geometric in between).
    rho_holdout : float
        RHO-LOSS: fraction of the training set held out for the irreducible-loss model.
    rho_il_epochs : int
        RHO-LOSS: training epochs of the irreducible-loss model (its time counts).
    rho_candidates : int
        RHO-LOSS: candidates per kept sample.
    seed : int
        Seeds every random choice of the run (partition, random twins, order).
    """

    method: str = "rent-b"
    task: str = "regression"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3
    lr_schedule: str = "constant"
    ratio: str = "step"
    r0: float = 0.1
    r_min: float = 0.4
    n_stages: int = 10
    trigger: str = "incremental"
    every: int = 5
    warmup: float = 0.25
    stratified: bool = False
    length_norm: str = "mean"
    clip_norm: float | None = None
    budget: int | None = None
    measure_amplification: bool = False
    fused: bool = False
    plateau_patience: int | None = None
    obs_refresh: int = 5
    obs_pressure: tuple = (100.0, 1.0)
    rho_holdout: float = 0.1
    rho_il_epochs: int = 10
    rho_candidates: int = 10
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {self.task!r}")
        if self.stratified and self.task != "classification":
            raise ValueError("stratified selection needs class labels (task='classification')")
        if self.stratified and self.method in ("rent-b", "random-b"):
            raise ValueError("stratified selection applies to sequence-level selection (rent-s, random-s, global)")
        if self.fused and self.method != "rent-s":
            raise ValueError("fused scoring fills per-batch quotas from the training forward: it applies to "
                             f"method='rent-s' only, not {self.method!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        check_positive_int(self.obs_refresh, "obs_refresh")
        if self.plateau_patience is not None:
            check_positive_int(self.plateau_patience, "plateau_patience")
        if len(self.obs_pressure) != 2 or min(self.obs_pressure) <= 0:
            raise ValueError(f"obs_pressure must be two selection pressures > 0, got {self.obs_pressure!r}")
        if not 0 < self.rho_holdout < 1:
            raise ValueError(f"rho_holdout must be a fraction in (0, 1), got {self.rho_holdout!r}")
        for name in ("rho_il_epochs", "rho_candidates"):
            check_positive_int(getattr(self, name), name)
        # schedules validate their own arguments
        self.ratios()
        self.triggers()

    def ratios(self) -> np.ndarray:
        """The selection ratio of every epoch (all ones for ``full``)."""
        if self.method == "full":
            return np.ones(self.epochs)
        return ratio_schedule(self.ratio, self.epochs, self.r0, n_stages=self.n_stages, r_min=self.r_min)

    def epoch_lr(self, epoch: int) -> float:
        """Adam's learning rate at (0-based) ``epoch``."""
        if self.lr_schedule == "constant":
            return float(self.lr)
        return float(self.lr * 0.5 * (1.0 + np.cos(np.pi * epoch / self.epochs)))

    def triggers(self) -> np.ndarray:
        """The epochs at which a triggered method re-selects its subset."""
        return trigger_epochs(self.trigger, self.epochs, every=self.every, warmup=self.warmup)


def ratios_budget(cfg: RentConfig) -> float:
    """sum_e r(e) of the ratio schedule of ``cfg``, in units of the training-set size.

    What a selection run with this schedule trains, and so budget-full's
    default budget; computed as if ``cfg`` were a selection run, whatever its method.
    """
    sched = ratio_schedule(cfg.ratio, cfg.epochs, cfg.r0, n_stages=cfg.n_stages, r_min=cfg.r_min)
    return float(sched.sum())


def backward_budget(cfg: RentConfig, n: int) -> int:
    """budget-full's backward samples over the run, for ``n`` training sequences."""
    return cfg.budget if cfg.budget is not None else int(round(ratios_budget(cfg) * n))


# ReNT's default schedules. Sequence-level regression starts from 10 % of
# the samples and grows to all of them, re-selecting every epoch during the
# first quarter and ever more rarely after; classification and element-level
# tasks start from 70 % and fall to 40 %, re-selecting every 5 epochs.
_GROWING = MappingProxyType({"ratio": "step", "r0": 0.1, "trigger": "incremental"})
_SHRINKING = MappingProxyType({"ratio": "r-step", "r0": 0.7, "r_min": 0.4, "trigger": "constant", "every": 5})
# The model width, learning rate and batch size that verify/rent_benchmark.py
# trains every method with, by kind of task.
_TRAINING_REGRESSION = MappingProxyType({"lr": 1e-3, "hidden": 128, "batch_size": 32})
_TRAINING_OTHER = MappingProxyType({"lr": 2e-3, "hidden": 64, "batch_size": 32})


@dataclass(frozen=True)
class TaskInfo:
    """What an offline benchmark task is, known without loading its data.

    Attributes
    ----------
    name : str
    task : {"regression", "classification"}
    level : {"sequence", "element"}
        One target per sequence, or one per step.
    schedule : mapping
        The default ReNT schedule (:class:`RentConfig` keywords), read-only.
    training : mapping
        Read-only: ``lr`` and ``batch_size`` (:class:`RentConfig` keywords) and ``hidden``
        (the RNN's width) of the benchmark runs.
    """

    name: str
    task: str
    level: str
    schedule: MappingProxyType
    training: MappingProxyType


def _info(name, task, level):
    seq_regression = task == "regression" and level == "sequence"
    return TaskInfo(name, task, level, _GROWING if seq_regression else _SHRINKING,
                    _TRAINING_REGRESSION if seq_regression else _TRAINING_OTHER)


TASK_INFO = {info.name: info for info in (
    _info("crop-forecast", "regression", "sequence"),
    _info("co2", "regression", "sequence"),
    _info("crop", "classification", "sequence"),
    _info("electric-devices", "classification", "sequence"),
    _info("forda", "classification", "sequence"),
    _info("narma10", "regression", "element"),
    _info("regime-tagging", "classification", "element"),
    _info("segment-tagging", "classification", "element"),
)}
TASK_NAMES = tuple(TASK_INFO)


def task_info(name: str) -> TaskInfo:
    """The :class:`TaskInfo` of task ``name``; ValueError naming the tasks when it is unknown."""
    if name not in TASK_INFO:
        raise ValueError(f"unknown task {name!r}; available: {sorted(TASK_INFO)}")
    return TASK_INFO[name]


def default_schedule(task_name: str) -> dict:
    """The default ReNT schedule of a benchmark task.

    Parameters
    ----------
    task_name : str
        One of :data:`TASK_NAMES`.

    Returns
    -------
    dict
        :class:`RentConfig` keywords (``ratio``, ``r0``, ``trigger`` and, for
        R-Step, ``r_min`` and ``every``); a new dict, free to update.

    Examples
    --------
    >>> default_schedule("co2")
    {'ratio': 'step', 'r0': 0.1, 'trigger': 'incremental'}
    """
    return dict(task_info(task_name).schedule)


def default_training(task_name: str) -> dict:
    """The benchmark's model width, learning rate and batch size for a task.

    Parameters
    ----------
    task_name : str
        One of :data:`TASK_NAMES`.

    Returns
    -------
    dict
        ``lr`` and ``batch_size`` (:class:`RentConfig` keywords) and
        ``hidden`` (the RNN's width); a new dict.
    """
    return dict(task_info(task_name).training)
