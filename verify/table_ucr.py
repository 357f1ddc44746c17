"""RNTK paper, Tables 1-2 (Section 4, Appendix A.1): kernel C-SVMs on UCR datasets.

Protocol (the paper's Appendix A.1): every series scaled to unit Euclidean
norm; C-SVM with C in {0.01, 0.1, 1, 10, 100}; for each kernel family a grid of
kernel hyperparameters; 10-fold stratified CV on the training set (shuffled,
seed 0) picks the (kernel, C) setting with the best mean validation accuracy;
that setting is refit on the whole training set and scored on the test set.
Ties in CV accuracy (frequent) are broken by the smallest C, then the first
kernel configuration in grid order; the test accuracies of all tied settings
are recorded (min / max) so the effect of the tie-break is visible. Each
kernel configuration's train Gram and test-by-train Gram are computed once
(``rntk.estimators.kernel_grid_search``).

Kernels: the RNTK (one layer, ReLU, sigma_u = 1, sigma_v = 1) on the series'
native lengths; the MLP NTK (ReLU), RBF and polynomial kernels on the series
zero-padded at the end to the dataset's width (the same vectors for the
fixed-length sets, which are most of them).

Modes:
* full (default): the paper's grids (900 RNTK, 540 NTK, 18 RBF, 30 polynomial
  configurations) on the 37 of the paper's datasets available offline plus
  Trace (``rntk.datasets``; the ``rntk[ucr]`` packages or ``--root``).
  NOT run or timed in this commit.
* ``--quick``: reduced grids and 5-fold CV on three small shipped datasets
  (Trace is real; SynthCBF and SynthVarLenSines are synthetic, with no paper
  numbers).

Resumable: each finished dataset is cached in ``<out>/table_ucr_cache/`` under
a key of the mode and grids, and skipped on the next run. Output:
``table_ucr.json`` (everything), ``table_ucr.md`` (the side-by-side table) and
``table_ucr.png`` (our accuracy vs the paper's).
"""
from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np
from _common import out_dir, parser, save_figure, write_json
from _paper_ucr import COLUMNS, TABLE2, UCR_NAME

C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)  # the paper's C values
CV_FOLDS = 10  # the paper's 10-fold CV
CV_FOLDS_QUICK = 5  # quick mode: half the SVM fits (they, not the Grams, dominate its time)
SEED = 0  # fold shuffle
FAMILIES = ("RNTK", "NTK", "RBF", "POLY")  # the paper's kernel columns
GRIDS_FULL = {  # the paper's Appendix A.1 grids
    "RNTK": {
        "sigma_w": [1.34, 1.35, 1.36, 1.37, 1.38, 1.39, 1.40, 1.41, 1.42, 2**0.5, 1.43, 1.44, 1.45, 1.46, 1.47],
        "sigma_b": [0, 0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, 0.9, 1, 2],
        "sigma_h": [0, 0.01, 0.1, 0.5, 1],
    },
    "NTK": {
        "n_layers": list(range(1, 11)),
        "sigma_w": [0.5, 1, 2**0.5, 2, 2.5, 3],
        "sigma_b": [0, 0.01, 0.1, 0.2, 0.5, 0.8, 1, 2, 5],
    },
    "RBF": {"gamma": [0.01, 0.05, 0.1, 0.2, 0.5, 0.6, 0.7, 0.8, 1, 2, 3, 4, 5, 10, 20, 30, 40, 100]},
    "POLY": {"degree": [1, 2, 3, 4, 5], "coef0": [0, 0.1, 0.2, 0.5, 1, 2]},
}
GRIDS_QUICK = {  # a few values of each, small sigma_b included
    "RNTK": {"sigma_w": [1.34, 2**0.5, 1.47], "sigma_b": [0, 0.1, 1], "sigma_h": [0, 0.5]},
    "NTK": {"n_layers": [1, 3], "sigma_w": [1, 2**0.5, 2], "sigma_b": [0, 0.5]},
    "RBF": {"gamma": [0.1, 1, 10, 100]},
    "POLY": {"degree": [1, 2, 3], "coef0": [0, 1]},
}
DATASETS_QUICK = ("Trace", "SynthCBF", "SynthVarLenSines")  # shipped with rntk
DATASETS_FULL = (  # ../shared/DATA.md: the paper's datasets available offline, plus Trace
    "ProximalPhalanxOutlineCorrect", "PowerCons", "Ham", "MiddlePhalanxOutlineCorrect",
    "Computers", "ECG5000", "Fish", "CricketX", "CricketY", "CricketZ",
    "DistalPhalanxOutlineCorrect", "Herring", "MedicalImages", "ChlorineConcentration",
    "FaceAll", "DistalPhalanxTW", "MiddlePhalanxTW", "FacesUCR", "OliveOil",
    "InsectEPGRegularTrain", "Meat", "Lightning2", "Lightning7", "Car", "GunPoint",
    "ArrowHead", "Coffee", "ECG200", "Plane", "GunPointOldVersusYoung",
    "GunPointMaleVersusFemale", "GunPointAgeSpan", "FreezerRegularTrain", "Earthquakes",
    "FiftyWords", "Beef", "Adiac", "Trace",
)
PAPER = {UCR_NAME.get(k, k): dict(zip(COLUMNS, v)) for k, v in TABLE2.items()}  # by UCR name


