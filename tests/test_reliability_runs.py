"""Long runs: prompt stops on signals, no orphaned workers, damaged caches, argument checks.

The process tests start the verify/ scripts of this checkout as subprocesses
(each in its own session, so that a failing test can still kill everything it
started) and watch their descendants in /proc.
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rntk import RBFKernel, RNTK
from rntk.estimators import kernel_grid_search

ROOT = Path(__file__).resolve().parent.parent
VERIFY = ROOT / "verify"
STOP_S = 8.0  # a stopped run must have exited this soon after the signal (it takes ~0.3 s)
ORPHAN_S = 5.0  # and its workers must be gone this soon after their parent
needs_proc = pytest.mark.skipif(not os.path.isfile("/proc/self/stat"), reason="reads the process table in /proc")


# -- processes -------------------------------------------------------------------------
def _processes() -> dict:
    """{pid: (parent pid, state)} of every process."""
    table = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()  # the command name may hold spaces
            except OSError:
                continue
            table[int(d)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> set:
    table = _processes()
    out, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        kids = [c for c, (pp, _) in table.items() if pp == parent]
        out.update(kids)
        todo += kids
    return out


def _alive(pids) -> set:
    table = _processes()
    return {p for p in pids if p in table and table[p][1] not in "ZX"}  # a zombie has exited


@pytest.fixture
def launch(tmp_path):
    """Start a verify/ script in a new session; whatever is left of its group is killed at teardown."""
    started = []

    def start(script, *args, sigint=signal.SIG_DFL):
        log = tmp_path / f"{script}.{len(started)}.log"
        env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg", PYTHONUNBUFFERED="1")
        with open(log, "w") as f:
            # SIGINT's disposition is set, not inherited: started from a background job (`cmd &`
            # in a script) pytest has SIGINT ignored, its children would too, and a run keeps an
            # ignored SIGINT on purpose (see the test of that below)
            p = subprocess.Popen([sys.executable, str(VERIFY / script), *map(str, args)], cwd=ROOT,
                                 stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                 preexec_fn=lambda: signal.signal(signal.SIGINT, sigint))
        p.log, p.seen = log, set()
        started.append(p)
        return p

    yield start
    for p in started:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # the session's group: the script and every worker it started
        except (ProcessLookupError, PermissionError):
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            pass


def _wait_until(cond, p, what: str, timeout: float = 180.0):
    """Poll ``cond()`` while recording ``p``'s descendants; fail if ``p`` ends first."""
    deadline = time.monotonic() + timeout
    while True:
        p.seen |= _descendants(p.pid)
        got = cond()
        if got:
            return got
        if p.poll() is not None:
            pytest.fail(f"the script exited ({p.returncode}) before {what}:\n{p.log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f} s:\n{p.log.read_text()[-3000:]}")
        time.sleep(0.1)


def _stop(p, sig) -> float:
    """Send ``sig``; seconds until ``p`` exited (fails after STOP_S)."""
    t0 = time.monotonic()
    os.kill(p.pid, sig)
    try:
        p.wait(STOP_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"still running {STOP_S:.0f} s after {sig.name}:\n{p.log.read_text()[-3000:]}")
    took = time.monotonic() - t0
    print(f"exited {took:.2f} s after {sig.name} (status {p.returncode})")
    return took


def _assert_gone(pids):
    t0 = time.monotonic()
    while _alive(pids) and time.monotonic() < t0 + ORPHAN_S:
        time.sleep(0.05)
    assert not _alive(pids), f"worker processes {sorted(_alive(pids))} outlived their parent by {ORPHAN_S:.0f} s"
    print(f"descendants gone {time.monotonic() - t0:.2f} s after their parent")


