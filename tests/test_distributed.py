"""rntk.distributed: Gram tiles as Dask tasks on a 2-process cluster, Zarr resume, faults, sweeps.

Every Gram is compared with ``kernel.gram`` in this process bit for bit
(``np.array_equal``): the tiles are computed by the same fused kernel, and a
pair's value must not depend on which tile computed it.
"""
import importlib
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rntk import RNTK
from rntk.distributed import NoWorkersError, gram
from rntk.distributed._gram import plan_tiles

dd = pytest.importorskip("dask.distributed", reason="pip install 'rntk[distributed]' (in the test extra)")
pytest.importorskip("zarr", reason="pip install 'rntk[distributed]' (in the test extra)")

ROOT = Path(__file__).resolve().parent.parent
# a cluster that stops making progress fails its test with every thread's stack, instead of
# holding CI until its hard limit (one run here waited > 15 min on an embedded cluster)
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def client():
    """The issue's cluster: 2 worker processes x 1 thread."""
    with dd.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            dd.Client(cluster) as c:
        yield c


def _ragged(rng, n, T, m=1, min_len=2):
    X = rng.normal(size=(n, T, m))
    for i, t in enumerate(rng.integers(min_len, T + 1, size=n)):
        X[i, t:] = np.nan
    return X[..., 0] if m == 1 else X


def _same(exact, res):
    """``res`` equals ``exact`` bit for bit. (Compute ``exact`` first: this process then compiles
    the fused kernel into numba's on-disk cache, and the workers load it instead of compiling
    it twice more, ~1 min each on a cold cache.)"""
    assert res.ntk.dtype == exact.ntk.dtype
    assert np.array_equal(res.ntk, exact.ntk), f"ntk differs at {np.argwhere(res.ntk != exact.ntk)[:5]}"
    assert np.array_equal(res.nngp, exact.nngp)


# -- the tile plan ---------------------------------------------------------------------
@given(st.integers(1, 40), st.one_of(st.none(), st.integers(1, 40)), st.integers(1, 50))
def test_tiles_cover_every_pair_once(nx, ny, tile):
    count = np.zeros((nx, nx if ny is None else ny), dtype=int)
    for a, b, r0, r1, c0, c1 in plan_tiles(nx, ny, tile):
        assert (r0, c0) == (a * tile, b * tile) and 0 < r1 - r0 <= tile and 0 < c1 - c0 <= tile
        count[r0:r1, c0:c1] += 1
        if ny is None and a != b:
            count[c0:c1, r0:r1] += 1  # the mirrored copy
    assert (count == 1).all()


# -- equality with kernel.gram ---------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_square_and_rectangular_equal_gram_bitwise(client, rng, dtype):
    # tiles that do not divide N, ragged lengths, sigma_h (diagonal tiles are training Grams)
    k = RNTK(n_layers=2, sigma_b=0.3, sigma_h=0.4)
    X, Y = _ragged(rng, 37, 24), _ragged(rng, 11, 30)
    _same(k.gram(X, dtype=dtype), gram(k, X, client=client, tile=8, dtype=dtype, progress=False))
    _same(k.gram(Y, X, dtype=dtype), gram(k, Y, X, client=client, tile=5, dtype=dtype, progress=False))
    # one tile holding everything, and a list of sequences of several features
    Z = [rng.normal(size=(t, 3)) for t in rng.integers(1, 15, size=13)]
    k3 = RNTK(sigma_h=0.2, sigma_u=0.8, direction="bidirectional")
    exact = k3.gram(Z, dtype=dtype)
    _same(exact, gram(k3, Z, client=client, tile=64, dtype=dtype, progress=False))
    _same(exact, gram(k3, Z, client=client, tile=3, dtype=dtype, progress=False))


def test_one_feature_sigma_u_not_one_equal_gram_bitwise(client, rng):
    """Which sample of a pair plays x depends on the call (the longer one in a training Gram,
    X's in gram(X, Y)); the fused kernel's input term must not depend on it."""
    k = RNTK(sigma_u=0.7)
    X = _ragged(rng, 40, 12)
    _same(k.gram(X), gram(k, X, client=client, tile=7, progress=False))


# -- faults: a worker killed -----------------------------------------------------------
def _executing(dask_worker):
    return [str(ts.key) for ts in dask_worker.state.executing]


