"""Why the RNTK trails on UCR: one change to the Table 1/2 protocol at a time (issue 19).

Base: the protocol of ``verify/table_ucr.py`` (every series scaled to unit norm, one
ReLU layer, sigma_u = 1, last-state read-out, forward direction, C in the paper's
{0.01, 0.1, 1, 10, 100}, 10-fold stratified CV with seed 0, ties to the smallest C
then the first kernel), on a kernel grid fixed in advance and much smaller than the
paper's 900 settings (``GRID_FULL``: 4 sigma_w x 4 sigma_b, sigma_h = 0 = 16; the
full paper-grid run selected sigma_h > 0 on 3 of 38 sets).
Every hypothesis changes one thing (``SINGLES``): the preprocessing (dataset
max-norm, the authors' code; or the z-normalised series as shipped), sigma_u, the
read-out, the direction, the depth (2 layers, the first frozen or not), or the C
grid (the authors' {0.01, 1, 100, 1e4, 1e6}). Two combinations follow: the authors'
code as we read it (dataset max-norm, sigma_u in {0.25, 0.5} as a grid axis, their
C grid), fixed in advance; and "cv-promising", every factor whose best level raised
the mean *CV* accuracy over the datasets by at least ``PROMISING_CV_GAIN`` points,
chosen from the training folds only.

For every (dataset, hypothesis): the test accuracy of the CV-selected setting, its
CV accuracy, the spread over settings tied in CV, and the best test accuracy of any
setting of the grid, which is a *diagnostic upper bound* (selected on the test
set) and never a result. ``selected_over_hypotheses`` picks, per dataset, the
hypothesis with the best CV accuracy (training data only).

A hypothesis whose kernel this checkout cannot build is recorded as not available
with the error; run the script again when it is, and only the missing units are
computed. The mean read-out's kernel needs every pair of time steps (O(T T') per
pair of series, against O(T) for the others): a unit whose estimate
(``unit_cost``) exceeds ``--max-unit-minutes`` is not run and is recorded under
``restricted`` with its estimate, and that hypothesis is summarised over the
datasets it ran on, against the base on the same datasets. Units are cached in
``<out>/ucr_gap_cache/`` (resumable; a running unit checkpoints once a minute).
Output: ``ucr_gap.json`` (key ``hypotheses``), ``ucr_gap.png``.
``--quick``: three shipped datasets, a 4-setting grid, 3-fold CV.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time

import numpy as np
from _common import out_dir, parser, save_figure, split_cached, store_unit, unit_file, write_json
from _paper_ucr import TABLE2, UCR_NAME

PAPER_RNTK = {UCR_NAME.get(k, k): v[0] for k, v in TABLE2.items()}
C_PAPER = (0.01, 0.1, 1.0, 10.0, 100.0)
C_AUTHORS = (0.01, 1.0, 100.0, 1e4, 1e6)  # the RNTK authors' public code
SEED = 0
SVM_MAX_ITER = 10**6  # as verify/table_ucr.py
PROMISING_CV_GAIN = 0.5  # points of mean CV accuracy a level must add to enter "cv-promising"
GRID_FULL = {"sigma_w": [1.36, 1.40, 2**0.5, 1.44], "sigma_b": [0, 0.1, 0.5, 2], "sigma_h": [0]}
GRID_QUICK = {"sigma_w": [2**0.5, 1.44], "sigma_b": [0, 0.5], "sigma_h": [0]}
TRAILING = ("ChlorineConcentration", "Fish", "Adiac", "Car", "FiftyWords", "Beef", "FacesUCR", "ArrowHead")
CONTROLS = ("ProximalPhalanxOutlineCorrect", "Lightning2")  # ours = paper (89.00, 78.69) in table_ucr.json
DATASETS_QUICK = ("Trace", "SynthCBF", "SynthVarLenSines")
# seconds per (time step x time step) cell of the mean read-out's Gram, one busy core,
# cpu-vectorized (measured here on Beef, sigma_w = 1.4, sigma_b = 0.5, while a test run shared the CPUs)
MEAN_CELL_S = 8e-8
MAX_UNIT_MINUTES = {"full": 15.0, "quick": 1.0}
BASE = {"scale": "unit", "C": "paper", "kernel": {}, "axes": {}}
# factor -> level -> change to BASE; the first level of each factor is the base
FACTORS = {
    "scale": {"unit": {}, "dataset-max": {"scale": "dataset-max"}, "as-shipped": {"scale": None}},
    "sigma_u": {"1": {}, "0.5": {"kernel": {"sigma_u": 0.5}}, "0.25": {"kernel": {"sigma_u": 0.25}}},
    "readout": {"last": {}, "per-step": {"kernel": {"readout": "per-step"}},
                "mean": {"kernel": {"readout": "mean"}}},
    "direction": {"forward": {}, "reversed": {"kernel": {"direction": "reversed"}},
                  "bidirectional": {"kernel": {"direction": "bidirectional"}}},
    "depth": {"L1": {}, "L2": {"kernel": {"n_layers": 2}},
              "L2-frozen1": {"kernel": {"n_layers": 2, "frozen_layers": 1}}},
    "C": {"paper": {}, "authors": {"C": "authors"}},
}
AUTHORS_CODE = {"scale": "dataset-max", "C": "authors", "kernel": {}, "axes": {"sigma_u": [0.25, 0.5]}}


def merge(*changes) -> dict:
    out = json.loads(json.dumps(BASE))
    for ch in changes:
        for k, v in ch.items():
            if isinstance(v, dict):
                out[k] = {**out[k], **v}
            else:
                out[k] = v
    return out


def singles() -> dict:
    """name -> spec: the base, then every non-base level of every factor alone."""
    out = {"base": merge()}
    for fac, levels in FACTORS.items():
        for lvl, ch in list(levels.items())[1:]:
            out[f"{fac}={lvl}"] = merge(ch)
    return out


def kernels(spec: dict, grid: dict):
    """(hyperparameters, RNTK) for every point of the grid, with the spec's fixed kwargs."""
    from itertools import product

    from rntk import RNTK

    full = {**grid, **spec["axes"]}
    keys = list(full)
    out = []
    for vals in product(*(full[k] for k in keys)):
        p = dict(zip(keys, vals))
        out.append((p, RNTK(activation="relu", sigma_v=1.0, **{**spec["kernel"], **p})))
    return out


