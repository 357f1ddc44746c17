"""ReNT efficiency benchmark (experiment R-6, with the selection overhead of R-7).

Does greedy example selection (ReNT-B, ReNT-S) reach the validation quality
of full training sooner, and does the *teacher* matter beyond the subset
schedule? Every method trains the same model (2-layer tanh Elman RNN, Adam,
constant step) for the same epochs on the offline tasks of
the random twins use the same partitions, ratios and
triggers but pick uniformly (the decisive control), and budget-full trains on
everything with the same number of backward samples as ReNT's schedule.
Schedules (experiment R-6): regression Step + Incremental, r0 = 0.1; classification
and element level R-Step + Constant (every 5 epochs), r0 = 0.7, r_min = 0.4.

Time-to-target: the first epoch whose validation metric is within 1 % of
Full's best (MSE; the protocol names MAE) or 0.5 accuracy points, in select + train
seconds (validation excluded; same for every method). Tiers:
* ``--quick``: CI-sized (two synthetic element-level tasks, 96 sequences,
  4 epochs, 1 seed): exercises the pipeline, says nothing about the claim;
* ``--tier smoke``: the protocol's smoke tier (1 seed, 10 epochs, <= 5k training
  sequences, every task whose data are installed);
* ``--tier seeds``: the smoke sizes with 3 seeds on the sequence-level tasks:
  about an hour on 2 cores, but Full is cut at 10 epochs, before its plateau;
* ``--tier plateau``: the seeds tier's four tasks with 3 seeds and <= 2000
  training sequences; Full trains until its validation metric has not
  improved for 5 epochs (at most 50), the other methods 25 epochs: the largest
  tier with a converged target that fits a 2-core machine in about an hour;
* ``--tier full`` (default without --quick): 5 seeds, Table-4-like epochs; Full
  trains until its validation metric has not improved for 10 epochs (at most 150).
* ``--tier recipe`` (issue 21): every method trains each task's recipe, chosen on the
  validation split by ``verify/rent_recipe.py`` (read from ``<out>/rent_recipe.json``;
  GRU or LSTM, inputs standardised on the training split, Adam with cosine decay, its
  batch size and epochs), on the whole training sets, 5 seeds, crop, electric-devices,
  crop-forecast and co2. Full trains the recipe's whole cosine schedule (which anneals
  the step to ~0: its converged run) and its mean best validation metric is the
  target; RHO-LOSS is left out (optional in the issue). With ``--quick``: the quick
  recipes (``rent_recipe.py --quick``) on narma10 and regime-tagging, 96 sequences, 2 seeds.
  The result has top-level ``seeds``, ``recipes`` and ``full_test_accuracy`` (task ->
  Full's mean test accuracy; ``full_test_mse`` for the regression tasks).
``--seeds``, ``--epochs`` and ``--max-train`` override a tier's values (the recipe tier
takes its epochs from the recipes, and ``--seeds k`` trains the first k seeds of the
5-seed tier's own units, so that the tier can finish in pieces: seeds 1, then 3, then 5).
``--jobs J`` trains J runs at once in worker processes (one torch thread each;
the runs then share the machine, which the note of the output records).
Every run is resumable (trainer checkpoints under ``<out>/rent_runs/``); Ctrl-C
or SIGTERM stop within seconds, keeping finished runs and checkpoints, and
workers die with a killed parent.

``--r7``: experiment R-7 instead: on crop-forecast (Step, r0 in {0.05, 0.1,
0.2, 0.3, 0.5, 1.0}) and segment tagging (R-Step, r0 in {0.6, 0.7, 0.8,
0.9}), ReNT-B, ReNT-S and ReNT-S with fused scoring, 1 seed: the selection
share of select + train time, and the r0 from which ReNT is slower than Full.
"""
from __future__ import annotations

import sys
import time

import numpy as np

from _common import out_dir, parser, save_figure, write_json

