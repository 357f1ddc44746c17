"""Benchmark: empirical NTK of a finite RNN, factored path vs full Jacobians.

N = 100 Gaussian sequences of length T = 20 (m = 1), one-layer ReLU RNN, NTK
parametrisation, float64, training Gram (N x N). Widths 256 ... 4096. The
Jacobian path (torch.func.jacrev, one parameter tensor at a time) needs about
N x n^2 x 8 bytes for W; it is skipped (and marked so) where that exceeds
``--jacobian-max-gb``. Both paths are timed in the same process (best of
``--repeat`` for runs under 2 s) and checked against each other.

Usage::

    python benchmarks/bench_empirical.py           # full
    python benchmarks/bench_empirical.py --quick   # smoke run

Writes benchmarks/results/bench_empirical.json (full) or
benchmarks/results/quick/bench_empirical.json, atomically.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def _best(fn, repeat):
    out, best = None, float("inf")
    for r in range(repeat):
        t = time.perf_counter()
        out = fn()
        el = time.perf_counter() - t
        best = min(best, el)
        if el > 2.0:
            break
    return out, best


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--jacobian-max-gb", type=float, default=6.0)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import torch

    from rntk import RNTK
    from rntk.empirical import RNN, empirical_ntk
    from rntk.testing import rel_frobenius

    N, T = (20, 10) if args.quick else (100, 20)
    widths = (64, 128, 256) if args.quick else (256, 512, 1024, 2048, 4096)
    X = np.random.default_rng(0).standard_normal((N, T))
    kernel = RNTK()
    rows = []
    for w in widths:
        net = RNN(kernel, w, 1, generator=w)
        empirical_ntk(net, X[:4])  # warm-up
        Kf, tf = _best(lambda: empirical_ntk(net, X, method="factored")[0], args.repeat)
        gb = N * w * w * 8 / 1e9
        row = {"width": w, "N": N, "T": T, "factored_s": tf, "jacobian_W_gb": gb}
        if gb <= args.jacobian_max_gb:
            Kj, tj = _best(lambda: empirical_ntk(net, X, method="jacobian")[0], args.repeat)
            row.update(jacobian_s=tj, ratio=tj / tf, rel_diff=rel_frobenius(Kf.numpy(), Kj.numpy()))
        else:
            row.update(jacobian_s=None, ratio=None, skipped=f"Jacobian of W needs {gb:.1f} GB")
        rows.append(row)
        print(f"n={w:5d}  factored {tf:8.3f}s  " + (
            f"jacobian {row['jacobian_s']:8.3f}s  ratio {row['ratio']:6.1f}x  agree {row['rel_diff']:.1e}"
            if row["jacobian_s"] is not None else row["skipped"]), flush=True)
    print("\n| width | factored (s) | Jacobian (s) | Jacobian / factored |\n|---|---|---|---|")
    for r in rows:
        j = f"{r['jacobian_s']:.3f}" if r["jacobian_s"] is not None else "skipped (memory)"
        q = f"{r['ratio']:.1f}x" if r["ratio"] is not None else "-"
        print(f"| {r['width']} | {r['factored_s']:.3f} | {j} | {q} |")
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE).stdout.strip()
    except OSError:
        commit = None
    facts = {"date_utc": dt.datetime.now(dt.timezone.utc).isoformat(), "python": platform.python_version(),
             "torch": torch.__version__, "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
             "machine": platform.machine(), "git_commit": commit}
    out = args.out or os.path.join(HERE, "results", "quick" if args.quick else "", "bench_empirical.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(out), suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump({"machine": facts, "rows": rows, "quick": args.quick}, f, indent=2)
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
