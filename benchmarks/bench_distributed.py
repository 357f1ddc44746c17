"""Benchmark of ``rntk.distributed.gram`` on a LocalCluster against the in-process fused kernel.

Times the training Gram ``RNTK().gram(X)`` (relu, default sigmas, T = 100,
univariate standard normal series, equal lengths) two ways on the same cores:

* in process: the fused numba kernel with all its threads (numba's default);
* distributed: ``rntk.distributed.gram(kernel, X, client=...)`` on a running
  ``LocalCluster`` of one single-threaded worker process per core, results
  gathered into memory on the client.

Both are warm (compiled, the workers started and used once); the cluster's
start-up and first call are reported apart. Runs are interleaved (in process,
distributed, in process, ...) because the machine is shared, and
``overhead_ratio`` is the median distributed time over the median in-process
time. A tile-size sweep (smaller N) follows, then one run into a Zarr store,
whose per-tile compute times give the cost per pair step used by the
projection to N = 100k and 1M on 64 workers (assumptions in the JSON and in
``docs/distributed.md``).

Usage::

    python benchmarks/bench_distributed.py            # full: N = 20,000 (17 min on 2 cores shared at load ~9)
    python benchmarks/bench_distributed.py --quick    # smoke run (< 1 min)
    python benchmarks/bench_distributed.py --n 5000   # a reduced main size

Writes ``benchmarks/results/bench_distributed.json`` (full) or
``benchmarks/results/quick/bench_distributed.json`` (--quick) atomically, unless ``--out``.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
T = 100
FULL = {"n": 20000, "repeats": 3, "sweep_n": 8000, "tiles": (256, 512, 1024, 2048, 4096), "sweep_repeats": 1}
QUICK = {"n": 1200, "repeats": 2, "sweep_n": 800, "tiles": (100, 200, 400), "sweep_repeats": 1}
# the projection's assumptions (stated in the JSON and the docs)
PROJ_NS = (100_000, 1_000_000)
PROJ_WORKERS = 64
PROJ_STORE_GBPS = 1.0  # aggregate write bandwidth of the shared store, GB/s (assumed, not measured)
PROJ_TASK_S = 0.001  # scheduler time per task, s (dask's documented order of magnitude; assumed)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def _git(*args):
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=False)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_facts(n_workers):
    import dask
    import numba

    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.lower().startswith("model name")), cpu)
    except OSError:
        pass
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": cpu, "os_cpu_count": os.cpu_count(), "numba_num_threads": numba.get_num_threads(),
        "workers": n_workers, "threads_per_worker": 1, "python": platform.python_version(),
        "numpy": np.__version__, "numba": numba.__version__, "dask": dask.__version__,
        "git_commit": _git("rev-parse", "HEAD"),
        "loadavg_start": _loadavg(),
    }


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def pair_steps(n):
    """Pair steps of a training Gram of n length-T series (pairs j > i; the diagonal is O(N T))."""
    return n * (n - 1) // 2 * T


def write_json_atomic(path, obj):
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bench_distributed.", suffix=".json.tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def interleaved(k, X, client, tile, repeats):
    """Alternate in-process and distributed runs; their times (s)."""
    from rntk.distributed import gram

    here, dist, load = [], [], []
    for r in range(repeats):
        t, res = timed(lambda: k.gram(X))
        del res
        here.append(t)
        t, res = timed(lambda: gram(k, X, client=client, tile=tile, progress=False))
        del res
        dist.append(t)
        load.append(_loadavg())
        log(f"  N={len(X)} tile={tile} repeat {r}: in process {here[-1]:.2f} s, distributed {dist[-1]:.2f} s, "
            f"load {load[-1]}")
    return here, dist, load


def _loadavg():
    """The 1, 5 and 15 min load averages (what ``uptime`` prints): other jobs share the cores."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def projection(sec_per_pair_step, tile):
    rows = []
    for n in PROJ_NS:
        nb = -(-n // tile)
        tiles = nb * (nb + 1) // 2
        compute = sec_per_pair_step * pair_steps(n) / PROJ_WORKERS
        tile_s = sec_per_pair_step * tile * tile * T
        out_bytes = 2 * 8 * n * n  # ntk and nngp, float64, both triangles
        in_bytes = 8 * n * T * PROJ_WORKERS  # the series broadcast to every worker
        write = out_bytes / (PROJ_STORE_GBPS * 1e9)
        sched = tiles * PROJ_TASK_S
        rows.append({"n": n, "tiles": tiles, "tile": tile, "tile_compute_s": tile_s,
                     "compute_s": compute + tile_s,  # + the last tile (the tail)
                     "scheduler_s": sched, "output_bytes": out_bytes, "input_broadcast_bytes": in_bytes,
                     "store_write_s": write,
                     "projected_s": max(compute + tile_s, write, sched)})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smoke run (< 1 min)")
    ap.add_argument("--n", type=int, help="main N (default 20,000; quick 1,200)")
    ap.add_argument("--repeats", type=int, help="interleaved runs of each kind at the main N (default 3; quick 2)")
    ap.add_argument("--workers", type=int, default=os.cpu_count(), help="worker processes (default: one a core)")
    ap.add_argument("--out", help="JSON path")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL)
    if args.n:
        cfg["n"] = args.n
    if args.repeats:
        cfg["repeats"] = args.repeats
    out = args.out or os.path.join(HERE, "results", *(["quick"] if args.quick else []), "bench_distributed.json")

    from dask.distributed import Client, LocalCluster

    from rntk import RNTK
    from rntk.distributed import DEFAULT_TILE, gram

    k = RNTK()
    rng = np.random.default_rng([args.seed, T])
    X = rng.standard_normal((max(cfg["n"], cfg["sweep_n"]), T))
    k.gram(X[:64])  # compile (or load) the fused kernel here
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    client = Client(cluster)
    t_start = time.perf_counter() - t0
    t_first, _ = timed(lambda: gram(k, X[:64], client=client, tile=32, progress=False))
    log(f"cluster start {t_start:.1f} s, first call (workers import rntk, load the kernel) {t_first:.1f} s")
    doc = {"machine": machine_facts(args.workers), "quick": bool(args.quick), "T": T, "kernel": repr(k),
           "cluster_start_s": t_start, "first_call_s": t_first}
    try:
        n, tile = cfg["n"], min(DEFAULT_TILE, cfg["n"])
        log(f"main: N = {n}, tile = {tile}")
        here, dist, load = interleaved(k, X[:n], client, tile, cfg["repeats"])
        doc["main"] = {"n": n, "tile": tile, "in_process_s": here, "distributed_s": dist, "loadavg": load,
                       "pair_steps_per_s_in_process": pair_steps(n) / float(np.median(here))}
        doc["overhead_ratio"] = float(np.median(dist) / np.median(here))
        log(f"overhead_ratio {doc['overhead_ratio']:.3f}")
        sweep = []
        m = cfg["sweep_n"]
        for t in cfg["tiles"]:
            h, d, load = interleaved(k, X[:m], client, t, cfg["sweep_repeats"])
            nb = -(-m // t)
            sweep.append({"tile": t, "tiles": nb * (nb + 1) // 2, "in_process_s": h, "distributed_s": d,
                          "loadavg": load, "ratio": float(np.median(d) / np.median(h))})
        doc["sweep"] = {"n": m, "rows": sweep}
        with tempfile.TemporaryDirectory(dir=HERE) as tmp:
            t, res = timed(lambda: gram(k, X[:m], client=client, tile=min(DEFAULT_TILE, m),
                                        store=os.path.join(tmp, "K.zarr"), progress=False))
            secs = res.tile_seconds[np.isfinite(res.tile_seconds)]
            h, _ = timed(lambda: k.gram(X[:m]))
        per = float(secs.sum() / pair_steps(m))
        doc["store"] = {"n": m, "tile": min(DEFAULT_TILE, m), "wall_s": t, "in_process_s": h,
                        "ratio": t / h, "tile_compute_s_sum": float(secs.sum()),
                        "sec_per_pair_step_per_worker": per}
        doc["projection"] = {
            "assumptions": {
                "workers": PROJ_WORKERS, "threads_per_worker": 1, "T": T, "tile": DEFAULT_TILE,
                "sec_per_pair_step_per_worker": per,
                "per_worker_speed": "as one worker here (measured in the Zarr run above)",
                "store_write_GBps": PROJ_STORE_GBPS, "scheduler_s_per_task": PROJ_TASK_S,
                "output": "ntk and nngp, float64, both triangles written",
                "projected_s": "max(compute + one tile, store writes, scheduler): they overlap",
            },
            "rows": projection(per, DEFAULT_TILE),
        }
    finally:
        client.close()
        cluster.close()
    doc["machine"]["loadavg_end"] = _loadavg()
    write_json_atomic(out, doc)
    print("| N | tile | in process (s) | distributed (s) | ratio |\n|---|---|---|---|---|")
    mn = doc["main"]
    print(f"| {mn['n']} | {mn['tile']} | {np.median(mn['in_process_s']):.2f} | "
          f"{np.median(mn['distributed_s']):.2f} | {doc['overhead_ratio']:.3f} |")
    for r in doc["sweep"]["rows"]:
        print(f"| {doc['sweep']['n']} | {r['tile']} | {np.median(r['in_process_s']):.2f} | "
              f"{np.median(r['distributed_s']):.2f} | {r['ratio']:.3f} |")
    for r in doc["projection"]["rows"]:
        print(f"projection N={r['n']}: {r['tiles']} tiles, compute {r['compute_s']:.0f} s, "
              f"store writes {r['store_write_s']:.0f} s ({r['output_bytes'] / 1e12:.2f} TB)")
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
