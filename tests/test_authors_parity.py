"""Parity with the RNTK authors' own kernel code (github.com/moonlightlane/RNTK_UCI).

The oracle, a float64 restatement of their recursion and data handling, is
``verify/_authors_rntk.py`` (its docstring states the recursion and the
findings asserted here); ``verify/authors_parity.py`` tabulates the same
comparisons for the docs.

Numerics: their code takes arccos of the clipped correlation also on the
diagonal, where it is 1 only up to rounding (float32 there); arccos(1 - e)
~ sqrt(2 e) turns that into a ~1e-8 error in V'. The restatement sets the
diagonal correlation to exactly 1, as rntk does for a sample with itself, so
the comparison can be at 1e-10 (1e-9 for sb = sh = 0, see RTOL_RANK_ONE).
"""
import sys
from pathlib import Path

import numpy as np
import pytest

from rntk import RNTK
from rntk.estimators import SeriesScaler
from rntk.kernels._reference_variants import pair_per_step
from rntk.testing import assert_close_matrices, rel_frobenius

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "verify"))
from _authors_rntk import DIRECTION, authors as _authors  # noqa: E402

RTOL = 1e-10
# sb = sh = 0 with one feature: the first step's Sigma is rank one, every
# correlation is exactly +-1 and arccos(+-(1 - e)) ~ sqrt(2 e) amplifies
# rounding; there the restated formula itself is ~6e-11 off a 40-digit
# (mpmath) evaluation of the same kernel (L=1, Flip=0) while rntk is at
# ~2e-16; the differences seen are up to 2.5e-10
RTOL_RANK_ONE = 1e-9


def _rtol(sigmas):
    return RTOL_RANK_ONE if sigmas[2] == sigmas[3] == 0 else RTOL
N, T = 6, 7
# (sw, su, sb, sh): their script's defaults, and two with sigma_b, sigma_h > 0
SIGMAS = [(1.41, 0.1, 0.0, 0.0), (1.2, 0.8, 0.3, 0.5), (1.0, 1.0, 0.1, 1.0)]
GRID = [(L, Lf) for L in (1, 2) for Lf in sorted({0, 1, L}) if Lf <= L]


@pytest.fixture(scope="module")
def X():
    raw = np.random.default_rng(20210).normal(size=(N, T))
    return SeriesScaler("dataset-max").fit_transform(raw)


def _rntk(L, Lf, sigmas, direction="forward"):
    sw, su, sb, sh = sigmas
    return RNTK(n_layers=L, sigma_w=sw, sigma_u=su, sigma_b=sb, sigma_h=sh,
                frozen_layers=Lf, direction=direction)


def _pick(res, L, Lf):
    """Their Lf = L output has no tangent part: the NNGP."""
    return res.nngp if Lf == L else res.ntk


def _prefix_thetas(X, L, Lf, sigmas, flip):
    """Theta_t for t = 1..T: rntk's kernel of the first t steps in reading order."""
    views = {0: [X[:, ::-1]], 1: [X], 2: [X[:, ::-1], X]}[flip]
    k = _rntk(L, Lf, sigmas)
    return [sum(_pick(k.gram(np.ascontiguousarray(v[:, :t])), L, Lf) for v in views)
            for t in range(1, T + 1)]


@pytest.mark.parametrize("sigmas", SIGMAS)
@pytest.mark.parametrize("L,Lf", GRID)
@pytest.mark.parametrize("flip", [0, 1, 2])
def test_last_state_kernel_matches_rntk(X, sigmas, L, Lf, flip):
    """avg = 0: Lf = 0 is the NTK, Lf = L the NNGP, 0 < Lf < L the frozen-layer NTK;
    Flip 0/1/2 are rntk's reversed/forward/bidirectional directions."""
    theirs = _authors(X, *sigmas, L, Lf, flip, avg=0)
    ours = _pick(_rntk(L, Lf, sigmas, DIRECTION[flip]).gram(X), L, Lf)
    assert_close_matrices(theirs, ours, _rtol(sigmas), f"L={L} Lf={Lf} Flip={flip}")