def availability(spec: dict):
    """None if this checkout computes the spec's kernel, else the error it raises."""
    try:
        _, k = kernels(spec, {"sigma_w": [2**0.5]})[0]
        k.gram(np.linspace(-1, 1, 12).reshape(3, 4))
    except (NotImplementedError, ValueError, TypeError) as e:
        return f"{type(e).__name__}: {e}"
    return None


def unit_cost(spec: dict, grid: dict, facts: dict) -> float | None:
    """Estimated seconds of a unit whose Gram costs O(T T') per pair (the mean read-out); None otherwise.

    ``facts``: n_train, n_test, length. The grid search computes the train Gram
    (upper triangle) and the test-by-train block once per kernel setting.
    """
    k = spec["kernel"]
    if k.get("readout") != "mean":
        return None
    n, nt, T = facts["n_train"], facts["n_test"], facts["length"]
    n_cfg = int(np.prod([len(v) for v in {**grid, **spec["axes"]}.values()]))
    per_kernel = (n * (n + 1) / 2 + n * nt) * T * T * MEAN_CELL_S * k.get("n_layers", 1)
    return n_cfg * per_kernel * (2 if k.get("direction") == "bidirectional" else 1)


def sizes(name, root) -> dict:
    from rntk.datasets import load_ucr

    X, _ = load_ucr(name, "train", root)
    Xt, _ = load_ucr(name, "test", root)
    return {"n_train": len(X), "n_test": len(Xt), "length": max(X.shape[1], Xt.shape[1])}


def load(name, root):
    """Train and test series as shipped, NaN-padded to one width (the RNTK ignores the padding)."""
    from rntk.datasets import load_ucr

    X, y = load_ucr(name, "train", root)
    Xt, yt = load_ucr(name, "test", root)
    w = max(X.shape[1], Xt.shape[1])
    pad = lambda A: np.pad(A, ((0, 0), (0, w - A.shape[1])), constant_values=np.nan)
    return pad(X), y, pad(Xt), yt


