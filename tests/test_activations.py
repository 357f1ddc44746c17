"""Dual activations: closed forms vs quadrature and Monte Carlo; the fused asin."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rntk.kernels._activations import ErfDual, QuadratureDual, ReluDual, get_dual


def _cov(k1, k2, c):
    return k1, k2, c * math.sqrt(k1 * k2)


variances = st.floats(0.01, 10.0)
corr = st.floats(-1.0, 1.0)


@pytest.mark.parametrize("n_nodes, kmax, tol", [(64, 1.0, 1e-10), (128, 3.0, 1e-8)])
def test_erf_closed_form_matches_gauss_hermite(n_nodes, kmax, tol):
    """The accuracy table in QuadratureDual's docstring (first two columns)."""
    from scipy.special import erf

    quad = QuadratureDual(
        erf, derivative=lambda z: 2 / math.sqrt(math.pi) * np.exp(-z * z), n_nodes=n_nodes
    )
    g = np.linspace(0.01, kmax, 6)
    k1, k2, c = (a.ravel() for a in np.meshgrid(g, g, np.linspace(-1, 1, 9), indexing="ij"))
    k3 = c * np.sqrt(k1 * k2)
    v, d = ErfDual.pair(k1, k2, k3)
    vq, dq = quad.pair(k1, k2, k3)
    assert np.max(np.abs(v - vq)) < tol
    assert np.max(np.abs(d - dq)) < tol


def test_relu_closed_form_matches_monte_carlo():
    """Monte Carlo with 4e6 draws: tolerance = 5 standard errors of the mean."""
    rng = np.random.default_rng(0)
    for k1, k2, c in [(1.0, 2.0, 0.3), (0.5, 0.5, -0.8), (3.0, 0.2, 0.99)]:
        k1, k2, k3 = _cov(k1, k2, c)
        z = rng.multivariate_normal([0, 0], [[k1, k3], [k3, k2]], size=4_000_000)
        f = np.maximum(z, 0)
        g = (z > 0).astype(float)
        for est, closed in [
            (f[:, 0] * f[:, 1], ReluDual.pair(k1, k2, k3)[0]),
            (g[:, 0] * g[:, 1], ReluDual.pair(k1, k2, k3)[1]),
        ]:
            se = est.std() / math.sqrt(len(est))
            assert abs(est.mean() - closed) < 5 * se


def test_erf_printed_typo_differs():
    """Erratum: the paper's 1+2K3 second factor is wrong off the diagonal."""
    k1, k2, k3 = 1.0, 2.0, 0.7
    v = ErfDual.pair(k1, k2, k3)[0]
    printed = 2 / math.pi * math.asin(2 * k3 / math.sqrt((1 + 2 * k1) * (1 + 2 * k3)))
    assert abs(v - printed) > 1e-2


@given(variances)
def test_diag_forms_equal_pair_at_c_one(k):
    for dual in (ReluDual, ErfDual):
        v, d = dual.pair(np.float64(k), np.float64(k), np.float64(k))
        vd, dd = dual.diag(np.float64(k))
        assert abs(v - vd) <= 1e-12 * abs(vd)
        assert abs(d - dd) <= 1e-7 * abs(dd)  # arccos near 1 is ill-conditioned


def test_tanh_quadrature_matches_monte_carlo():
    quad = get_dual(np.tanh)
    rng = np.random.default_rng(1)
    k1, k2, k3 = 1.5, 0.7, 0.6
    v, d = quad.pair(k1, k2, k3)
    z = rng.multivariate_normal([0, 0], [[k1, k3], [k3, k2]], size=2_000_000)
    est = np.tanh(z[:, 0]) * np.tanh(z[:, 1])
    dest = (1 - np.tanh(z[:, 0]) ** 2) * (1 - np.tanh(z[:, 1]) ** 2)
    assert abs(est.mean() - v) < 5 * est.std() / math.sqrt(len(est))
    assert abs(dest.mean() - d) < 5 * dest.std() / math.sqrt(len(dest))


def test_quadrature_relu_accuracy_is_as_documented():
    """Kinked activations converge slowly: documented ~1e-4 at 64 nodes."""
    quad = get_dual(lambda z: np.maximum(z, 0), derivative=lambda z: (z > 0) * 1.0)
    v, d = quad.pair(1.0, 1.0, 0.3)
    vc, dc = ReluDual.pair(1.0, 1.0, 0.3)
    assert abs(v - vc) < 1e-3 and abs(d - dc) < 5e-2