def configs(family: str, grid: dict):
    """(hyperparameter dict, kernel object) for every point of a family's grid."""
    from itertools import product

    from rntk import MLPNTK, RNTK, PolynomialKernel, RBFKernel

    keys = list(grid)
    out = []
    for vals in product(*(grid[k] for k in keys)):
        p = dict(zip(keys, vals))
        if family == "RNTK":
            k = RNTK(activation="relu", sigma_u=1.0, sigma_v=1.0, **p)
        elif family == "NTK":
            k = MLPNTK(activation="relu", sigma_v=1.0, **p)
        elif family == "RBF":
            k = RBFKernel(**p)
        else:
            k = PolynomialKernel(**p)
        out.append((p, k))
    return out


def unit_norm(X: np.ndarray) -> np.ndarray:
    """Scale every row to unit Euclidean norm over its finite values (NaN padding kept)."""
    norms = np.sqrt(np.nansum(X * X, axis=1, keepdims=True))
    if (norms == 0).any():
        raise ValueError("a series is all zeros: it cannot be scaled to unit norm")
    return X / norms


def run_dataset(name: str, grids: dict, folds: int, root, progress: bool) -> dict:
    from rntk.datasets import list_ucr, load_ucr
    from rntk.estimators import kernel_grid_search

    X, y = load_ucr(name, "train", root)
    Xt, yt = load_ucr(name, "test", root)
    X, Xt = unit_norm(X), unit_norm(Xt)
    width = max(X.shape[1], Xt.shape[1])
    pad = lambda A: np.nan_to_num(np.pad(A, ((0, 0), (0, width - A.shape[1])), constant_values=np.nan))
    rec = {
        "source": list_ucr(root)[name].source,
        "n_train": len(X), "n_test": len(Xt), "length": width,
        "variable_length": bool(np.isnan(X).any() or np.isnan(Xt).any()),
        "n_classes": len(np.unique(y)), "families": {},
    }
    for fam in FAMILIES:
        cfg = configs(fam, grids[fam])
        a, at = (X, Xt) if fam == "RNTK" else (pad(X), pad(Xt))
        if fam == "RNTK" and a.shape[1] != at.shape[1]:  # the RNTK needs no common width,
            a, at = list(a), list(at)  # but arrays of two widths are passed as sequences
        t0 = time.perf_counter()
        res = kernel_grid_search(a, y, [k for _, k in cfg], C_GRID, X_test=at, y_test=yt,
                                 cv=folds, random_state=SEED, progress=progress)
        tied = res.tied_test_scores
        rec["families"][fam] = {
            "test_acc": 100 * res.test_score,
            "cv_acc": 100 * res.best_cv_score,
            "best": {**cfg[res.best[0]][0], "C": res.best_param},
            "n_settings": len(cfg) * len(C_GRID),
            "n_tied": len(res.tied),
            "tied_test_acc_min": 100 * float(tied.min()),
            "tied_test_acc_max": 100 * float(tied.max()),
            "gram_s": float(res.gram_seconds.sum()),
            "fit_s": float(res.fit_seconds.sum()),
            "wall_s": time.perf_counter() - t0,
            "paper_acc": PAPER.get(name, {}).get(fam),
        }
    return rec


