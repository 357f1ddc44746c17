"""ReNT's Full baseline: a training recipe per task, chosen on the validation split (issue 21).

The grid (stated, small): learner {GRU, LSTM} x hidden {64, 128} x Adam
learning rate {1e-3, 2e-3}; one layer, cosine decay stepped per epoch, batch
64, 15 epochs, inputs standardised with the training split's statistics, the
whole training split (no subset), seed 0. The paper's learner (2-layer tanh
Elman RNN, raw inputs, constant step, the earlier tiers' width, rate and
batch) is trained alongside as a reference row and is not eligible.

Selection uses the validation split only: with ``--choose`` the recipe with
the best validation metric over its epochs (accuracy; MSE for the regression
tasks) is chosen, and only then is its best-validation checkpoint evaluated,
once, on the test split (``full_test``). Without it the search trains and
records validation results only, so that it can be extended (``--extend``)
before any test result exists. Each configuration is one unit: a trainer run
with a history and checkpoint after every epoch under ``<out>/rent_recipe_runs/<task>/<recipe>/``,
and ``<out>/rent_recipe.json`` is rewritten atomically after every unit, with
each configuration's validation curve, best validation metric, seconds per
epoch and wall time. Run the same command again to resume: finished units are
read back, an interrupted one continues from its last epoch.

``--extend``: a second stage for the tasks of this invocation, decided from the
first stage's validation results only (before any test split is read), for a task
whose best validation metric still rises with width and rate and comes in the
last epochs: GRU / LSTM x hidden 256 x lr {2e-3, 4e-3} (15 epochs), and GRU / LSTM
x hidden 128 x lr 2e-3 over 30 epochs. The choice is then among both stages;
the JSON records which tasks were extended and the first stage's winner then.

``--quick``: narma10 and regime-tagging, 96 training sequences, GRU/LSTM x
hidden 8 x lr 1e-2, 3 epochs (exercises the pipeline only).
"""
from __future__ import annotations

import sys
import time

import numpy as np

from _common import out_dir, parser, save_figure, write_json

TASKS = ("crop", "electric-devices", "crop-forecast", "co2")
QUICK = dict(tasks=("narma10", "regime-tagging"), max_train=96, max_eval=128,
             grid=dict(hidden=(8,), lr=(1e-2,), epochs=3))
SEED = 0


def _grid(task_name, quick, epochs):
    from rntk.rent import elman_reference, recipe_grid

    kw = dict(QUICK["grid"]) if quick else {}
    if epochs is not None:
        kw["epochs"] = epochs
    ref = elman_reference(task_name, kw.get("epochs", 15))
    if quick:
        ref = type(ref)(**{**ref.to_dict(), "hidden": 8})
    return recipe_grid(**kw), ref


def _extension(quick, epochs):
    """The second stage (``--extend``): wider, faster-stepping and longer runs."""
    from rntk.rent import recipe_grid

    if quick:
        return recipe_grid(hidden=(16,), lr=(1e-2,), epochs=epochs or 3)
    e = epochs or 15
    return recipe_grid(hidden=(256,), lr=(2e-3, 4e-3), epochs=e) + recipe_grid(hidden=(128,), lr=(2e-3,),
                                                                               epochs=2 * e)


EXTENSION = ("GRU / LSTM x hidden 256 x lr 2e-3 / 4e-3 (15 epochs), and GRU / LSTM x hidden 128 x lr 2e-3 over "
             "30 epochs; cosine, batch 64, standardised, 1 layer")


def _subset(data, n):
    from rntk.rent import SequenceData

    if n is None or len(data) <= n:
        return data
    idx = np.sort(np.random.default_rng(0).choice(len(data), n, replace=False))
    return SequenceData(data.X[idx], data.lengths[idx], data.y[idx])