METHODS = ("full", "budget-full", "rent-b", "random-b", "rent-s", "random-s", "selective-backprop", "obs", "rho-loss")
TWIN = {"rent-b": "random-b", "rent-s": "random-s"}
SEQUENCE_TASKS = ("crop-forecast", "co2", "crop", "electric-devices", "forda")
ALL_TASKS = SEQUENCE_TASKS + ("narma10", "regime-tagging", "segment-tagging")
TIERS = {
    "quick": dict(tasks=("narma10", "regime-tagging"), max_train=96, max_eval=128, epochs=4, seeds=1, hidden=16),
    "smoke": dict(tasks=ALL_TASKS, max_train=5000, max_eval=2000, epochs=10, seeds=1, hidden=None),
    "seeds": dict(tasks=SEQUENCE_TASKS, max_train=5000, max_eval=2000, epochs=10, seeds=3, hidden=None),
    # the largest tier with a plateaued Full that fits a 2-core machine in about an hour
    "plateau": dict(tasks=("crop-forecast", "co2", "crop", "electric-devices"), max_train=2000, max_eval=1000,
                    epochs=25, seeds=3, hidden=None, full_epochs=50, plateau_patience=5,
                    # R-5 is measured in the seeds tier; with Incremental triggers its gradient
                    # norms (kept out of the timers) took 5/6 of a ReNT run's wall time
                    r5=False),
    # Full runs until its validation metric has plateaued (at most full_epochs), so that
    # the target (its best) is not one it only reaches in its last epoch
    "full": dict(tasks=ALL_TASKS, max_train=None, max_eval=None, epochs=30, seeds=5, hidden=None,
                 full_epochs=150, plateau_patience=10),
    # issue 21: every method at the recipe chosen on validation (epochs: the recipe's)
    "recipe": dict(tasks=("crop", "electric-devices", "crop-forecast", "co2"), max_train=None, max_eval=None,
                   epochs=None, seeds=5, hidden=None, recipe=True, methods=METHODS[:-1]),
}
QUICK_RECIPE = dict(tasks=("narma10", "regime-tagging"), max_train=96, max_eval=128, seeds=2)
RELATIVE_COST = {"forda": 8, "narma10": 4, "regime-tagging": 4, "segment-tagging": 4, "electric-devices": 2}
R7 = {"crop-forecast": ("step", (0.05, 0.1, 0.2, 0.3, 0.5, 1.0)), "segment-tagging": ("r-step", (0.6, 0.7, 0.8, 0.9))}
R7_METHODS = (("full", False), ("rent-b", False), ("rent-s", False), ("rent-s", True))


def _schedule(task):
    """The task's default schedule and training settings (the same registry as ``rntk rent train``)."""
    from rntk.rent import default_schedule, default_training

    return {**default_schedule(task.name), **default_training(task.name)}


def _subset(data, n, seed=0):
    """A seeded random subset: UCR files are sorted by class, so a prefix would not do."""
    from rntk.rent import SequenceData

    if n is None or len(data) <= n:
        return data
    idx = np.sort(np.random.default_rng(seed).choice(len(data), n, replace=False))
    return SequenceData(data.X[idx], data.lengths[idx], data.y[idx])


def _metric(task_kind, rec):
    """Larger is better: accuracy, or -MSE."""
    return rec["val"]["accuracy"] if task_kind == "classification" else -rec["val"]["mse"]


def _reached(task_kind, value, best):
    if task_kind == "classification":
        return value >= best - 0.005
    return -value <= 1.01 * -best


