"""Shared plumbing for verify/ scripts: arguments, output folders, atomic writes.

Full runs write to ``figures/`` (committed); ``--quick`` runs write to
``figures/quick/`` (git-ignored) so they never overwrite the full results.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Run as `python3 verify/x.py`, Python puts verify/ (not the checkout) first on
# sys.path, so `import rntk` found whichever checkout is pip-installed; a
# verify script must check the code of its own checkout.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def parser(doc: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small, fast run (writes figures/quick/)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: figures/ or figures/quick/)")
    return p


def out_dir(args) -> Path:
    d = args.out or (ROOT / "figures" / ("quick" if args.quick else ""))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _replace_atomically(path: Path, suffix: str, write) -> None:
    """``write(tmp)`` to a temp file in ``path``'s folder, then rename it over ``path``.

    A rename within one file system is atomic, so readers (and a resumed run)
    see the old file or the new one, never half of one; the fsync makes that
    hold across a power cut too. A failed write leaves no temp file behind.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_json(path: Path, data) -> None:
    """Write JSON atomically: a crash or a kill never leaves half a file."""
    text = json.dumps(data, indent=2, sort_keys=True)  # before the temp file: a TypeError leaves nothing
    _replace_atomically(path, ".tmp", lambda tmp: Path(tmp).write_text(text))


def save_figure(fig, path: Path) -> None:
    _replace_atomically(path, ".png", lambda tmp: fig.savefig(tmp, dpi=130, bbox_inches="tight"))


def unit_file(cache: Path, unit, suffix: str = ".json") -> Path:
    """A (dataset, label, ...) unit's file in ``cache``: ``<dataset>__<label><suffix>``.

    ``.json`` holds its finished record, ``.npz`` its checkpoint while it runs.
    """
    return cache / f"{unit[0]}__{unit[1]}{suffix}"


def unit_record(key: str):
    """``accept`` for ``rntk.experiments.load_cached``: a unit record carrying ``key``.

    A file holding something other than a record counts as damaged (TypeError).
    """
    def accept(rec) -> bool:
        if not isinstance(rec, dict):
            raise TypeError(f"holds a JSON {type(rec).__name__}, not a unit record")
        return rec.get("key") == key

    return accept


def split_cached(cache: Path, units, key_of):
    """({unit: record} of the units whose cached record carries ``key_of(unit)``, [the others]).

    A damaged or foreign file is named (``rntk.experiments.load_cached``) and its unit redone.
    """
    from rntk.experiments import load_cached

    done, todo = {}, []
    for u in units:
        rec = load_cached(unit_file(cache, u), unit_record(key_of(u)))
        if rec is None:
            todo.append(u)
        else:
            done[u] = rec
    return done, todo


def store_unit(cache: Path, unit, rec: dict, key: str) -> None:
    """Cache a finished unit's record under its key, atomically, and drop its spent checkpoint."""
    rec["key"] = key
    write_json(unit_file(cache, unit), rec)
    unit_file(cache, unit, ".npz").unlink(missing_ok=True)
