"""The kernel contract as plain assertions, usable outside pytest."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._compare import _host, assert_close_matrices, scaled_max_error, tolerance

__all__ = ["check_kernel_contract"]


_FIELDS = ("ntk", "nngp")


def _fields(res) -> dict:
    return {name: _host(getattr(res, name)) for name in _FIELDS}


@dataclass(frozen=True)
class _Result:
    """A stand-in for a KernelResult built from other results' arrays."""

    ntk: Any
    nngp: Any


def _transpose(res) -> _Result:
    return _Result(**{name: K.T for name, K in _fields(res).items()})


def _assert_symmetric(res, n: int, what: str) -> None:
    for name, K in _fields(res).items():
        if K.shape != (n, n):
            raise AssertionError(f"{what}: {name} has shape {K.shape}, expected {(n, n)}")
        if not np.array_equal(K, K.T):
            i, j = np.unravel_index(np.argmax(np.abs(K - K.T)), K.shape)
            raise AssertionError(
                f"{what}: {name} is not exactly symmetric ({name}[{i}, {j}] = {K[i, j]!r}, "
                f"{name}[{j}, {i}] = {K[j, i]!r})"
            )


def _assert_psd(res, psd_tol: float, what: str) -> None:
    for name, K in _fields(res).items():
        K = K.astype(np.float64)
        ev = np.linalg.eigvalsh((K + K.T) / 2)
        trace = np.trace(K)
        if not ev.min() >= -psd_tol * max(trace, 1e-300):
            raise AssertionError(
                f"{what}: {name} is not PSD: min eigenvalue {ev.min():.3e} < "
                f"-{psd_tol:.0e} * trace {trace:.3e}"
            )


def _assert_same_pairs(
    got, want, diag_x: dict, diag_y: dict, tol: float, what: str, mask=None
) -> None:
    """Every (masked) entry of ``got`` equals ``want``'s on the kernel's scale."""
    g, w = _fields(got), _fields(want)
    for name in _FIELDS:
        a, b = g[name], w[name]
        if a.shape != b.shape:
            raise AssertionError(f"{what}: {name} has shape {a.shape}, expected {b.shape}")
        if mask is not None:
            a, b = np.where(mask, a, 0.0), np.where(mask, b, 0.0)
        err = scaled_max_error(a, b, diag_x[name], diag_y[name])
        if not err <= tol:
            raise AssertionError(
                f"{what}: {name} differs by {err:.3e} on the kernel's scale (> {tol:.0e})"
            )


def _assert_close(got, want, rtol: float, what: str) -> None:
    g, w = _fields(got), _fields(want)
    for name in _FIELDS:
        assert_close_matrices(g[name], w[name], rtol, f"{what}: {name}")


def _diagonals(res) -> dict:
    return {name: np.diag(K) for name, K in _fields(res).items()}


def _take(X, index):
    """Samples ``index`` of an array or a list of sequences."""
    if isinstance(X, (list, tuple)):
        return [X[i] for i in index]
    return X[np.asarray(index)]


def check_kernel_contract(kernel, X, psd_tol: float | None = None, **gram_kwargs) -> None:
    """The core contract every ``gram`` kernel meets, on one input.

    * ``gram(X)`` has shape (N, N) and is exactly symmetric (ntk and nngp);
    * it is PSD: min eigenvalue >= -psd_tol * trace;
    * ``gram(X, X[:k])`` equals the first k columns of ``gram(X)`` off the
      diagonal (``Y=None`` may add same-sample terms on the diagonal only);
    * ``gram(X[:k], X) == gram(X, X[:k]).T``.

    Parameters
    ----------
    kernel : object with ``gram(X, Y=None, **gram_kwargs)``
    X : input of ``kernel.gram`` with at least one sample
    psd_tol : float, optional
        Default: the ``psd`` tolerance of the result's dtype in :data:`TOLERANCES`.
    **gram_kwargs
        Passed to every ``gram`` call (e.g. ``backend=``, ``dtype=``).

    Raises
    ------
    AssertionError
        Naming the first check that fails.

    Notes
    -----
    The column and swap checks compare entries on the kernel's own scale with
    the ``entry`` tolerance of the result's dtype (:class:`Tolerance`).
    """
    res = kernel.gram(X, **gram_kwargs)
    n = _host(res.ntk).shape[0]
    tol = tolerance(_host(res.ntk).dtype)
    _assert_symmetric(res, n, "gram(X)")
    _assert_psd(res, tol.psd if psd_tol is None else psd_tol, "gram(X)")
    k = max(1, n // 2)
    Xk = _take(X, range(k))
    cross = kernel.gram(X, Xk, **gram_kwargs)
    swapped = kernel.gram(Xk, X, **gram_kwargs)
    d = _diagonals(res)
    dk = {name: v[:k] for name, v in d.items()}
    full_k = {name: K[:, :k] for name, K in _fields(res).items()}
    off = ~np.eye(n, k, dtype=bool)
    _assert_same_pairs(
        cross, _Result(**full_k), d, dk, tol.entry, "gram(X, X[:k]) off the diagonal", off
    )
    _assert_same_pairs(
        _transpose(swapped), cross, d, dk, tol.entry, "gram(X[:k], X).T against gram(X, X[:k])"
    )