def run_one(spec: dict) -> str:
    """Train one (task, method, seed) run to completion (resumable); returns its history path.

    Runs in a worker process: loads its own task, one torch thread.
    """
    import torch

    from rntk.rent import RentConfig, SequenceModel, train
    from rntk.rent import load_task

    torch.set_num_threads(1)
    task = load_task(spec["task"], seed=0, max_train=spec["max_train"])
    if "recipe" in spec:
        return _run_recipe(spec, task)
    val, test = _subset(task.val, spec["max_eval"]), _subset(task.test, spec["max_eval"])
    sch = _schedule(task)
    hidden = spec["hidden"] or sch["hidden"]
    sch = {k: v for k, v in sch.items() if k != "hidden"}
    sch.update(spec.get("override", {}))
    cfg = RentConfig(method=spec["method"], task=task.task, epochs=spec["epochs"], seed=spec["seed"],
                     measure_amplification=spec.get("amplification", False), **sch)
    torch.manual_seed(spec["seed"])
    model = SequenceModel("elman", task.input_dim, hidden, 2, task.out_dim, level=task.level)
    t0 = time.perf_counter()
    train(model, task.train, val, cfg, test_data=test, device=None, out_dir=spec["out"], progress=False)
    print(f"{spec['task']:16s} {spec['label']:14s} seed {spec['seed']}: {time.perf_counter() - t0:6.1f} s wall",
          flush=True)
    return str(spec["out"])


def _run_recipe(spec, task):
    """run_one at the task's recipe: its learner, standardised splits, optimiser, batch size and
    epochs; the method's selection schedule is the task's default one."""
    from rntk.rent import Recipe, default_schedule, train

    recipe = Recipe.from_dict(spec["recipe"])
    task.val, task.test = _subset(task.val, spec["max_eval"]), _subset(task.test, spec["max_eval"])
    tr, val, test = recipe.splits(task)  # statistics of the training split only
    cfg = recipe.config(spec["method"], task.task, spec["seed"], measure_amplification=spec.get("amplification", False),
                        **default_schedule(task.name))
    t0 = time.perf_counter()
    train(recipe.model(task, spec["seed"]), tr, val, cfg, test_data=test, device=None, out_dir=spec["out"])
    print(f"{spec['task']:16s} {spec['label']:18s} seed {spec['seed']}: {time.perf_counter() - t0:6.1f} s wall",
          flush=True)
    return str(spec["out"])


def load_recipes(out, tasks, flags="") -> dict:
    """task -> the recipe chosen by verify/rent_recipe.py (``<out>/rent_recipe.json``).

    SystemExit naming the command to run when the search has not chosen one for a task.
    """
    import json

    path = out / "rent_recipe.json"
    doc = json.loads(path.read_text()) if path.is_file() else {"tasks": {}}
    missing = [t for t in tasks if "chosen_recipe" not in doc["tasks"].get(t, {})]
    if missing:
        raise SystemExit(f"no recipe chosen for {missing} in {path}: run "
                         f"`python3 verify/rent_recipe.py{flags} --tasks {' '.join(missing)}` first")
    return {t: doc["tasks"][t]["chosen_recipe"] for t in tasks}


def run_all(specs, jobs):
    """Run the specs (largest first when parallel); finished runs are read back from disk.

    Ctrl-C, SIGTERM or an error in a run cancel the queued runs and stop the
    running ones (``rntk.experiments.run_units``); finished runs and the
    per-epoch checkpoints of stopped ones are kept for the next invocation.
    """
    import json
    from pathlib import Path

    from rntk.experiments import run_units

    # longest runs first, so that the last ones running in parallel are short
    todo = sorted((s for s in specs if not _finished(s)), key=lambda s: -RELATIVE_COST.get(s["task"], 1))
    run_units(run_one, [(s,) for s in todo], n_jobs=jobs, threads_per_unit=1)
    return [json.loads((Path(s["out"]) / "history.json").read_text()) for s in specs]


def _finished(spec) -> bool:
    """Whether the run of ``spec`` has ended; a damaged history is named and the run redone.

    The trainer writes ``history.json`` atomically and rewrites it from its
    checkpoint, so a damaged file concerns that run only, and is replaced.
    """
    from pathlib import Path

    from rntk.experiments import load_cached

    # "test" is written once, when the run has ended (its last epoch or its plateau); a
    # run asked for with other epochs is not this one
    h = load_cached(Path(spec["out"]) / "history.json",
                    lambda h: "test" in h and h["config"]["epochs"] == spec["epochs"])
    return h is not None


