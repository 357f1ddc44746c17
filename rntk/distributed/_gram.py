"""Gram matrices as Dask tasks, one per tile, gathered in memory or written to a Zarr store.

The plan is the one of ``rntk.kernels._batching``: square tiles of ``tile``
sequences a side; for the training Gram (``Y`` None) only the tiles on and
above the diagonal are computed and the others are their transposes. A tile
on the diagonal is itself a training Gram (``kernel.gram(X_a)``: the sigma_h
term on its diagonal, exactly symmetric), any other tile is
``kernel.gram(X_a, X_b)``. The kernel computes every pair by the same
arithmetic whatever else its call holds, so the assembled matrix equals
``kernel.gram(X, Y)`` bit for bit (``tests/test_distributed.py`` checks it).
One known exception: the fused kernel with one feature and sigma_u != 1
rounds a pair's layer-1 input term differently depending on which sample is
the row, so pairs of sequences of different lengths may differ in the last
bit (``docs/distributed.md``).
"""
from __future__ import annotations

import inspect
import os
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import SequenceBatch, check_pair, check_positive_int
from ..kernels._declaration import KernelResult, check_dtype

__all__ = ["ClusterError", "GramStore", "NoWorkersError", "gram", "plan_tiles"]

DEFAULT_TILE = 1024  # ~1e8 pair steps a task at T = 100: task overhead (~ms) is negligible
DEFAULT_WORKER_TIMEOUT = 120.0  # seconds a cluster may have no worker before gram gives up
_POLL_S = 0.1  # how often the wait for tiles looks at the cluster's workers (one RPC per 5 s)


class ClusterError(RuntimeError):
    """The cluster could not finish the Gram (tiles already written to a store are kept)."""


class NoWorkersError(ClusterError):
    """The cluster had no worker for longer than ``worker_timeout`` seconds."""


@dataclass(frozen=True)
class GramStore:
    """A Gram matrix in a Zarr store, as :func:`gram` left it.

    Attributes
    ----------
    path : str
        The store (a Zarr group).
    ntk, nngp : zarr.Array of shape (n_x, n_y)
        The Gram blocks on disk (NaN where a tile is missing).
    computed : tuple of (int, int)
        Tiles (row block, column block) computed by this call.
    skipped : int
        Tiles found finished in the store and not computed again.
    tile_seconds : ndarray of shape (tiles along x, tiles along y)
        Compute time of every finished tile (NaN: missing; for a training Gram
        only the tiles on and above the diagonal are computed).
    """

    path: str
    ntk: Any
    nngp: Any
    computed: tuple
    skipped: int
    tile_seconds: np.ndarray

    def load(self) -> KernelResult:
        """Both Gram matrices read into memory as numpy arrays."""
        return KernelResult(self.ntk[:], self.nngp[:])


def plan_tiles(n_x: int, n_y: int | None, tile: int) -> list[tuple[int, int, int, int, int, int]]:
    """Tiles ``(a, b, r0, r1, c0, c1)``: block a of rows [r0, r1), block b of columns [c0, c1).

    ``n_y`` None: the training Gram of n_x sequences, tiles with b >= a only.
    """
    ny = n_x if n_y is None else n_y
    rows = [(a, s, min(s + tile, n_x)) for a, s in enumerate(range(0, n_x, tile))]
    cols = [(b, s, min(s + tile, ny)) for b, s in enumerate(range(0, ny, tile))]
    return [(a, b, r0, r1, c0, c1) for a, r0, r1 in rows for b, c0, c1 in cols if n_y is not None or b >= a]


def _padded(b: SequenceBatch) -> np.ndarray:
    """The sequences as an (n, T, m) array, trailing NaN past each length: every kernel reads it."""
    out = b.data.copy()
    out[np.arange(out.shape[1])[None, :] >= b.lengths[:, None]] = np.nan
    return out


def _gram_kwargs(kernel, dtype: str, backend: str | None) -> dict:
    """What ``kernel.gram`` is passed besides X and Y: dtype, backend, one thread (``n_jobs=1``)."""
    params = inspect.signature(kernel.gram).parameters
    kw = {}
    if "dtype" in params:
        kw["dtype"] = dtype
    elif dtype != "float64":
        raise ValueError(f"{type(kernel).__name__}.gram takes no dtype; use dtype='float64'")
    if backend is not None:
        if "backend" not in params:
            raise ValueError(f"{type(kernel).__name__}.gram takes no backend; leave backend=None")
        kw["backend"] = backend
    if "n_jobs" in params:
        kw["n_jobs"] = 1  # a task is one worker thread: parallelism comes from the workers
    return kw


