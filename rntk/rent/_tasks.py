"""The offline benchmark tasks of ReNT, as train/val/test splits.

Each task is built from offline sources only: the UCR data packages of the
``rntk[ucr]`` extra (Crop, ElectricDevices, FordA), the Mauna Loa CO2 series shipped with rntk
(``rntk.datasets.load_co2``), or seeded generators (NARMA-10,
switching-AR(2) regime tagging). Scalers are fitted on the training split only
(the ReNT paper fits them before splitting, which lets the test split leak
into the scaling). Which kind of task each one is, and its defaults, are in
``_config.TASK_INFO``, known without loading anything.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validation import check_positive_int
from ._config import TASK_INFO
from ._data import SequenceData
from ._synthetic import narma10, regime_filter, switching_ar2

__all__ = ["Task", "load_task", "TASKS"]


@dataclass
class Task:
    """A benchmark task: splits plus what the model and metrics need."""

    name: str
    task: str  # "regression" or "classification"
    level: str  # "sequence" or "element"
    input_dim: int
    out_dim: int
    train: object
    val: object
    test: object
    meta: dict = field(default_factory=dict)


def _task(name, input_dim, out_dim, train, val, test, meta):
    info = TASK_INFO[name]
    return Task(name, info.task, info.level, input_dim, out_dim, train, val, test, meta)


def _full(X):
    return np.full(len(X), X.shape[1], dtype=np.int64)


def _split3(n, rng, fractions=(0.7, 0.15)):
    perm = rng.permutation(n)
    a = int(round(fractions[0] * n))
    b = a + int(round(fractions[1] * n))
    return perm[:a], perm[a:b], perm[b:]


def _cap(idx, cap, rng):
    return idx if cap is None or len(idx) <= cap else np.sort(rng.choice(idx, cap, replace=False))


def _crop_forecast(seed, cap):
    from ..datasets import load_ucr

    X = np.concatenate([load_ucr("Crop", "train")[0], load_ucr("Crop", "test")[0]])
    rng = np.random.default_rng(seed)
    tr, va, te = _split3(len(X), rng)
    tr = _cap(tr, cap, rng)
    mu, sd = X[tr].mean(), X[tr].std()
    Z = (X - mu) / sd
    inp, out = Z[:, :36, None], Z[:, 36:]
    mk = lambda i: SequenceData(inp[i], _full(inp[i]), out[i])  # noqa: E731
    return _task("crop-forecast", 1, 10, mk(tr), mk(va), mk(te),
                 {"source": "UCR Crop (raw), first 36 steps -> last 10, 70/15/15 by series"})


def _co2(seed, cap):
    from ..datasets import load_co2

    s = load_co2(interpolate=True)
    n_in, n_out = 104, 13
    W = np.lib.stride_tricks.sliding_window_view(s, n_in + n_out)
    n = len(W)
    a, b = int(0.7 * n), int(0.85 * n)
    tr = _cap(np.arange(a), cap, np.random.default_rng(seed))
    # the scaler sees the weeks inside the kept training windows only
    seen = np.zeros(len(s), dtype=bool)
    for i in tr:
        seen[i : i + n_in + n_out] = True
    mu, sd = s[seen].mean(), s[seen].std()
    Z = (W - mu) / sd
    mk = lambda i: SequenceData(Z[i, :n_in, None], np.full(len(i), n_in), Z[i, n_in:])  # noqa: E731
    return _task("co2", 1, n_out, mk(tr), mk(np.arange(a, b)), mk(np.arange(b, n)),
                 {"source": "Mauna Loa weekly CO2 1958-2001 (rntk.datasets.load_co2), 104 -> 13, chronological"})


def _ucr_classification(name, key):
    def build(seed, cap):
        from ..datasets import load_ucr

        Xtr, ytr = load_ucr(name, "train")
        Xte, yte = load_ucr(name, "test")
        classes = np.unique(np.concatenate([ytr, yte]))
        ytr, yte = np.searchsorted(classes, ytr), np.searchsorted(classes, yte)
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(Xtr))
        nv = len(Xtr) // 10
        va, tr = perm[:nv], _cap(perm[nv:], cap, rng)
        mk = lambda X, y: SequenceData(X[:, :, None], _full(X), y)  # noqa: E731
        return _task(key, 1, len(classes), mk(Xtr[tr], ytr[tr]),
                     mk(Xtr[va], ytr[va]), mk(Xte, yte), {"source": f"UCR {name}, official split, val = 10% of TRAIN"})

    return build


def _narma(seed, cap):
    n_tr = 10_000 if cap is None else min(cap, 10_000)
    U, Y = narma10(n_tr + 4000, 200, seed=seed)
    mk = lambda s: SequenceData(U[s], np.full(len(U[s]), 200), Y[s])  # noqa: E731
    return _task("narma10", 1, 1, mk(slice(0, n_tr)), mk(slice(n_tr, n_tr + 2000)),
                 mk(slice(n_tr + 2000, None)), {"source": "NARMA-10, seeded"})


def _regime(seed, cap):
    n_tr = 10_000 if cap is None else min(cap, 10_000)
    X, Z = switching_ar2(n_tr + 4000, 200, seed=seed)
    te = slice(n_tr + 2000, None)
    ceiling = float((regime_filter(X[te]).argmax(-1) == Z[te]).mean())
    mk = lambda s: SequenceData(X[s], np.full(len(X[s]), 200), Z[s])  # noqa: E731
    return _task("regime-tagging", 1, 3, mk(slice(0, n_tr)),
                 mk(slice(n_tr, n_tr + 2000)), mk(te),
                 {"source": "switching AR(2), seeded", "bayes_test_accuracy": ceiling})


def _segment_tagging(seed, cap):
    from ..datasets import load_ucr

    Xtr, ytr = load_ucr("ElectricDevices", "train")
    Xte, yte = load_ucr("ElectricDevices", "test")
    classes = np.unique(ytr)
    ytr, yte = np.searchsorted(classes, ytr), np.searchsorted(classes, yte)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(Xtr))
    nv = len(Xtr) // 10
    pools = {"train": perm[nv:], "val": perm[:nv]}

    def z(x):
        return (x - x.mean(axis=1, keepdims=True)) / np.maximum(x.std(axis=1, keepdims=True), 1e-12)

    def build(X, y, pool, n):
        pick = rng.choice(pool, (n, 4))
        seqs = z(X[pick.ravel()]).reshape(n, 4 * X.shape[1])
        labels = np.repeat(y[pick], X.shape[1], axis=1)
        return SequenceData(seqs[:, :, None], np.full(n, seqs.shape[1]), labels)

    n_tr = 10_000 if cap is None else min(cap, 10_000)
    return _task("segment-tagging", 1, len(classes),
                 build(Xtr, ytr, pools["train"], n_tr), build(Xtr, ytr, pools["val"], 1000),
                 build(Xte, yte, np.arange(len(Xte)), 2000),
                 {"source": "4 z-normalised ElectricDevices series per sequence, per-step class labels"})


TASKS = {
    "crop-forecast": _crop_forecast,
    "co2": _co2,
    "crop": _ucr_classification("Crop", "crop"),
    "electric-devices": _ucr_classification("ElectricDevices", "electric-devices"),
    "forda": _ucr_classification("FordA", "forda"),
    "narma10": _narma,
    "regime-tagging": _regime,
    "segment-tagging": _segment_tagging,
}


def load_task(name: str, *, seed: int = 0, max_train: int | None = None) -> Task:
    """Build task ``name`` (see ``TASKS``); ``max_train`` caps the training sequences
    (a seeded subset for the UCR-based tasks and co2, the first ones of the generated tasks)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; available: {sorted(TASKS)}")
    if max_train is not None:
        check_positive_int(max_train, "max_train")
    return TASKS[name](seed, max_train)