@pytest.fixture(scope="module")
def slow_ucr(tmp_path_factory):
    """A UCR-layout folder with one dataset whose RNTK unit takes tens of seconds (long
    series, many of them) while its other kernel families take a second or two."""
    root = tmp_path_factory.mktemp("ucr")
    (root / "Slow").mkdir()
    rng = np.random.default_rng(0)
    n, T = 250, 4000
    t = np.linspace(0.0, 1.0, T)
    for split in ("TRAIN", "TEST"):
        y = np.arange(n) % 2
        X = np.sin(2 * np.pi * (3 + 2 * y[:, None]) * t + rng.uniform(0, 2 * np.pi, (n, 1)))
        X += 0.3 * rng.normal(size=(n, T))
        np.savetxt(root / "Slow" / f"Slow_{split}.tsv", np.column_stack([y + 1, X]), delimiter="\t", fmt="%.3g")
    return root


def _table_ucr_on_slow(launch, root, out, **kw):
    return launch("table_ucr.py", "--quick", "--root", root, "--datasets", "Slow", "--jobs", 2, "--out", out, **kw)


@needs_proc
def test_table_ucr_ctrl_c_stops_within_seconds_and_keeps_finished_units(launch, slow_ucr, tmp_path):
    cache = tmp_path / "out" / "table_ucr_cache"
    p = _table_ucr_on_slow(launch, slow_ucr, tmp_path / "out")
    _wait_until(lambda: list(cache.glob("*.json")), p, "a finished unit")
    finished = {f: f.read_bytes() for f in cache.glob("*.json")}
    workers = set(p.seen)
    assert len(workers) >= 2, f"expected the 2 worker processes among {workers}"
    _stop(p, signal.SIGINT)
    assert p.returncode != 0  # an interrupted run must not look complete
    _assert_gone(workers)
    for f, data in finished.items():  # kept, whole
        assert f.read_bytes() == data and "test_acc" in json.loads(data)
    assert not (cache / "Slow__RNTK.json").exists(), "the long unit was run to its end instead of being stopped"


@needs_proc
def test_table_ucr_keeps_an_ignored_sigint_and_stops_on_sigterm(launch, slow_ucr, tmp_path):
    """A run started with SIGINT ignored (a background job of a shell script, nohup-like
    launchers) is not stopped by it, as the runner documents; SIGTERM still stops it."""
    cache = tmp_path / "out" / "table_ucr_cache"
    p = _table_ucr_on_slow(launch, slow_ucr, tmp_path / "out", sigint=signal.SIG_IGN)
    _wait_until(lambda: list(cache.glob("*.json")), p, "a finished unit")
    workers = set(p.seen)
    os.kill(p.pid, signal.SIGINT)
    time.sleep(2.0)
    assert p.poll() is None, f"an ignored SIGINT stopped the run:\n{p.log.read_text()[-3000:]}"
    assert not (cache / "Slow__RNTK.json").exists(), "the long unit ended before the check; it proves nothing"
    _stop(p, signal.SIGTERM)
    assert p.returncode == 128 + signal.SIGTERM
    _assert_gone(workers)


@needs_proc
def test_table_ucr_workers_die_with_a_killed_parent(launch, slow_ucr, tmp_path):
    cache = tmp_path / "out" / "table_ucr_cache"
    p = _table_ucr_on_slow(launch, slow_ucr, tmp_path / "out")
    _wait_until(lambda: list(cache.glob("*.json")), p, "a finished unit")
    workers = set(p.seen)
    assert len(workers) >= 2, f"expected the 2 worker processes among {workers}"
    os.kill(p.pid, signal.SIGKILL)  # no handler runs: the workers must notice by themselves
    p.wait(10)
    _assert_gone(workers)


def _finished_runs(runs) -> dict:
    out = {}
    for f in runs.glob("**/history.json"):
        try:
            data = f.read_bytes()
            if "test" in json.loads(data):
                out[f] = data
        except (OSError, ValueError):  # being replaced right now
            continue
    return out


