"""ReNT efficiency benchmark (experiment R-6, with the selection overhead of R-7).

Does greedy example selection (ReNT-B, ReNT-S) reach the validation quality
of full training sooner, and does the *teacher* matter beyond the subset
schedule? Every method trains the same model (2-layer tanh Elman RNN, Adam,
constant step) for the same epochs on the offline tasks of
rent-theory-spec §2; the random twins use the same partitions, ratios and
triggers but pick uniformly (the decisive control), and budget-full trains on
everything with the same number of backward samples as ReNT's schedule.
Schedules (spec R-6): regression Step + Incremental, r0 = 0.1; classification
and element level R-Step + Constant (every 5 epochs), r0 = 0.7, r_min = 0.4.

Time-to-target: the first epoch whose validation metric is within 1 % of
Full's best (MSE; spec: MAE) or 0.5 accuracy points, in select + train
seconds (validation excluded; same for every method). Tiers:
* ``--quick``: CI-sized (two synthetic element-level tasks, 96 sequences,
  4 epochs, 1 seed): exercises the pipeline, says nothing about the claim;
* ``--tier smoke``: spec's smoke tier (1 seed, 10 epochs, <= 5k training
  sequences, every task whose data are installed);
* ``--tier full`` (default without --quick): 5 seeds, Table-4-like epochs.
Every run is resumable (trainer checkpoints under ``<out>/rent_runs/``).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from _common import out_dir, parser, save_figure, write_json

METHODS = ("full", "budget-full", "rent-b", "random-b", "rent-s", "random-s", "selective-backprop", "obs", "rho-loss")
TWIN = {"rent-b": "random-b", "rent-s": "random-s"}
TIERS = {
    "quick": dict(tasks=("narma10", "regime-tagging"), max_train=96, max_eval=128, epochs=4, seeds=1, hidden=16),
    "smoke": dict(tasks=("crop-forecast", "co2", "crop", "electric-devices", "forda", "narma10",
                         "regime-tagging", "segment-tagging"), max_train=5000, max_eval=2000, epochs=10, seeds=1,
                  hidden=None),
    "full": dict(tasks=("crop-forecast", "co2", "crop", "electric-devices", "forda", "narma10",
                        "regime-tagging", "segment-tagging"), max_train=None, max_eval=None, epochs=30, seeds=5,
                 hidden=None),
}


def _schedule(task):
    if task.task == "regression" and task.level == "sequence":
        return dict(ratio="step", r0=0.1, trigger="incremental", lr=1e-3, hidden=128, batch_size=32)
    return dict(ratio="r-step", r0=0.7, r_min=0.4, trigger="constant", every=5, lr=2e-3, hidden=64, batch_size=32)


def _subset(data, n, seed=0):
    """A seeded random subset: UCR files are sorted by class, so a prefix would not do."""
    from rntk.rent import SequenceData

    if n is None or len(data) <= n:
        return data
    idx = np.sort(np.random.default_rng(seed).choice(len(data), n, replace=False))
    return SequenceData(data.X[idx], data.lengths[idx], data.y[idx])


def _metric(task, rec):
    """Larger is better: accuracy, or -MSE."""
    return rec["val"]["accuracy"] if task.task == "classification" else -rec["val"]["mse"]


def _reached(task, value, best):
    if task.task == "classification":
        return value >= best - 0.005
    return -value <= 1.01 * -best


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--tier", choices=("smoke", "full"), default=None, help="without --quick: full (default)")
    p.add_argument("--tasks", nargs="+", default=None, help="subset of the tier's tasks")
    args = p.parse_args(argv)
    import torch

    from rntk.rent import RentConfig, SequenceModel, train
    from rntk.rent._tasks import load_task

    # small recurrent models on 2-core machines: a second intra-op thread mostly
    # spin-waits (measured 40x slower next to another process); GPU runs ignore this
    torch.set_num_threads(1)
    tier = "quick" if args.quick else (args.tier or "full")
    cfg_t = TIERS[tier]
    out = out_dir(args)
    runs_dir = out / "rent_runs" / tier
    tasks = args.tasks or cfg_t["tasks"]
    results, skipped = {}, {}
    for name in tasks:
        try:
            task = load_task(name, seed=0, max_train=cfg_t["max_train"])
        except (ImportError, LookupError) as e:
            skipped[name] = str(e).splitlines()[0]
            print(f"skip {name}: {skipped[name]}")
            continue
        val, test = _subset(task.val, cfg_t["max_eval"]), _subset(task.test, cfg_t["max_eval"])
        sch = _schedule(task)
        hidden = cfg_t["hidden"] or sch.pop("hidden")
        sch.pop("hidden", None)
        per = {}
        for method in METHODS:
            per[method] = []
            for seed in range(cfg_t["seeds"]):
                cfg = RentConfig(method=method, task=task.task, epochs=cfg_t["epochs"], seed=seed,
                                 measure_amplification=method in ("rent-b", "rent-s"), **sch)
                torch.manual_seed(seed)
                model = SequenceModel("elman", task.input_dim, hidden, 2, task.out_dim, level=task.level)
                t0 = time.perf_counter()
                hist = train(model, task.train, val, cfg, test_data=test, device=None,
                             out_dir=runs_dir / name / method / f"seed{seed}", progress=True)
                print(f"{name:16s} {method:12s} seed {seed}: {time.perf_counter() - t0:6.1f} s wall")
                per[method].append(hist)
        results[name] = (task, per)

    summary = {}
    for name, (task, per) in results.items():
        best_full = np.mean([max(_metric(task, r) for r in h["epochs"]) for h in per["full"]])
        summary[name] = {"target": float(best_full), "meta": task.meta, "methods": {}}
        for method, hs in per.items():
            ttt, tot, over, test = [], [], [], []
            for h in hs:
                hit = [r for r in h["epochs"] if _reached(task, _metric(task, r), best_full)]
                ttt.append(hit[0]["select_s"] + hit[0]["train_s"] if hit else np.nan)
                last = h["epochs"][-1]
                tot.append(last["select_s"] + last["train_s"])
                over.append(last["select_s"] / max(1e-12, last["select_s"] + last["train_s"]))
                key = "accuracy" if task.task == "classification" else "mse"
                test.append(h["test"]["best_val"][key])
            summary[name]["methods"][method] = {
                "time_to_target_s": float(np.nanmean(ttt)) if np.isfinite(ttt).any() else None,
                "reached_target": int(np.isfinite(ttt).sum()), "seeds": len(hs),
                "select_train_s": float(np.mean(tot)), "selection_overhead": float(np.mean(over)),
                "test_best_val": float(np.mean(test)),
                "backward_samples": float(np.mean([h["totals"]["backward_samples"] for h in hs])),
            }
            amp = [r["grad_amplification"] for h in hs for r in h["epochs"] if "grad_amplification" in r]
            if amp:  # ratio >= 1.2 at >= 80 % of triggers
                summary[name]["methods"][method]["grad_amplification"] = {
                    "median": float(np.median(amp)), "fraction_ge_1.2": float(np.mean(np.array(amp) >= 1.2)),
                    "n_triggers": len(amp)}
        m = summary[name]["methods"]
        for method in ("rent-b", "rent-s"):
            a, f, r = m[method]["time_to_target_s"], m["full"]["time_to_target_s"], m[TWIN[method]]["time_to_target_s"]
            m[method]["ttt_vs_full"] = a / f if a and f else None
            m[method]["ttt_vs_random_twin"] = a / r if a and r else None
            m[method]["time_vs_full"] = m[method]["select_train_s"] / m["full"]["select_train_s"]
    result = {
        "experiment": "R-6/R-7: ReNT efficiency vs Full, budget-matched Full and random twins",
        "tier": tier, "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg_t.items()},
        "skipped_tasks": skipped, "summary": summary,
        "verdict": "inconclusive" if tier != "full" else None,
        "note": "quick and smoke tiers have one seed: they exercise the pipeline and give first numbers, "
                "not a test of the paper's claim (P1/P2 need >= 5 seeds).",
    }
    if tier == "full":
        ok1 = [v["methods"]["rent-b"]["time_vs_full"] <= 0.75 for v in summary.values()]
        result["verdict"] = "supported" if sum(ok1) >= 3 else "not supported"
    write_json(out / "rent_benchmark.json", result)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(results))
    fig, axes = plt.subplots(1, n, figsize=(5 * n, 3.8), squeeze=False)
    for ax, (name, (task, per)) in zip(axes[0], results.items()):
        for method, hs in per.items():
            h = hs[0]
            t = [r["select_s"] + r["train_s"] for r in h["epochs"]]
            v = [r["val"]["accuracy"] if task.task == "classification" else r["val"]["mse"] for r in h["epochs"]]
            ax.plot(t, v, "-" if method.startswith(("rent", "full")) else "--", marker=".", label=method)
        ax.set(xlabel="select + train time (s)", ylabel="val accuracy" if task.task == "classification" else "val MSE",
               title=f"{name} ({tier}, seed 0)")
        if task.task != "classification":
            ax.set_yscale("log")
        ax.legend(fontsize=7)
    save_figure(fig, out / "rent_benchmark.png")
    for name, s in summary.items():
        for method, v in s["methods"].items():
            print(f"{name:16s} {method:12s} ttt {v['time_to_target_s']}  total {v['select_train_s']:.1f} s  "
                  f"overhead {100 * v['selection_overhead']:.1f} %  test {v['test_best_val']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
