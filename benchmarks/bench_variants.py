"""Benchmark: the RNTK's variants against the plain kernel, same process, same data.

Each variant is timed on the backends that implement it, next to the plain
kernel on the same backend, and reported as a ratio (variant / plain):

* ``cpu-fused`` (the default): plain, ``direction="reversed"`` and
  ``direction="bidirectional"`` at N = 1000, T = 500, L = 1 (float64);
* ``cpu-vectorized``: plain, ``frozen_layers``, ``readout="per-step"`` and
  bidirectional at N = 300, T = 200, L = 2 (float64). The fused kernels do
  not implement frozen layers or the per-step read-out yet, so those ratios
  are against the vectorized plain kernel.

Usage::

    python benchmarks/bench_variants.py           # full
    python benchmarks/bench_variants.py --quick   # smoke run

Writes benchmarks/results/bench_variants.json (full) or
benchmarks/results/quick/bench_variants.json, atomically.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import tempfile
import time

import numpy as np

from rntk import RNTK

HERE = os.path.dirname(os.path.abspath(__file__))
REPEAT = 3  # best of this many calls, after one warm-up call

FULL = {"fused": (1000, 500, 1), "vectorized": (300, 200, 2)}
QUICK = {"fused": (120, 60, 1), "vectorized": (60, 40, 2)}

VARIANTS = {
    "cpu-fused": [("plain", {}), ("reversed", {"direction": "reversed"}),
                  ("bidirectional", {"direction": "bidirectional"})],
    "cpu-vectorized": [("plain", {}), ("frozen_layers=1", {"frozen_layers": 1}),
                       ("readout=per-step", {"readout": "per-step"}),
                       ("bidirectional", {"direction": "bidirectional"})],
}


def _best(fn):
    fn()
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), times


def run(cfg):
    rows = []
    for backend, size_key in (("cpu-fused", "fused"), ("cpu-vectorized", "vectorized")):
        N, T, L = cfg[size_key]
        X = np.random.default_rng(0).standard_normal((N, T))
        plain_s = None
        for name, kw in VARIANTS[backend]:
            k = RNTK(n_layers=L, sigma_b=0.1, **kw)
            best, times = _best(lambda k=k: k.gram(X, backend=backend))
            plain_s = best if name == "plain" else plain_s
            row = {"backend": backend, "variant": name, "N": N, "T": T, "L": L, "time_s": best,
                   "repeat_times_s": times, "ratio_to_plain": best / plain_s}
            rows.append(row)
            print(f"{backend:15s} {name:18s} N={N} T={T} L={L}: {best:.4f} s  x{row['ratio_to_plain']:.2f}",
                  flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    ap.add_argument("--out", help="JSON path (default: benchmarks/results/[quick/]bench_variants.json)")
    args = ap.parse_args(argv)
    out = args.out or os.path.join(HERE, "results", *(["quick"] if args.quick else []), "bench_variants.json")
    t0 = time.perf_counter()
    rows = run(QUICK if args.quick else FULL)
    result = {
        "benchmark": "bench_variants", "mode": "quick" if args.quick else "full",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "timing_rule": f"best of {REPEAT} calls after one warm-up, same process", "rows": rows,
        "total_wall_s": time.perf_counter() - t0,
    }
    os.makedirs(os.path.dirname(out), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(out), suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(result, f, indent=1)
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
