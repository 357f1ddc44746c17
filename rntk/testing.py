"""Test helpers shared by rntk's own tests and by users who add kernels.

Matrices are compared by relative Frobenius error (element-wise tolerances on
kernels either flake or check nothing).
"""
from __future__ import annotations

import numpy as np

__all__ = ["rel_frobenius", "scaled_max_error", "assert_close_matrices", "check_kernel_contract"]


def rel_frobenius(a, b) -> float:
    """||a - b||_F / ||b||_F (0 when both are exactly zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch {a.shape} vs {b.shape}")
    num = np.linalg.norm(a - b)
    den = np.linalg.norm(b)
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return float(num / den)


def scaled_max_error(a, b, diag_x, diag_y) -> float:
    """max |a_ij - b_ij| / sqrt(diag_x_i diag_y_j): error on the kernel's own scale.

    An off-diagonal entry can cancel to nearly zero (e.g. ReLU at correlation
    -1), where its relative error says nothing about the arithmetic; its
    rounding error lives on the scale sqrt(k(x, x) k(y, y)).
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.sqrt(np.outer(np.abs(diag_x), np.abs(diag_y)))
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(scale > 0, diff / scale, np.where(diff == 0, 0.0, np.inf))
    return float(e.max())


def assert_close_matrices(a, b, rtol: float, what: str = "") -> None:
    """Assert ``rel_frobenius(a, b) <= rtol``."""
    err = rel_frobenius(a, b)
    if not err <= rtol:
        raise AssertionError(f"{what} relative Frobenius error {err:.3e} > {rtol:.1e}")


def check_kernel_contract(kernel, X, psd_tol: float = 1e-10, **gram_kwargs) -> None:
    """The contract every ``gram`` kernel meets.

    * ``gram(X)`` has shape (N, N) and is exactly symmetric (ntk and nngp);
    * it is PSD: min eigenvalue >= -psd_tol * trace;
    * ``gram(X, X[:k])`` equals the first k columns of ``gram(X)`` off the
      diagonal (``Y=None`` may add same-sample terms on the diagonal only);
    * ``gram(Y, X) == gram(X, Y).T``.
    """
    res = kernel.gram(X, **gram_kwargs)
    n = res.ntk.shape[0]
    for name in ("ntk", "nngp"):
        K = getattr(res, name)
        assert K.shape == (n, n), f"{name} shape {K.shape}"
        assert np.array_equal(K, K.T), f"{name} of gram(X) is not exactly symmetric"
        ev = np.linalg.eigvalsh(K.astype(np.float64))
        assert ev.min() >= -psd_tol * max(np.trace(K), 1e-300), (
            f"{name} not PSD: min eigenvalue {ev.min():.3e}, trace {np.trace(K):.3e}"
        )
    k = max(1, n // 2)
    Xk = X[:k]
    cross = kernel.gram(X, Xk, **gram_kwargs)
    swapped = kernel.gram(Xk, X, **gram_kwargs)
    off = ~np.eye(n, k, dtype=bool)
    for name in ("ntk", "nngp"):
        full, c = getattr(res, name), getattr(cross, name)
        assert c.shape == (n, k)
        np.testing.assert_allclose(c[off], full[:, :k][off], rtol=1e-12, atol=0)
        np.testing.assert_allclose(getattr(swapped, name), c.T, rtol=1e-12, atol=0)