def run_unit(name, spec, grid, folds, root, checkpoint) -> dict:
    from rntk.estimators import kernel_grid_search

    t0 = time.perf_counter()
    X, y, Xt, yt = load(name, root)
    cfg = kernels(spec, grid)
    C = C_AUTHORS if spec["C"] == "authors" else C_PAPER
    res = kernel_grid_search(X, y, [k for _, k in cfg], C, X_test=Xt, y_test=yt, cv=folds,
                             random_state=SEED, checkpoint=checkpoint, max_iter=SVM_MAX_ITER,
                             scale=spec["scale"])
    tied = res.tied_test_scores
    return {
        "test_acc": 100 * res.test_score, "cv_acc": 100 * res.best_cv_score,
        "best": {**cfg[res.best[0]][0], "C": res.best_param}, "n_settings": len(cfg) * len(C),
        "n_tied": len(res.tied), "tied_test_acc_min": 100 * float(tied.min()),
        "tied_test_acc_max": 100 * float(tied.max()),
        "best_test_acc_any_setting": 100 * float(res.test_scores.max()),  # diagnostic upper bound
        "unconverged_fits": int(res.unconverged.sum()), "gram_s": float(res.gram_seconds.sum()),
        "fit_s": float(res.fit_seconds.sum()), "wall_s": time.perf_counter() - t0,
    }


