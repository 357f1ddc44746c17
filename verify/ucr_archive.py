"""Beyond the RNTK paper's size limits: every UCR set the loaders reach (issue 19, part 4).

The paper kept sets with fewer than 1000 training series and T < 1000. Here every
set ``rntk.datasets.list_ucr`` finds (93 with the ``rntk[ucr]`` packages, A to P)
gets four columns, each a resumable unit cached in ``<out>/ucr_archive_cache/``:

* ``RNTK``: C-SVM, every series scaled to unit norm, one ReLU layer, sigma_u = 1,
  the per-step read-out (``RNTK_SPEC``: the change that raised the mean CV accuracy
  most in ``verify/ucr_gap.py``'s study), the grid fixed in advance as that study's
  ``GRID_FULL`` (16 settings; the paper's 900 are out of reach on the large sets) x
  the paper's C grid, 10-fold stratified CV (seed 0) on the training set;
* ``MINIROCKET``, ``DTW_FULL``, ``DTW_CV``: as in ``verify/table_ucr.py --extra``.

Series with missing values inside (the DodgerLoop sets, MelbournePedestrian) are
filled by linear interpolation (``rntk.datasets.fill_gaps``) for every column.

A unit whose estimated time on one core exceeds ``--max-unit-minutes`` does not run
exactly. An RNTK unit then takes the Nystroem route if that fits (``NYSTROEM_K``
uniform landmarks, a ridge classifier on the features, setting and alpha chosen by
leave-one-out accuracy on the training set; marked ``"route": "nystroem"``); any
other is recorded as skipped with its estimate (all-pairs DTW has no such route). Units
run cheapest first, and ``ucr_archive.json`` is rewritten after every unit:
``status`` is "partial" while units are pending (``n_units_pending``, and per set
``pending``), so an interrupted run leaves an honest partial record; ``--report-only``
rewrites it from the cache. Output: ``ucr_archive.json`` (per set: sizes, every
unit's accuracy and wall time, skips; average ranks, Friedman test and Nemenyi CD
over the sets where every column ran), ``ucr_archive.png`` (the columns' ranks).
``--quick``: two shipped sets, a 4-setting RNTK grid, 3-fold CV.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np
from _common import out_dir, parser, save_figure, split_cached, store_unit, unit_file, unit_record, write_json
from _ucr_extra import BASELINE_GRIDS, BASELINES, baseline_cost, cd_plot, load_filled, rank_summary, run_baseline
from ucr_gap import C_PAPER, GRID_FULL, GRID_QUICK, SEED, SVM_MAX_ITER

COLUMNS = ("RNTK",) + BASELINES
# the RNTK's protocol beyond the base's, fixed from verify/ucr_gap.py's study before this run:
# the per-step read-out was the single change that raised the mean CV accuracy most
RNTK_SPEC = {"readout": "per-step"}
# the RNTK's route where the exact unit is over budget (issue 20's Nystroem features): k = 1000
# uniform landmarks (on Crop, readout "last": 0.71 test accuracy at k = 800, 0.73 at 1600, exact
# 0.78; figures/nystroem.json) and a ridge classifier, alpha over this grid
NYSTROEM_K = 1000
NYSTROEM_ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
DATASETS_QUICK = ("SynthCBF", "SynthVarLenSines")  # shipped; Trace (T = 275) would triple the DTW time


def table_units(d, names, cols, quick) -> dict:
    """Units ``verify/table_ucr.py`` already computed with this script's protocol: {(set, column): record}.

    Its ``RNTK_PS`` units are this RNTK column (the per-step read-out on the same grid, C
    values, folds, seed and iteration cap, series scaled to unit norm) and its practitioner
    units are the same calls; a record is taken from ``<d>/table_ucr_cache/`` only if its
    key is that of table_ucr's current grids. Nothing is reused when the protocols differ
    or in a quick run.
    """
    import table_ucr as tu

    same = (not quick and tu.GRIDS_FULL[tu.PERSTEP] == GRID_FULL and tuple(tu.C_GRID) == tuple(C_PAPER)
            and tu.CV_FOLDS == 10 and tu.SEED == SEED and tu.SVM_MAX_ITER == SVM_MAX_ITER
            and RNTK_SPEC == {"readout": "per-step"})
    if not same:
        return {}
    grids = {**tu.GRIDS_FULL, **BASELINE_GRIDS}
    cache = d / "table_ucr_cache"
    if not cache.is_dir():
        return {}
    out = {}
    for c in cols:
        fam = tu.PERSTEP if c == "RNTK" else c
        key = tu._grid_key(False, grids, 10, fam)
        done, _ = split_cached(cache, [(n, fam) for n in names], lambda u, key=key: key)
        out.update({(u[0], c): {**rec, "reused_from": f"table_ucr_cache/{unit_file(cache, u).name}"}
                    for u, rec in done.items()})
    return out


def facts_of(name, root) -> dict:
    from rntk.datasets import fill_gaps, list_ucr, load_ucr

    X, y = load_ucr(name, "train", root)
    Xt, _ = load_ucr(name, "test", root)
    lens = np.concatenate([np.isfinite(X).sum(1), np.isfinite(Xt).sum(1)])
    # series with missing values inside: those fill_gaps changes (trailing NaN are a shorter series' padding)
    gaps = sum(int((np.isnan(A) != np.isnan(fill_gaps(A))).any(axis=1).sum()) for A in (X, Xt))
    return {"source": list_ucr(root)[name].source, "n_train": len(X), "n_test": len(Xt),
            "length": int(lens.max()), "min_length": int(lens.min()), "n_classes": len(np.unique(y)),
            "series_with_gaps": gaps, "gaps_filled_by": "linear interpolation (rntk.datasets.fill_gaps)" if gaps else None,
            "within_paper_limits": bool(len(X) < 1000 and lens.max() < 1000)}


# Gram seconds per (pair of series x time step), one core, by read-out: "last" is table_ucr's
# model; "per-step" is 1.3 x that, the fused kernel's ratio in benchmarks/bench_variants.py
GRAM_S_PER_PAIR_STEP = {"last": 2e-9, "per-step": 2.6e-9}


def rntk_cost(f: dict, grid: dict, folds: int) -> float:
    """Rough seconds on one core (table_ucr's model of the RNTK unit, the Gram by read-out)."""
    n, nt, T = f["n_train"], f["n_test"], f["length"]
    n_cfg = int(np.prod([len(v) for v in grid.values()]))
    # one C-SVM fit ~ 2e-8 n^2 s, whatever the classes: one-vs-one splits n among the pairs
    # (measured here: Crop, 24 classes, 0.2-0.3 s a fit at n = 6480; ElectricDevices 0.6-1.0 s at 8033)
    fits = n_cfg * len(C_PAPER) * (folds + 1) * (1e-4 + 2e-8 * n * n)
    return fits + n_cfg * (n * n / 2 + n * nt) * T * GRAM_S_PER_PAIR_STEP[RNTK_SPEC.get("readout", "last")]


def nystroem_cost(f: dict, grid: dict) -> float:
    """Rough seconds on one core of the Nystroem route: the k landmark columns of every
    series, then one SVD of the n x k features per setting (RidgeClassifierCV's LOO)."""
    n, nt, T = f["n_train"], f["n_test"], f["length"]
    n_cfg = int(np.prod([len(v) for v in grid.values()]))
    k = min(NYSTROEM_K, n)
    return n_cfg * ((n + nt + k / 2) * k * T * GRAM_S_PER_PAIR_STEP[RNTK_SPEC.get("readout", "last")]
                    + 4 * n * k * k * 1e-10)


def rntk_route(f: dict, grid: dict, folds: int, budget_s: float) -> tuple[str, float]:
    """("exact" or "nystroem", estimated seconds) of an RNTK unit: exact if it fits the budget,
    else the Nystroem route if that does (the estimate then over budget means: skipped)."""
    exact = rntk_cost(f, grid, folds)
    if exact <= budget_s:
        return "exact", exact
    ny = nystroem_cost(f, grid)
    return ("nystroem", ny) if ny <= budget_s else ("exact", exact)


def run_unit_or_failure(name, fam, grid, folds, root, checkpoint, route="exact") -> dict:
    """``run_unit``, or ``{"failed": the error}`` when the unit raises: an unattended run of
    ~90 sets records a unit that cannot run (a library refusing a set) instead of stopping."""
    t0 = time.perf_counter()
    try:
        if route == "nystroem":
            return run_unit_nystroem(name, grid, root)
        return run_unit(name, fam, grid, folds, root, checkpoint)
    except (ValueError, TypeError, RuntimeError, ArithmeticError, MemoryError) as e:
        return {"failed": f"{type(e).__name__}: {str(e)[:300]}", "wall_s": time.perf_counter() - t0}


def run_unit(name, fam, grid, folds, root, checkpoint) -> dict:
    if fam in BASELINES:
        return run_baseline(name, fam, root)
    from itertools import product

    from rntk import RNTK
    from rntk.estimators import kernel_grid_search

    t0 = time.perf_counter()
    X, y = load_filled(name, "train", root)
    Xt, yt = load_filled(name, "test", root)
    w = max(X.shape[1], Xt.shape[1])
    X, Xt = (np.pad(A, ((0, 0), (0, w - A.shape[1])), constant_values=np.nan) for A in (X, Xt))
    keys = list(grid)
    cfg = [dict(zip(keys, v)) for v in product(*(grid[k] for k in keys))]
    kernels = [RNTK(activation="relu", sigma_u=1.0, sigma_v=1.0, **RNTK_SPEC, **p) for p in cfg]
    res = kernel_grid_search(X, y, kernels, C_PAPER,
                             X_test=Xt, y_test=yt, cv=folds, random_state=SEED, checkpoint=checkpoint,
                             max_iter=SVM_MAX_ITER, scale="unit")
    tied = res.tied_test_scores
    return {"test_acc": 100 * res.test_score, "cv_acc": 100 * res.best_cv_score,
            "best": {**cfg[res.best[0]], "C": res.best_param}, "n_settings": len(cfg) * len(C_PAPER),
            "n_tied": len(res.tied), "tied_test_acc_min": 100 * float(tied.min()),
            "tied_test_acc_max": 100 * float(tied.max()),
            "unconverged_fits": int(res.unconverged.sum()), "gram_s": float(res.gram_seconds.sum()),
            "fit_s": float(res.fit_seconds.sum()), "wall_s": time.perf_counter() - t0}


def run_unit_nystroem(name, grid, root) -> dict:
    """The RNTK column where the exact N x N Gram is over budget: Nystroem features (k uniform
    landmarks, seed 0) of the same kernels, a ridge classifier on them, the setting and alpha
    chosen by leave-one-out accuracy on the training set (RidgeClassifierCV's exact LOO)."""
    from itertools import product

    from sklearn.linear_model import RidgeClassifierCV

    from rntk import RNTK
    from rntk.estimators import Nystroem, SeriesScaler

    t0 = time.perf_counter()
    X, y = load_filled(name, "train", root)
    Xt, yt = load_filled(name, "test", root)
    w = max(X.shape[1], Xt.shape[1])
    X, Xt = (np.pad(A, ((0, 0), (0, w - A.shape[1])), constant_values=np.nan) for A in (X, Xt))
    scaler = SeriesScaler("unit").fit(X)
    X, Xt = scaler.transform(X), scaler.transform(Xt)
    keys = list(grid)
    cfg = [dict(zip(keys, v)) for v in product(*(grid[k] for k in keys))]
    loo, test, alpha, feat_s, fit_s = [], [], [], 0.0, 0.0
    for p in cfg:
        t1 = time.perf_counter()
        ny = Nystroem(RNTK(activation="relu", sigma_u=1.0, sigma_v=1.0, **RNTK_SPEC, **p),
                      n_components=min(NYSTROEM_K, len(X)), random_state=SEED).fit(X)
        F, Ft = ny.transform(X), ny.transform(Xt)
        t2 = time.perf_counter()
        m = RidgeClassifierCV(alphas=NYSTROEM_ALPHAS, scoring="accuracy").fit(F, y)
        loo.append(float(m.best_score_))
        alpha.append(float(m.alpha_))
        test.append(float(m.score(Ft, yt)))
        feat_s, fit_s = feat_s + t2 - t1, fit_s + time.perf_counter() - t2
    loo, test = np.array(loo), np.array(test)
    tied = np.flatnonzero(loo == loo.max())
    b = int(tied[0])
    return {"route": "nystroem", "nystroem_k": min(NYSTROEM_K, len(X)), "selection": "leave-one-out (ridge)",
            "test_acc": 100 * test[b], "cv_acc": 100 * loo[b], "best": {**cfg[b], "alpha": alpha[b]},
            "n_settings": len(cfg) * len(NYSTROEM_ALPHAS), "n_tied": len(tied),
            "tied_test_acc_min": 100 * float(test[tied].min()), "tied_test_acc_max": 100 * float(test[tied].max()),
            "unconverged_fits": 0, "gram_s": feat_s, "fit_s": fit_s, "wall_s": time.perf_counter() - t0}


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--root", default=None, help="folder in the UCR 2018 layout (searched first)")
    p.add_argument("--datasets", nargs="+", default=None)
    p.add_argument("--columns", nargs="+", default=list(COLUMNS), choices=COLUMNS)
    p.add_argument("--max-unit-minutes", type=float, default=20.0,
                   help="skip units estimated to take longer than this on one core")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--report-only", action="store_true",
                   help="compute nothing: write ucr_archive.json and the plot from the units cached so far")
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    from rntk.datasets import list_ucr
    from rntk.experiments import exit_status, load_cached, run_units, signal_name

    quick = args.quick
    grid, folds = (GRID_QUICK, 3) if quick else (GRID_FULL, 10)
    avail = list_ucr(args.root)
    if args.datasets:
        names = list(args.datasets)
    elif quick:
        names = list(DATASETS_QUICK)
    else:  # the archive itself: what the data packages or --root hold, not the shipped samples
        names = [n for n, e in avail.items() if not str(e.source).startswith("shipped")]
    unknown = [n for n in names if n not in avail]
    if unknown:
        print(f"ucr_archive: not available offline: {', '.join(unknown)}", file=sys.stderr)
        return 1
    d = out_dir(args)
    cache = d / "ucr_archive_cache"
    cache.mkdir(exist_ok=True)
    t_start = time.perf_counter()
    facts = {n: facts_of(n, args.root) for n in names}
    cols = [c for c in COLUMNS if c in args.columns]
    grids = {"RNTK": {"grid": grid, "C": list(C_PAPER), "folds": folds, "kernel": RNTK_SPEC}, **BASELINE_GRIDS}

    def key_of(c, route="exact"):
        spec = {"quick": quick, "col": c, "spec": grids[c], "seed": SEED, "protocol": 1}
        if route != "exact":
            spec["route"] = {"route": route, "k": NYSTROEM_K, "alphas": list(NYSTROEM_ALPHAS)}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    budget = 60 * args.max_unit_minutes
    est = {(n, c): (rntk_cost(facts[n], grid, folds) if c == "RNTK" else baseline_cost(facts[n], c))
           for n in names for c in cols}
    route = {u: "exact" for u in est}
    for u in est:
        if u[1] == "RNTK":
            route[u], est[u] = rntk_route(facts[u[0]], grid, folds, budget)
    key = {u: key_of(u[1], route[u]) for u in est}
    skipped = {u: f"est. {s / 60:.0f} min > {args.max_unit_minutes:g} on one core (exact N x N"
               + (", and the Nystroem route" if u[1] == "RNTK" else "") + ")"
               for u, s in est.items() if s > budget}
    done, todo = {}, []
    reusable = {} if args.root else table_units(d, names, cols, quick)
    for u in sorted(est, key=est.get):  # cheapest first, so an interrupted run holds the most sets
        rec = load_cached(unit_file(cache, u), unit_record(key[u]))
        if rec is None and u in reusable:  # computed by table_ucr with the same protocol
            rec = {**reusable[u], "estimate_s": est[u]}
            store_unit(cache, u, rec, key[u])
        if rec is not None and "failed" in rec:
            skipped[u] = f"failed: {rec['failed']}"
        elif rec is not None:
            done[u] = rec
            skipped.pop(u, None)  # done after all (table_ucr ran it): not a skip
        elif u not in skipped:
            todo.append(u)
    bar = tqdm(total=len(done) + len(todo), initial=len(done), desc="ucr_archive units", unit="unit")
    spec = {"quick": quick, "columns": cols, "rntk": RNTK_SPEC, "rntk_grid": grid, "C": list(C_PAPER),
            "cv_folds": folds, "seed": SEED, "max_unit_minutes": args.max_unit_minutes,
            "nystroem_route": {"k": NYSTROEM_K, "landmarks": "uniform", "classifier": "RidgeClassifierCV",
                               "alphas": list(NYSTROEM_ALPHAS), "selection": "leave-one-out accuracy",
                               "datasets": sorted(n for (n, c), r in route.items() if r == "nystroem")}}

    def write(final: bool):
        report(d, names, cols, facts, done, skipped, est, spec, time.perf_counter() - t_start, plot=final)

    def finish(unit, rec):
        n, c = unit[:2]
        rec["estimate_s"] = est[(n, c)]
        store_unit(cache, (n, c), rec, key[(n, c)])
        if "failed" in rec:  # recorded (and not retried): delete its cache file to try again
            skipped[(n, c)] = f"failed: {rec['failed']}"
        else:
            done[(n, c)] = rec
        bar.set_postfix_str(f"{n} {c} {rec['wall_s']:.0f} s")
        bar.update()
        write(False)  # the JSON follows the run unit by unit (partial until every unit is done or skipped)

    try:
        if not args.report_only:
            run_units(run_unit_or_failure, [(n, c, grid, folds, args.root, str(unit_file(cache, (n, c), ".npz")),
                                                                route[(n, c)])
                                            for n, c in todo],
                      n_jobs=args.jobs, on_result=finish, threads_per_unit=1)
    except KeyboardInterrupt as e:
        write(True)
        print(f"ucr_archive: stopped by {signal_name(e)}; finished units are in {cache} and {d / 'ucr_archive.json'}"
              " (partial; run again to resume)", file=sys.stderr)
        return exit_status(e)
    finally:
        bar.close()
    write(True)
    out = json.loads((d / "ucr_archive.json").read_text())
    print(f"ucr_archive: {out['n_units_done']} of {out['n_units']} units done, {out['n_units_skipped']} skipped "
          f"over budget, {out['n_units_pending']} pending; {out['n_datasets_complete']} of {len(names)} sets complete")
    s = out["summary_complete_sets"]
    if s:
        print("average rank: " + ", ".join(f"{c} {r:.2f}" for c, r in s["average_rank"].items()))
    return 0


