"""Parity with the RNTK authors' own kernel code (github.com/moonlightlane/RNTK_UCI).

``_authors_kernel`` below restates, in float64 numpy and in our own words, the
recursion that their ``RNTK_avg.RNTK.RNTK_function`` evaluates (JAX/symjax,
float32, one input feature, equal lengths, sigma_v = 1), together with the
data handling of ``RNTK_UCI_hyperparam.py`` / ``tools.py``: every series is
divided by the largest row norm of the data set (``normalizeData``; here
``SeriesScaler("dataset-max")``), and ``Flip`` = 0 reverses time, 1 keeps
it, 2 adds the Grams of both (``Augdata``). Their function returns two Grams:
``RNTK_last`` (avg = 0) and ``RNTK_avg`` (avg = 1).

The recursion, over the N x N Gram of the whole data set, for layers
l = 0..L-1 (0-based) and steps t = 1..T:

    Sigma(l, 1)  = sh^2 sw^2 I + su^2 [input or V(Sigma(l-1, 1))] + sb^2
    Sigma(l, t)  = sw^2 V(Sigma(l, t-1)) + su^2 [input or V(Sigma(l-1, t))] + sb^2
    Q(l, t)      = Sigma(l, t) + [l >= Lf] sw^2 Q(l, t-1) V'(Sigma(l, t-1))
                               + [l-1 >= Lf] su^2 Q(l-1, t) V'(Sigma(l-1, t))
    Theta_t      = V(Sigma(L-1, t)) + [Lf < L] Q(L-1, t) V'(Sigma(L-1, t))
    RNTK_last    = Theta_T
    RNTK_avg     = (sum_{t=1..T} Theta_t + Theta_T) / T

(V, V': the ReLU arc-cosine duals, products elementwise). Findings, each
asserted below:

* sigma_h: their ``sh^2 sw^2 * eye(N)`` puts the initial-state term on the
  diagonal of the one Gram only, i.e. keyed on "same row" -- rntk's
  ``gram(X)`` convention (a sample meets its own initial state), not
  ``gram(X, X)``, which never adds it.
* Lf = 0: rntk's NTK; Lf = L: rntk's NNGP (their Theta_t has no Q term).
* 0 < Lf < L: the kernel of the network whose lowest Lf layers are frozen,
  i.e. rntk's ``frozen_layers=Lf`` (a frozen layer's Q is computed but never
  propagated upwards, and the first trained layer restarts from its own
  Sigma). It equals ``RNTK(frozen_layers=Lf)`` to rounding and differs from
  the full NTK by 20-40 % here; no 7-16 % discrepancy with the frozen kernel
  exists.
* avg = 1: the running output sum ``rntk_old[L]`` accumulates Theta_t, the
  kernel of the prefixes x_{1:t} (equal lengths, so start and end alignment
  coincide), and ``RNTK_output`` adds the last one once more. So RNTK_avg =
  (sum_t Theta_t + Theta_T)/T = per-step read-out kernel + Theta_T / T, where
  the per-step read-out kernel (``pair_per_step``: an independent read-out
  at every step, 1/sqrt(T) scaling) is (1/T) sum_t Theta_t. It is not the
  kernel of an averaged read-out with one shared vector (that would carry
  cross-time terms); it is the kernel of the per-step read-out network with a
  second independent read-out on the last state.

Numerics: their code takes arccos of the clipped correlation also on the
diagonal, where it is 1 only up to rounding (float32 there); arccos(1 - e)
~ sqrt(2 e) turns that into a ~1e-8 error in V'. Here the diagonal
correlation is set to exactly 1, as rntk does for a sample with itself, so
the comparison can be at 1e-10 (1e-9 for sb = sh = 0, see RTOL_RANK_ONE).
"""
import numpy as np
import pytest

from rntk import RNTK
from rntk.estimators import SeriesScaler
from rntk.kernels._reference_variants import pair_per_step
from rntk.testing import assert_close_matrices, rel_frobenius

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
DIRECTION = {0: "reversed", 1: "forward", 2: "bidirectional"}


@pytest.fixture(scope="module")
def X():
    raw = np.random.default_rng(20210).normal(size=(N, T))
    return SeriesScaler("dataset-max").fit_transform(raw)


def _relu_duals(S):
    """(V, V') of the ReLU for a Gram S of pre-activation covariances."""
    scale = np.sqrt(np.diag(S))
    C = np.outer(scale, scale)
    rho = np.clip(S / C, -1.0, 1.0)
    np.fill_diagonal(rho, 1.0)  # exact for a sample with itself (see module docstring)
    angle = np.pi - np.arccos(rho)
    V = C * (rho * angle + np.sqrt(1.0 - rho**2)) / (2 * np.pi)
    return V, angle / (2 * np.pi)


def _authors_kernel(X, sw, su, sb, sh, L, Lf, avg):
    """Their Gram over the rows of X (N, T), one feature, sigma_v = 1; see the module docstring."""
    n_samples, n_steps = X.shape
    eye = np.eye(n_samples)
    sigma, q = [None] * L, [None] * L
    theta_sum = 0.0
    for t in range(n_steps):
        inp = np.outer(X[:, t], X[:, t])
        new_sigma, new_q = [None] * L, [None] * L
        for l in range(L):
            if t == 0:
                recurrent = sh**2 * sw**2 * eye  # the initial state: same row only
            else:
                v_prev, d_prev = _relu_duals(sigma[l])
                recurrent = sw**2 * v_prev
            if l == 0:
                below = inp
            else:
                v_below, d_below = _relu_duals(new_sigma[l - 1])
                below = v_below
            new_sigma[l] = recurrent + su**2 * below + sb**2
            acc = new_sigma[l].copy()
            if t > 0 and l >= Lf:
                acc += sw**2 * q[l] * d_prev
            if l > 0 and l - 1 >= Lf:
                acc += su**2 * new_q[l - 1] * d_below
            new_q[l] = acc
        sigma, q = new_sigma, new_q
        v_top, d_top = _relu_duals(sigma[L - 1])
        theta = v_top + (Lf != L) * q[L - 1] * d_top
        theta_sum = theta_sum + theta
    return (theta_sum + theta) / n_steps if avg else theta


def _authors(X, sw, su, sb, sh, L, Lf, flip, avg):
    """Their Flip handling (Augdata): 0 reversed time, 1 as is, 2 the sum of both Grams."""
    views = {0: [X[:, ::-1]], 1: [X], 2: [X[:, ::-1], X]}[flip]
    return sum(_authors_kernel(np.ascontiguousarray(v), sw, su, sb, sh, L, Lf, avg) for v in views)


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
