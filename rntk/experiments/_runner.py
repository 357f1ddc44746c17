"""Run independent experiment units on joblib, resumably and stoppably.

See :func:`run_units` for the contract and ``docs/experiments.md`` for the
overview. joblib is imported when units are run in parallel, not before.
"""
from __future__ import annotations

import json
import numbers
import os
import signal
import sys
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable

__all__ = ["Stopped", "exit_status", "load_cached", "run_units", "signal_name"]

_POLL_S = 0.5  # how often a worker checks that its parent is alive
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# joblib's own list of thread-pool variables (it sets them when it starts loky workers)
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS")


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the process running :func:`run_units`.

    A subclass of ``KeyboardInterrupt``, so that one ``except
    KeyboardInterrupt`` handles every request to stop.

    Parameters
    ----------
    signum : int
        The signal received.

    Attributes
    ----------
    signum : int
        The signal received.
    """

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def exit_status(exc: BaseException) -> int:
    """The exit status of a run stopped by ``exc``: 128 + the signal number (the shell's convention).

    Parameters
    ----------
    exc : KeyboardInterrupt
        As raised by :func:`run_units`; a plain ``KeyboardInterrupt`` means SIGINT.

    Returns
    -------
    int
        130 for Ctrl-C (SIGINT), 143 for SIGTERM, 129 for SIGHUP.
    """
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def signal_name(exc: BaseException) -> str:
    """The name of the signal behind a ``KeyboardInterrupt`` raised by :func:`run_units`.

    Parameters
    ----------
    exc : KeyboardInterrupt

    Returns
    -------
    str
        ``"SIGINT"``, ``"SIGTERM"`` or ``"SIGHUP"``.
    """
    return signal.Signals(getattr(exc, "signum", signal.SIGINT)).name


def load_cached(path, accept: Callable[[Any], bool] | None = None):
    """A unit's result saved as JSON, or None when the unit has to be (re)computed.

    Parameters
    ----------
    path : str or os.PathLike
        The unit's result file.
    accept : callable, optional
        ``accept(document) -> bool``: False when the file holds a valid
        result of other settings (it is then recomputed without a word). It
        raises ``ValueError``, ``KeyError`` or ``TypeError`` when the document
        is malformed, which counts as damage.

    Returns
    -------
    object or None
        The parsed document; None when the file is absent, not accepted or
        damaged (unreadable, not JSON, malformed). A damaged file is named in
        a warning on standard error and left in place: the unit's new result
        replaces it. Results written atomically (temporary file, then a
        rename) are damaged on their own, so no other unit is affected.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        ok = True if accept is None else bool(accept(doc))
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"warning: cached result {path} is damaged ({type(e).__name__}: {e}); "
              "discarding it and running its unit again", file=sys.stderr, flush=True)
        return None
    return doc if ok else None


