"""Example selection of ReNT and its random twins.

Every function works on sample ids (positions in the training set), never on
loader positions: scores are an array indexed by id, a partition is a list
of id arrays. That is what keeps the teacher from silently becoming random
(the lineage code's shuffled-loader bug). Ties are broken by
ascending id (batches: ascending batch position) with stable sorts.
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import as_generator as _rng
from .._validation import check_positive_int

__all__ = [
    "partition", "n_selected", "quotas", "select_global", "select_batches", "select_sequences",
    "random_batches", "random_sequences", "scores_by_id",
]



def _check_ratio(ratio):
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float, np.floating, np.integer)) or not 0 < ratio <= 1:
        raise ValueError(f"ratio must be in (0, 1], got {ratio!r}")


def partition(n: int, batch_size: int, seed) -> list[np.ndarray]:
    """A fresh random partition of ids 0..n-1 into batches of batch_size (the last smaller)."""
    check_positive_int(n, "n")
    check_positive_int(batch_size, "batch_size")
    perm = _rng(seed).permutation(n)
    return [perm[i : i + batch_size] for i in range(0, n, batch_size)]


def n_selected(ratio: float, n: int) -> int:
    """ceil(ratio n), immune to ratio n being a hair above an integer in floating point."""
    _check_ratio(ratio)
    x = ratio * n
    return min(n, int(math.ceil(x - 1e-9 * max(1.0, x))))


def _check_scores(scores, parts=None):
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"scores must be a non-empty 1-D array indexed by sample id, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError("scores contain NaN or infinite values (a diverged model?)")
    if parts is not None:
        ids = np.concatenate(parts)
        if ids.size != s.size or not np.array_equal(np.sort(ids), np.arange(s.size)):
            raise ValueError("the partition must cover every sample id exactly once")
    return s


def _top(values, k):
    """Positions of the k largest values; ties by ascending position."""
    order = np.argsort(-np.asarray(values), kind="stable")
    return np.sort(order[:k])


def select_global(scores, ratio):
    """The paper's literal Algorithm 1: the top ceil(r N) ids over the whole pool."""
    s = _check_scores(scores)
    return _top(s, n_selected(ratio, s.size))


def select_batches(scores, parts, ratio):
    """ReNT (B): the top ceil(r n_batches) batches by mean member score, membership kept.

    Returns the positions of the kept batches in ``parts`` (ascending).
    """
    s = _check_scores(scores, parts)
    means = np.array([s[b].mean() for b in parts])
    return _top(means, n_selected(ratio, len(parts)))


def quotas(sizes, ratio):
    """Per-batch quotas proportional to batch size, summing to ceil(r N) exactly.

    Error diffusion: quota_b = round(c S_b) - round(c S_{b-1}) with S_b the
    cumulative size and c = ceil(r N) / N, so the rounding error is carried
    forward and never accumulates (round half up).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    N = int(sizes.sum())
    total = n_selected(ratio, N)
    cum = np.concatenate([[0], np.cumsum(sizes)])
    # exact rational rounding: floor((2 total S + N) / (2 N)) = round half up of total S / N
    target = (2 * total * cum + N) // (2 * N)
    return np.diff(target)


def select_sequences(scores, parts, ratio):
    """ReNT (S): within each batch its top-q_b ids (quotas of :func:`quotas`); sorted ids."""
    s = _check_scores(scores, parts)
    q = quotas([len(b) for b in parts], ratio)
    keep = [np.sort(b)[_top(s[np.sort(b)], int(k))] for b, k in zip(parts, q)]
    return np.sort(np.concatenate(keep))


def random_batches(parts, ratio, seed):
    """Random-B: as many uniformly random batches as ReNT (B) keeps."""
    k = n_selected(ratio, len(parts))
    return np.sort(_rng(seed).choice(len(parts), size=k, replace=False))


def random_sequences(parts, ratio, seed):
    """Random-S: uniformly random members per batch with ReNT (S)'s quotas."""
    rng = _rng(seed)
    q = quotas([len(b) for b in parts], ratio)
    keep = [rng.choice(b, size=int(k), replace=False) for b, k in zip(parts, q)]
    return np.sort(np.concatenate(keep))


def scores_by_id(batches, n):
    """Scatter (ids, scores) pairs from any loader order into an array indexed by id.

    Raises if an id is missing or repeated: a silent gap would be filled by
    a default and bias the selection.
    """
    out = np.full(n, np.nan)
    seen = np.zeros(n, dtype=np.int64)
    for ids, sc in batches:
        ids = np.asarray(ids, dtype=np.int64)
        out[ids] = np.asarray(sc, dtype=np.float64)
        np.add.at(seen, ids, 1)
    if (seen != 1).any():
        bad = int(np.argmax(seen != 1))
        raise ValueError(f"sample id {bad} was scored {seen[bad]} times; every id must be scored once")
    return out
