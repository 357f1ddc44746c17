"""The paper's finite RNN baselines (Table 1/2 columns "Gaussian RNN", "Identity
RNN", "GRU") on the three small UCR sets shipped with rntk.

Per dataset and model: ``rntk.estimators.rnn_grid_search`` over hidden in
{50, 100} and RMSProp learning rate in {1e-2, 1e-3} (a corner of the paper's
grid: L in {1, 2}, n in {50 .. 500}, eta in {1e-2 .. 1e-5}, 5-fold CV), one
layer, at most 200 epochs, early stopping after 5 epochs without a better
accuracy on a stratified 20 % hold-out of the training set (the paper's rule;
ours is a hold-out, not 5-fold CV). Series as loaded (no unit-norm scaling);
trailing NaN = shorter series (packed). One seed; torch on one thread.

Run from the repository root: ``python3 benchmarks/rnn_baselines_ucr.py``
(about 2-4 minutes on 2 cores). Writes ``benchmarks/results/rnn_baselines_ucr.json``
(``--out`` to change).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATASETS = ("Trace", "SynthCBF", "SynthVarLenSines")
PAPER = {"Trace": {"gaussian": 70.0, "identity": 71.0, "gru": 100.0}}  # Table 2 (the others are ours)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "rnn_baselines_ucr.json")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from rntk.datasets import load_ucr
    from rntk.estimators import RNN_INITS, rnn_grid_search

    res = {}
    for name in DATASETS:
        X, y = load_ucr(name, "train")
        Xt, yt = load_ucr(name, "test")
        res[name] = {}
        for init in RNN_INITS:
            t0 = time.perf_counter()
            r = rnn_grid_search(X, y, Xt, yt, init=init, hidden=(50, 100), lr=(1e-2, 1e-3), seed=0)
            res[name][init] = {"test_acc": 100 * r.test_acc, "val_acc": 100 * r.val_acc,
                               "params": r.params, "best_epoch": r.best_epoch, "epochs_run": r.epochs_run,
                               "wall_s": time.perf_counter() - t0,
                               "paper_acc": PAPER.get(name, {}).get(init)}
            print(f"{name:18s} {init:9s} test {100 * r.test_acc:5.1f} %  (val {100 * r.val_acc:5.1f} %, "
                  f"{r.params}, best epoch {r.best_epoch}/{r.epochs_run}, "
                  f"{time.perf_counter() - t0:.1f} s)", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"datasets": res, "grid": {"hidden": [50, 100], "lr": [1e-2, 1e-3]},
                                    "n_layers": 1, "max_epochs": 200, "patience": 5,
                                    "validation": "stratified 20 % hold-out", "seed": 0},
                                   indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
