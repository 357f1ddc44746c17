"""ReNT's selection methods, their random twins, and the full-data references.

ReNT-B keeps whole batches, ReNT-S the top quota of every batch, and global
the top ceil(r N) of the training set, all by the scores of the model at the
trigger epoch; the random twins keep as many batches or samples from the same
partition at random, separating what teaching adds from what the shrinking
subset alone does.
"""
from __future__ import annotations

import numpy as np

from .._batching import scan_chunk
from .._config import backward_budget
from .._losses import loss, scores
from .._selection import (
    partition,
    quotas,
    random_batches,
    random_sequences,
    select_batches,
    select_global,
    select_sequences,
)
from ._base import Strategy

__all__ = ["Full", "BudgetFull", "ReNTBatches", "ReNTSequences", "Global", "RandomBatches", "RandomSequences",
           "FusedSequences"]


class Full(Strategy):
    """Every sample, every epoch."""

    def select(self, epoch, ratio, record):
        self.subset = ("ids", np.arange(self.run.n))


class BudgetFull(Full):
    """Full, stopped once it has backpropagated the samples that the ratio
    schedule would have (``budget``): Full at ReNT's cost."""

    def __init__(self, run):
        super().__init__(run)
        self.budget = backward_budget(run.cfg, run.n)

    def batches(self, epoch):
        # lazily: the budget left depends on the batches trained before
        for ids in super().batches(epoch):
            left = self.budget - self.run.history.totals.backward_samples
            if left <= 0:
                return
            yield ids[:left]


class _Triggered(Strategy):
    """A subset chosen at the trigger epochs and trained on until the next.

    Subclasses implement :meth:`choose`, and say whether it reads scores
    (``scored``), whether ``measure_amplification`` applies (``amplified``),
    and whether the subset is whole batches (``keeps_batches``).
    """

    scored = True
    amplified = False
    keeps_batches = False

    def __init__(self, run):
        super().__init__(run)
        self.triggers = set(run.cfg.triggers().tolist())
        self._measure = False

    def choose(self, epoch: int, ratio: float, parts: list):
        """The subset at a trigger with ratio < 1, from the epoch's partition."""
        raise NotImplementedError

    def select(self, epoch, ratio, record):
        self._measure = False
        if epoch not in self.triggers and self.subset is not None:
            return
        if ratio >= 1.0:  # everything, scoring skipped
            if self.keeps_batches:
                self.subset = ("batches", partition(self.run.n, self.run.cfg.batch_size,
                                                    self.run.rng(epoch, "partition")))
            else:
                self.subset = ("ids", np.arange(self.run.n))
            scored = False
        else:
            self.subset = self.choose(epoch, ratio, self.run.partition(epoch))
            scored = self.scored
        kind, val = self.subset
        record.triggered, record.scored = True, bool(scored)
        self.run.record_selection(epoch, np.sort(np.concatenate(val)) if kind == "batches" else val, record)
        self._measure = scored and self.amplified and self.run.cfg.measure_amplification

    def measure(self, epoch, ratio, record):
        if self._measure:
            amp, g_sel, g_rand = amplification(self, epoch, ratio)
            record.grad_amplification, record.grad_norm_selected, record.grad_norm_random = amp, g_sel, g_rand


class ReNTBatches(_Triggered):
    """ReNT-B: the batches of largest total score, ceil(r N) samples in all."""

    amplified = keeps_batches = True

    def choose(self, epoch, ratio, parts):
        kept = select_batches(self.run.score_all(), parts, ratio)
        return ("batches", [parts[i] for i in kept])


class RandomBatches(_Triggered):
    """ReNT-B's random twin: as many batches of the same partition, at random."""

    scored = False
    keeps_batches = True

    def choose(self, epoch, ratio, parts):
        return ("batches", [parts[i] for i in random_batches(parts, ratio, self.run.rng(epoch, "twin"))])


class ReNTSequences(_Triggered):
    """ReNT-S: the top-scored quota of every batch."""

    amplified = True

    def choose(self, epoch, ratio, parts):
        return ("ids", select_sequences(self.run.score_all(), parts, ratio))


