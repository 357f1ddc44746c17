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
* ``--quick``: reduced grids and 5-fold CV on three small shipped datasets
  (Trace is real; SynthCBF and SynthVarLenSines are synthetic, with no paper
  numbers).

Work is split into (dataset, kernel family) units, run by ``--jobs`` workers
of ``rntk.experiments.run_units`` (default: one per CPU, each with one numba
thread; the largest units first; loky processes unless
``joblib.parallel_config`` selects another backend). Resumable at two levels:
every finished unit is cached in ``<out>/table_ucr_cache/<dataset>__<family>.json``
under a key of the grids and protocol, and a running unit checkpoints its finished kernel
configurations to ``<dataset>__<family>.npz`` at least once a minute
(``kernel_grid_search(checkpoint=...)``), so an interrupted run loses at most
a minute of work. Ctrl-C or SIGTERM stop a run within seconds (queued units
cancelled, running workers terminated; workers also die with a killed
parent); a damaged cache or checkpoint file is named in a warning, discarded
and its unit recomputed (they are written atomically, so no other unit is
affected). Output: ``table_ucr.json`` (everything, with wall time per
unit split into Gram and SVM time), ``table_ucr.md`` (the side-by-side table)
and ``table_ucr.png`` (our accuracy vs the paper's).

Practitioner columns (issue 19, ``--extra``; the ``rntk[baselines]`` libraries):
``MINIROCKET`` (sktime's MiniRocket + ridge), ``DTW_FULL`` and ``DTW_CV`` (1-NN DTW,
full window / window learned by leave-one-out on the training set), and ``GAK``.
They are further units of the same cache; the JSON then also holds every column's
average rank, the Friedman test and Nemenyi's critical difference over the datasets
where all columns ran (``all_columns``), drawn in ``table_ucr_cd.png``. Ask for the
extra columns cumulatively (``--extra MINIROCKET DTW_CV``): the JSON lists the
columns of the invocation that wrote it. With ``--jobs 1`` the cheapest units run first.
``--extra RNTK_PS`` adds the RNTK grid extended by the gap study (``verify/ucr_gap.py``):
units of the per-step read-out on that study's 16 settings, and the column ``RNTK_EXT``,
CV-selected over the paper's grid followed by those settings (``extend_by_cv``), next to
the paper-grid ``RNTK`` column, which stays as it is.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np
from _common import out_dir, parser, save_figure, split_cached, store_unit, unit_file, write_json
from _paper_ucr import COLUMNS, TABLE2, UCR_NAME
from _ucr_extra import BASELINE_GRIDS, BASELINES, baseline_cost, cd_plot, rank_summary, run_baseline

from rntk.estimators import C_GRID, SeriesScaler  # C_GRID: the paper's C values, defined once

CV_FOLDS = 10  # the paper's 10-fold CV
CV_FOLDS_QUICK = 5  # quick mode: half the SVM fits (they, not the Grams, dominate its time)
SEED = 0  # fold shuffle
# libsvm iterations per fit: uncapped, one fit on Computers (T = 720) with
# sigma_w = 1.44 ran for over 40 minutes (kernel entries ~ (sigma_w^2 / 2)^T,
# an effectively enormous C); typical fits here take ~10^3
SVM_MAX_ITER = 10**6
FAMILIES = ("RNTK", "NTK", "RBF", "POLY")  # the paper's kernel columns
# The RNTK grid extended by what verify/ucr_gap.py's study supports (issue 19): the unit
# RNTK_PS runs the per-step read-out on that study's 16-setting grid (a subset of the paper's
# sigma_w x sigma_b x sigma_h grid), and the column RNTK_EXT selects by CV, on the same folds,
# over the paper's 900 last-state settings followed by those 16 (ties: the paper's grid first).
PERSTEP, EXT = "RNTK_PS", "RNTK_EXT"
GAK = "GAK"  # optional column (--gak): tslearn's global alignment kernel, "what users would pick instead"
GAK_SCALES = {"full": [0.25, 0.5, 1, 2, 4], "quick": [0.5, 1, 2]}  # x Cuturi's median heuristic (sigma_gak)
# cdist_gak's dynamic-programming cells a second on one core, by series length: measured on the 17
# GAK units done, 1.1-1.6x a 1e8 model at T <= 319 but 6.1-6.8x at T >= 448 (its T x T table
# of float64 leaves the L2 cache between the two)
GAK_CELLS_PER_S = 1e8
GAK_CELLS_PER_S_LONG, GAK_LONG_T = 1.5e7, 400
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
    PERSTEP: {"sigma_w": [1.36, 1.40, 2**0.5, 1.44], "sigma_b": [0, 0.1, 0.5, 2], "sigma_h": [0]},
}
GRIDS_QUICK = {  # a few values of each, small sigma_b included
    "RNTK": {"sigma_w": [1.34, 2**0.5, 1.47], "sigma_b": [0, 0.1, 1], "sigma_h": [0, 0.5]},
    "NTK": {"n_layers": [1, 3], "sigma_w": [1, 2**0.5, 2], "sigma_b": [0, 0.5]},
    "RBF": {"gamma": [0.1, 1, 10, 100]},
    "POLY": {"degree": [1, 2, 3], "coef0": [0, 1]},
    PERSTEP: {"sigma_w": [1.34, 2**0.5], "sigma_b": [0, 0.1], "sigma_h": [0]},
}
DATASETS_QUICK = ("Trace", "SynthCBF", "SynthVarLenSines")  # shipped with rntk
DATASETS_FULL = (  # the paper's datasets available offline, plus Trace
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


def configs(family: str, grid: dict, X=None):
    """(hyperparameter dict, kernel object) for every point of a family's grid.

    GAK's grid is of multiples of the median-heuristic bandwidth of the
    training series ``X`` (``tslearn.metrics.sigma_gak``, seeded).
    """
    from itertools import product

    from rntk import MLPNTK, RNTK, GAKKernel, PolynomialKernel, RBFKernel

    if family == GAK:
        from tslearn.metrics import sigma_gak

        # X is NaN-padded at the end (the UCR layout), which tslearn reads as variable lengths
        base = float(sigma_gak(X, random_state=0))
        return [({"sigma": s * base, "sigma_scale": s}, GAKKernel(sigma=s * base)) for s in grid["sigma_scale"]]
    keys = list(grid)
    out = []
    for vals in product(*(grid[k] for k in keys)):
        p = dict(zip(keys, vals))
        if family == "RNTK":
            k = RNTK(activation="relu", sigma_u=1.0, sigma_v=1.0, **p)
        elif family == PERSTEP:
            k = RNTK(activation="relu", sigma_u=1.0, sigma_v=1.0, readout="per-step", **p)
        elif family == "NTK":
            k = MLPNTK(activation="relu", sigma_v=1.0, **p)
        elif family == "RBF":
            k = RBFKernel(**p)
        else:
            k = PolynomialKernel(**p)
        out.append((p, k))
    return out


def load_dataset(name: str, root):
    """Train and test splits, each series scaled to unit norm, and the padded versions."""
    from rntk.datasets import load_ucr

    X, y = load_ucr(name, "train", root)
    Xt, yt = load_ucr(name, "test", root)
    unit = SeriesScaler("unit").fit(X)
    X, Xt = unit.transform(X), unit.transform(Xt)
    width = max(X.shape[1], Xt.shape[1])
    pad = lambda A: np.nan_to_num(np.pad(A, ((0, 0), (0, width - A.shape[1])), constant_values=np.nan))  # noqa: E731
    return X, y, Xt, yt, pad(X), pad(Xt)


def dataset_facts(name: str, root) -> dict:
    from rntk.datasets import list_ucr

    X, y, Xt, _, _, _ = load_dataset(name, root)
    return {"source": list_ucr(root)[name].source, "n_train": len(X), "n_test": len(Xt),
            "length": max(X.shape[1], Xt.shape[1]),
            "variable_length": bool(np.isnan(X).any() or np.isnan(Xt).any()),
            "n_classes": len(np.unique(y))}


def run_unit(name: str, fam: str, grids: dict, folds: int, root, checkpoint) -> dict:
    """One kernel family on one dataset: the paper's protocol, the selected setting, timings."""
    from rntk.estimators import kernel_grid_search

    if fam in BASELINES:  # MiniRocket, 1-NN DTW: the series as shipped, no kernel grid
        return {**run_baseline(name, fam, root), "paper_acc": None}
    t0 = time.perf_counter()
    X, y, Xt, yt, Xp, Xtp = load_dataset(name, root)
    cfg = configs(fam, grids[fam], X)
    native = fam in ("RNTK", PERSTEP, GAK)  # native lengths; the others take zero-padded vectors
    a, at = (X, Xt) if native else (Xp, Xtp)
    if native and a.shape[1] != at.shape[1]:  # the RNTK needs no common width,
        a, at = list(a), list(at)  # but arrays of two widths are passed as sequences
    res = kernel_grid_search(a, y, [k for _, k in cfg], C_GRID, X_test=at, y_test=yt,
                             cv=folds, random_state=SEED, checkpoint=checkpoint, max_iter=SVM_MAX_ITER)
    tied = res.tied_test_scores
    return {
        "test_acc": 100 * res.test_score,
        "cv_acc": 100 * res.best_cv_score,
        "best": {**cfg[res.best[0]][0], "C": res.best_param},
        "n_settings": len(cfg) * len(C_GRID),
        "n_tied": len(res.tied),
        "tied_test_acc_min": 100 * float(tied.min()),
        "tied_test_acc_max": 100 * float(tied.max()),
        "best_test_acc_any_setting": 100 * float(res.test_scores.max()),
        "svm_max_iter": SVM_MAX_ITER,
        "unconverged_fits": int(res.unconverged.sum()),
        "unconverged_settings": int((res.unconverged > 0).sum()),
        "gram_s": float(res.gram_seconds.sum()),
        "fit_s": float(res.fit_seconds.sum()),
        "wall_s": time.perf_counter() - t0,
        "paper_acc": PAPER.get(name, {}).get(fam),
    }


def gak_cells(facts: dict, n_sigma: int) -> float:
    """cdist_gak's dynamic-programming cells for a dataset's train and test-by-train Grams."""
    n, nt, T = facts["n_train"], facts["n_test"], facts["length"]
    return n_sigma * (n * (n + 1) / 2 + n * nt) * T * T


def gak_seconds(facts: dict, n_sigma: int) -> float:
    """Estimated seconds of a GAK unit on one core (``GAK_CELLS_PER_S``, slower for long series)."""
    rate = GAK_CELLS_PER_S_LONG if facts["length"] > GAK_LONG_T else GAK_CELLS_PER_S
    return gak_cells(facts, n_sigma) / rate


def _unit_cost(facts: dict, fam: str, grids: dict) -> float:
    """A rough relative cost (for scheduling the largest units first)."""
    n, nt, T = facts["n_train"], facts["n_test"], facts["length"]
    if fam in BASELINES:
        return baseline_cost(facts, fam)
    if fam == GAK:
        return gak_seconds(facts, len(grids[GAK]["sigma_scale"]))
    n_cfg = int(np.prod([len(v) for v in grids[fam].values()]))
    fits = n_cfg * len(C_GRID) * (CV_FOLDS + 1) * (1e-4 + 2e-8 * n * n * max(1, facts["n_classes"] / 5))
    gram = n_cfg * (n * n / 2 + n * nt) * T * {"RNTK": 2e-9, PERSTEP: 4e-8}.get(fam, 2e-11)
    return fits + gram


def _grid_key(quick: bool, grids: dict, folds: int, fam: str) -> str:
    blob = json.dumps({"quick": quick, "grid": grids[fam], "family": fam, "C": C_GRID, "cv": folds,
                       "seed": SEED, "protocol": 2}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _cell(r) -> str:
    spread = ""
    if r["tied_test_acc_max"] - r["tied_test_acc_min"] > 0:
        spread = f" ({r['tied_test_acc_min']:.1f}-{r['tied_test_acc_max']:.1f}, {r['n_tied']} tied)"
    return f"{r['test_acc']:.2f}{spread}"


def extend_by_cv(paper: dict, ps: dict) -> dict:
    """The RNTK_EXT record: CV selection over the paper-grid RNTK unit, then the per-step unit.

    Both units use the same 10 folds (seed 0) on the same training set, so picking the
    unit with the higher best CV accuracy is CV selection over the union of their grids;
    a CV tie keeps the paper's setting (it comes first) and reports the tied spread of both.
    """
    tie = bool(np.isclose(ps["cv_acc"], paper["cv_acc"], rtol=0, atol=1e-9))
    pick, source = (ps, "per-step") if ps["cv_acc"] > paper["cv_acc"] and not tie else (paper, "paper grid")
    tied = [paper, ps] if tie else [pick]
    rec = {
        "test_acc": pick["test_acc"], "cv_acc": pick["cv_acc"], "selected_from": source,
        "best": {**pick["best"], "readout": "per-step" if source == "per-step" else "last"},
        "n_settings": paper["n_settings"] + ps["n_settings"], "n_tied": sum(r["n_tied"] for r in tied),
        "tied_test_acc_min": min(r["tied_test_acc_min"] for r in tied),
        "tied_test_acc_max": max(r["tied_test_acc_max"] for r in tied),
        "best_test_acc_any_setting": max(paper["best_test_acc_any_setting"], ps["best_test_acc_any_setting"]),
        "paper_acc": None,
    }
    for k in ("gram_s", "fit_s", "wall_s", "unconverged_fits"):
        rec[k] = paper.get(k, 0) + ps.get(k, 0)
    return rec


def table_markdown(results: dict, extra=()) -> str:
    head = "| dataset | " + " | ".join(f"{f} ours | {f} paper" for f in FAMILIES) + "".join(f" | {f}" for f in extra) + " |"
    lines = [head, "|" + "---|" * (1 + 2 * len(FAMILIES) + len(extra))]
    for name, rec in results.items():
        cells = []
        for f in FAMILIES:
            r = rec["families"][f]
            cells += [_cell(r), "-" if r["paper_acc"] is None else f"{r['paper_acc']:.2f}"]
        for f in extra:
            g = rec["families"].get(f)
            skipped = rec.get("gak_skipped", "n/a") if f == GAK else "n/a"
            cells.append(_cell(g) if g else f"not run ({skipped})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def selected_markdown(results: dict) -> str:
    """The selected hyperparameters and the time of every (dataset, family) unit."""
    lines = ["| dataset | " + " | ".join(f"{f} selected" for f in FAMILIES) + " | wall (s): "
             + " / ".join(FAMILIES) + " |", "|" + "---|" * (2 + len(FAMILIES))]
    for name, rec in results.items():
        cells = [", ".join(f"{k}={v:g}" for k, v in rec["families"][f]["best"].items()) for f in FAMILIES]
        wall = " / ".join(f"{rec['families'][f]['wall_s']:.0f}" for f in FAMILIES)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {wall} |")
    return "\n".join(lines) + "\n"


def compute_units(units, grids, folds, root, cache, key_of, jobs):
    """Run the (dataset, family) units not yet cached; returns {(name, fam): record}.

    Each unit is cached as soon as it finishes; a damaged cache file is named
    and its unit recomputed. Ctrl-C, SIGTERM or an error in a unit cancel the
    queued units and stop the running ones (``rntk.experiments.run_units``);
    what finished stays cached, and a stopped unit's checkpoint is resumed by
    the next run.
    """
    from tqdm.auto import tqdm

    from rntk.experiments import run_units

    done, todo = split_cached(cache, units, lambda u: key_of[u[1]])
    bar = tqdm(total=len(units), initial=len(done), desc="table_ucr units", unit="unit")

    def finish(unit, rec):
        name, fam = unit[:2]
        store_unit(cache, (name, fam), rec, key_of[fam])
        done[(name, fam)] = rec
        bar.set_postfix_str(f"{name} {fam} {rec['wall_s']:.0f} s")
        bar.update()

    args = [(n, f, grids, folds, root, str(unit_file(cache, (n, f), ".npz"))) for n, f in todo]
    try:
        # one numba (and BLAS) thread per unit: the workers are the parallelism
        run_units(run_unit, args, n_jobs=jobs, on_result=finish, threads_per_unit=1)
    finally:
        bar.close()
    return done


def main(argv=None):
    import os

    p = parser(__doc__)
    p.add_argument("--root", default=None, help="folder in the UCR 2018 layout (searched first)")
    p.add_argument("--datasets", nargs="+", default=None, help="dataset names (default: by mode)")
    p.add_argument("--jobs", type=int, default=None,
                   help="worker processes (default: one per available CPU)")
    p.add_argument("--gak", action="store_true",
                   help="add tslearn's global alignment kernel SVM as an extra column (needs rntk[bench])")
    p.add_argument("--extra", nargs="+", default=[], choices=(PERSTEP,) + BASELINES + (GAK,),
                   help=f"columns to add: {PERSTEP} (per-step RNTK units, giving the column {EXT}) and the "
                        "practitioner columns (cumulative: name every one the JSON should hold)")
    p.add_argument("--gak-max-minutes", type=float, default=20.0,
                   help="skip GAK on datasets whose estimated cdist_gak time exceeds this (one core)")
    args = p.parse_args(argv)

    from rntk.datasets import list_ucr
    from rntk.estimators import summarize

    grids = dict(GRIDS_QUICK if args.quick else GRIDS_FULL)
    grids[GAK] = {"sigma_scale": GAK_SCALES["quick" if args.quick else "full"]}
    grids.update(BASELINE_GRIDS)
    extra = tuple(f for f in (PERSTEP,) + BASELINES + (GAK,) if f in args.extra or (f == GAK and args.gak))
    args.gak = GAK in extra
    folds = CV_FOLDS_QUICK if args.quick else CV_FOLDS
    names = args.datasets or (DATASETS_QUICK if args.quick else DATASETS_FULL)
    jobs = args.jobs or len(os.sched_getaffinity(0))
    if jobs < 1:
        p.error(f"--jobs must be >= 1, got {jobs}")
    available = list_ucr(args.root)
    unknown = [n for n in names if n not in available]
    names = [n for n in names if n in available]
    if unknown:
        print(f"table_ucr: not available offline, skipped: {', '.join(unknown)}")
    if not names:
        print("table_ucr: no dataset available")
        return 1
    d = out_dir(args)
    cache = d / "table_ucr_cache"
    cache.mkdir(exist_ok=True)
    t_start = time.perf_counter()
    facts = {n: dataset_facts(n, args.root) for n in names}
    fams = FAMILIES + extra
    key_of = {f: _grid_key(args.quick, grids, folds, f) for f in fams}
    gak_skipped = {}
    if args.gak:
        for n in names:
            minutes = gak_seconds(facts[n], len(grids[GAK]["sigma_scale"])) / 60
            if minutes > args.gak_max_minutes:
                gak_skipped[n] = f"est. {minutes:.0f} min > {args.gak_max_minutes:g}"
    units = sorted(((n, f) for n in names for f in fams if not (f == GAK and n in gak_skipped)),
                   key=lambda u: (1 if jobs == 1 else -1) * _unit_cost(facts[u[0]], u[1], grids))
    try:
        done = compute_units(units, grids, folds, args.root, cache, key_of, jobs)
    except KeyboardInterrupt as e:
        from rntk.experiments import exit_status, signal_name

        print(f"table_ucr: stopped by {signal_name(e)}; finished units are kept in {cache} "
              "(run the same command again to resume)", file=sys.stderr)
        return exit_status(e)
    results = {n: {**facts[n], "families": {f: done[(n, f)] for f in fams if (n, f) in done}} for n in names}
    for n, rec in results.items():
        rec["wall_s"] = float(sum(r["wall_s"] for r in rec["families"].values()))
        if PERSTEP in rec["families"]:
            rec["families"][EXT] = extend_by_cv(rec["families"]["RNTK"], rec["families"][PERSTEP])
        if n in gak_skipped:
            rec["gak_skipped"] = gak_skipped[n]
    cols = [EXT if f == PERSTEP else f for f in fams]  # the columns shown and ranked
    extra_cols = tuple(EXT if f == PERSTEP else f for f in extra)

    acc = np.array([[results[n]["families"][f]["test_acc"] for f in FAMILIES] for n in results])
    ours = summarize(acc, FAMILIES)
    with_paper = [n for n in results if n in PAPER]
    paper_summary = None
    if with_paper:  # the paper's own numbers on the same datasets, for comparison
        pacc = np.array([[PAPER[n][f] for f in FAMILIES] for n in with_paper])
        oacc = np.array([[results[n]["families"][f]["test_acc"] for f in FAMILIES] for n in with_paper])
        paper_summary = {"ours": summarize(oacc, FAMILIES), "paper": summarize(pacc, FAMILIES),
                         "datasets": with_paper}
    extended = None  # Table 1 with RNTK_EXT in the RNTK's place, where it ran on every dataset
    if all(EXT in results[n]["families"] for n in results):
        ext_fams = (EXT,) + FAMILIES[1:]
        extended = summarize(np.array([[results[n]["families"][f]["test_acc"] for f in ext_fams] for n in results]),
                             ext_fams)
    time_by_family = {f: {k: float(sum(results[n]["families"][f][k] for n in results if f in results[n]["families"]))
                          for k in ("gram_s", "fit_s", "wall_s")} for f in fams}
    gak_vs_rntk = None
    if args.gak:  # the extra column against the RNTK, on the datasets where GAK ran
        both = [n for n in results if GAK in results[n]["families"]]
        if both:
            a2 = np.array([[results[n]["families"][f]["test_acc"] for f in ("RNTK", GAK)] for n in both])
            gak_vs_rntk = {"datasets": both, "summary": summarize(a2, ("RNTK", GAK)),
                           "rntk_wins": int((a2[:, 0] > a2[:, 1]).sum()), "gak_wins": int((a2[:, 1] > a2[:, 0]).sum())}
    all_columns = None
    if extra:  # every column, on the datasets where all of them ran
        full = [n for n in results if all(f in results[n]["families"] for f in cols)]
        if len(full) >= 2:
            a_all = np.array([[results[n]["families"][f]["test_acc"] for f in cols] for n in full])
            all_columns = rank_summary(a_all, cols, full)
            all_columns["mean_accuracy"] = dict(zip(cols, map(float, a_all.mean(axis=0))))
            cd_plot(all_columns, d / "table_ucr_cd.png", "Average rank over the columns (1 = best)"
                    + (", quick" if args.quick else ""), save_figure)
    md = table_markdown(results, extra_cols)
    (d / "table_ucr.md").write_text(md + "\n" + selected_markdown(results))
    write_json(d / "table_ucr.json", {
        "quick": bool(args.quick), "grids": grids, "C": list(C_GRID), "cv_folds": folds,
        "seed": SEED, "tie_break": "smallest C, then first kernel configuration in grid order",
        "datasets": results, "skipped": unknown, "summary_all": ours, "summary_extended": extended,
        "summary_on_paper_datasets": paper_summary, "time_by_family": time_by_family,
        "gak_vs_rntk": gak_vs_rntk, "gak_skipped": gak_skipped, "columns": cols,
        "all_columns": all_columns,
        "jobs": jobs, "cpu_seconds": float(sum(r["wall_s"] for r in results.values())),
        "wall_s_this_invocation": time.perf_counter() - t_start,
    })

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if with_paper:  # ours against the paper's, one point per dataset and family
        fig, axes = plt.subplots(1, len(FAMILIES), figsize=(3.2 * len(FAMILIES), 3.4), sharey=True)
        for ax, f in zip(axes, FAMILIES):
            ours_f = [results[n]["families"][f]["test_acc"] for n in with_paper]
            pap_f = [PAPER[n][f] for n in with_paper]
            ax.scatter(pap_f, ours_f, s=14, color="C0")
            ax.plot([0, 100], [0, 100], color="0.6", lw=0.8)
            ax.set_title(f"{f}: ours vs paper", fontsize=9)
            ax.set_xlabel("paper test accuracy (%)")
            ax.set_xlim(0, 100)
            ax.set_ylim(0, 100)
        axes[0].set_ylabel("our test accuracy (%)")
        fig.suptitle(f"C-SVM test accuracy on {len(with_paper)} UCR datasets"
                     + (" (quick grids)" if args.quick else ""), fontsize=10)
    else:
        fig, ax = plt.subplots(figsize=(max(5, 1.6 * len(results)), 3.8))
        xs = np.arange(len(results))
        for j, f in enumerate(FAMILIES):
            ax.bar(xs + (j - 1.5) * 0.2, acc[:, j], width=0.18, color=f"C{j}", label=f)
        ax.set_xticks(xs)
        ax.set_xticklabels(list(results), rotation=20, ha="right")
        ax.set_ylabel("test accuracy (%)")
        ax.set_ylim(0, 100)
        ax.legend(frameon=False, fontsize=7, ncol=4)
        ax.set_title("C-SVM test accuracy" + (", quick grids" if args.quick else ""), fontsize=10)
    save_figure(fig, d / "table_ucr.png")
    print(md, end="")
    print("Friedman rank (ours, all datasets): "
          + ", ".join(f"{f} {ours[f]['friedman_rank']:.2f}" for f in FAMILIES))
    if paper_summary:
        print("Friedman rank (paper, same datasets): "
              + ", ".join(f"{f} {paper_summary['paper'][f]['friedman_rank']:.2f}" for f in FAMILIES))
    print("time (s) by family: " + ", ".join(
        f"{f} gram {t['gram_s']:.1f} + fit {t['fit_s']:.1f}" for f, t in time_by_family.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