def _kill_a_busy_worker(c, timeout=60.0, ready=lambda: True) -> str:
    """SIGKILL a worker while it runs a Gram tile (once ``ready()``); the key of that tile."""
    pids = c.run(os.getpid)
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if not ready():
            time.sleep(0.01)
            continue
        for addr, keys in c.run(_executing).items():
            tiles = [k for k in keys if k.startswith("rntk-gram-tile")]
            if tiles:
                os.kill(pids[addr], signal.SIGKILL)
                return tiles[0]
        time.sleep(0.01)
    raise AssertionError("no worker ran a Gram tile")


def _settle(c, n_workers=2, timeout=60.0):
    """Wait until the nanny replaced the killed worker and no worker runs a task."""
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        if len(c.scheduler_info()["workers"]) == n_workers and not any(c.run(_executing).values()):
            return
        time.sleep(0.1)
    raise AssertionError("the cluster did not settle")


def _in_thread(fn):
    box = {}

    def target():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    th = threading.Thread(target=target)
    th.start()
    return th, box


def _set_allowed_failures(dask_scheduler, n):
    old = dask_scheduler.allowed_failures
    dask_scheduler.allowed_failures = n
    return old


# tiles of ~0.1 s: a worker is killed while it computes one
SLOW = {"n": 96, "T": 2500, "tile": 24}