class RandomSequences(_Triggered):
    """ReNT-S's random twin: the same quotas of every batch, at random."""

    scored = False

    def choose(self, epoch, ratio, parts):
        return ("ids", random_sequences(parts, ratio, self.run.rng(epoch, "twin")))


class Global(_Triggered):
    """The top ceil(r N) scores of the whole training set (per class when stratified)."""

    def choose(self, epoch, ratio, parts):
        s = self.run.score_all()
        if not self.run.cfg.stratified:
            return ("ids", select_global(s, ratio))
        # per-class top quota over the whole pool (classes merged across batches)
        labels = self.run.labels
        cls = [np.flatnonzero(labels == c) for c in np.unique(labels)]
        qc = quotas([len(c) for c in cls], ratio)
        keep = [c[np.argsort(-s[c], kind="stable")[:k]] for c, k in zip(cls, qc)]
        return ("ids", np.sort(np.concatenate(keep)))


class FusedSequences(ReNTSequences):
    """ReNT-S scored from the training forward itself.

    At a trigger with ratio < 1 every batch of the partition is forwarded for
    training, scored from that forward, and only its top quota is
    backpropagated; the samples kept are the subset until the next trigger.
    This saves the separate scoring pass at the price of scores from a model
    that changes during the epoch.
    """

    def select(self, epoch, ratio, record):
        if (epoch in self.triggers or self.subset is None) and ratio < 1.0:
            parts = self.run.partition(epoch)
            self.subset = ("fused", (parts, quotas([len(b) for b in parts], ratio)))
            self._kept, self._measure = [], False
            record.triggered, record.scored = True, True
        else:
            super().select(epoch, ratio, record)

    def batches(self, epoch):
        if self.subset[0] != "fused":
            yield from super().batches(epoch)
            return
        parts, q = self.subset[1]
        for i in self.run.rng(epoch, "order").permutation(len(parts)):
            self._quota = int(q[i])  # read by keep_from_forward for this batch
            yield np.sort(parts[i])

    def keep_from_forward(self, ids, out, y, lengths):
        if self.subset[0] != "fused":
            return None
        sc = scores(self.run.cfg, out.detach().float().cpu().numpy(), y.cpu().numpy(), lengths.numpy())
        # ties: the lowest id
        keep = np.sort(np.argsort(-sc, kind="stable")[: self._quota])
        self._kept.append(ids[keep])
        return keep

    def end_epoch(self, epoch, record):
        if self.subset[0] == "fused":
            kept = np.sort(np.concatenate(self._kept))
            self.subset = ("ids", kept)
            self.run.record_selection(epoch, kept, record)


def _mean_grad_norm(run, ids) -> float:
    """||grad of the mean training loss over ``ids``|| (chunks weighted by size)."""
    model = run.model
    model.zero_grad(set_to_none=True)
    step = scan_chunk(run.cfg.batch_size)
    for i in range(0, len(ids), step):
        chunk = ids[i : i + step]
        x, lengths, y = run.batcher.get(chunk)
        (loss(model(x, lengths), y, lengths, run.classification, run.element) * (len(chunk) / len(ids))).backward()
    sq = sum(float((p.grad.double() ** 2).sum()) for p in model.parameters() if p.grad is not None)
    model.zero_grad(set_to_none=True)
    return sq**0.5


def amplification(strategy: _Triggered, epoch: int, ratio: float, n_random: int = 5):
    """(ratio, norm of the selection, norms of random subsets): the gradient norm of the
    mean loss over the selection against random subsets of the same size drawn
    from the same partition by the random twin's rule."""
    run = strategy.run
    kind, val = strategy.subset
    sel = np.sort(np.concatenate(val)) if kind == "batches" else val
    parts = run.partition(epoch)
    rng = run.rng(epoch, "amplification")
    g_sel = _mean_grad_norm(run, sel)
    rand = []
    for _ in range(n_random):
        if kind == "batches":
            ids = np.sort(np.concatenate([parts[i] for i in random_batches(parts, ratio, rng)]))
        else:
            ids = random_sequences(parts, ratio, rng)
        rand.append(_mean_grad_norm(run, ids))
    return g_sel / float(np.mean(rand)), g_sel, rand
