"""rntk.experiments: joblib's active backend, streamed results, stop signals, cached results.

The scripts that use the runner are stopped, killed and resumed in
test_reliability_runs.py; these tests call it directly.
"""
import os
import signal
import threading
import time

import joblib
import pytest

from rntk.experiments import Stopped, exit_status, load_cached, run_units, signal_name


def where(i, delay=0.0):
    time.sleep(delay)
    return i, os.getpid(), threading.get_ident(), os.environ.get("NUMBA_NUM_THREADS")


def fail_on(i, bad):
    if i == bad:
        raise ValueError(f"unit {i} failed")
    return i


def terminate_this_process(i):
    if i == 0:
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(0.2)
    return i


def _run(fn, units, **kw):
    got = []
    run_units(fn, units, on_result=lambda u, r: got.append((u, r)), **kw)
    return got


def test_parallel_config_backend_is_honoured_threading_runs_in_this_process():
    with joblib.parallel_config(backend="threading"):
        got = _run(where, [(i, 0.05) for i in range(6)], n_jobs=2)
    assert sorted(u[0] for u, _ in got) == list(range(6))
    assert all(u[0] == r[0] for u, r in got)  # each result handed back with its own unit
    assert {r[1] for _, r in got} == {os.getpid()}  # threads of this process, no worker processes
    assert threading.get_ident() not in {r[2] for _, r in got}  # ...but not this thread


def test_default_backend_runs_units_in_worker_processes_with_capped_threads():
    got = _run(where, [(i,) for i in range(4)], n_jobs=2)
    assert sorted(u[0] for u, _ in got) == list(range(4))
    assert os.getpid() not in {r[1] for _, r in got}
    assert {r[3] for _, r in got} == {"1"}  # threads_per_unit=1 in every worker


def test_one_job_runs_in_the_calling_thread():
    got = _run(where, [(i,) for i in range(3)], n_jobs=1)
    assert [u for u, _ in got] == [(0,), (1,), (2,)]
    assert {(r[1], r[2]) for _, r in got} == {(os.getpid(), threading.get_ident())}


def test_an_exception_in_a_unit_is_raised_and_stops_the_run():
    with joblib.parallel_config(backend="threading"), pytest.raises(ValueError, match="unit 1 failed"):
        run_units(fail_on, [(i, 1) for i in range(4)], n_jobs=2)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_sigterm_raises_stopped_cancels_queued_units_and_restores_the_handler(n_jobs):
    got = []
    with joblib.parallel_config(backend="threading"), pytest.raises(Stopped) as e:
        run_units(terminate_this_process, [(i,) for i in range(40)], n_jobs=n_jobs,
                  on_result=lambda u, r: got.append(r))
    assert len(got) < 40
    assert (exit_status(e.value), signal_name(e.value)) == (143, "SIGTERM")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_exit_status_of_ctrl_c():
    assert (exit_status(KeyboardInterrupt()), signal_name(KeyboardInterrupt())) == (130, "SIGINT")


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="n_jobs"):
        run_units(where, [(0,)], n_jobs=0)
    with pytest.raises(ValueError, match="threads_per_unit"):
        run_units(where, [(0,)], threads_per_unit=0)


def test_load_cached(tmp_path, capsys):
    f = tmp_path / "unit.json"
    assert load_cached(f) is None  # not computed yet
    f.write_text('{"key": "a", "acc": 0.9}')
    assert load_cached(f) == {"key": "a", "acc": 0.9}
    assert load_cached(f, lambda d: d["key"] == "b") is None  # another setting's result
    assert capsys.readouterr().err == ""
    for damaged in ('{"key": "a", "ac', "[1, 2]"):  # cut short; JSON but not a record
        f.write_text(damaged)
        assert load_cached(f, lambda d: d["key"] == "a") is None
        assert str(f) in capsys.readouterr().err
    assert f.exists()  # left for the unit's new result to replace