def test_killed_worker_is_retried_and_result_exact(client, rng):
    k = RNTK(sigma_h=0.1)
    X = _ragged(rng, SLOW["n"], SLOW["T"], min_len=SLOW["T"] // 2)
    exact = k.gram(X)
    stories = []
    # The kill races the tile: the worker may finish it, and the client take its result, between
    # the moment we see it executing and the SIGKILL. Then nothing needs recomputing (the story
    # ends memory -> released -> forgotten), the retry is not exercised, and we try again.
    for _ in range(4):
        th, box = _in_thread(lambda: gram(k, X, client=client, tile=SLOW["tile"], progress=False))
        key = _kill_a_busy_worker(client)
        th.join(120)
        assert "error" not in box, box.get("error")
        _same(exact, box["result"])
        # the scheduler's story of the killed tile (entries: origin, key, from, to, ...)
        story = [s[2:4] for s in client.story(key) if s[0] == "scheduler"]
        stories.append(story)
        _settle(client)
        if sum(1 for s in story if s[1] == "processing") >= 2:
            break
    else:
        raise AssertionError(f"no kill landed before the client had the tile's result: {stories}")
    # sent to a worker, lost with it (processing -> released while it ran, or memory -> released
    # when it had finished but the client had not taken it), sent again, finished
    assert ("processing", "released") in story or ("memory", "released") in story, story
    last_sent = max(i for i, s in enumerate(story) if s[1] == "processing")
    assert ("processing", "memory") in story[last_sent + 1:], story


def test_store_resume_after_crash_computes_only_missing_tiles(client, rng, tmp_path):
    k = RNTK(n_layers=1, sigma_b=0.1, sigma_h=0.2)
    X = _ragged(rng, SLOW["n"], SLOW["T"], min_len=SLOW["T"] // 2)
    store = tmp_path / "K.zarr"
    run = lambda: gram(k, X, client=client, tile=SLOW["tile"], store=store, progress=False)
    import zarr

    def n_done():
        try:
            return int(np.isfinite(zarr.open_group(str(store), mode="r")["tile_seconds"][:]).sum())
        except Exception:  # noqa: BLE001 - the store is not created yet
            return 0

    old = client.run_on_scheduler(_set_allowed_failures, n=0)  # a lost task is an error: the run crashes
    try:
        th, box = _in_thread(run)
        _kill_a_busy_worker(client, ready=lambda: n_done() >= 1)  # some tiles finished, some not
        th.join(120)
    finally:
        client.run_on_scheduler(_set_allowed_failures, n=old)
    assert isinstance(box.get("error"), dd.KilledWorker), box
    _settle(client)

    done = np.isfinite(zarr.open_group(str(store), mode="r")["tile_seconds"][:])
    finished = {tuple(int(i) for i in ab) for ab in np.argwhere(done)}
    every = {(a, b) for a, b, *_ in plan_tiles(SLOW["n"], None, SLOW["tile"])}
    assert finished < every and finished, "the crash should leave some tiles finished and some not"
    # Zarr writes a chunk through a rename: a rewritten chunk gets a new inode
    chunks = {ab: [(store / n / "c" / str(ab[0]) / str(ab[1])) for n in ("ntk", "nngp")] for ab in finished}
    before = {ab: [(p.stat().st_ino, p.stat().st_mtime_ns) for p in ps] for ab, ps in chunks.items()}

    res = run()
    assert set(res.computed) == every - finished
    assert res.skipped == len(finished)
    assert before == {ab: [(p.stat().st_ino, p.stat().st_mtime_ns) for p in ps] for ab, ps in chunks.items()}
    _same(k.gram(X), res.load())
    assert np.isfinite(res.tile_seconds[np.triu_indices(len(res.tile_seconds))]).all()
    again = run()  # a finished store: nothing to compute, no cluster needed
    assert again.computed == () and again.skipped == len(every)


# -- refusing a store of another computation ------------------------------------------------
def test_mismatched_resume_is_refused(client, rng, tmp_path):
    k = RNTK(sigma_b=0.1)
    X = _ragged(rng, 12, 10)
    store = tmp_path / "K.zarr"
    gram(k, X, client=client, tile=5, store=store, progress=False)
    X2 = X.copy()
    X2[3, 0] += 1e-12
    # refused before any cluster is needed (client=None would start one)
    for kwargs, what in [
        ({"kernel": RNTK(sigma_b=0.2)}, "a different kernel"),
        ({"X": X2}, "different input sequences"),
        ({"X": X[:11]}, "different input sequences"),
        ({"tile": 6}, "a different tile size"),
        ({"dtype": "float32"}, "a different dtype"),
        ({"Y": X}, "a different kind of Gram (training Gram vs X-by-Y block)"),
        ({"backend": "cpu-vectorized"}, "a different backend"),
    ]:
        call = {"kernel": k, "X": X, "tile": 5, **kwargs}
        with pytest.raises(ValueError, match=f"holds the Gram of {re.escape(what)} .*refusing to resume"):
            gram(call.pop("kernel"), call.pop("X"), store=store, progress=False, **call)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a Zarr Gram store"):
        gram(k, X, store=tmp_path / "file", progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="not a Zarr Gram store"):
        gram(k, X, store=tmp_path / "other", progress=False)


def test_bad_arguments_are_named(rng):
    X = rng.normal(size=(4, 5))
    with pytest.raises(ValueError, match="tile must be a positive integer"):
        gram(RNTK(), X, tile=0)
    with pytest.raises(TypeError, match="gram\\(X, Y=None\\) method"):
        gram("rbf", X)
    with pytest.raises(ValueError, match="n_workers sizes the embedded cluster"):
        gram(RNTK(), X, client="tcp://127.0.0.1:1", n_workers=2)
    with pytest.raises(ValueError, match="client must be None, a scheduler address"):
        gram(RNTK(), X, client=3, progress=False)


# -- a cluster without workers: a named error, not a wait for ever -----------------------------
def test_cluster_without_workers_is_named_not_waited_on_for_ever(rng):
    X = rng.normal(size=(6, 5))
    with dd.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster, \
            dd.Client(cluster) as c:
        t0 = time.monotonic()
        with pytest.raises(NoWorkersError, match="has had no worker for 2 s with 1 tile"):
            gram(RNTK(), X, client=c, progress=False, worker_timeout=2)
        assert time.monotonic() - t0 < 30
    with pytest.raises(ValueError, match="worker_timeout must be a positive number"):
        gram(RNTK(), X, worker_timeout=0)
    with pytest.raises(ValueError, match="worker_timeout must be a positive number"):
        gram(RNTK(), X, worker_timeout=float("inf"))


def test_gram_beside_another_current_client_finishes_while_that_clients_loop_is_held(client, rng):
    """Dask's as_completed runs on the *current* client's event loop unless told otherwise; gram
    on an embedded cluster beside a notebook's or a fixture's client then tracked its tile futures
    from the other client's loop, across threads, and could wait for ever with a tile pending. With
    the current client's loop held up, gram on its own cluster must still finish, before the hold
    is released."""
    X = _ragged(rng, 12, 8)
    k = RNTK()
    exact = k.gram(X)
    held, release = threading.Event(), threading.Event()

    def hold():
        held.set()
        release.wait(240)

    timer = threading.Timer(150, release.set)  # with the bug gram returns only after this
    with client.as_current():
        client.loop.add_callback(hold)
        assert held.wait(30)
        timer.start()
        try:
            res = gram(k, X, tile=4, progress=False, n_workers=1)
            finished_while_held = not release.is_set()
        finally:
            release.set()
            timer.cancel()
    assert finished_while_held, "gram waited on the other client's event loop"
    _same(exact, res)


def test_only_worker_killed_mid_run_is_named_and_store_keeps_finished_tiles(rng, tmp_path):
    """A `dask worker --no-nanny` process, the cluster's only worker, is SIGKILLed once tiles are in
    the store: its scattered sequences are lost and Dask cancels the pending tiles. gram raises
    ClusterError naming that (before this, unpacking the cancelled future failed with a TypeError),
    the finished tiles stay in the store, and the rerun computes only the others."""
    import subprocess

    import zarr

    from rntk.distributed import ClusterError

    X = _ragged(rng, 40, 30)
    k = RNTK()
    exact = k.gram(X)  # compiles here first (see _same)
    store = tmp_path / "K.zarr"

    def n_done():
        try:
            return int(np.isfinite(zarr.open_group(str(store), mode="r")["tile_seconds"][:]).sum())
        except Exception:  # the store is still being created
            return 0

    with dd.LocalCluster(n_workers=0, processes=True, dashboard_address=":0") as cluster, dd.Client(cluster) as c:
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address,
                                   "--no-nanny", "--nthreads", "1", "--no-dashboard"])
        try:
            c.wait_for_workers(1, timeout=120)

            def kill_after_first_tiles():
                while n_done() < 3:
                    time.sleep(0.02)
                worker.kill()

            threading.Thread(target=kill_after_first_tiles, daemon=True).start()
            with pytest.raises(ClusterError, match="cancelled tile task .* workers holding the scattered"):
                gram(k, X, client=c, tile=1, store=store, progress=False, worker_timeout=5)
        finally:
            worker.kill()
            worker.wait()
    done = n_done()
    assert 3 <= done < 40 * 41 // 2, "killed after the first tiles, before the last"
    res = gram(k, X, tile=1, store=store, progress=False, n_workers=1)  # the rerun finishes it
    assert res.skipped == done and len(res.computed) == 40 * 41 // 2 - done
    assert np.array_equal(res.ntk[:], exact.ntk) and np.array_equal(res.nngp[:], exact.nngp)