def _tile_task(kernel, kw, bx, by, t, symmetric, store):
    """Run on a worker: one tile's Gram; with ``store``, written there (skipped if done)."""
    a, b, r0, r1, c0, c1 = t
    if store is not None:
        from ._store import is_done

        if is_done(store, a, b):  # a retry of a tile whose result was written already
            return a, b, None, None, None
    x = _padded(bx.subset(np.arange(r0, r1)))
    diag = symmetric and a == b
    y = None if diag else _padded((bx if by is None else by).subset(np.arange(c0, c1)))
    t0 = time.perf_counter()
    res = kernel.gram(x, y, **kw)
    ntk, nngp = np.asarray(res.ntk), np.asarray(res.nngp)
    seconds = time.perf_counter() - t0
    if store is None:
        return a, b, seconds, ntk, nngp
    from ._store import write_tile

    write_tile(store, a, b, (r0, r1), (c0, c1), ntk, nngp, symmetric and a != b, seconds)
    return a, b, seconds, None, None


def _connect(client, n_workers):
    """(client, cleanup): a given Client, one connected to an address, or an embedded LocalCluster."""
    from dask.distributed import Client, LocalCluster

    if isinstance(client, Client):
        return client, lambda: None
    if isinstance(client, str):
        c = Client(client)
        return c, c.close
    if client is not None:
        raise ValueError(f"client must be None, a scheduler address or a dask.distributed.Client, got {client!r}")
    n = (os.cpu_count() or 1) if n_workers is None else check_positive_int(n_workers, "n_workers")
    # one single-threaded worker process per core: a task is one fused-kernel
    # call on one numba thread, and processes do not share a GIL or numba's pool
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0")
    c = Client(cluster)

    def close():
        c.close()
        cluster.close()

    return c, close