@needs_proc
def test_rent_benchmark_sigterm_stops_within_seconds_and_keeps_finished_runs(launch, tmp_path):
    runs = tmp_path / "out" / "rent_runs"
    # 9 runs (one per method) of a few seconds each, 2 at a time
    p = launch("rent_benchmark.py", "--quick", "--tasks", "narma10", "--epochs", 12, "--jobs", 2,
               "--out", tmp_path / "out")
    _wait_until(lambda: _finished_runs(runs), p, "a finished run")
    finished = _finished_runs(runs)
    workers = set(p.seen)
    assert len(workers) >= 2, f"expected the 2 worker processes among {workers}"
    _stop(p, signal.SIGTERM)
    assert p.returncode != 0
    _assert_gone(workers)
    for f, data in finished.items():
        assert f.read_bytes() == data
    assert len(_finished_runs(runs)) < 9, "every queued run was run before stopping"


# -- damaged caches and checkpoints ------------------------------------------------------
class _Payload:
    """Pickles to a call that creates ``path``: proof that an object array was unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _truncated_npz(path: Path) -> None:
    import io

    buf = io.BytesIO()
    np.savez(buf, key="x", fold_scores=np.zeros((2, 3, 4)), done=np.zeros(2, dtype=bool))
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


def test_table_ucr_recomputes_damaged_cache_units_and_names_them(launch, tmp_path):
    out = tmp_path / "out"
    cache = out / "table_ucr_cache"
    cache.mkdir(parents=True)
    marker = tmp_path / "unpickled"
    damaged = {
        "SynthVarLenSines__RNTK.json": lambda f: f.write_text('{"test_acc": 94.4, "cv_a'),  # cut short
        "SynthVarLenSines__RBF.json": lambda f: f.write_text("[1, 2]"),  # JSON, not a record
        "SynthVarLenSines__NTK.npz": _truncated_npz,  # a checkpoint cut short
        "SynthVarLenSines__POLY.npz": lambda f: np.savez(f, key=np.array([_Payload(marker)], dtype=object)),
    }
    for name, write in damaged.items():
        write(cache / name)
    p = launch("table_ucr.py", "--quick", "--datasets", "SynthVarLenSines", "--jobs", 1, "--out", out)
    assert p.wait(300) == 0, p.log.read_text()[-3000:]
    log = p.log.read_text()
    for name in damaged:
        assert str(cache / name) in log, f"no message names the damaged {name}:\n{log[-3000:]}"
    assert not marker.exists(), "an object array in a checkpoint was unpickled"
    result = json.loads((out / "table_ucr.json").read_text())
    assert sorted(result["datasets"]["SynthVarLenSines"]["families"]) == ["NTK", "POLY", "RBF", "RNTK"]
    for fam in ("NTK", "POLY", "RBF", "RNTK"):
        assert "test_acc" in json.loads((cache / f"SynthVarLenSines__{fam}.json").read_text())


def _search_data(rng):
    X = rng.normal(size=(24, 6))
    y = np.arange(24) % 2
    X[y == 1] += 0.8
    return X, y


KERNELS = [RBFKernel(gamma=0.5), RBFKernel(gamma=2.0), RNTK(sigma_b=0.3)]


def test_search_discards_a_truncated_checkpoint_naming_it(rng, tmp_path):
    X, y = _search_data(rng)
    fresh = kernel_grid_search(X, y, KERNELS, [0.1, 10.0], cv=3)
    ck = tmp_path / "search.npz"
    _truncated_npz(ck)
    with pytest.warns(RuntimeWarning, match="damaged") as rec:
        res = kernel_grid_search(X, y, KERNELS, [0.1, 10.0], cv=3, checkpoint=ck)
    assert any(str(ck) in str(w.message) for w in rec)
    np.testing.assert_array_equal(res.fold_scores, fresh.fold_scores)
    with np.load(ck, allow_pickle=False) as z:  # replaced by a complete checkpoint
        assert z["done"].all()


def test_search_never_unpickles_a_checkpoint(rng, tmp_path):
    X, y = _search_data(rng)
    ck = tmp_path / "search.npz"
    fresh = kernel_grid_search(X, y, KERNELS, [0.1, 10.0], cv=3, checkpoint=ck)
    with np.load(ck, allow_pickle=False) as z:
        saved = {k: z[k] for k in z.files}
    marker = tmp_path / "unpickled"
    saved["fold_scores"] = np.array([_Payload(marker)], dtype=object)  # the right key, a poisoned array
    np.savez(ck, **saved)
    with pytest.warns(RuntimeWarning, match="damaged") as rec:
        res = kernel_grid_search(X, y, KERNELS, [0.1, 10.0], cv=3, checkpoint=ck)
    assert not marker.exists(), "the object array was unpickled"
    assert any(str(ck) in str(w.message) for w in rec)
    np.testing.assert_array_equal(res.fold_scores, fresh.fold_scores)


def test_search_checkpoint_that_fails_to_save_keeps_the_previous_one(rng, tmp_path, monkeypatch):
    X, y = _search_data(rng)
    ck = tmp_path / "search.npz"
    kernel_grid_search(X, y, KERNELS[:1], [1.0], cv=3, checkpoint=ck)
    before = ck.read_bytes()

    def disk_full(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space"):
        kernel_grid_search(X, y, KERNELS[:1], [1.0], cv=3, checkpoint=ck)  # resumes, then saves
    assert ck.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["search.npz"], "a temp file was left behind"


def test_write_json_that_fails_keeps_the_previous_file(tmp_path):
    sys.path.insert(0, str(VERIFY))
    try:
        from _common import write_json
    finally:
        sys.path.remove(str(VERIFY))
    f = tmp_path / "unit.json"
    write_json(f, {"a": 1})
    with pytest.raises(TypeError):
        write_json(f, {"a": object()})  # not serialisable: fails half-way through
    assert json.loads(f.read_text()) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["unit.json"], "a temp file was left behind"


def test_rent_benchmark_redoes_a_run_whose_history_is_damaged(tmp_path, capsys):
    import importlib.util

    sys.path.insert(0, str(VERIFY))
    try:
        spec = importlib.util.spec_from_file_location("_rent_benchmark_under_test", VERIFY / "rent_benchmark.py")
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(VERIFY))
    run = dict(task="narma10", method="full", label="full", seed=0, epochs=1, override={}, max_train=24,
               max_eval=24, hidden=4, out=tmp_path / "run")
    run["out"].mkdir()
    hist = run["out"] / "history.json"
    hist.write_text('{"config": {"epochs": 1}, "epochs": [{"epoch": 0, "val": {"ms')  # cut short
    (h,) = bench.run_all([run], jobs=1)
    assert str(hist) in capsys.readouterr().err
    assert "test" in h and "test" in json.loads(hist.read_text())


# -- kernel_grid_search's arguments ------------------------------------------------------
@pytest.mark.parametrize("kernels, match", [
    (["rbf"], r"kernels\[0\] is the string 'rbf', not a kernel: .*gram\(X, Y=None\).*RBFKernel\("),
    ([RBFKernel(1.0), 3], r"kernels\[1\] is 3 \(int\), not a kernel: .*gram"),
    ("rbf", r"a sequence of kernel objects.*got the string 'rbf'"),
    (RBFKernel(1.0), r"got the single kernel .*pass \[kernel\]"),
])
def test_search_refuses_what_is_not_a_list_of_kernels_saying_what_is_expected(rng, kernels, match):
    X, y = _search_data(rng)
    with pytest.raises(TypeError, match=match):
        kernel_grid_search(X, y, kernels)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(params="0.1, 1, 10"), TypeError, "params must be a sequence of numbers"),
    (dict(max_iter=0), ValueError, "max_iter must be an int >= 1, or -1"),  # every fit would stop at once
    (dict(max_iter=2.5), ValueError, "max_iter must be an int"),
    (dict(checkpoint_every=-1), ValueError, "checkpoint_every must be"),
    (dict(params=[]), ValueError, "non-empty"),
])
def test_search_refuses_malformed_arguments(rng, kwargs, error, match):
    X, y = _search_data(rng)
    with pytest.raises(error, match=match):
        kernel_grid_search(X, y, [RBFKernel(1.0)], **kwargs)