def _unit(task, splits, recipe, run_dir, test=False):
    """Train (or resume, or read back) one configuration; its record. ``test``: also evaluate
    the best-validation checkpoint on the test split (the chosen recipe only)."""
    import torch

    from rntk.rent import train

    tr, va, te = splits
    cfg = recipe.config("full", task.task, SEED)
    t0 = time.perf_counter()
    hist = train(recipe.model(task, SEED), tr, va, cfg, test_data=te if test else None, out_dir=run_dir,
                 device="cpu")
    wall = time.perf_counter() - t0
    key = "accuracy" if task.task == "classification" else "mse"
    curve = [r["val"][key] for r in hist["epochs"]]
    best = int(np.argmax(curve) if key == "accuracy" else np.argmin(curve))
    last = hist["epochs"][-1]
    st = last["select_s"] + last["train_s"]
    rec = {"recipe": recipe.to_dict(), "val_curve": curve, "best_val": curve[best], "best_epoch": best,
           "epochs_done": len(curve), "select_train_s": st, "val_s": last["val_s"],
           "s_per_epoch": st / len(curve), "wall_s": st + last["val_s"], "wall_s_last_call": wall,
           "n_train": hist["n_train"], "torch_threads": torch.get_num_threads()}
    if hist.get("test") is not None:
        rec["test"] = hist["test"]["best_val"]
    return rec


