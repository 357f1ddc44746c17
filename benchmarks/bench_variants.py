"""Benchmark: the RNTK's variants against the plain kernel, same process, same data.

Each variant is timed on a backend next to the plain kernel of the same depth
on that backend, calls interleaved round by round, and reported as a ratio
(variant / plain):

* ``cpu-fused`` (the default), N = 1000, T = 500, float64: at L = 1 plain,
  ``direction="reversed"``, ``direction="bidirectional"`` and
  ``readout="per-step"``; at L = 2 plain, ``frozen_layers=1`` and
  ``frozen_layers=2``;
* ``cpu-vectorized``: plain, ``frozen_layers``, ``readout="per-step"`` and
  bidirectional at N = 300, T = 200, L = 2 (float64);
* ``readout="mean"`` at N = 200, T = 100, L = 1 on ``cpu-fused`` and on
  ``cpu-vectorized``, each against the plain fused kernel: the mean read-out's
  kernel sums over all step pairs (t, t'), so its ratio to plain grows with T.

Usage::

    python benchmarks/bench_variants.py           # full
    python benchmarks/bench_variants.py --quick   # smoke run

Writes benchmarks/results/bench_variants.json (full) or
benchmarks/results/quick/bench_variants.json, atomically.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from functools import partial

import numpy as np
from _bench import interleaved, write_json_atomic

from rntk import RNTK

HERE = os.path.dirname(os.path.abspath(__file__))
REPEAT = 3  # best of this many calls, after one warm-up call

FULL = {"fused": (1000, 500), "vectorized": (300, 200), "mean": (200, 100)}
QUICK = {"fused": (120, 60), "vectorized": (60, 40), "mean": (30, 20)}

# (backend, size key, n_layers, variants): ratios are to the group's "plain"
GROUPS = [
    ("cpu-fused", "fused", 1, [("plain", {}), ("reversed", {"direction": "reversed"}),
                               ("bidirectional", {"direction": "bidirectional"}),
                               ("readout=per-step", {"readout": "per-step"})]),
    ("cpu-fused", "fused", 2, [("plain", {}), ("frozen_layers=1", {"frozen_layers": 1}),
                               ("frozen_layers=2", {"frozen_layers": 2})]),
    ("cpu-vectorized", "vectorized", 2, [("plain", {}), ("frozen_layers=1", {"frozen_layers": 1}),
                                         ("readout=per-step", {"readout": "per-step"}),
                                         ("bidirectional", {"direction": "bidirectional"})]),
    ("cpu-fused", "mean", 1, [("plain", {}), ("readout=mean", {"readout": "mean"}),
                              ("readout=mean (cpu-vectorized)", {"readout": "mean", "backend": "cpu-vectorized"})]),
]


def run(cfg):
    rows = []
    for backend, size_key, L, variants in GROUPS:
        N, T = cfg[size_key]
        X = np.random.default_rng(0).standard_normal((N, T))
        calls = {}
        for name, kw in variants:
            kw = dict(kw)
            be = kw.pop("backend", backend)
            calls[name] = partial(RNTK(n_layers=L, sigma_b=0.1, **kw).gram, X, backend=be)
        timed = interleaved(calls, REPEAT)
        plain_s = timed["plain"][0]
        for name, (best, times) in timed.items():
            row = {"backend": "cpu-vectorized" if "(cpu-vectorized)" in name else backend, "variant": name, "N": N, "T": T, "L": L, "time_s": best,
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
        "timing_rule": f"best of {REPEAT} calls after one warm-up, interleaved with the plain kernel "
                       "in the same process", "rows": rows,
        "total_wall_s": time.perf_counter() - t0,
    }
    write_json_atomic(out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