def _grid_key(quick: bool, grids: dict, folds: int) -> str:
    blob = json.dumps({"quick": quick, "grids": grids, "C": C_GRID, "cv": folds, "seed": SEED}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def table_markdown(results: dict) -> str:
    head = "| dataset | " + " | ".join(f"{f} ours | {f} paper" for f in FAMILIES) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(FAMILIES))]
    for name, rec in results.items():
        cells = []
        for f in FAMILIES:
            r = rec["families"][f]
            spread = ""
            if r["tied_test_acc_max"] - r["tied_test_acc_min"] > 0:
                spread = f" ({r['tied_test_acc_min']:.1f}-{r['tied_test_acc_max']:.1f}, {r['n_tied']} tied)"
            paper = "-" if r["paper_acc"] is None else f"{r['paper_acc']:.2f}"
            cells += [f"{r['test_acc']:.2f}{spread}", paper]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--root", default=None, help="folder in the UCR 2018 layout (searched first)")
    p.add_argument("--datasets", nargs="+", default=None, help="dataset names (default: by mode)")
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    from rntk.datasets import list_ucr
    from rntk.estimators import summarize

    grids = GRIDS_QUICK if args.quick else GRIDS_FULL
    folds = CV_FOLDS_QUICK if args.quick else CV_FOLDS
    names = args.datasets or (DATASETS_QUICK if args.quick else DATASETS_FULL)
    available = list_ucr(args.root)
    missing = [n for n in names if n not in available]
    names = [n for n in names if n in available]
    if missing:
        print(f"table_ucr: not available offline, skipped: {', '.join(missing)}")
    if not names:
        print("table_ucr: no dataset available")
        return 1
    d = out_dir(args)
    cache = d / "table_ucr_cache"
    cache.mkdir(exist_ok=True)
    key = _grid_key(args.quick, grids, folds)
    results = {}
    bar = tqdm(names, desc="datasets")
    for name in bar:
        bar.set_postfix_str(name)
        f = cache / f"{name}.json"
        if f.is_file():
            rec = json.loads(f.read_text())
            if rec.get("key") == key:
                results[name] = rec
                continue
        t0 = time.perf_counter()
        rec = run_dataset(name, grids, folds, args.root, progress=not args.quick)
        rec["key"], rec["wall_s"] = key, time.perf_counter() - t0
        write_json(f, rec)
        results[name] = rec

    acc = np.array([[results[n]["families"][f]["test_acc"] for f in FAMILIES] for n in results])
    ours = summarize(acc, FAMILIES)
    with_paper = [n for n in results if n in PAPER]
    paper_summary = None
    if with_paper:  # the paper's own numbers on the same datasets, for comparison
        pacc = np.array([[PAPER[n][f] for f in FAMILIES] for n in with_paper])
        oacc = np.array([[results[n]["families"][f]["test_acc"] for f in FAMILIES] for n in with_paper])
        paper_summary = {"ours": summarize(oacc, FAMILIES), "paper": summarize(pacc, FAMILIES)}
    time_by_family = {f: {k: float(sum(results[n]["families"][f][k] for n in results))
                          for k in ("gram_s", "fit_s", "wall_s")} for f in FAMILIES}
    md = table_markdown(results)
    (d / "table_ucr.md").write_text(md)
    write_json(d / "table_ucr.json", {
        "quick": bool(args.quick), "grids": grids, "C": list(C_GRID), "cv_folds": folds,
        "seed": SEED, "tie_break": "smallest C, then first kernel configuration in grid order",
        "datasets": results, "skipped": missing, "summary_all": ours,
        "summary_on_paper_datasets": paper_summary, "time_by_family": time_by_family,
        "total_wall_s": float(sum(r["wall_s"] for r in results.values())),
    })

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(results)), 3.8))
    xs = np.arange(len(results))
    for j, f in enumerate(FAMILIES):
        off = (j - 1.5) * 0.2
        ax.bar(xs + off, acc[:, j], width=0.18, color=f"C{j}", label=f"{f} (ours)")
        pap = [results[n]["families"][f]["paper_acc"] for n in results]
        ax.scatter([x + off for x, v in zip(xs, pap) if v is not None], [v for v in pap if v is not None],
                   marker="_", s=120, color="k", zorder=3, label="paper" if j == 0 else None)
    ax.set_xticks(xs)
    ax.set_xticklabels(list(results), rotation=20, ha="right")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("C-SVM test accuracy: ours (bars), paper (ticks)" + (", quick grids" if args.quick else ""),
                 fontsize=10)
    ax.legend(frameon=False, fontsize=7, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.22))
    save_figure(fig, d / "table_ucr.png")
    print(md, end="")
    print("Friedman rank (ours, all datasets): "
          + ", ".join(f"{f} {ours[f]['friedman_rank']:.2f}" for f in FAMILIES))
    print("time (s) by family: " + ", ".join(
        f"{f} gram {t['gram_s']:.1f} + fit {t['fit_s']:.1f}" for f, t in time_by_family.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