@pytest.mark.parametrize("sigmas", SIGMAS)
@pytest.mark.parametrize("L,Lf", GRID)
@pytest.mark.parametrize("flip", [0, 1, 2])
def test_avg_kernel_is_prefix_sum_with_last_step_twice(X, sigmas, L, Lf, flip):
    """avg = 1: RNTK_avg = (sum_{t=1..T} Theta_t + Theta_T) / T, Theta_t the kernel of prefixes."""
    theirs = _authors(X, *sigmas, L, Lf, flip, avg=1)
    thetas = _prefix_thetas(X, L, Lf, sigmas, flip)
    want = (sum(thetas) + thetas[-1]) / T
    assert_close_matrices(theirs, want, _rtol(sigmas), f"L={L} Lf={Lf} Flip={flip}")


@pytest.mark.parametrize("sigmas", SIGMAS[1:])
@pytest.mark.parametrize("L", [1, 2])
def test_avg_kernel_is_per_step_readout_plus_extra_last_readout(X, sigmas, L):
    """RNTK_avg = per-step read-out kernel (pair_per_step, = (1/T) sum_t Theta_t for equal
    lengths) + Theta_T / T: the per-step network with a second read-out on the last state,
    not the per-step kernel itself (it differs from it by well over 5 % here)."""
    k = _rntk(L, 0, sigmas)
    rows = [[[v] for v in x] for x in X]
    per_step = np.array([[pair_per_step(a, b, k, same=(i == j))[0] for j, b in enumerate(rows)]
                         for i, a in enumerate(rows)])
    thetas = _prefix_thetas(X, L, 0, sigmas, flip=1)
    assert_close_matrices(per_step, sum(thetas) / T, RTOL, "pair_per_step vs (1/T) sum_t Theta_t")
    theirs = _authors(X, *sigmas, L, 0, 1, avg=1)
    assert_close_matrices(theirs, per_step + k.gram(X).ntk / T, RTOL, "RNTK_avg")
    assert rel_frobenius(theirs, per_step) > 0.05


@pytest.mark.parametrize("sigmas", SIGMAS)
def test_intermediate_lf_is_the_frozen_layer_kernel_not_the_full_ntk(X, sigmas):
    """Lf = 1, L = 2 equals RNTK(n_layers=2, frozen_layers=1) (checked against wide
    finite networks in tests/test_kernel_variants.py) and is far from the full NTK."""
    theirs = _authors(X, *sigmas, 2, 1, 1, avg=0)
    assert_close_matrices(theirs, _rntk(2, 1, sigmas).gram(X).ntk, _rtol(sigmas), "Lf=1")
    assert rel_frobenius(theirs, _rntk(2, 0, sigmas).gram(X).ntk) > 0.1


def test_sigma_h_enters_the_diagonal_only(X):
    """Their sh^2 sw^2 eye(N) is rntk's training-Gram convention gram(X), not gram(X, X)."""
    sigmas = (1.2, 0.8, 0.3, 0.5)
    theirs = _authors(X, *sigmas, 2, 0, 1, avg=0)
    k = _rntk(2, 0, sigmas)
    assert_close_matrices(theirs, k.gram(X).ntk, RTOL, "gram(X)")
    assert rel_frobenius(theirs, k.gram(X, X).ntk) > 1e-3
    # same-row keyed: a duplicated series in another row does not get the term
    Xd = np.vstack([X, X[:1]])
    Kd = _authors(Xd, *sigmas, 2, 0, 1, avg=0)
    assert abs(Kd[0, -1] - Kd[0, 0]) > 1e-3 * abs(Kd[0, 0])
    assert_close_matrices(Kd, k.gram(Xd).ntk, RTOL, "duplicated row")
