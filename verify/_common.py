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


def write_json(path: Path, data) -> None:
    """Write JSON atomically (temp file + rename): a crash never leaves half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
    os.chmod(tmp, 0o644)  # mkstemp makes owner-only files
    os.replace(tmp, path)


def save_figure(fig, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".png")
    os.close(fd)
    fig.savefig(tmp, dpi=130, bbox_inches="tight")
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