def test_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        get_dual("gelu")
    with pytest.raises(ValueError, match="activation"):
        get_dual(3)


def test_fused_asin_polynomial_accuracy():
    from numba import njit

    from rntk.kernels._fused import _asin_abs, _one_minus_square, constants, register_constants

    K = register_constants(constants(np.float64))

    @njit
    def run(a, out_r, out_s):
        for i in range(a.shape[0]):
            x = _one_minus_square(a[i], K)
            out_s[i] = np.sqrt(x)
            out_r[i] = _asin_abs(a[i], x, out_s[i], K)

    a = np.concatenate([np.linspace(0, 1, 200001), 1 - np.logspace(-16, -1, 1000)])
    r, s = np.empty_like(a), np.empty_like(a)
    run(a, r, s)
    assert np.max(np.abs(r - np.arcsin(a))) < 5e-16
    s_ref = np.sqrt((1 - a) * (1 + a))  # exact factors for a >= 1/2 (Sterbenz)
    assert np.max(np.abs(s - s_ref) / np.maximum(s_ref, 1e-300)) < 3e-16


@pytest.mark.parametrize("name", ["relu", "erf"])
def test_fused_duals_match_closed_form(name):
    """The fused per-pair duals (sign via copysign, even/odd split) against
    numpy's arccos/arcsin closed forms, over correlations in [-1, 1]."""
    from numba import njit

    from rntk.kernels._fused import _dual_erf, _dual_relu, constants, register_constants

    K = register_constants(constants(np.float64))
    fn = _dual_relu if name == "relu" else _dual_erf

    @njit
    def run(sig, a1, a2, b1, b2, v, d):
        for i in range(sig.shape[0]):
            v[i], d[i] = fn(sig[i], a1[i], a2[i], b1[i], b2[i], K)

    rng = np.random.default_rng(3)
    n = 20001
    k1, k2 = rng.uniform(0.1, 3.0, n), rng.uniform(0.1, 3.0, n)
    c = np.concatenate([np.linspace(-1, 1, n - 4), [-1.0, 1.0, 0.0, -0.0]])
    if name == "relu":
        k3 = c * np.sqrt(k1 * k2)
        # the kernel splits the dual's 1/(2 pi) between the samples: a2 = sqrt(k1 / (2 pi))
        a1, b1 = 1 / np.sqrt(k1), 1 / np.sqrt(k2)
        a2, b2 = np.sqrt(k1 / (2 * np.pi)), np.sqrt(k2 / (2 * np.pi))
        cc = np.clip(k3 * (a1 * b1), -1, 1)
        v_ref = (cc * (np.pi - np.arccos(cc)) + np.sqrt(1 - cc * cc)) * np.sqrt(k1 * k2) / (2 * np.pi)
        d_ref = (np.pi - np.arccos(cc)) / (2 * np.pi)
    else:
        k3 = 0.999 * c * np.sqrt((1 + 2 * k1) * (1 + 2 * k2)) / 2
        a1, b1 = 1 / np.sqrt(1 + 2 * k1), 1 / np.sqrt(1 + 2 * k2)
        a2 = b2 = np.zeros(n)
        v_ref = 2 / np.pi * np.arcsin(2 * k3 / np.sqrt((1 + 2 * k1) * (1 + 2 * k2)))
        d_ref = 4 / (np.pi * np.sqrt((1 + 2 * k1) * (1 + 2 * k2) - 4 * k3**2))
    v, d = np.empty(n), np.empty(n)
    run(k3, a1, a2, b1, b2, v, d)
    d = d / (2 * np.pi)  # the fused duals return 2 pi V' (the kernel's P state carries the 2 pi)
    # c near +-1 is ill-conditioned for arccos (~sqrt(ulp)); compare away from it there
    ok = np.abs(c) < 1 - 1e-6
    assert np.max(np.abs(v - v_ref) / np.abs(v_ref).max()) < 1e-14
    assert np.max(np.abs(d - d_ref)[ok] / np.abs(d_ref[ok]).max()) < 1e-13
