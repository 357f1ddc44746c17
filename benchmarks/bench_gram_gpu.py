"""GPU benchmark of the RNTK Gram matrix (CuPy): fused CUDA kernel vs the vectorised path.

Times ``RNTK(n_layers=1).gram(X, backend=...)`` (symmetric training Gram,
relu, default sigmas, univariate sequences given as CuPy arrays so the result
stays on the device) for N in {1000, 10000, 50000}, T in {100, 500}, float32
and float64, with the fused kernel ("gpu-fused") and the per-step vectorised
array-namespace path ("gpu-vectorized") in the same run. GPU timing: one
warm-up call per configuration (compilation, caches), then CUDA events around
the call with a device synchronisation; best of 3 when a call takes < 1 s.

Arithmetic floor: pairs x T x (operations per pair-step) / measured peak, the
peak measured here by an FMA-throughput kernel in each precision, and the
operation count of ``rntk_pair`` counted by hand (``OPS_PER_PAIR_STEP``; an
FMA counts 2, sqrt, division and acos count as the instruction sequences CUDA
uses for them). "fraction of floor" = floor / measured: 1.0 would be the whole
device busy with useful arithmetic.

Usage (on a GPU machine)::

    python benchmarks/bench_gram_gpu.py            # full grid
    python benchmarks/bench_gram_gpu.py --quick    # N <= 2000, T = 100

Writes ``benchmarks/results/bench_gram_gpu.json`` (or ``results/quick/``).
Not yet run in this repository (no GPU was available when it was written).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)

FULL = {"Ns": (1000, 10_000, 50_000), "Ts": (100, 500), "dtypes": ("float32", "float64"),
        "vectorized_max_s": 120.0}
QUICK = {"Ns": (500, 2000), "Ts": (100,), "dtypes": ("float32", "float64"), "vectorized_max_s": 20.0}
# relu, L = 1, m = 1, per pair-step: dot 1, inp 1, sig 2 FMA (4), Q 2 FMA (4), dual: k1 k2 1,
# sqrt ~8, division ~8, clamps 4, acos ~24, pmt 1, sqrt(1 - c^2) 2 + 8, V 5, D 1
OPS_PER_PAIR_STEP = 72

PEAK_SRC = r"""
template <typename T>
__global__ void fma_peak(T* out, T a, T b, int n_iter) {
    T x0 = threadIdx.x, x1 = x0 + 1, x2 = x0 + 2, x3 = x0 + 3, x4 = x0 + 4, x5 = x0 + 5, x6 = x0 + 6, x7 = x0 + 7;
    for (int k = 0; k < n_iter; ++k) {
        x0 = x0 * a + b; x1 = x1 * a + b; x2 = x2 * a + b; x3 = x3 * a + b;
        x4 = x4 * a + b; x5 = x5 * a + b; x6 = x6 * a + b; x7 = x7 * a + b;
    }
    out[blockIdx.x * blockDim.x + threadIdx.x] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def measured_peak(cp, dtype):
    """FLOP/s of independent FMA chains (8 per thread) filling the device."""
    T = "float" if dtype == "float32" else "double"
    mod = cp.RawModule(code=PEAK_SRC, name_expressions=[f"fma_peak<{T}>"])
    k = mod.get_function(f"fma_peak<{T}>")
    sms = cp.cuda.Device().attributes["MultiProcessorCount"]
    blocks, threads, n_iter = sms * 32, 256, 4096
    out = cp.empty(blocks * threads, dtype=dtype)
    a, b = np.dtype(dtype).type(0.999), np.dtype(dtype).type(0.001)
    k((blocks,), (threads,), (out, a, b, np.int32(n_iter)))
    cp.cuda.Device().synchronize()
    e0, e1 = cp.cuda.Event(), cp.cuda.Event()
    e0.record()
    k((blocks,), (threads,), (out, a, b, np.int32(n_iter)))
    e1.record()
    e1.synchronize()
    sec = cp.cuda.get_elapsed_time(e0, e1) / 1e3
    return blocks * threads * n_iter * 8 * 2 / sec


def time_call(cp, fn):
    fn()  # warm-up: compilation and caches
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(3):
        e0, e1 = cp.cuda.Event(), cp.cuda.Event()
        e0.record()
        fn()
        e1.record()
        e1.synchronize()
        times.append(cp.cuda.get_elapsed_time(e0, e1) / 1e3)
        if times[-1] >= 1.0:
            break
    return min(times)


def device_facts(cp):
    dev = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    try:
        smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,clocks.max.sm,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True).stdout.strip()
    except OSError:
        smi = None
    return {"name": props["name"].decode() if isinstance(props["name"], bytes) else props["name"],
            "compute_capability": f"{props['major']}.{props['minor']}", "sm_count": props["multiProcessorCount"],
            "memory_gib": round(props["totalGlobalMem"] / 2**30, 1), "cupy": cp.__version__,
            "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(), "nvidia_smi": smi}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    import cupy as cp

    from rntk import RNTK

    cfg = QUICK if args.quick else FULL
    rng = np.random.default_rng(0)
    k = RNTK()
    facts = device_facts(cp)
    peaks = {dt: measured_peak(cp, dt) for dt in cfg["dtypes"]}
    log(f"device {facts['name']}; measured FMA peak " + ", ".join(f"{d}: {p / 1e12:.1f} TFLOP/s"
                                                                   for d, p in peaks.items()))
    rows = []
    for T in cfg["Ts"]:
        for N in cfg["Ns"]:
            X = cp.asarray(rng.standard_normal((N, T)))
            for dt in cfg["dtypes"]:
                pairs = N * (N - 1) / 2
                floor = pairs * T * OPS_PER_PAIR_STEP / peaks[dt]
                row = {"N": N, "T": T, "dtype": dt, "floor_s": floor}
                row["fused_s"] = time_call(cp, lambda: k.gram(X, backend="gpu-fused", dtype=dt))
                row["fraction_of_floor"] = floor / row["fused_s"]
                est = None
                prev = [r for r in rows if r["T"] == T and r["dtype"] == dt and r.get("vectorized_s")]
                if prev:
                    p = prev[-1]
                    est = p["vectorized_s"] * (pairs / (p["N"] * (p["N"] - 1) / 2))
                if est is None or est <= cfg["vectorized_max_s"]:
                    row["vectorized_s"] = time_call(cp, lambda: k.gram(X, backend="gpu-vectorized", dtype=dt))
                    row["speedup"] = row["vectorized_s"] / row["fused_s"]
                else:
                    row["vectorized_s"] = None
                    row["vectorized_skipped"] = f"estimated {est:.0f} s > {cfg['vectorized_max_s']} s"
                rows.append(row)
                log(f"N={N} T={T} {dt}: fused {row['fused_s']:.3f} s, vectorized {row.get('vectorized_s')}, "
                    f"floor {floor:.3f} s")
            del X
            cp.get_default_memory_pool().free_all_blocks()
    print(f"{'N':>6} {'T':>4} {'dtype':>8} {'fused s':>9} {'vector s':>9} {'speedup':>8} {'floor s':>8} {'of floor':>8}")
    for r in rows:
        v = f"{r['vectorized_s']:.3f}" if r.get("vectorized_s") else "skipped"
        sp = f"{r['speedup']:.1f}x" if r.get("speedup") else "-"
        print(f"{r['N']:>6} {r['T']:>4} {r['dtype']:>8} {r['fused_s']:>9.3f} {v:>9} {sp:>8} {r['floor_s']:>8.3f} "
              f"{r['fraction_of_floor']:>8.2f}")
    out = args.out or os.path.join(HERE, "results", "quick" if args.quick else "", "bench_gram_gpu.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    data = {"benchmark": "RNTK Gram on the GPU (symmetric, relu, L = 1)", "mode": "quick" if args.quick else "full",
            "config": {k_: list(v) if isinstance(v, tuple) else v for k_, v in cfg.items()},
            "ops_per_pair_step": OPS_PER_PAIR_STEP, "measured_peak_flops": peaks, "device": facts,
            "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "rows": rows}
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
