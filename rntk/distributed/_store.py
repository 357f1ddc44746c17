"""A Gram matrix on disk, written tile by tile, resumable: a Zarr group.

Layout of the group (a plain Zarr v3 group; any Zarr reader opens it):

* ``ntk``, ``nngp``: the Gram blocks, shape (n_x, n_y), chunks (tile, tile),
  uncompressed (Gram values do not compress, and workers would pay for it),
  filled with NaN where no tile was written yet.
* ``tile_seconds``: shape (tiles along x, tiles along y), one element a
  chunk: the compute time of each finished tile, NaN for a missing one. It is
  the tile's *done marker*: a worker writes it after the tile's Gram chunks
  (and their mirror images), and Zarr writes every chunk through a temporary
  file and a rename, so a tile counts as done only once all its chunks are
  complete. A worker killed half way through leaves no marker, and the tile is
  computed again.
* attribute ``rntk_gram``: the kernel's declaration (its ``repr``), the
  backend, dtype, tile size, shape, and a SHA-256 fingerprint of the input
  sequences. A run refuses to resume a store whose record differs.

Zarr is imported here, when a store is used.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

__all__ = ["FORMAT", "done_tiles", "fingerprint", "open_store", "write_tile"]

FORMAT = 1  # version of the layout above
ATTR = "rntk_gram"


def _zarr():
    try:
        import zarr
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("a Gram store needs zarr: pip install 'rntk[distributed]'") from None
    return zarr


def fingerprint(*batches) -> str:
    """SHA-256 of the checked input sequences (values, lengths, shapes); None entries count."""
    h = hashlib.sha256()
    for b in batches:
        if b is None:
            h.update(b"none|")
            continue
        h.update(repr((b.data.shape, b.data.dtype.str)).encode())
        # the values up to each length only: the checked data are 0 past it
        h.update(np.ascontiguousarray(b.data).tobytes())
        h.update(np.ascontiguousarray(b.lengths, dtype=np.int64).tobytes())
    return h.hexdigest()


_WHAT = {
    "kernel": "a different kernel",
    "backend": "a different backend",
    "dtype": "a different dtype",
    "fingerprint": "different input sequences",
    "shape": "a different shape",
    "symmetric": "a different kind of Gram (training Gram vs X-by-Y block)",
    "tile": "a different tile size",
    "format": "a different store format",
}


def open_store(path, record: dict, n_tiles: tuple[int, int]):
    """Create the store at ``path``, or open it to resume when its record equals ``record``.

    Returns the Zarr group. Raises ``ValueError`` naming what differs when
    ``path`` holds a Gram store of another computation, or something that is
    not a Gram store.
    """
    zarr = _zarr()
    path = Path(path)
    record = {"format": FORMAT, **record}
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"store {path} exists and is a file, not a Zarr Gram store; give another path")
        if any(path.iterdir()):
            try:
                g = zarr.open_group(str(path), mode="r+")
                old = g.attrs.get(ATTR)
            except Exception as e:  # noqa: BLE001 - any failure to read it: not ours
                raise ValueError(f"store {path} exists and is not a Zarr Gram store ({type(e).__name__}: "
                                 f"{e}); give another path") from None
            if not isinstance(old, dict):
                raise ValueError(f"store {path} is a Zarr group but not an rntk Gram store; give another path")
            diff = [k for k in record if old.get(k) != record[k]]
            if diff:
                k = diff[0]
                raise ValueError(
                    f"store {path} holds the Gram of {_WHAT.get(k, k)} (stored {k}: {old.get(k)!r}; "
                    f"this call: {record[k]!r}); refusing to resume it. Give another path, or delete "
                    f"the store to start afresh")
            _arrays(g, record, n_tiles)  # a run stopped while creating them left some out
            return g
    g = zarr.open_group(str(path), mode="a", attributes={ATTR: record})
    _arrays(g, record, n_tiles)
    return g


def _arrays(g, record, n_tiles):
    shape, tile, dt = tuple(record["shape"]), int(record["tile"]), np.dtype(record["dtype"])
    have = set(g.array_keys())
    for name in ("ntk", "nngp"):
        if name not in have:
            g.create_array(name, shape=shape, chunks=(min(tile, shape[0]), min(tile, shape[1])), dtype=dt,
                           fill_value=np.nan, compressors=None)
    if "tile_seconds" not in have:
        g.create_array("tile_seconds", shape=n_tiles, chunks=(1, 1), dtype="float64", fill_value=np.nan,
                       compressors=None)


def done_tiles(g) -> np.ndarray:
    """Boolean array (tiles along x, tiles along y): which tiles are finished."""
    return np.isfinite(g["tile_seconds"][:])


def is_done(path, a: int, b: int) -> bool:
    zarr = _zarr()
    return bool(np.isfinite(zarr.open_array(os.path.join(str(path), "tile_seconds"), mode="r")[a, b]))


def write_tile(path, a, b, rows, cols, ntk, nngp, mirror: bool, seconds: float) -> None:
    """Write one tile's blocks (and their transposes below the diagonal), then its done marker."""
    zarr = _zarr()
    r0, r1 = rows
    c0, c1 = cols
    for name, block in (("ntk", ntk), ("nngp", nngp)):
        arr = zarr.open_array(os.path.join(str(path), name), mode="r+")
        arr[r0:r1, c0:c1] = block
        if mirror:
            arr[c0:c1, r0:r1] = block.T
    marker = zarr.open_array(os.path.join(str(path), "tile_seconds"), mode="r+")
    marker[a, b] = seconds  # last: the tile is done once this one chunk is on disk