def _mean_se(values):
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    if v.size == 0:
        return None, None
    return float(v.mean()), (float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else None)


def _ratio_per_seed(ttt, reference):
    """Each seed's time-to-target over the mean of ``reference``'s (another method's, per seed).

    None where the seed never reached the target, or where no seed of the reference did.
    """
    reached = [t for t in reference if t is not None]
    ref = float(np.mean(reached)) if reached else None
    return [None if t is None or ref is None else t / ref for t in ttt]


def _median_ratio(ratios):
    """The median of per-seed ratios, a seed that never reached counting as infinitely slow.

    None when the median seed never reached (or there are no seeds).
    """
    if not ratios:
        return None
    m = float(np.median([np.inf if r is None else r for r in ratios]))
    return m if np.isfinite(m) else None


def summarize_r6(kinds, per):
    """Per task and method: time-to-target, totals, overhead, test metric, R-5; P1/P2 per task.

    Besides the mean time-to-target over the seeds that reached the target (``ttt_vs_full``,
    biased towards ReNT when few seeds reach it), each ReNT variant gets per-seed ratios
    (``ttt_vs_full_per_seed``: a seed's time-to-target over Full's mean; None where the seed
    never reached it) and their median, a seed that never reached counting as infinitely slow.
    ``p1_ttt`` is issue 21's P1 on that median (<= 0.75 x Full); ``p1`` stays R-6's (total time
    <= 0.75 x Full and a non-inferior test metric). P2's time criterion is the same median
    against the random twin (<= 0.9). ``class_mix_tv`` is the mean total-variation
    distance between the chosen subsets' class mix and the training set's (classification).
    """
    summary = {}
    for name, kind in kinds.items():
        hists = per[name]
        best_full = np.mean([max(_metric(kind, r) for r in h["epochs"]) for h in hists["full"]])
        key = "accuracy" if kind == "classification" else "mse"
        s = {"target": float(best_full), "metric": key, "methods": {}}
        for method, hs in hists.items():
            ttt, tot, over, test = [], [], [], []
            for h in hs:
                hit = [r for r in h["epochs"] if _reached(kind, _metric(kind, r), best_full)]
                ttt.append(hit[0]["select_s"] + hit[0]["train_s"] if hit else np.nan)
                last = h["epochs"][-1]
                tot.append(last["select_s"] + last["train_s"])
                over.append(last["select_s"] / max(1e-12, last["select_s"] + last["train_s"]))
                test.append(h["test"]["best_val"][key])
            m_ttt, se_ttt = _mean_se(ttt)
            m_test, se_test = _mean_se(test)
            m = {"time_to_target_s": m_ttt, "time_to_target_se": se_ttt,
                 "reached_target": int(np.isfinite(ttt).sum()), "seeds": len(hs),
                 "select_train_s": float(np.mean(tot)), "selection_overhead": float(np.mean(over)),
                 "test_best_val": m_test, "test_best_val_se": se_test, "test_per_seed": [float(t) for t in test],
                 "backward_samples": float(np.mean([h["totals"]["backward_samples"] for h in hs])),
                 "ttt_per_seed": [float(t) if np.isfinite(t) else None for t in ttt]}
            m["run_s"] = float(np.mean([h["totals"]["select_s"] + h["totals"]["train_s"] + h["totals"]["val_s"]
                                        for h in hs]))
            tv = [r["class_mix_tv"] for h in hs for r in h["epochs"] if r.get("class_mix_tv") is not None]
            m["class_mix_tv"] = float(np.mean(tv)) if tv else None
            amp = [r["grad_amplification"] for h in hs for r in h["epochs"] if "grad_amplification" in r]
            if amp:  # ratio >= 1.2 at >= 80 % of triggers
                m["grad_amplification"] = {"median": float(np.median(amp)),
                                           "fraction_ge_1.2": float(np.mean(np.array(amp) >= 1.2)),
                                           "n_triggers": len(amp)}
            s["methods"][method] = m
        m = s["methods"]
        s["seconds_per_seed"] = float(sum(v["run_s"] for v in m.values()))  # every method once, one process
        full = m["full"]
        for method in ("rent-b", "rent-s"):
            a, tw = m[method], m[TWIN[method]]
            a["time_vs_full"] = a["select_train_s"] / full["select_train_s"]
            a["ttt_vs_full"] = (a["time_to_target_s"] / full["time_to_target_s"]
                                if a["time_to_target_s"] and full["time_to_target_s"] else None)
            a["ttt_vs_random_twin"] = (a["time_to_target_s"] / tw["time_to_target_s"]
                                       if a["time_to_target_s"] and tw["time_to_target_s"] else None)
            a["ttt_vs_full_per_seed"] = _ratio_per_seed(a["ttt_per_seed"], full["ttt_per_seed"])
            a["ttt_vs_twin_per_seed"] = _ratio_per_seed(a["ttt_per_seed"], tw["ttt_per_seed"])
            a["ttt_vs_full_median"] = _median_ratio(a["ttt_vs_full_per_seed"])
            a["ttt_vs_twin_median"] = _median_ratio(a["ttt_vs_twin_per_seed"])
            a["p1_ttt"] = bool(a["ttt_vs_full_median"] is not None and a["ttt_vs_full_median"] <= 0.75)
            # P1 non-inferiority (experiment R-6): MSE <= 1.02 Full + 2 SE, ACC >= Full - max(0.5 pt, 2 SE)
            se = full["test_best_val_se"] or 0.0
            if kind == "classification":
                a["non_inferior"] = a["test_best_val"] >= full["test_best_val"] - max(0.005, 2 * se)
            else:
                a["non_inferior"] = a["test_best_val"] <= 1.02 * full["test_best_val"] + 2 * se
            a["p1"] = bool(a["time_vs_full"] <= 0.75 and a["non_inferior"])
            # P2: >= 10 % faster to target than the twin (the per-seed median, as for P1), or a better
            # test metric by > 2 SE
            better_ttt = a["ttt_vs_twin_median"] is not None and a["ttt_vs_twin_median"] <= 0.9
            d = (a["test_best_val"] - tw["test_best_val"]) * (1 if kind == "classification" else -1)
            se2 = np.hypot(a["test_best_val_se"] or 0.0, tw["test_best_val_se"] or 0.0)
            a["p2"] = bool(better_ttt or (se2 > 0 and d > 2 * se2))
        summary[name] = s
    return summary