def unit_key(spec, grid, folds, quick) -> str:
    blob = json.dumps({"spec": spec, "grid": grid, "folds": folds, "seed": SEED, "quick": quick,
                       "max_iter": SVM_MAX_ITER, "protocol": 1}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def compute(units, specs, grid, folds, root, cache, quick, jobs) -> dict:
    """Run the (dataset, hypothesis) units not cached yet; {(dataset, hypothesis): record}."""
    from tqdm.auto import tqdm

    from rntk.experiments import run_units

    key = {h: unit_key(specs[h], grid, folds, quick) for h in {h for _, h in units}}
    done, todo = split_cached(cache, units, lambda u: key[u[1]])
    bar = tqdm(total=len(units), initial=len(done), desc="ucr_gap units", unit="unit")

    def finish(unit, rec):
        n, h = unit[0], unit[-1]
        store_unit(cache, (n, h), rec, key[h])
        done[(n, h)] = rec
        bar.set_postfix_str(f"{n} {h} {rec['wall_s']:.0f} s")
        bar.update()

    args = [(n, specs[h], grid, folds, root, str(unit_file(cache, (n, h), ".npz")), h) for n, h in todo]
    try:
        run_units(_run_named, args, n_jobs=jobs, on_result=finish, threads_per_unit=1)
    finally:
        bar.close()
    return done


def _run_named(name, spec, grid, folds, root, checkpoint, _hyp):
    return run_unit(name, spec, grid, folds, root, checkpoint)


def _cv_gains(fac: str, summ: dict, done: dict | None) -> dict:
    """level -> mean CV gain over the base, on the datasets where every level of the factor ran.

    Without ``done`` (or when every level ran everywhere) the summaries' own gains.
    """
    levels = [lvl for lvl in list(FACTORS[fac])[1:] if summ.get(f"{fac}={lvl}", {}).get("mean_cv_gain") is not None]
    ran = [set(summ[f"{fac}={lvl}"].get("datasets", ())) for lvl in levels]
    if done is None or not levels or all(r == ran[0] for r in ran):
        return {lvl: summ[f"{fac}={lvl}"]["mean_cv_gain"] for lvl in levels}
    common = sorted(set.intersection(*ran))
    if not common:
        return {}
    base = np.mean([done[(n, "base")]["cv_acc"] for n in common])
    return {lvl: float(np.mean([done[(n, f"{fac}={lvl}")]["cv_acc"] for n in common]) - base) for lvl in levels}


def promising(summ: dict, specs: dict, done: dict | None = None) -> dict | None:
    """The cv-promising combination: each factor's best level by mean CV, if it gains enough.

    Levels of one factor are compared on the datasets where all of them ran (the mean
    read-out is restricted by cost), so a level run on fewer datasets competes fairly.
    """
    changes, chosen = [], {}
    for fac, levels in FACTORS.items():
        best, gain = None, PROMISING_CV_GAIN
        for lvl, g in _cv_gains(fac, summ, done).items():
            if g >= gain:
                best, gain = (lvl, levels[lvl]), g
        if best:
            chosen[fac] = best[0]
            changes.append(best[1])
    return (merge(*changes), chosen) if len(changes) >= 2 else (None, chosen)


def summarize(done, names, hyps) -> dict:
    """Per hypothesis: its records and, over the datasets it ran on, mean accuracies and the gains
    over the base on the same datasets (``complete`` False when some were not run)."""
    out = {}
    for h in hyps:
        recs = {n: done[(n, h)] for n in names if (n, h) in done}
        s = {"datasets": recs, "n_datasets": len(recs), "complete": len(recs) == len(names)}
        if recs:
            for k, field in (("mean_test", "test_acc"), ("mean_cv", "cv_acc"),
                             ("mean_best_any", "best_test_acc_any_setting")):
                s[k] = float(np.mean([r[field] for r in recs.values()]))
            base = [done.get((n, "base")) for n in recs]
            if all(base):
                s["mean_cv_gain"] = s["mean_cv"] - float(np.mean([b["cv_acc"] for b in base]))
                s["mean_test_gain"] = s["mean_test"] - float(np.mean([b["test_acc"] for b in base]))
            with_paper = [n for n in recs if n in PAPER_RNTK]
            s["n_within_1pt_of_paper"] = sum(recs[n]["test_acc"] >= PAPER_RNTK[n] - 1 for n in with_paper)
            s["n_best_any_within_1pt_of_paper"] = sum(recs[n]["best_test_acc_any_setting"] >= PAPER_RNTK[n] - 1
                                                      for n in with_paper)
        out[h] = s
    return out


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--root", default=None, help="folder in the UCR 2018 layout (searched first)")
    p.add_argument("--datasets", nargs="+", default=None)
    p.add_argument("--hypotheses", nargs="+", default=None, help="names of single hypotheses (default: all)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--max-unit-minutes", type=float, default=None,
                   help="skip mean read-out units estimated to take longer on one core "
                        f"(default {MAX_UNIT_MINUTES['full']:g}; --quick {MAX_UNIT_MINUTES['quick']:g})")
    args = p.parse_args(argv)
    from rntk.datasets import list_ucr

    quick = args.quick
    grid, folds = (GRID_QUICK, 3) if quick else (GRID_FULL, 10)
    names = list(args.datasets or (DATASETS_QUICK if quick else TRAILING + CONTROLS))
    missing = [n for n in names if n not in list_ucr(args.root)]
    if missing:
        print(f"ucr_gap: not available offline: {', '.join(missing)}", file=sys.stderr)
        return 1
    specs = singles()
    if args.hypotheses:
        bad = [h for h in args.hypotheses if h not in specs]
        if bad:
            p.error(f"unknown hypotheses {bad}; known: {list(specs)}")
        specs = {h: specs[h] for h in ["base", *args.hypotheses] if h in specs}
    specs["authors-code"] = AUTHORS_CODE
    unavailable = {h: e for h, s in specs.items() if (e := availability(s))}
    d = out_dir(args)
    cache = d / "ucr_gap_cache"
    cache.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    # the kernels only cpu-vectorized computes (per-step, frozen) are the slowest: run them last
    slow = lambda h: "readout" in specs[h]["kernel"] or "frozen_layers" in specs[h]["kernel"]
    hyps = sorted((h for h in specs if h not in unavailable), key=slow)
    limit_min = args.max_unit_minutes or MAX_UNIT_MINUTES["quick" if quick else "full"]
    facts = {n: sizes(n, args.root) for n in names}
    restricted = {}

    def affordable(h):
        """The datasets on which hypothesis h runs; the others go to ``restricted`` with the estimate."""
        keep = []
        for n in names:
            est = unit_cost(specs[h], grid, facts[n])
            if est is not None and est > 60 * limit_min:
                restricted.setdefault(h, {})[n] = (f"est. {est / 60:.0f} min on one core > {limit_min:g} "
                                                   "(the mean read-out's Gram is O(T T') per pair)")
            else:
                keep.append(n)
        return keep

    from rntk.experiments import exit_status, signal_name

    try:
        done = compute([(n, h) for h in hyps for n in affordable(h)], specs, grid, folds, args.root, cache,
                       quick, args.jobs)
        summ = summarize(done, names, hyps)
        combo, chosen = promising(summ, specs, done)
        gains = {fac: _cv_gains(fac, summ, done) for fac in FACTORS}
        if combo is not None and combo not in specs.values():
            specs["cv-promising"] = combo
            hyps.append("cv-promising")
            done.update(compute([(n, "cv-promising") for n in affordable("cv-promising")], specs, grid, folds,
                                args.root, cache, quick, args.jobs))
    except KeyboardInterrupt as e:
        print(f"ucr_gap: stopped by {signal_name(e)}; finished units are in {cache} (run again to resume)",
              file=sys.stderr)
        return exit_status(e)
    summ = summarize(done, names, hyps)
    # per dataset, the hypothesis with the best CV accuracy (ties: the order above, base first)
    sel = {}
    for n in names:
        cand = [(done[(n, h)]["cv_acc"], -i, h) for i, h in enumerate(hyps) if (n, h) in done]
        cv, _, h = max(cand)
        sel[n] = {"hypothesis": h, "cv_acc": cv, "test_acc": done[(n, h)]["test_acc"]}
    base_table = None
    tu = d / "table_ucr.json"
    if tu.exists():  # our full-grid RNTK of Table 1/2, for reference
        tab = json.loads(tu.read_text())["datasets"]
        base_table = {n: tab[n]["families"]["RNTK"]["test_acc"] for n in names if n in tab}
    write_json(d / "ucr_gap.json", {
        "quick": quick, "grid": grid, "C_paper": C_PAPER, "C_authors": C_AUTHORS, "cv_folds": folds,
        "seed": SEED, "datasets": names, "trailing": [n for n in names if n in TRAILING],
        "controls": [n for n in names if n in CONTROLS], "paper_rntk": {n: PAPER_RNTK.get(n) for n in names},
        "table_ucr_rntk_full_grid": base_table, "specs": specs, "factors": {f: list(v) for f, v in FACTORS.items()},
        "unavailable": unavailable, "restricted": restricted, "max_unit_minutes": limit_min,
        "mean_cell_seconds": MEAN_CELL_S, "promising_cv_gain": PROMISING_CV_GAIN, "cv_promising_levels": chosen,
        "cv_gains_by_factor": gains,
        "hypotheses": summ, "selected_over_hypotheses": sel,
        "wall_s_this_invocation": time.perf_counter() - t0,
        "unit_seconds": float(sum(r["wall_s"] for r in done.values())),
    })
    plot(d, names, hyps, done)
    for h in hyps:
        s = summ[h]
        if "mean_test" in s:
            print(f"{h:28s} test {s['mean_test']:6.2f}  cv {s['mean_cv']:6.2f}  best-any {s['mean_best_any']:6.2f}"
                  + ("" if s["complete"] else f"  ({s['n_datasets']} of {len(names)} datasets)"))
    for h, r in restricted.items():
        print(f"{h}: not run on {', '.join(r)} (over the {limit_min:g}-minute budget)")
    for h, e in unavailable.items():
        print(f"{h}: not available ({e})")
    return 0


def plot(d, names, hyps, done):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ref = np.array([PAPER_RNTK.get(n, np.nan) for n in names])
    fig, axes = plt.subplots(1, 2, figsize=(2.0 + 0.9 * len(names) * 2, 1.2 + 0.32 * len(hyps)), sharey=True)
    for ax, field, title in zip(axes, ("test_acc", "best_test_acc_any_setting"),
                                ("CV-selected test accuracy - paper", "best of grid - paper (diagnostic upper bound)")):
        M = np.array([[done[(n, h)][field] if (n, h) in done else np.nan for n in names] for h in hyps])
        if np.isnan(ref).all():  # no paper numbers (quick data): against the base instead
            M = M - M[0]
            title = title.replace("paper", "base")
        else:
            M = M - ref
        im = ax.imshow(M, cmap="RdBu", vmin=-15, vmax=15, aspect="auto")
        for (i, j), v in np.ndenumerate(M):
            ax.text(j, i, f"{v:.0f}" if np.isfinite(v) else "not run", ha="center", va="center",
                    fontsize=6 if np.isfinite(v) else 5, color="k" if np.isfinite(v) else "0.5")
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=40, ha="right", fontsize=7)
        ax.set_title(title, fontsize=8)
    axes[0].set_yticks(range(len(hyps)))
    axes[0].set_yticklabels(hyps, fontsize=7)
    fig.colorbar(im, ax=axes, shrink=0.6, label="points")
    save_figure(fig, d / "ucr_gap.png")


if __name__ == "__main__":
    sys.exit(main())