# -- the command line: embedded cluster and a scheduler address ----------------------------
def test_cli_gram_to_zarr_and_through_a_scheduler(client, rng, tmp_path):
    import zarr

    from rntk.cli import main

    X = _ragged(rng, 21, 9)
    np.save(tmp_path / "X.npy", X)
    k = RNTK(sigma_b=0.5)
    exact = k.gram(X)
    # no --scheduler: an embedded LocalCluster
    assert main(["gram", str(tmp_path / "X.npy"), "--out", str(tmp_path / "K.zarr"), "--tile", "8",
                 "--sigma-b", "0.5"]) == 0
    g = zarr.open_group(str(tmp_path / "K.zarr"), mode="r")
    assert np.array_equal(g["ntk"][:], exact.ntk) and np.array_equal(g["nngp"][:], exact.nngp)
    # a scheduler address, gathered into an .npz
    assert main(["gram", str(tmp_path / "X.npy"), "--out", str(tmp_path / "K.npz"), "--tile", "8",
                 "--sigma-b", "0.5", "--scheduler", client.scheduler.address]) == 0
    with np.load(tmp_path / "K.npz") as f:
        assert np.array_equal(f["ntk"], exact.ntk) and np.array_equal(f["nngp"], exact.nngp)


# -- sweeps: the joblib one-line switch ---------------------------------------------------
def test_table_ucr_runs_on_dask_through_joblib_parallel_config(client, tmp_path):
    """verify/table_ucr.py, unchanged, on the 2-process cluster: its units (kernel_grid_search
    over each kernel family) run as Dask tasks and give the results of a run without workers."""
    import json

    import joblib

    verify = str(ROOT / "verify")
    sys.path.insert(0, verify)
    try:
        table_ucr = importlib.import_module("table_ucr")
    finally:
        sys.path.remove(verify)
    client.run(exec, f"import sys; sys.path.insert(0, {verify!r})")  # the workers import the script's module
    args = ["--quick", "--datasets", "SynthCBF"]
    with dd.get_task_stream(client) as ts, joblib.parallel_config(backend="dask"):
        assert table_ucr.main([*args, "--out", str(tmp_path / "dask"), "--jobs", "2"]) in (0, None)
    assert len(ts.data) >= 4, "the four kernel families of SynthCBF ran as Dask tasks"
    assert table_ucr.main([*args, "--out", str(tmp_path / "here"), "--jobs", "1"]) in (0, None)

    def acc(d):
        return json.loads((tmp_path / d / "table_ucr.json").read_text())["datasets"]["SynthCBF"]["families"]

    a, b = acc("dask"), acc("here")
    assert sorted(a) == sorted(b) == ["NTK", "POLY", "RBF", "RNTK"]
    for fam in b:
        assert (a[fam]["test_acc"], a[fam]["best"]) == (b[fam]["test_acc"], b[fam]["best"]), fam