def report(d, names, cols, facts, done, skipped, est, spec, wall_s, plot=True):
    """Write ``ucr_archive.json`` from the units done so far (``status``: partial or complete)."""
    results = {}
    for n in names:
        fams = {c: done[(n, c)] for c in cols if (n, c) in done}
        results[n] = {**facts[n], "columns": fams, "wall_s": float(sum(r["wall_s"] for r in fams.values())),
                      "skipped": {c: skipped[(n, c)] for c in cols if (n, c) in skipped},
                      "pending": [c for c in cols if (n, c) not in done and (n, c) not in skipped]}
    full = [n for n in names if len(results[n]["columns"]) == len(cols)]
    summary = None
    if len(full) >= 2 and len(cols) >= 2:
        acc = np.array([[results[n]["columns"][c]["test_acc"] for c in cols] for n in full])
        summary = rank_summary(acc, cols, full)
        summary["mean_accuracy"] = dict(zip(cols, map(float, acc.mean(axis=0))))
        summary["within_paper_limits"] = sum(results[n]["within_paper_limits"] for n in full)
    pairs = None  # the RNTK against MiniRocket over every set where both ran (DTW is skipped on the largest)
    if "RNTK" in cols and "MINIROCKET" in cols:
        both = [n for n in names if "RNTK" in results[n]["columns"] and "MINIROCKET" in results[n]["columns"]]
        if both:
            a = np.array([[results[n]["columns"][c]["test_acc"] for c in ("RNTK", "MINIROCKET")] for n in both])
            pairs = {"n_datasets": len(both), "mean_accuracy": {"RNTK": float(a[:, 0].mean()),
                                                                "MINIROCKET": float(a[:, 1].mean())},
                     "rntk_wins": int((a[:, 0] > a[:, 1]).sum()), "ties": int((a[:, 0] == a[:, 1]).sum()),
                     "rntk_losses": int((a[:, 0] < a[:, 1]).sum()),
                     "rntk_nystroem_route": sorted(n for n in both
                                                   if results[n]["columns"]["RNTK"].get("route") == "nystroem")}
    n_units = len(names) * len(cols)
    pending = n_units - len(done) - len(skipped)
    if plot:
        _plot(d, names, cols, results, summary, spec["quick"], pending)
    write_json(d / "ucr_archive.json", {
        **spec, "status": "complete" if pending == 0 else "partial", "datasets": results, "n_datasets": len(names),
        "n_datasets_complete": len(full), "datasets_complete": full,
        "n_datasets_with_pending_units": sum(bool(results[n]["pending"]) for n in names),
        "n_units": n_units, "n_units_done": len(done), "n_units_skipped": len(skipped),
        "n_units_pending": pending, "pending_estimate_s": float(sum(
            est[(n, c)] for n in names for c in results[n]["pending"])),
        "summary_complete_sets": summary, "rntk_vs_minirocket": pairs, "unit_seconds": float(sum(r["wall_s"] for r in done.values())),
        "wall_s_this_invocation": wall_s,
    })


def _plot(d, names, cols, results, summary, quick, pending):
    tag = (" (quick)" if quick else "") + (f"; partial: {pending} units pending" if pending else "")
    if summary:
        cd_plot(summary, d / "ucr_archive.png", f"UCR archive: average rank over {summary['n_datasets']} sets"
                + tag, save_figure)
        return
    import matplotlib  # too few complete sets for ranks: accuracy per set instead

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    for i, c in enumerate(cols):
        v = [results[n]["columns"][c]["test_acc"] for n in names if c in results[n]["columns"]]
        ax.plot([i] * len(v), v, "o", ms=3)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(cols, fontsize=7)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("UCR archive" + tag, fontsize=8)
    save_figure(fig, d / "ucr_archive.png")


if __name__ == "__main__":
    sys.exit(main())
