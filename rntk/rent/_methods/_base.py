"""What every selection method shares: the run it works in, and the interface the training loop calls."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._batching import Batcher, epoch_rng, outputs, scan_chunk
from .._config import RentConfig
from .._data import SequenceData
from .._history import EpochRecord, TrainHistory
from .._losses import per_sample_loss, scores
from .._selection import partition

__all__ = ["Run", "Strategy", "batch_losses", "all_losses"]


@dataclass
class Run:
    """The run a strategy selects for: its configuration, model, training data and history.

    Attributes
    ----------
    cfg : RentConfig
    model : torch.nn.Module
    data : SequenceData
        The training set.
    batcher : Batcher
        Batches of ``data`` on the run's device.
    history : TrainHistory
        Selections go into ``history.selections``, counts into ``history.totals``.
    labels : ndarray or None
        Sequence-level class labels (classification), for stratification and
        the class-mix drift.
    classification, element : bool
        The loss (cross-entropy or MSE) and its level.
    """

    cfg: RentConfig
    model: torch.nn.Module
    data: SequenceData
    batcher: Batcher
    history: TrainHistory
    labels: np.ndarray | None
    classification: bool
    element: bool

    @property
    def n(self) -> int:
        """Training sequences."""
        return len(self.data)

    def rng(self, epoch: int, purpose: str) -> np.random.Generator:
        """This run's generator for one kind of choice at one epoch (see :func:`epoch_rng`)."""
        return epoch_rng(self.cfg.seed, epoch, purpose)

    def partition(self, epoch: int) -> list:
        """Epoch ``epoch``'s random partition of the training set into batches
        (each split by class when stratified)."""
        parts = partition(self.n, self.cfg.batch_size, self.rng(epoch, "partition"))
        if self.cfg.stratified:
            # refine each batch by class, groups ordered class by class: the
            # error-diffused quotas then give every class within 1 of its share
            labels = self.labels
            parts = [b[labels[b] == c] for c in np.unique(labels) for b in parts if (labels[b] == c).any()]
        return parts

    def score_all(self) -> np.ndarray:
        """The selection score of every training sample under the current model (counted as forwards)."""
        out = outputs(self.model, self.batcher, np.arange(self.n), scan_chunk(self.cfg.batch_size))
        self.history.totals.forward_samples += self.n
        return scores(self.cfg, out, self.data.y, self.data.lengths)

    def losses(self, model, ids) -> np.ndarray:
        """Per-sample training losses of ``model`` on ``ids`` without gradients (the caller sets eval mode)."""
        return batch_losses(model, self.batcher, ids, self.classification, self.element)

    def losses_all(self, model) -> np.ndarray:
        """:meth:`losses` on the whole training set, in chunks (counted as forwards)."""
        out = all_losses(model, self.batcher, self.n, scan_chunk(self.cfg.batch_size), self.classification,
                         self.element)
        self.history.totals.forward_samples += self.n
        return out

    def record_selection(self, epoch: int, ids: np.ndarray, record: EpochRecord, *, store: bool = True):
        """Log a chosen subset: its size, its class-mix drift, and (``store``) its ids."""
        if store:
            self.history.selections[str(epoch)] = ids.tolist()
        record.n_selected = int(len(ids))
        if store and self.labels is not None:
            record.class_mix_tv = _tv_drift(self.labels, ids)


def batch_losses(model, batcher: Batcher, ids, classification: bool, element: bool) -> np.ndarray:
    """Per-sample training losses of ``model`` on ``ids``, without gradients."""
    x, lengths, y = batcher.get(ids)
    with torch.no_grad():
        return per_sample_loss(model(x, lengths), y, lengths, classification, element).cpu().numpy()


def all_losses(model, batcher: Batcher, n: int, chunk: int, classification: bool, element: bool) -> np.ndarray:
    """:func:`batch_losses` on samples 0 .. n - 1, ``chunk`` at a time."""
    return np.concatenate([batch_losses(model, batcher, np.arange(i, min(n, i + chunk)), classification, element)
                           for i in range(0, n, chunk)])


def _tv_drift(labels, ids) -> float:
    """Total-variation distance between the class mix of ``ids`` and of the whole set."""
    classes, full = np.unique(labels, return_counts=True)
    sub = np.array([(labels[ids] == c).sum() for c in classes])
    return float(0.5 * np.abs(sub / max(1, sub.sum()) - full / full.sum()).sum())


class Strategy:
    """One selection method: which samples each epoch trains on.

    The training loop calls, every epoch: :meth:`select` (timed as selection),
    :meth:`measure` (untimed), then for each ids of :meth:`batches` the
    per-batch hooks a method defines, and :meth:`end_epoch` (timed as
    training). The subset is the pair ("ids", ids) or ("batches", list of id
    arrays); checkpoints store it with the rest of :meth:`state_dict`.

    Per-batch hooks, None where a method has none:

    ``filter_batch(ids) -> ids``
        Before the training forward, the samples to train on (timed as selection).
    ``keep_from_forward(ids, out, y, lengths) -> positions or None``
        After the training forward, the positions in the batch to backpropagate;
        None for all (timed as selection).
    ``observe(ids, out, y, lengths)``
        The detached outputs of the samples backpropagated (timed as training).

    Parameters
    ----------
    run : Run
    """

    filter_batch = None
    keep_from_forward = None
    observe = None

    def __init__(self, run: Run):
        self.run = run
        self.subset = None

    def select(self, epoch: int, ratio: float, record: EpochRecord) -> None:
        """Choose the subset of epoch ``epoch`` (or keep the last one), logging into ``record``."""
        raise NotImplementedError

    def measure(self, epoch: int, ratio: float, record: EpochRecord) -> None:
        """Measurements that are no part of the method (kept out of the timers)."""

    def batches(self, epoch: int):
        """The epoch's training batches, in a seeded random order."""
        rng = self.run.rng(epoch, "order")
        kind, val = self.subset
        if kind == "batches":
            return [val[i] for i in rng.permutation(len(val))]
        ids = rng.permutation(val)
        bs = self.run.cfg.batch_size
        return [ids[i : i + bs] for i in range(0, len(ids), bs)]

    def end_epoch(self, epoch: int, record: EpochRecord) -> None:
        """After the epoch's last batch."""

    def state_dict(self) -> dict:
        """What a resumed run needs to continue as an uninterrupted one (plain data and numpy)."""
        return {"subset": self.subset}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict` from a checkpoint's state (other keys are ignored)."""
        self.subset = state.get("subset")