def _plot(doc, path):
    """Validation curve of every configuration, one panel per task (the chosen one thick)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = doc["tasks"]
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(4.8 * max(1, len(tasks)), 3.8), squeeze=False)
    for ax, (name, entry) in zip(axes[0], tasks.items()):
        for i, (key, u) in enumerate(entry["units"].items()):
            ax.plot(np.arange(1, len(u["val_curve"]) + 1), u["val_curve"], "-" if u["eligible"] else ":",
                    color=f"C{i}", lw=2.5 if key == entry.get("chosen") else 1, label=key)
        ax.set(xlabel="epoch", ylabel=f"validation {entry['metric']}", title=name)
        if entry["metric"] == "mse":
            ax.set_yscale("log")
        ax.legend(fontsize=5)
    fig.suptitle("recipe search: validation metric per epoch (thick: chosen; dotted: Elman reference)", fontsize=9)
    save_figure(fig, path)


def _better(key, a, b):
    return a > b if key == "accuracy" else a < b


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--tasks", nargs="+", default=None, help=f"default: {' '.join(TASKS)} (in this order)")
    p.add_argument("--epochs", type=int, default=None, help="override the grid's 15 epochs")
    p.add_argument("--extend", action="store_true", help="add the second stage for these tasks (see above)")
    p.add_argument("--choose", action="store_true", help="choose on validation, then read the test split once")
    args = p.parse_args(argv)
    import torch

    from rntk.rent import load_task

    torch.set_num_threads(1)  # one process on a shared 2-core machine
    out = out_dir(args)
    tasks = args.tasks or (QUICK["tasks"] if args.quick else TASKS)
    max_train, max_eval = (QUICK["max_train"], QUICK["max_eval"]) if args.quick else (None, None)
    path = out / "rent_recipe.json"
    from rntk.experiments import load_cached

    doc = load_cached(path, lambda d: isinstance(d["tasks"], dict)) or {"tasks": {}}
    doc.update({
        "experiment": "issue 21: a Full baseline chosen on the validation split",
        "grid": {"learner": ["gru", "lstm"], "hidden": [8] if args.quick else [64, 128],
                 "lr": [1e-2] if args.quick else [1e-3, 2e-3], "n_layers": 1, "batch_size": 64,
                 "epochs": args.epochs or (3 if args.quick else 15), "lr_schedule": "cosine (per epoch)",
                 "standardize": "per feature, training split", "seed": SEED,
                 "reference": "elman_reference(task): 2-layer tanh Elman, raw inputs, constant lr (not eligible)",
                 "extension": EXTENSION},
        "selection": "best validation metric over the epochs (accuracy; MSE for regression); the test split is "
                     "evaluated once, for the chosen recipe, after all configurations have been trained",
        "note": "one process, one torch thread, on a shared 2-core CPU machine (other jobs running): times are "
                "upper bounds of a quiet machine's",
    })
    for name in tasks:
        task = load_task(name, seed=0, max_train=max_train)
        task.val, task.test = _subset(task.val, max_eval), _subset(task.test, max_eval)
        key = "accuracy" if task.task == "classification" else "mse"
        grid, ref = _grid(name, args.quick, args.epochs)
        entry = doc["tasks"].get(name, {})
        if args.extend and "extended_after" not in entry:
            # recorded once, from the first stage's validation results (the test split is not read before
            # a choice, so it cannot have been read here)
            if "full_test" in entry:
                raise SystemExit(f"--extend {name}: a recipe was already chosen and tested; the search cannot "
                                 "be extended after the test split has been read")
            done = {k: u for k, u in entry.get("units", {}).items() if u["eligible"]}
            if len(done) < len(grid):
                raise SystemExit(f"--extend {name}: run the first stage to its end first")
            win = max(done, key=lambda k: done[k]["best_val"] * (1 if task.task == "classification" else -1))
            entry["extended_after"] = {"winner": win, "best_val": done[win]["best_val"],
                                       "best_epoch": done[win]["best_epoch"], "epochs": done[win]["epochs_done"]}
        if "extended_after" in entry:
            grid = grid + _extension(args.quick, args.epochs)
        entry.update({"kind": task.task, "metric": key, "n_train": len(task.train), "n_val": len(task.val),
                      "n_test": len(task.test), "reference": ref.name})
        units = entry.setdefault("units", {})
        runs = out / "rent_recipe_runs" / name
        for recipe in [*grid, ref]:
            splits = recipe.splits(task)
            rec = _unit(task, splits, recipe, runs / recipe.name)
            rec["eligible"] = recipe is not ref
            rec.pop("test", None)  # never read during the search
            units[recipe.name] = rec
            doc["tasks"][name] = entry
            write_json(path, doc)
            print(f"{name:16s} {recipe.name:40s} best val {key} {rec['best_val']:.4f} (epoch {rec['best_epoch']})"
                  f"  {rec['s_per_epoch']:.2f} s/epoch  {rec['wall_s']:.0f} s", flush=True)
        if not args.choose or "full_test" in entry:
            if "full_test" in entry:  # chosen (and tested) before: the choice stands
                print(f"{name}: chosen earlier {entry['chosen']}", flush=True)
                _plot(doc, out / "rent_recipe.png")
                continue
            names = [r.name for r in grid]
            lead = max(names, key=lambda n: units[n]["best_val"] * (1 if key == "accuracy" else -1))
            print(f"{name}: validation leader {lead} ({key} {units[lead]['best_val']:.4f}); not chosen yet "
                  "(--choose reads the test split)", flush=True)
            _plot(doc, out / "rent_recipe.png")
            continue
        names = [r.name for r in grid]
        chosen = names[0]
        for n in names[1:]:
            if _better(key, units[n]["best_val"], units[chosen]["best_val"]):
                chosen = n
        recipe = next(r for r in grid if r.name == chosen)
        final = _unit(task, recipe.splits(task), recipe, runs / chosen, test=True)
        entry.update({"chosen": chosen, "chosen_recipe": recipe.to_dict(), "chosen_val": units[chosen]["best_val"],
                      "full_test": final["test"]})
        doc["tasks"][name] = entry
        write_json(path, doc)
        _plot(doc, out / "rent_recipe.png")
        print(f"{name}: chosen {chosen} (val {key} {units[chosen]['best_val']:.4f}); "
              f"test {key} {final['test'][key]:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("rent_recipe: stopped; finished units and per-epoch checkpoints are kept (run again to resume)",
              file=sys.stderr)
        sys.exit(130)
