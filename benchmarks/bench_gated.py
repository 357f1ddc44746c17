"""Benchmark: the gated kernels' backends against each other, same process, same data.

``GRUNTK`` and ``LSTMNTK(cell_activation="identity")`` (sigma_w = 1.5, sigma_u =
3, sigma_b = 0.1, and once more with a gate bias mean of 4), training Gram of
N sequences of length T (m = 1, standard normal, seeded): ``cpu-fused`` (numba,
the default) against ``cpu-series`` (the same tables and recursion, vectorised
in numpy), calls interleaved round by round; ``cpu-vectorized`` (2-D
Gauss-Hermite) once at a smaller N. Reported: seconds, the ratio to
``cpu-series``, and microseconds per (pair x time step).

Usage::

    python benchmarks/bench_gated.py           # full (N = 150, T = 100)
    python benchmarks/bench_gated.py --quick   # smoke run

Writes benchmarks/results/bench_gated.json (full) or
benchmarks/results/quick/bench_gated.json, atomically.
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

from rntk import GRUNTK, LSTMNTK

HERE = os.path.dirname(os.path.abspath(__file__))
REPEAT = 3  # best of this many calls, after one warm-up call
FULL = {"N": 150, "T": 100, "N_quadrature": 30}
QUICK = {"N": 20, "T": 10, "N_quadrature": 8}
HYP = {"sigma_w": 1.5, "sigma_u": 3.0, "sigma_b": 0.1}
KERNELS = {
    "GRU": GRUNTK(**HYP),
    "GRU, update_bias = 4": GRUNTK(**HYP, update_bias=4.0),
    "LSTM h = o*c": LSTMNTK(**HYP, cell_activation="identity"),
    "LSTM h = o*c, forget_bias = 4": LSTMNTK(**HYP, cell_activation="identity", forget_bias=4.0),
}


def run(cfg):
    rows = []
    rng = np.random.default_rng(0)
    N, T, Nq = cfg["N"], cfg["T"], cfg["N_quadrature"]
    X = rng.standard_normal((N, T))
    for kname, k in KERNELS.items():
        for n, backends in ((N, ("cpu-fused", "cpu-series")), (Nq, ("cpu-series", "cpu-vectorized"))):
            timed = interleaved({b: partial(k.gram, X[:n], backend=b) for b in backends}, REPEAT)
            base = timed["cpu-series"][0]
            cells = n * (n - 1) / 2 * T
            for b, (best, times) in timed.items():
                if n == Nq and b == "cpu-series":
                    continue  # timed only as the quadrature's baseline
                row = {"kernel": kname, "backend": b, "N": n, "T": T, "time_s": best, "repeat_times_s": times,
                       "ratio_to_cpu_series": best / base, "us_per_pair_step": 1e6 * best / cells}
                rows.append(row)
                print(f"{kname:32s} {b:15s} N={n:4d} T={T}: {best:8.3f} s  x{row['ratio_to_cpu_series']:.3f} "
                      f"of cpu-series  {row['us_per_pair_step']:.3f} us/(pair step)", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (seconds)")
    ap.add_argument("--out", help="JSON path (default: benchmarks/results/[quick/]bench_gated.json)")
    args = ap.parse_args(argv)
    out = args.out or os.path.join(HERE, "results", *(["quick"] if args.quick else []), "bench_gated.json")
    t0 = time.perf_counter()
    rows = run(QUICK if args.quick else FULL)
    import numba

    result = {
        "benchmark": "bench_gated", "mode": "quick" if args.quick else "full",
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "numba_threads": numba.get_num_threads(), "python": platform.python_version(),
                    "loadavg_at_end": list(os.getloadavg())},
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "timing_rule": f"best of {REPEAT} calls after one warm-up, backends interleaved in the same process",
        "rows": rows, "total_wall_s": time.perf_counter() - t0,
    }
    write_json_atomic(out, result)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