def gram(kernel, X, Y=None, *, client=None, tile: int = DEFAULT_TILE, store=None, dtype="float64",
         backend: str | None = None, n_workers: int | None = None, progress: bool = True,
         worker_timeout: float = DEFAULT_WORKER_TIMEOUT):
    """``kernel.gram(X, Y)`` computed tile by tile on a Dask cluster.

    Parameters
    ----------
    kernel : object with ``gram(X, Y=None)``
        :class:`rntk.RNTK` or another rntk kernel; it must pickle (it is sent
        to the workers).
    X : list of arrays of shape (T_i, m), or array of shape (N, T, m) or (N, T)
        Sequences; trailing NaN time steps mark a shorter sequence.
    Y : same layout as X, optional
        None: the training Gram of X (sigma_h on the diagonal, exactly
        symmetric; only the tiles on and above the diagonal are computed).
    client : None, str or dask.distributed.Client
        None starts an embedded ``LocalCluster`` (``n_workers`` single-threaded
        worker processes, default one per core) and closes it afterwards; a
        string is a scheduler address (``"tcp://host:8786"``); a Client is used
        as is.
    tile : int
        Sequences a tile side: one task computes up to tile x tile pairs.
    store : str or path, optional
        A Zarr store (folder) to write the Gram to, tile by tile. Finished
        tiles found there are not computed again; a store of another
        computation (kernel, inputs, tile, dtype) is refused with a
        ``ValueError``. Workers write to it, so on a cluster it must be on a
        file system they share.
    dtype : {"float64", "float32"}
    backend : str, optional
        Passed to ``kernel.gram`` (default: the kernel's own default).
    n_workers : int, optional
        Workers of the embedded cluster (``client=None`` only).
    progress : bool
        A progress bar over tiles, and the dashboard's address on stderr.
    worker_timeout : float
        Seconds the cluster may have no worker, at the start or while tiles
        are pending, before :class:`NoWorkersError` is raised (tiles already
        written to ``store`` are kept). Without it such a cluster leaves the
        call waiting for ever.

    Raises
    ------
    NoWorkersError
        The cluster had no worker for ``worker_timeout`` seconds.
    ClusterError
        The cluster cancelled a tile (its inputs were lost with the workers
        that held them).

    Returns
    -------
    KernelResult or GramStore
        Without ``store``, ``ntk`` and ``nngp`` of shape (len(X), len(Y or X))
        in memory, equal to ``kernel.gram(X, Y)`` bit for bit (but see the
        module docstring); with ``store``,
        a :class:`GramStore` on the written store.
    """
    if not callable(getattr(kernel, "gram", None)):
        raise TypeError(f"kernel must be an object with a gram(X, Y=None) method, got {kernel!r}")
    dt = check_dtype(dtype)
    tile = check_positive_int(tile, "tile")
    if client is not None and n_workers is not None:
        raise ValueError("n_workers sizes the embedded cluster; it cannot be given with client")
    if not (isinstance(worker_timeout, (int, float)) and worker_timeout > 0 and np.isfinite(worker_timeout)):
        raise ValueError(f"worker_timeout must be a positive number of seconds, got {worker_timeout!r}")
    kw = _gram_kwargs(kernel, dt.name, backend)
    bx, by = check_pair(X, Y)
    symmetric = by is None
    tiles = plan_tiles(len(bx), None if symmetric else len(by), tile)
    n_tiles = (-(-len(bx) // tile), -(-(len(bx) if symmetric else len(by)) // tile))
    g = None
    if store is not None:
        from ._store import done_tiles, fingerprint, open_store

        # in the order a mismatch is reported: the first difference names the cause
        record = {"kernel": repr(kernel), "backend": backend, "dtype": dt.name, "symmetric": symmetric,
                  "fingerprint": fingerprint(bx, by), "shape": [len(bx), len(bx) if symmetric else len(by)],
                  "tile": tile}
        g = open_store(store, record, n_tiles)  # refuses a mismatched store before any cluster starts
        done = done_tiles(g)
        todo = [t for t in tiles if not done[t[0], t[1]]]
    else:
        todo = tiles
    skipped = len(tiles) - len(todo)
    computed = []
    if todo:
        c, close = _connect(client, n_workers)
        try:
            out = _run(c, kernel, kw, bx, by, todo, symmetric, None if store is None else os.fspath(store),
                       dt, progress, float(worker_timeout))
        finally:
            close()
        computed = out[0]
    if store is None:
        return KernelResult(*out[1:])
    return GramStore(os.fspath(store), g["ntk"], g["nngp"], tuple(computed), skipped, g["tile_seconds"][:])


def _wait_for_a_worker(c, timeout, pending):
    """Return once the cluster has a worker; NoWorkersError after ``timeout`` seconds without one."""
    from dask.distributed import TimeoutError as DaskTimeoutError

    try:
        c.wait_for_workers(1, timeout=timeout)
    except (DaskTimeoutError, TimeoutError):
        raise NoWorkersError(
            f"the Dask cluster at {c.scheduler.address} has had no worker for {timeout:g} s with "
            f"{pending} tile(s) to compute; start workers (dask worker {c.scheduler.address}) "
            "or raise worker_timeout. Tiles already written to a store are kept.") from None


def _completed(c, ac, worker_timeout):
    """``as_completed``'s items, checking every 5 s that the cluster still has a worker."""
    next_check = time.monotonic() + 5.0
    while not ac.is_empty():
        if ac.has_ready():
            fut, res = next(ac)
            if fut.status == "cancelled":  # e.g. every worker holding the scattered sequences left
                raise ClusterError(
                    f"the cluster cancelled tile task {fut.key} ({res}); this happens when the workers "
                    "holding the scattered sequences leave. Rerun on a cluster with workers (with the same "
                    "store, only the missing tiles are computed).")
            yield fut, res
            continue
        if time.monotonic() >= next_check:
            if not c.nthreads():  # an RPC to the scheduler, not a cached view
                _wait_for_a_worker(c, worker_timeout, ac.count())
            next_check = time.monotonic() + 5.0
        time.sleep(_POLL_S)


def _run(c, kernel, kw, bx, by, todo, symmetric, store, dt, progress, worker_timeout):
    from dask.distributed import as_completed

    _wait_for_a_worker(c, worker_timeout, len(todo))
    if progress:
        print(f"rntk.distributed.gram: {len(todo)} tiles on {len(c.scheduler_info()['workers'])} workers; "
              f"dashboard {c.dashboard_link}", file=sys.stderr, flush=True)
    # the sequences go to every worker once, not with every task
    fx = c.scatter(bx, broadcast=True, hash=False)
    fy = None if by is None else c.scatter(by, broadcast=True, hash=False)
    run = uuid.uuid4().hex[:8]  # fresh keys: a rerun on the same cluster never reuses old results
    futures = [c.submit(_tile_task, kernel, kw, fx, fy, t, symmetric, store, pure=False,
                        key=f"rntk-gram-tile-{run}-{t[0]}-{t[1]}") for t in todo]
    ntk = nngp = None
    if store is None:
        ny = len(bx) if by is None else len(by)
        ntk, nngp = np.empty((len(bx), ny), dtype=dt), np.empty((len(bx), ny), dtype=dt)
    bounds = {(t[0], t[1]): t[2:] for t in todo}
    computed = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(todo), desc="Gram tiles", unit="tile")
    # on c's event loop: as_completed defaults to the *current* client's, and beside another
    # client (a notebook's, a test fixture's) the futures' state changes then cross loops
    ac = as_completed(futures, with_results=True, loop=c.loop)
    try:
        for fut, (a, b, seconds, kt, gt) in _completed(c, ac, worker_timeout):
            fut.release()  # the worker may drop the tile now
            if seconds is not None:
                computed.append((a, b))
            if kt is not None:
                r0, r1, c0, c1 = bounds[a, b]
                ntk[r0:r1, c0:c1], nngp[r0:r1, c0:c1] = kt, gt
                if symmetric and a != b:
                    ntk[c0:c1, r0:r1], nngp[c0:c1, r0:r1] = kt.T, gt.T
            if bar is not None:
                bar.update()
    except BaseException:
        c.cancel(futures)  # queued tiles are dropped; a running one ends on its worker
        raise
    finally:
        if bar is not None:
            bar.close()
    return computed, ntk, nngp
