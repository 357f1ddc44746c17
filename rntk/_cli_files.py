"""Reading sequence files and writing Gram files for ``rntk gram``, with one-line errors.

Every failure becomes a ``SystemExit`` whose message names the file and the
problem; nothing is unpickled, and no temporary file survives a failed write.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["fail", "os_reason", "load_sequences", "check_out", "write_npz"]


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


def fail(cmd: str, msg) -> SystemExit:
    # one line: library messages may span several lines
    return SystemExit(f"rntk {cmd}: " + " ".join(str(msg).split()))


def os_reason(e: OSError) -> str:
    return f"{e.strerror}: {e.filename}" if e.strerror and e.filename else str(e)


def _load_npy(p: Path):
    import numpy as np

    with open(p, "rb") as f:
        magic = f.read(len(NPY_MAGIC))
    if magic[:4] == ZIP_MAGIC:
        raise fail("gram", f"{p} is an .npz archive, not an .npy array; save one array with numpy.save")
    if magic != NPY_MAGIC:
        raise fail("gram", f"{p} is not an .npy file (it does not start with the NPY header)")
    try:
        # allow_pickle=False: an .npy file must never run code when read
        return np.load(p, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" in str(e):
            raise fail("gram", f"{p} holds an object-dtype array, which is not loaded (that would "
                                f"unpickle it); save a numeric array, NaN-padded for sequences of "
                                f"different lengths") from None
        raise fail("gram", f"{p} is damaged or truncated ({e})") from None


def _load_text(p: Path, delimiter: str):
    import csv

    import numpy as np

    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise fail("gram", f"{p} is not a UTF-8 text file") from None
    rows = []
    reader = csv.reader(text.splitlines(), delimiter=delimiter)
    for fields in reader:
        line = reader.line_num
        if not fields or fields[0].lstrip().startswith("#"):
            continue
        if all(not v.strip() for v in fields):
            raise fail("gram", f"{p}, line {line}: no values (an empty sequence)")
        row = []
        for col, v in enumerate(fields, 1):
            v = v.strip()
            if not v:
                row.append(np.nan)  # an empty field: a missing value or end padding
                continue
            try:
                row.append(float(v))
            except ValueError:
                hint = " (a header line? remove it)" if not rows else ""
                raise fail("gram", f"{p}, line {line}, column {col}: {v!r} is not a number{hint}") from None
        rows.append(row)
    if not rows:
        raise fail("gram", f"{p} holds no sequences")
    # rows of different lengths are sequences of different lengths: trailing
    # NaN is the kernel's mark of a shorter sequence
    X = np.full((len(rows), max(map(len, rows))), np.nan)
    for i, r in enumerate(rows):
        X[i, : len(r)] = r
    return X


def load_sequences(path: str):
    p = Path(path)
    if p.is_dir():
        raise fail("gram", f"{path} is a folder, not a file of sequences")
    if not p.is_file():
        raise fail("gram", f"no such file: {path}")
    if p.suffix not in (".npy", ".csv", ".tsv", ".txt"):
        raise fail("gram", f"unsupported file type {p.suffix!r} of {path} (use .npy, .csv, .tsv or .txt)")
    try:
        if p.suffix == ".npy":
            return _load_npy(p)
        return _load_text(p, "\t" if p.suffix == ".tsv" else ",")
    except OSError as e:
        raise fail("gram", f"cannot read {path}: {e.strerror or e}") from None


def check_out(path: str) -> Path:
    """The --out file, checked before any work: its folder exists and it is no folder."""
    out = Path(path)
    if out.is_dir():
        raise fail("gram", f"--out {path} is a folder; give a file name such as {out / 'gram.npz'}")
    if not out.parent.is_dir():
        raise fail("gram", f"--out {path}: the folder {out.parent} does not exist")
    return out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_npz(out: Path, **arrays) -> None:
    """Write ``out`` whole or not at all; nothing else is left behind."""
    import numpy as np

    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        # mkstemp creates 0600; the result should get the mode any new file gets
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
