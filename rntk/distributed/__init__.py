"""Gram matrices on a Dask cluster, tile by tile, in memory or into a resumable Zarr store.

:func:`gram` computes ``kernel.gram(X, Y)`` as one Dask task per tile (the
fused kernel on one worker thread each) and returns the same
:class:`~rntk.KernelResult`, bit for bit, or writes it to a Zarr store that a
rerun completes (:class:`GramStore`). Dask and Zarr are imported when used
(``pip install "rntk[distributed]"``). Sweeps (the experiment runner,
``kernel_grid_search`` inside its units) move to Dask through
``joblib.parallel_config(backend="dask")``; see ``docs/distributed.md``.
"""
from ._gram import DEFAULT_TILE, ClusterError, GramStore, NoWorkersError, gram

__all__ = ["DEFAULT_TILE", "ClusterError", "GramStore", "NoWorkersError", "gram"]
