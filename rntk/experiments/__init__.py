"""Long experiments as independent, resumable units run on joblib.

:func:`run_units` runs the units on joblib's active backend (loky worker
processes by default; ``joblib.parallel_config(backend="dask")`` or ``"ray"``
moves them to a cluster) and hands each result back as soon as its unit ends,
so that the caller can save it; :func:`load_cached` reads a saved result back
(or names a damaged one and has it recomputed). Ctrl-C and SIGTERM stop a run
within seconds with a ``KeyboardInterrupt`` (:class:`Stopped` for SIGTERM),
whose conventional exit status :func:`exit_status` gives. See
``docs/experiments.md``.
"""
from ._runner import Stopped, exit_status, load_cached, run_units, signal_name

__all__ = ["run_units", "load_cached", "Stopped", "exit_status", "signal_name"]