def _verdicts(summary, seeds):
    seq = [v for v in summary.values()]
    out = {}
    for method in ("rent-b", "rent-s"):
        p1 = sum(v["methods"][method]["p1"] for v in seq)
        p2 = sum(v["methods"][method]["p2"] for v in seq)
        p1_ttt = sum(v["methods"][method]["p1_ttt"] for v in seq)
        out[method] = {"P1_tasks_passed": int(p1), "P1_ttt_tasks_passed": int(p1_ttt), "P2_tasks_passed": int(p2),
                       "tasks": len(seq)}
    enough = seeds >= 5
    out["P1"] = ("supported" if out["rent-b"]["P1_tasks_passed"] >= 3 else "not supported") + (
        "" if enough else f" (indicative: {seeds} seed(s); the protocol asks for >= 5)")
    out["P1_ttt"] = ("supported" if out["rent-b"]["P1_ttt_tasks_passed"] >= 3 else "not supported") + (
        "" if enough else f" (indicative: {seeds} seed(s))")
    out["P2"] = ("the teacher helps beyond the schedule" if min(out[m]["P2_tasks_passed"] for m in TWIN)
                 >= len(seq) / 2 else "savings come from the subset schedule, not from teaching") + (
        "" if enough else f" (indicative: {seeds} seed(s))")
    return out