@contextmanager
def _stop_signals():
    """SIGINT raises ``KeyboardInterrupt``, SIGTERM and SIGHUP raise :class:`Stopped`: once.

    Repeated signals are ignored until the stop is complete, so that a second
    Ctrl-C cannot leave the workers half stopped. A disposition someone set
    on purpose (``nohup`` ignores SIGHUP, a background job SIGINT) is kept.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = False

    def handler(signum, frame):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Stopped(signum)

    old = {}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        old[signal.SIGINT] = signal.signal(signal.SIGINT, handler)
    for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if s is not None and signal.getsignal(s) == signal.SIG_DFL:
            old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


# -- in the workers ---------------------------------------------------------------------
_entered = False  # per worker process: the guard below is installed once


def _enter_worker(parent: int, from_main_thread: bool) -> None:
    global _entered
    if _entered:
        return
    _entered = True
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C in a terminal reaches every process of the foreground group; the
        # parent stops the workers, and a KeyboardInterrupt here would only add tracebacks
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    # only a direct child of the run's process (loky, multiprocessing) is tied to it;
    # workers of a cluster (Dask, Ray) have parents of their own and are left alone
    if os.getppid() == parent:
        _die_with_parent(parent, from_main_thread)


def _die_with_parent(parent: int, pdeathsig: bool) -> None:
    # The kernel sends the parent-death signal when the *thread* that forked this
    # process ends. loky forks its workers in the thread that submits the first
    # tasks (or, to replace a dead worker, in its management thread, which lives
    # as long as the pool): with a run started from a thread that ends before the
    # process, the signal would kill workers that loky keeps for the next run.
    if pdeathsig and sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc prctl: the watchdog thread remains
            pass
    if os.getppid() != parent:  # the parent died before the request above was in place
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="rntk-parent-watchdog", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(_POLL_S)
        if os.getppid() != parent:
            os._exit(1)


def _cap_threads(n: int) -> None:
    for v in _THREAD_VARS:  # for the libraries the unit has yet to import
        os.environ[v] = str(n)
    try:  # thread pools loaded already (numpy's BLAS comes with unpickling the unit)
        from threadpoolctl import threadpool_limits
    except ImportError:
        pass
    else:
        threadpool_limits(n)
    numba = sys.modules.get("numba")
    if numba is not None and hasattr(numba, "set_num_threads"):
        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    torch = sys.modules.get("torch")
    if torch is not None and hasattr(torch, "set_num_threads"):
        torch.set_num_threads(n)


def _call_unit(parent: int, from_main_thread: bool, threads: int | None, index: int, fn, unit: tuple):
    if os.getpid() != parent:  # a worker process, not a thread of the run's own process
        _enter_worker(parent, from_main_thread)
        if threads is not None:
            _cap_threads(threads)
    return index, fn(*unit)


# -- in the run's process ----------------------------------------------------------------
def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def run_units(fn: Callable, units: Iterable, *, n_jobs: int | None = 1, on_result: Callable | None = None,
              threads_per_unit: int | None = 1) -> None:
    """Run ``fn(*unit)`` for every unit on joblib; ``on_result(unit, result)`` as each one ends.

    A unit is one independent piece of an experiment (a dataset and kernel
    family, a training run) whose result the caller saves in ``on_result``,
    so that an interrupted run loses at most the units that were running.
    Units already saved are the caller's to leave out (see
    :func:`load_cached`).

    The workers are those of joblib's active backend: loky processes unless
    ``joblib.parallel_config(backend=...)`` selects another one (threading,
    or Dask or Ray for a cluster), so a run moves to a cluster without a
    change to its script.

    Parameters
    ----------
    fn : callable
        Run as ``fn(*unit)``; it and the units must pickle for process
        backends (a module-level function).
    units : iterable of tuple
        The arguments of every call, started in this order.
    n_jobs : int or None
        Units run at once; -1 for one per CPU (or per worker of a cluster),
        None for joblib's active setting. 1, or a single unit, runs the units
        here, one after another, without a pool (for debugging); stop signals
        are handled the same way.
    on_result : callable, optional
        Called here, in the order the units end.
    threads_per_unit : int or None
        Threads each unit may use in a worker process: every worker sets the
        thread-pool variables (``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
        ``MKL_NUM_THREADS``, ``NUMBA_NUM_THREADS``, ...) to it before each unit,
        and lowers the pools of BLAS/OpenMP (threadpoolctl), numba and torch
        already loaded there. None leaves the workers' threads alone. Units
        run in this process (``n_jobs=1``, threading backend) are not capped.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C; :class:`Stopped` (a subclass) for SIGTERM or SIGHUP. Queued
        units were cancelled and, with process backends, the running ones
        killed; :func:`exit_status` gives the conventional exit status.
    Exception
        The first exception raised by a unit or by ``on_result``, after the
        other units were stopped likewise.

    Notes
    -----
    Workers that are child processes of this one (loky, multiprocessing) die
    with it even when it is SIGKILLed, which no handler can see: before its
    first unit a worker asks the Linux kernel for SIGKILL when its parent dies
    (``prctl(PR_SET_PDEATHSIG)``, effective even while compiled code holds the
    GIL) and starts a thread that polls ``os.getppid()`` twice a second (the
    only guard on other POSIX systems). The kernel's request is made only for
    runs started from the main thread, because it fires when the thread that
    started the worker ends; workers of runs started from other threads rely
    on the polling thread. Ctrl-C in a terminal is ignored by such workers:
    the parent stops them.
    """
    if n_jobs is not None and (not _is_int(n_jobs) or n_jobs == 0):
        raise ValueError(f"n_jobs must be a non-zero int or None, got {n_jobs!r}")
    if threads_per_unit is not None and (not _is_int(threads_per_unit) or threads_per_unit < 1):
        raise ValueError(f"threads_per_unit must be an int >= 1 or None, got {threads_per_unit!r}")
    units = [tuple(u) for u in units]
    if not units:
        return
    if n_jobs == 1 or len(units) == 1:
        with _stop_signals():
            for u in units:
                r = fn(*u)
                if on_result is not None:
                    on_result(u, r)
        return

    import joblib

    n = min(joblib.effective_n_jobs(n_jobs), len(units))
    if n <= 1:
        return run_units(fn, units, n_jobs=1, on_result=on_result, threads_per_unit=threads_per_unit)
    parent, main = os.getpid(), threading.current_thread() is threading.main_thread()
    calls = (joblib.delayed(_call_unit)(parent, main, threads_per_unit, i, fn, u) for i, u in enumerate(units))
    with _stop_signals():
        # one unit per task: a unit is what is saved, resumed and cancelled
        results = joblib.Parallel(n_jobs=n, batch_size=1, return_as="generator_unordered")(calls)
        try:
            for i, r in results:
                if on_result is not None:
                    on_result(units[i], r)
        finally:
            # after an error or a signal outside the generator: closing it aborts the
            # backend's queued and running tasks (its count of them is no news)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results.close()
