"""Gated kernels on UCR data: GRUNTK and LSTMNTK (h = o·c) against the RNTK, same protocol.

The protocol of ``verify/table_ucr.py --quick`` (every series scaled to unit
norm; C-SVM, C in {0.01, 0.1, 1, 10, 100}; 5-fold stratified CV on the
training set, seed 0, picks the (kernel, C) setting; refit on the whole
training set, scored on the test set) on the three datasets shipped with rntk
(Trace is real; SynthCBF and SynthVarLenSines are synthetic) and on the sets of
the RNTK paper's 38 whose Gram has at most ``MAX_PAIR_STEPS`` (pair x time
step) cells, (N^2 / 2 + N N_test) T: a subset fixed by size alone (the 13
smallest). The cut was set after Trace, the first set run, took 462 s a gated
kernel on the 24-setting grid (~4.7 us a cell and setting on a loaded 2-core
machine): the 25 larger sets would take ~30 h on one core. Kernels: the
RNTK on the quick grid of ``table_ucr.py``; GRUNTK and LSTMNTK with the
closed cell (``cell_activation="identity"``) on their own grid: the
input scale sigma_u matters for saturating gates (unit-norm series have
steps of size ~T^(-1/2)); the recurrent scale sigma_w and the bias mean of
the gate that keeps the state (``update_bias`` of the GRU, ``forget_bias``
of the LSTM; ``bias_mean`` in the grid) set how far back the kernel reaches
(``verify/gated_sensitivity.py``); sigma_b = 0.1. The
standard tanh LSTM is left out: its path Monte Carlo costs ~0.3 s a pair
(Trace: ~15 000 pairs a configuration).

Resumable: each (dataset, family) unit is cached in ``<out>/gated_ucr_cache/``;
the shipped sets run first, then the paper's, smallest first. Output: ``gated_ucr.json`` (per set and family: test and
CV accuracy, the selected setting, seconds; over the paper's sets: average ranks,
Friedman test, wins/ties/losses of each gated kernel against the RNTK) and
``gated_ucr.png`` (each gated kernel's accuracy against the RNTK's, per set).
"""
from __future__ import annotations

import sys
import time
from itertools import product

import numpy as np
from _common import out_dir, parser, write_json

SHIPPED = ("Trace", "SynthCBF", "SynthVarLenSines")
DATASETS_QUICK = ("SynthVarLenSines",)
MAX_PAIR_STEPS = 5e6  # (N^2 / 2 + N N_test) T of a paper set in the comparison
FOLDS = 5  # as table_ucr.py --quick
# sigma_w <= 2: at 4 and 8 the backward recursion explodes (diagonal ~1e45 on Trace, docs/gated.md);
# the bias mean of the gate that keeps the state (GRU update gate, LSTM forget gate) sets the memory
GATED_GRID = {"sigma_w": [1.0, 2.0], "sigma_u": [3.0, 10.0, 30.0], "sigma_b": [0.1], "bias_mean": [0.0, 2.0, 4.0, 6.0]}
GATED_GRID_QUICK = {"sigma_w": [1.0], "sigma_u": [10.0], "sigma_b": [0.1], "bias_mean": [0.0, 4.0]}
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

    def make(bias_mean, **kw):
        if fam == "GRU":
            return GRUNTK(update_bias=bias_mean, **kw)
        return LSTMNTK(cell_activation="identity", forget_bias=bias_mean, **kw)

    return [(dict(zip(grid, v)), make(**dict(zip(grid, v)))) for v in product(*grid.values())]


def _cells(facts) -> float:
    """(N^2 / 2 + N N_test) T: the (pair x time step) cells of a set's train and test-by-train Grams."""
    n, nt, T = facts["n_train"], facts["n_test"], facts["length"]
    return (n * n / 2 + n * nt) * T


