"""Tolerances and matrix comparisons: every threshold of rntk's numerical tests in one table."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Tolerance", "TOLERANCES", "RTOL_ILL_CONDITIONED", "tolerance", "rel_frobenius", "scaled_max_error", "assert_close_matrices"]


def _host(a) -> np.ndarray:
    """A numpy, CuPy or torch array as a numpy array (on the host)."""
    if hasattr(a, "detach"):  # torch
        a = a.detach().cpu().numpy()
    elif hasattr(a, "__cuda_array_interface__") and hasattr(a, "get"):  # CuPy
        a = a.get()
    return np.asarray(a)


@dataclass(frozen=True)
class Tolerance:
    """What two evaluations of one kernel may differ by, in one dtype.

    Attributes
    ----------
    rtol : float
        Relative Frobenius error between evaluations by different arithmetic:
        another backend, another dtype against float64, ``diag`` against the
        Gram's diagonal.
    psd : float
        A Gram passes as positive semi-definite when its smallest eigenvalue
        is >= -psd * trace.
    entry : float
        Error of every entry on the kernel's own scale, sqrt(k(x, x) k(y, y))
        (:func:`scaled_max_error`), between evaluations of the same pairs by
        the same arithmetic in other positions: the cross Gram against the
        training Gram, swapped arguments, permuted samples, one sequence
        among sequences of other lengths against the sequence alone.
    """

    rtol: float
    psd: float
    entry: float


#: Tolerances by dtype name; every contract check reads its threshold here.
TOLERANCES = {
    # rtol: the unit roundoff is u = 1.1e-16; an entry of a T-step, L-layer
    # recursion passes through O(T L) roundings, which two implementations do
    # in different orders, so honest disagreement is ~T L u ~ 1e-13 for the
    # few hundred steps of a test. 1e-10 leaves three orders of margin and is
    # far below any formula error (a missing or misplaced term moves a kernel
    # by 1e-4 or more).
    # psd: by Weyl's inequality, a PSD kernel computed with error E has
    # smallest eigenvalue >= -||E||_2 >= -||E||_F = -rtol ||K||_F, and
    # ||K||_F <= trace(K) for a PSD K: the accuracy claim already implies
    # psd = rtol. The eigensolver's own error (~N u ||K||) is far below it.
    # entry: the same pair in another position runs the same arithmetic,
    # except that BLAS products (the inner products of the MLP, RBF and
    # polynomial kernels) sum in an order that depends on the matrix shapes:
    # a few u on the kernel's scale. 1e-12 is ~5000 u.
    "float64": Tolerance(rtol=1e-10, psd=1e-10, entry=1e-12),
    # rtol: u = 6e-8, and the same T L budget for the T <= 40, L <= 3 of the
    # tests gives ~1e-6 to 7e-6; float32 results are judged against float64
    # at 1e-5. psd: = rtol, as above. entry: BLAS reordering over d inner
    # product terms, ~d u ~ 2e-6 for d ~ 30 inputs, within 1e-5.
    "float32": Tolerance(rtol=1e-5, psd=1e-5, entry=1e-5),
}

#: ``rtol`` for ill-conditioned RNTK cases: a layer with sigma_u = 0 is cut off from
#: its input, so every pair's correlation runs to c ~ 1, where arccos is
#: ill-conditioned: a c rounded by delta moves arccos by ~sqrt(2 delta) (1.5e-8 in
#: float64, 3.5e-4 in float32), and any two float implementations differ by that
#: much. Measured over 600 random cases: at most 1.5e-10 (float64) with a
#: sigma_u = 0, 9e-15 without; against 40-digit arithmetic both the literal float64
#: reference and the fused path stay within 2e-10. So ~10x the measured float64
#: spread, and 3 sqrt(u) for float32.
RTOL_ILL_CONDITIONED = {"float64": 1e-9, "float32": 1e-3}


def tolerance(dtype) -> Tolerance:
    """The :data:`TOLERANCES` entry of ``dtype`` (a name or numpy dtype)."""
    name = np.dtype(dtype).name
    if name not in TOLERANCES:
        raise ValueError(f"no tolerances for dtype {name}; known: {sorted(TOLERANCES)}")
    return TOLERANCES[name]


def rel_frobenius(a, b) -> float:
    """||a - b||_F / ||b||_F (0 when both are exactly zero)."""
    a, b = _host(a).astype(np.float64), _host(b).astype(np.float64)
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
    a, b = _host(a).astype(np.float64), _host(b).astype(np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"shape mismatch {a.shape} vs {b.shape}")
    if a.size == 0:
        return 0.0
    scale = np.sqrt(np.outer(np.abs(_host(diag_x)), np.abs(_host(diag_y))).astype(np.float64))
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(scale > 0, diff / scale, np.where(diff == 0, 0.0, np.inf))
    return float(e.max())


def assert_close_matrices(a, b, rtol: float, what: str = "") -> None:
    """Assert ``rel_frobenius(a, b) <= rtol``."""
    err = rel_frobenius(a, b)
    if not err <= rtol:
        raise AssertionError(f"{what} relative Frobenius error {err:.3e} > {rtol:.1e}")


# -- the checks, as functions ------------------------------------------------------
