"""The ``rntk`` command line: ``rntk reproduce``, ``rntk gram``, ``rntk info``, ``rntk rent``."""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def _load(path: str):
    import numpy as np

    p = Path(path)
    if not p.is_file():
        raise SystemExit(f"rntk gram: no such file: {path}")
    if p.suffix == ".npy":
        return np.load(p)
    if p.suffix in (".csv", ".tsv", ".txt"):
        return np.genfromtxt(p, delimiter="\t" if p.suffix == ".tsv" else ",", dtype=float)
    raise SystemExit(f"rntk gram: unsupported file type {p.suffix!r} (use .npy, .csv or .tsv)")


def cmd_gram(args) -> int:
    import numpy as np

    from . import RNTK

    X = _load(args.X)
    Y = _load(args.Y) if args.Y else None
    try:
        kernel = RNTK(
            n_layers=args.n_layers, activation=args.activation, sigma_w=args.sigma_w,
            sigma_u=args.sigma_u, sigma_b=args.sigma_b, sigma_h=args.sigma_h, sigma_v=args.sigma_v,
        )
        res = kernel.gram(X, Y, backend=args.backend, dtype=args.dtype, progress=True)
    except ValueError as e:
        raise SystemExit(f"rntk gram: {e}") from None
    out = Path(args.out)
    fd, tmp = tempfile.mkstemp(dir=out.parent or ".", suffix=".npz")
    with os.fdopen(fd, "wb") as f:
        np.savez(f, ntk=res.ntk, nngp=res.nngp)
    os.replace(tmp, out)
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


def cmd_rent_train(args) -> int:
    import json

    import torch

    from .rent import RentConfig, SequenceModel, train
    from .rent._tasks import load_task

    task = load_task(args.dataset, seed=args.seed, max_train=args.max_train)
    regression_seq = task.task == "regression" and task.level == "sequence"
    defaults = dict(ratio="step", r0=0.1, trigger="incremental") if regression_seq else dict(
        ratio="r-step", r0=0.7, r_min=0.4, trigger="constant", every=5)
    for key in ("ratio", "r0", "r_min", "trigger", "every"):
        v = getattr(args, key)
        if v is not None:
            defaults[key] = v
    cfg = RentConfig(method=args.method, task=task.task, epochs=args.epochs, batch_size=args.batch_size,
                     lr=args.lr, stratified=args.stratified, fused=args.fused, clip_norm=args.clip_norm,
                     seed=args.seed, **defaults)
    torch.manual_seed(args.seed)
    model = SequenceModel(args.cell, task.input_dim, args.hidden, args.layers, task.out_dim, level=task.level)
    out = Path(args.out) / args.dataset / args.method / f"seed{args.seed}"
    hist = train(model, task.train, task.val, cfg, test_data=task.test, out_dir=out, progress=True)
    last = hist["epochs"][-1]
    print(json.dumps({"out": str(out), "val": last["val"], "test": hist.get("test"),
                      "select_s": last["select_s"], "train_s": last["train_s"]}, indent=1))
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
    cmd += ["--jobs", str(args.jobs)]
    return subprocess.call(cmd, cwd=verify.parent)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rntk", description="Recurrent neural tangent kernels.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("reproduce", help="run the registered verify/ scripts (paper figures and tables)")
    r.add_argument("--quick", action="store_true", help="small fast runs, written to figures/quick/")
    r.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts")
    r.add_argument("--root", help="repository root (default: search from the current folder up)")
    r.set_defaults(func=cmd_reproduce)

    g = sub.add_parser("gram", help="compute RNTK Gram matrices of sequences in a file")
    g.add_argument("X", help=".npy (N, T) or (N, T, m), or .csv/.tsv with one sequence a row (NaN-padded)")
    g.add_argument("--Y", help="second set of sequences (default: the training Gram of X)")
    g.add_argument("--out", required=True, help="output .npz with arrays ntk and nngp")
    g.add_argument("--n-layers", type=int, default=1)
    g.add_argument("--activation", default="relu", choices=["relu", "erf"])
    g.add_argument("--sigma-w", type=float, default=2**0.5)
    g.add_argument("--sigma-u", type=float, default=1.0)
    g.add_argument("--sigma-b", type=float, default=0.0)
    g.add_argument("--sigma-h", type=float, default=0.0)
    g.add_argument("--sigma-v", type=float, default=1.0)
    g.add_argument("--backend", default="auto", choices=["auto", "numba", "numpy", "reference"])
    g.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    g.set_defaults(func=cmd_gram)

    i = sub.add_parser("info", help="versions and available backends")
    i.set_defaults(func=cmd_info)

    from .rent._tasks import TASKS
    from .rent._trainer import METHODS

    rp = sub.add_parser("rent", help="ReNT: train an RNN with greedy example selection, or compare methods")
    rsub = rp.add_subparsers(dest="rent_command", required=True)
    t = rsub.add_parser("train", help="train one method on one offline task (resumable)")
    t.add_argument("--dataset", required=True, choices=sorted(TASKS))
    t.add_argument("--method", default="rent-b", choices=METHODS)
    t.add_argument("--epochs", type=int, default=30)
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--cell", default="elman", choices=["elman", "gru", "lstm"])
    t.add_argument("--hidden", type=int, default=64)
    t.add_argument("--layers", type=int, default=2)
    t.add_argument("--ratio", choices=["step", "r-step", "constant"], help="default by task (spec R-6)")
    t.add_argument("--r0", type=float)
    t.add_argument("--r-min", dest="r_min", type=float)
    t.add_argument("--trigger", choices=["incremental", "constant", "every"])
    t.add_argument("--every", type=int)
    t.add_argument("--stratified", action="store_true", help="class-balanced selection (classification)")
    t.add_argument("--fused", action="store_true",
                   help="rent-s: score each batch from its training forward (no separate scoring pass)")
    t.add_argument("--clip-norm", dest="clip_norm", type=float, help="clip the gradient norm (default: none)")
    t.add_argument("--max-train", type=int, help="cap the training sequences")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default="rent_runs", help="output folder (history.json, checkpoint.pt)")
    t.set_defaults(func=cmd_rent_train)
    c = rsub.add_parser("compare", help="run verify/rent_benchmark.py (all methods, time-to-target)")
    c.add_argument("--tier", default="quick", choices=["quick", "smoke", "seeds", "plateau", "full"])
    c.add_argument("--tasks", nargs="+", choices=sorted(TASKS))
    c.add_argument("--jobs", type=int, default=1, help="runs trained at once")
    c.add_argument("--r7", action="store_true", help="experiment R-7 (init-ratio sweep) instead of R-6")
    c.add_argument("--root", help="repository root (default: search from the current folder up)")
    c.set_defaults(func=cmd_rent_compare)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
