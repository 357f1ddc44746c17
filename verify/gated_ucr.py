"""Gated kernels on UCR data: GRUNTK and LSTMNTK (h = o·c) against the RNTK, same protocol.

The protocol of ``verify/table_ucr.py --quick`` (every series scaled to unit
norm; C-SVM, C in {0.01, 0.1, 1, 10, 100}; 5-fold stratified CV on the
training set, seed 0, picks the (kernel, C) setting; refit on the whole
training set, scored on the test set) on the three datasets shipped with rntk
(Trace is real; SynthCBF and SynthVarLenSines are synthetic). Kernels: the
RNTK on the quick grid of ``table_ucr.py``; GRUNTK and LSTMNTK with the
closed cell (``cell_activation="identity"``) on their own small grid: the
input scale sigma_u matters for saturating gates (unit-norm series have
steps of size ~T^(-1/2)), and the recurrent scale sigma_w sets how far back
the kernel reaches (``verify/gated_sensitivity.py``); sigma_b = 0.1. The
standard tanh LSTM is left out: its path Monte Carlo costs ~0.3 s a pair
(Trace: ~15 000 pairs a configuration).

Resumable: each (dataset, family) unit is cached in ``<out>/gated_ucr_cache/``.
"""
from __future__ import annotations

import sys
import time
from itertools import product

import numpy as np
from _common import out_dir, parser, write_json

DATASETS = ("Trace", "SynthCBF", "SynthVarLenSines")
DATASETS_QUICK = ("SynthVarLenSines",)
FOLDS = 5  # as table_ucr.py --quick
GATED_GRID = {"sigma_w": [1.0, 2.0, 4.0, 8.0], "sigma_u": [3.0, 10.0, 30.0], "sigma_b": [0.1]}
GATED_GRID_QUICK = {"sigma_w": [1.0], "sigma_u": [10.0], "sigma_b": [0.1]}
FAMILIES = ("RNTK", "GRU", "LSTM_ID")


def _configs(fam, quick):
    from table_ucr import GRIDS_QUICK, configs

    from rntk import GRUNTK, LSTMNTK

    if fam == "RNTK":
        grid = GRIDS_QUICK["RNTK"]
        if quick:
            grid = {k: v[:1] for k, v in grid.items()}
        return configs("RNTK", grid)
    grid = GATED_GRID_QUICK if quick else GATED_GRID
    make = GRUNTK if fam == "GRU" else (lambda **kw: LSTMNTK(cell_activation="identity", **kw))
    return [(dict(zip(grid, v)), make(**dict(zip(grid, v)))) for v in product(*grid.values())]


def _unit(name, fam, quick):
    from table_ucr import C_GRID, SEED, SVM_MAX_ITER, load_dataset

    from rntk.estimators import kernel_grid_search

    t0 = time.perf_counter()
    X, y, Xt, yt, _, _ = load_dataset(name, None)
    cfg = _configs(fam, quick)
    a, at = (X, Xt) if X.shape[1] == Xt.shape[1] else (list(X), list(Xt))
    res = kernel_grid_search(a, y, [k for _, k in cfg], C_GRID, X_test=at, y_test=yt, cv=FOLDS,
                             random_state=SEED, max_iter=SVM_MAX_ITER)
    return {"dataset": name, "family": fam, "test_acc": 100 * res.test_score, "cv_acc": 100 * res.best_cv_score,
            "best": {**cfg[res.best[0]][0], "C": float(res.best_param)}, "n_configs": len(cfg),
            "tied_test_acc": [100 * float(v) for v in res.tied_test_scores],
            "gram_seconds": float(np.sum(res.gram_seconds)), "seconds": time.perf_counter() - t0}


def main(argv=None):
    p = parser(__doc__)
    args = p.parse_args(argv)
    from rntk.experiments import load_cached

    q = args.quick
    d = out_dir(args)
    cache = d / "gated_ucr_cache"
    cache.mkdir(exist_ok=True)
    names = DATASETS_QUICK if q else DATASETS
    out = {}
    for name in names:
        for fam in FAMILIES:
            path = cache / f"{name}__{fam}.json"
            doc = load_cached(path, lambda doc: doc["n_configs"] == len(_configs(fam, q)))
            if doc is None:
                doc = _unit(name, fam, q)
                write_json(path, doc)
                print(f"gated_ucr: {name} {fam}: {doc['test_acc']:.1f} % ({doc['seconds']:.0f} s)", flush=True)
            out[name, fam] = doc

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from _common import save_figure

    fig, ax = plt.subplots(figsize=(6, 3.6))
    x = np.arange(len(names))
    for i, fam in enumerate(FAMILIES):
        ax.bar(x + 0.27 * (i - 1), [out[n, fam]["test_acc"] for n in names], 0.27, label=fam)
    ax.set_xticks(x, names)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("C-SVM, 5-fold CV model selection (table_ucr.py --quick protocol)", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    save_figure(fig, d / "gated_ucr.png")
    write_json(d / "gated_ucr.json", {
        "datasets": list(names), "families": list(FAMILIES), "cv_folds": FOLDS,
        "gated_grid": GATED_GRID_QUICK if q else GATED_GRID,
        "results": {n: {f: out[n, f] for f in FAMILIES} for n in names}, "quick": bool(q),
    })
    print("gated_ucr: " + "; ".join(f"{n}: " + ", ".join(f"{f} {out[n, f]['test_acc']:.1f}" for f in FAMILIES)
                                    for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