def _plot_curves(kinds, per, summary, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(kinds))
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 3.8), squeeze=False)
    for ax, (name, kind) in zip(axes[0], kinds.items()):
        for i, (method, hs) in enumerate(per[name].items()):
            # mean over seeds at each epoch, with a +-1 SE band (x: mean time at that epoch);
            # runs stopped at their plateau differ in length: the mean covers the epochs all have
            n_ep = min(len(h["epochs"]) for h in hs)
            t = np.mean([[r["select_s"] + r["train_s"] for r in h["epochs"][:n_ep]] for h in hs], axis=0)
            v = np.array([[r["val"]["accuracy"] if kind == "classification" else r["val"]["mse"]
                           for r in h["epochs"][:n_ep]] for h in hs])
            mu = v.mean(axis=0)
            style = "-" if method.startswith(("rent", "full")) else "--"
            ax.plot(t, mu, style, marker=".", color=f"C{i}", label=method)
            if len(hs) > 1:
                se = v.std(axis=0, ddof=1) / np.sqrt(len(hs))
                ax.fill_between(t, mu - se, mu + se, color=f"C{i}", alpha=0.15)
        best = summary[name]["target"]  # _metric's sign: -MSE for regression
        ax.axhline(best if kind == "classification" else -best, color="0.3", ls=":", lw=1,
                   label="target (Full's mean best)")
        ax.set(xlabel="select + train time (s)", ylabel="val accuracy" if kind == "classification" else "val MSE",
               title=f"{name}")
        if kind != "classification":
            ax.set_yscale("log")
        ax.legend(fontsize=6)
    fig.suptitle(title, fontsize=10)
    save_figure(fig, path)


def main_r6(args, tier, cfg_t, out):
    from rntk.rent import Recipe, load_task

    base = TIERS[tier]
    # a recipe run depends on its task, recipe (in its path), method, seed and data sizes: a tier
    # with fewer seeds is the first seeds of the same units, which a larger one reuses
    keys = ("max_train",) if cfg_t.get("recipe") else ("seeds", "epochs", "max_train")
    changed = [f"{k[0]}{cfg_t[k]}" for k in keys if cfg_t[k] != base[k]]
    runs_dir = out / "rent_runs" / "-".join([tier, *changed])  # overridden tiers never reuse other runs
    tasks = args.tasks or cfg_t["tasks"]
    methods = cfg_t.get("methods", METHODS)
    flags = (" --quick" if args.quick else "") + (f" --out {args.out}" if args.out else "")
    recipes = load_recipes(out, tasks, flags) if cfg_t.get("recipe") else {}
    specs, kinds, skipped = [], {}, {}
    for name in tasks:
        try:
            task = load_task(name, seed=0, max_train=cfg_t["max_train"])
        except (ImportError, LookupError) as e:
            skipped[name] = str(e).splitlines()[0]
            print(f"skip {name}: {skipped[name]}")
            continue
        kinds[name] = task.task
        if recipes:
            recipe = Recipe.from_dict(recipes[name])
            for method in methods:
                for seed in range(cfg_t["seeds"]):
                    # the recipe's name in the path: runs of another recipe are never reused
                    specs.append(dict(task=name, method=method, label=method, seed=seed, epochs=recipe.epochs,
                                      recipe=recipe.to_dict(), max_train=cfg_t["max_train"],
                                      max_eval=cfg_t["max_eval"], amplification=False,
                                      out=runs_dir / name / recipe.name / method / f"seed{seed}"))
            continue
        for method in METHODS:
            plateau = method == "full" and "plateau_patience" in cfg_t
            for seed in range(cfg_t["seeds"]):
                specs.append(dict(task=name, method=method, label=method, seed=seed,
                                  epochs=cfg_t["full_epochs"] if plateau else cfg_t["epochs"],
                                  override={"plateau_patience": cfg_t["plateau_patience"]} if plateau else {},
                                  max_train=cfg_t["max_train"], max_eval=cfg_t["max_eval"], hidden=cfg_t["hidden"],
                                  amplification=cfg_t.get("r5", True) and method in ("rent-b", "rent-s"),
                                  out=runs_dir / name / method / f"seed{seed}"))
    t0 = time.perf_counter()
    hists = run_all(specs, args.jobs)
    per = {name: {m: [] for m in methods} for name in kinds}
    for spec, h in zip(specs, hists):
        per[spec["task"]][spec["method"]].append(h)
    summary = summarize_r6(kinds, per)
    result = {
        "experiment": "R-6/R-7: ReNT efficiency vs Full, budget-matched Full and random twins",
        "tier": tier, "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg_t.items()},
        "jobs": args.jobs, "skipped_tasks": skipped, "summary": summary,
        "verdict": _verdicts(summary, cfg_t["seeds"]),
        "wall_s_this_invocation": time.perf_counter() - t0,
        "seeds": cfg_t["seeds"], "methods": list(methods),
        "note": (f"{cfg_t['seeds']} seed(s); time-to-target and totals are select + train seconds on the CPU"
                 + (f", {args.jobs} runs at a time (each on its own core, sharing memory bandwidth)"
                    if args.jobs > 1 else "")
                 + ". P1/P2 need >= 5 seeds to be a test of the paper's claim."),
    }
    if recipes:
        result["recipes"] = {t: {**r, "name": Recipe.from_dict(r).name} for t, r in recipes.items() if t in kinds}
        result["recipe_search"] = "rent_recipe.json"
    full_test = {name: s["methods"]["full"]["test_best_val"] for name, s in summary.items()}
    result["full_test_accuracy"] = {t: v for t, v in full_test.items() if kinds[t] == "classification"}
    result["full_test_mse"] = {t: v for t, v in full_test.items() if kinds[t] != "classification"}
    write_json(out / f"rent_benchmark_{tier}.json", result)
    _plot_curves(kinds, per, summary, out / f"rent_benchmark_{tier}.png",
                 f"validation metric vs select + train time ({tier} tier, mean of {cfg_t['seeds']} seed(s), "
                 "band: +-1 SE)")
    for name, s in summary.items():
        for method, v in s["methods"].items():
            ttt = "-" if v["time_to_target_s"] is None else f"{v['time_to_target_s']:.1f}"
            print(f"{name:16s} {method:18s} ttt {ttt:>7s}  total {v['select_train_s']:7.1f} s  "
                  f"overhead {100 * v['selection_overhead']:5.1f} %  test {v['test_best_val']:.4f}")
    print(result["verdict"])
    return 0