def paper_subset() -> list[str]:
    """The paper's sets (``table_ucr.DATASETS_FULL``) with at most MAX_PAIR_STEPS cells, smallest
    first; those the loaders do not reach offline are left out (named on stderr)."""
    from table_ucr import DATASETS_FULL, UCR_NAME, dataset_facts

    from rntk.datasets import list_ucr

    avail = list_ucr()
    names = [UCR_NAME.get(n, n) for n in DATASETS_FULL]
    missing = [n for n in names if n not in avail]
    if missing:
        print(f"gated_ucr: not available offline, left out: {', '.join(missing)}", file=sys.stderr)
    sizes = {n: dataset_facts(n, None) for n in names if n in avail}
    return sorted((n for n in sizes if _cells(sizes[n]) <= MAX_PAIR_STEPS), key=lambda n: _cells(sizes[n]))


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
    from _ucr_extra import rank_summary

    from rntk.experiments import load_cached

    q = args.quick
    d = out_dir(args)
    cache = d / "gated_ucr_cache"
    cache.mkdir(exist_ok=True)
    paper = [] if q else paper_subset()
    names = list(dict.fromkeys(list(DATASETS_QUICK if q else SHIPPED) + paper))  # Trace is in both
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

    summary = None
    if len(paper) >= 2:
        acc = np.array([[out[n, f]["test_acc"] for f in FAMILIES] for n in paper])
        summary = rank_summary(acc, FAMILIES, paper)
        summary["mean_accuracy"] = dict(zip(FAMILIES, map(float, acc.mean(axis=0))))
        summary["against_rntk"] = {f: {"wins": int((acc[:, i] > acc[:, 0]).sum()),
                                       "ties": int((acc[:, i] == acc[:, 0]).sum()),
                                       "losses": int((acc[:, i] < acc[:, 0]).sum())}
                                   for i, f in enumerate(FAMILIES) if f != "RNTK"}
    _plot(d, names, paper, out, q)
    write_json(d / "gated_ucr.json", {
        "datasets": list(names), "paper_datasets": paper, "max_pair_steps": MAX_PAIR_STEPS,
        "families": list(FAMILIES), "cv_folds": FOLDS,
        "gated_grid": GATED_GRID_QUICK if q else GATED_GRID,
        "results": {n: {f: out[n, f] for f in FAMILIES} for n in names}, "summary_paper_datasets": summary,
        "seconds": {f: float(sum(out[n, f]["seconds"] for n in names)) for f in FAMILIES}, "quick": bool(q),
    })
    if summary:
        print("gated_ucr: over {} of the paper's sets: mean accuracy ".format(len(paper))
              + ", ".join(f"{f} {v:.1f}" for f, v in summary["mean_accuracy"].items()) + "; average rank "
              + ", ".join(f"{f} {v:.2f}" for f, v in summary["average_rank"].items()))
    else:
        print("gated_ucr: " + "; ".join(f"{n}: " + ", ".join(f"{f} {out[n, f]['test_acc']:.1f}" for f in FAMILIES)
                                        for n in names))
    return 0


def _plot(d, names, paper, out, quick):
    """Each gated kernel's test accuracy against the RNTK's, one point a set (shipped sets hollow)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from _common import save_figure

    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    for fam, colour in zip(FAMILIES[1:], ("C1", "C2")):
        for group, face in ((paper, colour), ([n for n in names if n not in paper], "none")):
            if group:
                ax.scatter([out[n, "RNTK"]["test_acc"] for n in group], [out[n, fam]["test_acc"] for n in group],
                           s=18, facecolors=face, edgecolors=colour,
                           label=f"{fam}" + (" (paper sets)" if group is paper else " (shipped sets)"))
    ax.plot([0, 100], [0, 100], color="0.6", lw=0.8)
    ax.set_xlim(0, 101)
    ax.set_ylim(0, 101)
    ax.set_xlabel("RNTK test accuracy (%)")
    ax.set_ylabel("gated kernel test accuracy (%)")
    ax.set_title("Above the line: the gated kernel wins" + (" (quick)" if quick else ""), fontsize=9)
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    save_figure(fig, d / "gated_ucr.png")


if __name__ == "__main__":
    sys.exit(main())
