"""Benchmark of the analytic RNTK Gram matrix on the CPU.

Times ``RNTK(n_layers=L).gram(X)`` (the symmetric training Gram, relu, default
sigmas) with the fused numba kernel (float64 and float32) and the vectorised
numpy path (float64), on equal-length and variable-length (trailing-NaN)
univariate sequences; reports numba compile time separately; times tslearn's
global alignment kernel (``cdist_gak``) on a small N with an explicitly marked
extrapolation; and relates the fused kernel's time to an arithmetic floor (the
dual activation alone). See ``benchmarks/README.md`` for what each column means.

Usage::

    python benchmarks/bench_gram.py            # full run (~10 min on 2 cores)
    python benchmarks/bench_gram.py --quick    # smoke run (< 1 min)

Writes ``benchmarks/results/bench_gram.json`` (full) or
``benchmarks/results/quick/bench_gram.json`` (--quick; git-ignored) unless
``--out`` is given. Progress goes to stderr, the tables to stdout.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

FULL = {
    "Ns": (250, 500, 1000, 2000), "Ts": (100, 500), "Ls": (1, 2),
    "numpy_max_s": 60.0, "gak_n": 100, "gak_target_n": 1000, "floor_case": (1000, 500, 1),
}
QUICK = {
    "Ns": (40, 80), "Ts": (20, 50), "Ls": (1, 2),
    "numpy_max_s": 5.0, "gak_n": 20, "gak_target_n": 80, "floor_case": (80, 50, 1),
}
FAST_S = 1.0  # a run shorter than this is repeated (best of 3)
N_REPEAT = 3


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- machine facts -------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 2)
    except OSError:
        pass
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 2)
    except (ValueError, OSError, AttributeError):
        return None


def _git(*args):
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10,
                             check=False)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _version(mod_name: str):
    try:
        mod = __import__(mod_name)
        return getattr(mod, "__version__", "unknown")
    except Exception as exc:  # noqa: BLE001 - any import failure is just recorded
        return f"not importable ({type(exc).__name__})"


def machine_facts() -> dict:
    import numba

    status = _git("status", "--porcelain", "--untracked-files=no")
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "os_cpu_count": os.cpu_count(),
        "cpus_available": affinity,
        "numba_num_threads": numba.get_num_threads(),
        "mem_total_gib": _mem_total_gib(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "tslearn": _version("tslearn"),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": None if status is None else bool(status),
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


# -- data ----------------------------------------------------------------------
_DATA_CACHE: dict = {}


def dataset(T: int, variable: bool, n: int, n_max: int, seed: int):
    """First ``n`` of ``n_max`` seeded sequences: (X (n, T) with trailing NaN, lengths)."""
    key = (T, variable, n_max, seed)
    if key not in _DATA_CACHE:
        rng = np.random.default_rng([seed, T, int(variable)])
        X = rng.standard_normal((n_max, T))
        if variable:
            lengths = rng.integers(T // 2, T + 1, size=n_max)  # uniform in [T/2, T]
            X[np.arange(T)[None, :] >= lengths[:, None]] = np.nan
        else:
            lengths = np.full(n_max, T, dtype=np.int64)
        _DATA_CACHE[key] = (X, lengths)
    X, lengths = _DATA_CACHE[key]
    return X[:n], lengths[:n]


def pair_steps(lengths: np.ndarray, L: int) -> int:
    """Sum over the N(N+1)/2 pairs i <= j of min(T_i, T_j) * L."""
    s = np.sort(np.asarray(lengths, dtype=np.int64))
    n = len(s)
    return int((s * (n - np.arange(n))).sum()) * L


# -- timing --------------------------------------------------------------------
def timed(fn):
    """Best of 3 for a run under FAST_S seconds, else the single run."""
    times = []
    t = time.perf_counter()
    out = fn()
    times.append(time.perf_counter() - t)
    if times[0] < FAST_S:
        for _ in range(N_REPEAT - 1):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
    return min(times), times, out


def _stats(dispatcher) -> dict:
    try:
        st = dispatcher.stats
        return {"cache_hits": int(sum(st.cache_hits.values())),
                "cache_misses": int(sum(st.cache_misses.values()))}
    except Exception:  # noqa: BLE001
        return {}


_COLD_SCRIPT = textwrap.dedent(
    """
    import json, time
    t0 = time.perf_counter()
    import numpy as np
    from rntk import RNTK
    from rntk.kernels._fused import fused_cross
    t_import = time.perf_counter() - t0
    X = np.random.default_rng(0).standard_normal((4, 5))
    out = {"import_s": t_import}
    for dt in DTYPES:
        t = time.perf_counter()
        RNTK().gram(X, backend="cpu-fused", dtype=dt)
        out["first_call_" + dt + "_s"] = time.perf_counter() - t
    st = fused_cross.stats
    out["cache_hits"] = int(sum(st.cache_hits.values()))
    out["cache_misses"] = int(sum(st.cache_misses.values()))
    print("JSON:" + json.dumps(out))
    """
)


def compile_times(cold: bool = True, cold_dtypes=("float64", "float32")) -> dict:
    """First calls in this process (cache load), then a cold compile in a subprocess."""
    from rntk import RNTK
    from rntk.kernels._fused import fused_cross

    X = np.random.default_rng(0).standard_normal((4, 5))
    res: dict = {"this_process": {}, "cold_subprocess": {}}
    for dt in ("float64", "float32"):
        t = time.perf_counter()
        RNTK().gram(X, backend="cpu-fused", dtype=dt)
        res["this_process"][f"first_call_{dt}_s"] = time.perf_counter() - t
    res["this_process"].update(_stats(fused_cross))
    res["this_process"]["note"] = (
        "first tiny call per dtype in the benchmark process: an on-disk cache load "
        "when cache_hits > 0, a compile when cache_misses > 0"
    )
    if not cold:
        res["cold_subprocess"] = {"skipped": True}
        return res
    with tempfile.TemporaryDirectory(prefix="rntk_numba_cold_") as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        t = time.perf_counter()
        try:
            script = f"DTYPES = {tuple(cold_dtypes)!r}\n" + _COLD_SCRIPT
            proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO,
                                  capture_output=True, text=True, timeout=900, check=False)
            wall = time.perf_counter() - t
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("JSON:")]
            if proc.returncode != 0 or not line:
                res["cold_subprocess"] = {"error": proc.stderr[-2000:]}
            else:
                res["cold_subprocess"] = json.loads(line[-1][5:])
                res["cold_subprocess"]["process_wall_s"] = wall
                res["cold_subprocess"]["note"] = (
                    "fresh interpreter, NUMBA_CACHE_DIR = new empty temp dir: "
                    "first tiny call per dtype = numba compile of fused_cross"
                )
        except subprocess.SubprocessError as exc:
            res["cold_subprocess"] = {"error": repr(exc)}
    return res


# -- arithmetic floor ----------------------------------------------------------
def dual_floor(n: int = 4096, reps: int = 6000) -> dict:
    """Time per element of the fused kernel's relu dual alone, one thread.

    The loop mirrors ``_rows`` of ``rntk/kernels/_fused.py`` (same ``_dual``, same
    fastmath flags, constants as a register tuple), minus the recursion: per
    element it reads sig, b1, b2 and writes (V, V'). ``a1`` changes per
    repetition so no repetition can be optimised away. The vector (n=4096,
    5 arrays ~160 KiB) stays in L2 cache, as the kernel's tile rows do.
    """
    from numba import njit

    from rntk.kernels import _fused as F

    # the activation argument of _dual: a compile-time marker array where the
    # kernel has one (RELU), else the older boolean ``erf`` flag (False = relu)
    kind = getattr(F, "RELU", False)
    _dual = F._dual

    @njit(fastmath=F._FLAGS, error_model="numpy")
    def dual_loop(kind, sig, b1, b2, a1s, a2, K, v_out, d_out):
        Kt = F.register_constants(K)
        nn = sig.shape[0]
        for r in range(a1s.shape[0]):
            a1 = a1s[r]
            for jj in range(nn):
                v, d = _dual(kind, sig[jj], a1, a2, b1[jj], b2[jj], Kt)
                v_out[jj] = v
                d_out[jj] = d

    rng = np.random.default_rng(0)
    sig = rng.uniform(-1.0, 1.0, n)  # covers both branches of the asin polynomial
    b1 = np.ones(n)
    b2 = np.ones(n)
    v = np.empty(n)
    d = np.empty(n)
    K = F.constants(np.float64)
    t = time.perf_counter()
    dual_loop(kind, sig, b1, b2, np.ones(2), 1.0, K, v, d)  # compile
    t_compile = time.perf_counter() - t
    a1s = 1.0 - 1e-12 * np.arange(reps)
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        dual_loop(kind, sig, b1, b2, a1s, 1.0, K, v, d)
        best = min(best, time.perf_counter() - t)
    return {"vector_length": n, "repetitions": reps, "elements": n * reps,
            "time_s": best, "ns_per_element_1thread": best / (n * reps) * 1e9,
            "compile_s": t_compile, "dtype": "float64", "activation": "relu"}


# -- main grid -----------------------------------------------------------------
def run_grid(cfg: dict, seed: int) -> list:
    from rntk import RNTK

    Ns, Ts, Ls = cfg["Ns"], cfg["Ts"], cfg["Ls"]
    n_max = max(max(Ns), cfg["gak_n"])
    rows = []
    for variable in (False, True):
        for T in Ts:
            for L in Ls:
                k = RNTK(n_layers=L)
                prev_np = None  # (pair_steps, seconds) of the last measured numpy run
                for N in Ns:
                    X, lengths = dataset(T, variable, N, n_max, seed)
                    ps = pair_steps(lengths, L)
                    row = {"N": N, "T": T, "L": L, "lengths": "variable" if variable else "equal",
                           "pairs": N * (N + 1) // 2, "pair_steps": ps,
                           "mean_length": float(lengths.mean())}
                    ref = None
                    for dt in ("float64", "float32"):
                        best, times, res = timed(
                            lambda k=k, X=X, dt=dt: k.gram(X, backend="cpu-fused", dtype=dt))
                        row[f"fused_{dt}"] = {"time_s": best, "repeat_times_s": times,
                                              "pair_steps_per_s": ps / best}
                        if dt == "float64":
                            ref = res.ntk
                        else:
                            row[f"fused_{dt}"]["max_rel_err_vs_f64"] = float(
                                np.max(np.abs(res.ntk - ref)) / np.max(np.abs(ref)))
                    est = None if prev_np is None else prev_np[1] * ps / prev_np[0]
                    if est is not None and est > cfg["numpy_max_s"]:
                        row["numpy_float64"] = {
                            "skipped": True,
                            "reason": f"estimated {est:.0f} s (from the measured N={prev_np[2]} "
                                      f"run) > cap {cfg['numpy_max_s']:.0f} s",
                        }
                    else:
                        best, times, res = timed(
                            lambda k=k, X=X: k.gram(X, backend="cpu-vectorized", dtype="float64"))
                        row["numpy_float64"] = {
                            "time_s": best, "repeat_times_s": times, "pair_steps_per_s": ps / best,
                            "max_rel_diff_vs_fused_f64": float(
                                np.max(np.abs(res.ntk - ref)) / np.max(np.abs(ref))),
                        }
                        row["ratio_numpy_over_fused_f64"] = best / row["fused_float64"]["time_s"]
                        prev_np = (ps, best, N)
                    rows.append(row)
                    log(_row_line(row))
    return rows


def _row_line(r: dict) -> str:
    f64, f32, npy = r["fused_float64"], r["fused_float32"], r["numpy_float64"]
    s = (f"N={r['N']:5d} T={r['T']:4d} L={r['L']} {r['lengths']:8s} "
         f"f64 {f64['time_s']:8.3f}s  f32 {f32['time_s']:8.3f}s  ")
    s += "numpy skipped" if npy.get("skipped") else f"numpy {npy['time_s']:8.3f}s"
    return s


# -- tslearn GAK ---------------------------------------------------------------
def run_gak(cfg: dict, seed: int, n_jobs: int, grid_rows: list) -> dict:
    try:
        import tslearn
        from tslearn.metrics import cdist_gak
    except Exception as exc:  # noqa: BLE001
        return {"available": False, "reason": f"tslearn not importable: {exc!r}", "rows": []}
    from rntk import RNTK

    n, target = cfg["gak_n"], cfg["gak_target_n"]
    n_max = max(max(cfg["Ns"]), n)
    sigma = 1.0
    t = time.perf_counter()
    cdist_gak(np.random.default_rng(0).standard_normal((4, 8, 1)), sigma=sigma, n_jobs=n_jobs)
    warm = time.perf_counter() - t
    out = {"available": True, "tslearn": tslearn.__version__, "function": "tslearn.metrics.cdist_gak",
           "sigma": sigma, "n_jobs": n_jobs, "normalized": True, "warmup_s": warm,
           "lengths": "equal", "univariate": True,
           "extrapolation_rule": "time(N') = time(N) * (N'/N)^2 (GAK is O(N^2 T^2))", "rows": []}
    fused_at = {(r["N"], r["T"]): r["fused_float64"]["time_s"]
                for r in grid_rows if r["L"] == 1 and r["lengths"] == "equal"}
    k = RNTK(n_layers=1)
    for T in cfg["Ts"]:
        X, _ = dataset(T, False, n, n_max, seed)  # the same data as the grid (first n rows)
        t = time.perf_counter()
        cdist_gak(X[:, :, None], sigma=sigma, n_jobs=n_jobs)
        t_gak = time.perf_counter() - t
        if (n, T) not in fused_at:
            fused_at[(n, T)], _, _ = timed(
                lambda X=X: k.gram(X, backend="cpu-fused", dtype="float64"))
        out["rows"].append({"N": n, "T": T, "time_s": t_gak, "extrapolated": False,
                            "fused_float64_L1_time_s": fused_at[(n, T)],
                            "ratio_gak_over_fused_f64": t_gak / fused_at[(n, T)]})
        log(f"GAK N={n} T={T}: {t_gak:.3f}s (fused f64 L=1: {fused_at[(n, T)]:.4f}s)")
        if target != n:
            t_ex = t_gak * (target / n) ** 2
            row = {"N": target, "T": T, "time_s": t_ex, "extrapolated": True,
                   "extrapolated_from_N": n}
            if (target, T) in fused_at:
                row["fused_float64_L1_time_s"] = fused_at[(target, T)]
                row["ratio_gak_over_fused_f64"] = t_ex / fused_at[(target, T)]
                row["ratio_extrapolated"] = True
            out["rows"].append(row)
    return out


# -- report --------------------------------------------------------------------
def _fmt_s(x):
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def markdown(rows: list, gak: dict, floor: dict | None) -> str:
    head = ("| N | T | L | lengths | pair-steps | fused f64 (s) | f64 M pair-steps/s "
            "| fused f32 (s) | f32 M pair-steps/s | numpy f64 (s) | numpy M pair-steps/s "
            "| numpy/fused f64 |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        f64, f32, npy = r["fused_float64"], r["fused_float32"], r["numpy_float64"]
        if npy.get("skipped"):
            n_t = n_r = ratio = "skipped"
        else:
            n_t = _fmt_s(npy["time_s"])
            n_r = f"{npy['pair_steps_per_s'] / 1e6:.1f}"
            ratio = f"{r['ratio_numpy_over_fused_f64']:.1f}"
        lines.append(
            f"| {r['N']} | {r['T']} | {r['L']} | {r['lengths']} | {r['pair_steps']:.3g} "
            f"| {_fmt_s(f64['time_s'])} | {f64['pair_steps_per_s'] / 1e6:.1f} "
            f"| {_fmt_s(f32['time_s'])} | {f32['pair_steps_per_s'] / 1e6:.1f} "
            f"| {n_t} | {n_r} | {ratio} |")
    out = "\n".join(lines)
    if gak.get("available"):
        g = ["", (f"tslearn cdist_gak (sigma={gak['sigma']}, n_jobs={gak['n_jobs']}, equal lengths, "
                  "univariate) vs fused RNTK f64, L=1; * = extrapolated, not measured"), "",
             "| N | T | GAK (s) | fused f64 L=1 (s) | GAK/fused |", "|---|---|---|---|---|"]
        for r in gak["rows"]:
            star = "*" if r["extrapolated"] else ""
            fz = r.get("fused_float64_L1_time_s")
            ratio = r.get("ratio_gak_over_fused_f64")
            g.append(f"| {r['N']}{star} | {r['T']} | {_fmt_s(r['time_s'])}{star} "
                     f"| {'n/a' if fz is None else _fmt_s(fz)} "
                     f"| {'n/a' if ratio is None else f'{ratio:.0f}{star}'} |")
        out += "\n".join([""] + g)
    else:
        out += f"\n\ntslearn GAK skipped: {gak.get('reason')}"
    if floor and "fraction_of_floor" in floor:
        out += (f"\n\nArithmetic floor ({floor['case']}): dual alone "
                f"{floor['dual']['ns_per_element_1thread']:.2f} ns/element/thread, "
                f"{floor['threads']} threads -> floor {floor['floor_s']:.3g} s; fused kernel "
                f"{floor['fused_time_s']:.3g} s; fraction of floor (fused / floor) = "
                f"{floor['fraction_of_floor']:.2f}")
    return out


def write_json_atomic(path: str, obj: dict) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bench_gram.", suffix=".json.tmp", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny smoke run (< 1 min)")
    ap.add_argument("--out", help="JSON path (default: benchmarks/results/[quick/]bench_gram.json)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--numpy-max-s", type=float, default=None,
                    help="skip the numpy path where its estimated time exceeds this (s)")
    ap.add_argument("--gak-n-jobs", type=int, default=-1, help="n_jobs for tslearn cdist_gak")
    ap.add_argument("--no-cold-compile", action="store_true",
                    help="skip the cold-compile subprocess")
    args = ap.parse_args(argv)

    cfg = dict(QUICK if args.quick else FULL)
    if args.numpy_max_s is not None:
        cfg["numpy_max_s"] = args.numpy_max_s
    out_path = args.out or os.path.join(
        HERE, "results", *(["quick"] if args.quick else []), "bench_gram.json")
    t_start = time.perf_counter()

    t = time.perf_counter()
    import numba

    import rntk  # noqa: F401

    import_s = time.perf_counter() - t
    facts = machine_facts()
    log(f"machine: {facts['cpu_model']}, {facts['os_cpu_count']} CPUs, "
        f"{facts['numba_num_threads']} numba threads, {facts['mem_total_gib']} GiB")

    # compile / cache load first, before any timing
    log("timing first calls (cache load) and a cold compile in a subprocess")
    comp = compile_times(cold=not args.no_cold_compile,
                         cold_dtypes=("float64",) if args.quick else ("float64", "float32"))
    comp["import_rntk_numba_s"] = import_s
    facts["numba_threading_layer"] = numba.threading_layer()
    log(f"compile: this process {comp['this_process']}, cold {comp['cold_subprocess']}")

    rows = run_grid(cfg, args.seed)

    N0, T0, L0 = cfg["floor_case"]
    floor: dict = {"case": f"N={N0}, T={T0}, L={L0}, equal lengths, float64"}
    log("measuring the dual-only arithmetic floor")
    try:
        dual = dual_floor(reps=6000 if not args.quick else 1000)
    except Exception as exc:  # noqa: BLE001 - the kernel internals may change
        dual = {"error": repr(exc)}
        log(f"dual-only floor measurement failed: {exc!r}")
    case = [r for r in rows if (r["N"], r["T"], r["L"], r["lengths"]) == (N0, T0, L0, "equal")]
    if case and "error" not in dual:
        r = case[0]
        threads = numba.get_num_threads()
        floor_s = r["pair_steps"] * dual["ns_per_element_1thread"] * 1e-9 / threads
        floor.update(dual=dual, threads=threads, pair_steps=r["pair_steps"],
                     fused_time_s=r["fused_float64"]["time_s"], floor_s=floor_s,
                     fraction_of_floor=r["fused_float64"]["time_s"] / floor_s,
                     ns_per_pair_step_fused=r["fused_float64"]["time_s"] / r["pair_steps"] * 1e9,
                     definition="fused time / (pair-steps x dual-only time per element / threads); "
                                "1.0 = the kernel costs no more than its dual activations")
    log(f"floor: {floor}")

    gak = run_gak(cfg, args.seed, args.gak_n_jobs, rows)

    facts["loadavg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    table = markdown(rows, gak, floor)
    result = {
        "benchmark": "rntk.RNTK.gram (symmetric training Gram, relu, default sigmas)",
        "mode": "quick" if args.quick else "full",
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "seed": args.seed,
        "timing_rule": f"best of {N_REPEAT} repeats when the first run < {FAST_S} s, else 1 run; "
                       "time of the whole gram() call, same process",
        "machine": facts,
        "compile": comp,
        "rows": rows,
        "gak": gak,
        "arithmetic_floor": floor,
        "total_wall_s": time.perf_counter() - t_start,
        "table_markdown": table,
    }
    write_json_atomic(out_path, result)
    print(table)
    print(f"\nwrote {out_path} (total {result['total_wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