def main_r7(args, out):
    from rntk.rent import load_task

    tasks = args.tasks or list(R7)
    max_train = args.max_train or 2000
    epochs = args.epochs or 10
    runs_dir = out / "rent_runs" / "r7"
    specs = []
    for name in tasks:
        if name not in R7:
            raise SystemExit(f"--r7 runs on {sorted(R7)}, not {name!r}")
        load_task(name, seed=0, max_train=max_train)  # fails early when data are missing
        ratio, r0s = R7[name]
        for method, fused in R7_METHODS:
            for r0 in (r0s if method != "full" else (1.0,)):
                label = method + ("-fused" if fused else "")
                specs.append(dict(task=name, method=method, label=label, seed=0, epochs=epochs, max_train=max_train,
                                  max_eval=1000, hidden=None, r0=r0,
                                  override={"ratio": ratio, "r0": r0, "fused": fused},
                                  out=runs_dir / name / label / f"r0_{r0:g}"))
    t0 = time.perf_counter()
    hists = run_all(specs, args.jobs)
    res = {}
    for spec, h in zip(specs, hists):
        last = h["epochs"][-1]
        st = last["select_s"] + last["train_s"]
        res.setdefault(spec["task"], {}).setdefault(spec["label"], {})[f"{spec['r0']:g}"] = {
            "select_s": last["select_s"], "train_s": last["train_s"], "select_share": last["select_s"] / st,
            "select_train_s": st, "val_s": last["val_s"], "backward_samples": h["totals"]["backward_samples"],
            "forward_samples": h["totals"]["forward_samples"], "test_best_val": h["test"]["best_val"]}
    for name, by in res.items():
        full_t = by["full"]["1"]["select_train_s"]
        for label, rows in by.items():
            if label == "full":
                continue
            for row in rows.values():
                row["time_vs_full"] = row["select_train_s"] / full_t
            slower = [float(r0) for r0, row in rows.items() if row["time_vs_full"] > 1.0]
            rows["_slower_than_full_from_r0"] = min(slower) if slower else None
    write_json(out / "rent_r7.json", {"experiment": "R-7: selection overhead and init-ratio sensitivity",
                                      "epochs": epochs, "max_train": max_train, "seed": 0, "jobs": args.jobs,
                                      "results": res, "wall_s_this_invocation": time.perf_counter() - t0})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(res), figsize=(4.8 * len(res), 6.4), squeeze=False)
    for j, (name, by) in enumerate(res.items()):
        for i, (label, rows) in enumerate(by.items()):
            if label == "full":
                continue
            r0 = sorted(float(k) for k in rows if not k.startswith("_"))
            axes[0, j].plot(r0, [100 * rows[f"{r:g}"]["select_share"] for r in r0], marker="o", color=f"C{i}",
                            label=label)
            axes[1, j].plot(r0, [rows[f"{r:g}"]["time_vs_full"] for r in r0], marker="o", color=f"C{i}", label=label)
        axes[0, j].axhline(15, color="0.5", ls=":", lw=0.8)
        axes[1, j].axhline(1.0, color="0.5", ls=":", lw=0.8)
        axes[0, j].set(title=f"{name}: selection share", ylabel="select / (select + train) (%)")
        axes[1, j].set(xlabel="r0", ylabel="select + train time / Full's")
        axes[0, j].legend(fontsize=7)
    save_figure(fig, out / "rent_r7.png")
    for name, by in res.items():
        for label, rows in by.items():
            for r0, row in rows.items():
                if not r0.startswith("_"):
                    print(f"{name:16s} {label:14s} r0 {r0:>4s}: select {100 * row['select_share']:5.1f} %  "
                          f"time/Full {row.get('time_vs_full', 1.0):.2f}")
    return 0


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--tier", choices=[t for t in TIERS if t != "quick"], default=None,
                   help="without --quick: full (default)")
    p.add_argument("--tasks", nargs="+", default=None, help="subset of the tier's tasks")
    p.add_argument("--seeds", type=int, default=None, help="override the tier's number of seeds")
    p.add_argument("--epochs", type=int, default=None, help="override the tier's epochs")
    p.add_argument("--max-train", type=int, default=None, help="override the tier's training-set cap")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once (worker processes)")
    p.add_argument("--r7", action="store_true", help="experiment R-7 (init-ratio sweep, overhead) instead of R-6")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be >= 1")
    import torch

    # small recurrent models on 2-core machines: a second intra-op thread mostly
    # spin-waits (measured 40x slower next to another process); GPU runs ignore this
    torch.set_num_threads(1)
    out = out_dir(args)
    try:
        if args.r7:
            return main_r7(args, out)
        recipe_tier = args.tier == "recipe"
        tier = "recipe" if recipe_tier else ("quick" if args.quick else (args.tier or "full"))
        cfg_t = dict(TIERS[tier])
        if recipe_tier and args.quick:
            cfg_t.update(QUICK_RECIPE)
        if recipe_tier and args.epochs is not None:
            p.error("--tier recipe trains each recipe's own epochs (choose them in verify/rent_recipe.py)")
        for k in ("seeds", "epochs", "max_train"):
            if getattr(args, k) is not None:
                cfg_t[k] = getattr(args, k)
        return main_r6(args, tier, cfg_t, out)
    except KeyboardInterrupt as e:
        from rntk.experiments import exit_status, signal_name

        print(f"rent_benchmark: stopped by {signal_name(e)}; finished runs and the checkpoints of "
              f"stopped ones are kept under {out / 'rent_runs'} (run the same command again to resume)",
              file=sys.stderr)
        return exit_status(e)


if __name__ == "__main__":
    sys.exit(main())
