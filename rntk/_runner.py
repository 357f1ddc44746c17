"""Independent units of work in worker processes that never outlive the run.

:func:`run_parallel` runs ``fn(*task)`` for every task in ``jobs`` spawned
worker processes and hands each result to ``on_result`` in this process as
soon as it is ready (that is where a caller saves it, so a finished unit is
on disk before anything else happens). Stopping is prompt and leaves nothing
behind:

* Ctrl-C (SIGINT), SIGTERM or SIGHUP of this process cancel the queued
  tasks, terminate the running workers (SIGTERM, then SIGKILL after
  ``grace`` seconds) and raise ``KeyboardInterrupt`` (:class:`Stopped` for
  SIGTERM and SIGHUP, a subclass); :func:`exit_status` gives the
  conventional exit status 128 + signal number. A task that raises does the
  same and its exception is re-raised. Results already handed to
  ``on_result`` are the caller's to keep.
* Workers die with this process even when it is SIGKILLed, which no
  handler can see. On Linux every worker asks the kernel for SIGKILL when
  its parent dies (``prctl(PR_SET_PDEATHSIG)``): the kernel delivers it even
  while the worker is inside compiled code that holds the GIL for minutes
  (numba Grams, libsvm fits), where no Python-level check could run. On
  every POSIX system a daemon thread in each worker also polls
  ``os.getppid()`` twice a second and exits when the worker has been
  reparented; it is the only guard where prctl does not exist (macOS) and a
  second one on Linux. PR_SET_PDEATHSIG fires when the *thread* that started
  the worker ends: the workers are started by ``submit`` in the thread that
  calls :func:`run_parallel`, which outlives the pool.
* Workers ignore SIGINT: Ctrl-C in a terminal reaches every process of the
  foreground group, and a KeyboardInterrupt inside a worker would only add
  tracebacks to the parent's orderly stop.

``jobs <= 1`` (or a single task) runs the tasks in this process, with the
same signal handling.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from contextlib import contextmanager

__all__ = ["Stopped", "exit_status", "run_parallel", "signal_name"]

_POLL_S = 0.5  # how often a worker checks that its parent is alive
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP reached the process running :func:`run_parallel`."""

    def __init__(self, signum: int):
        self.signum = int(signum)
        super().__init__(f"stopped by {signal.Signals(signum).name}")


def exit_status(exc: BaseException) -> int:
    """128 + the signal number, the shell's convention for a process stopped by a signal."""
    return 128 + int(getattr(exc, "signum", signal.SIGINT))


def signal_name(exc: BaseException) -> str:
    """The name of the signal behind a KeyboardInterrupt from :func:`run_parallel`: "SIGINT", "SIGTERM"..."""
    return signal.Signals(getattr(exc, "signum", signal.SIGINT)).name


@contextmanager
def _signals_raise():
    """SIGTERM and SIGHUP raise :class:`Stopped` in the main thread, as SIGINT raises KeyboardInterrupt.

    A disposition someone set on purpose (``nohup`` ignores SIGHUP) is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Stopped(signum)

    old = {}
    for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if s is not None and signal.getsignal(s) == signal.SIG_DFL:
            old[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def _shielded():
    """Ignore further stop signals while the workers are being stopped (a bounded wait):
    a second Ctrl-C must not leave the cleanup half done."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    old = {s: signal.signal(s, signal.SIG_IGN) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _worker_start(parent: int, init, initargs) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    if init is not None:
        init(*initargs)


def _die_with_parent(parent: int) -> None:
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no usable libc prctl: the watchdog thread remains
            pass
    # the parent may have died before the request above was in place
    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="rntk-parent-watchdog", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(_POLL_S)
        if os.getppid() != parent:
            os._exit(1)


def _workers(pool) -> list:
    procs = getattr(pool, "_processes", None)
    if procs is None:  # not CPython's ProcessPoolExecutor layout: every multiprocessing child
        import multiprocessing

        return multiprocessing.active_children()
    return list(procs.values())


def _stop(pool, grace: float) -> None:
    procs = _workers(pool)
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join(1.0)


def run_parallel(fn, tasks, jobs: int, on_result=None, *, initializer=None, initargs=(), grace: float = 5.0):
    """Run ``fn(*task)`` for every task; ``on_result(task, result)`` as each finishes.

    Parameters
    ----------
    fn : picklable callable (a module-level function)
    tasks : iterable of tuples
        The arguments of each call, in the order they are started.
    jobs : int
        Worker processes; ``<= 1`` runs the tasks here, one after another.
    on_result : callable, optional
        Called in this process, in completion order.
    initializer, initargs
        Run once in every worker before its first task.
    grace : float
        Seconds a terminated worker gets before it is killed.

    Raises
    ------
    KeyboardInterrupt
        Ctrl-C; :class:`Stopped` (a subclass) for SIGTERM or SIGHUP. The
        queued tasks were cancelled and the workers have exited.
    Exception
        The first exception raised by a task (the other tasks stopped likewise).
    """
    tasks = [tuple(t) for t in tasks]
    with _signals_raise():
        if jobs <= 1 or len(tasks) <= 1:
            for t in tasks:
                r = fn(*t)
                if on_result is not None:
                    on_result(t, r)
            return
        from concurrent.futures import ProcessPoolExecutor, as_completed
        from multiprocessing import get_context

        # spawn, not fork: numba's threading layer and torch are not fork-safe
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=get_context("spawn"),
                                   initializer=_worker_start, initargs=(os.getpid(), initializer, tuple(initargs)))
        try:
            futures = {pool.submit(fn, *t): t for t in tasks}
            for fut in as_completed(futures):
                r = fut.result()
                if on_result is not None:
                    on_result(futures[fut], r)
        except BaseException:
            with _shielded():
                _stop(pool, grace)
            raise
        pool.shutdown(wait=True)
