"""GRUNTK and LSTMNTK: the infinite-width kernels of untied GRU/LSTM networks (docs/gated.md).

Independent oracles: wide finite networks (``rntk.empirical.gated_monte_carlo``,
Monte Carlo z-scores; the same test rejects a wrong kernel), adaptive 2-D
quadrature (scipy's QUADPACK) for the Gauss-Hermite gate expectations, the
literal per-pair loop for the vectorised Gram, the path Monte Carlo against
the closed recursion where one exists, and the kernel contract.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rntk import GRUNTK, LSTMNTK
from rntk.kernels._gated import _dexpit, _dtanh, _duals, _expit, lstm_paths
from rntk.kernels._gated_reference import lstm_pair, lstm_self
from rntk.testing import KernelContractTests, assert_close_matrices

HYP = dict(sigma_w=1.5, sigma_u=1.0, sigma_b=0.3, sigma_h=0.5)
Z_MAX = 4.5  # |z| bound over 10 entries of one Gram (t with 15 dof: p ~ 4e-4 an entry); wrong kernels give 7-16


def _seqs(rng, lengths, m=2):
    return [rng.standard_normal((t, m)) for t in lengths]


# -- the Gauss-Hermite gate expectations against adaptive quadrature ---------------------
def _dblquad(f, g, k1, k2, k3):
    from scipy import integrate

    a = np.sqrt(k1)
    b, s = k3 / a, np.sqrt(k2 - k3**2 / k1)
    phi = lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    val, _ = integrate.dblquad(lambda z2, z1: phi(z1) * phi(z2) * f(a * z1) * g(b * z1 + s * z2),
                               -10, 10, -10, 10, epsabs=1e-12, epsrel=1e-10)
    return val


@pytest.mark.parametrize("which, k, tol", [
    ("sigmoid", (0.5, 1.2, 0.3), 1e-11),
    ("tanh", (0.5, 1.2, 0.3), 1e-11),
    ("tanh", (2.0, 3.0, -1.5), 2e-6),  # the documented accuracy at variance 3 (docs/gated.md)
])
def test_gate_expectations_against_adaptive_quadrature(which, k, tol):
    sig, tnh = _duals(64)
    dual, f, df = (sig, _expit, _dexpit) if which == "sigmoid" else (tnh, np.tanh, _dtanh)
    v, d = dual.pair(*(np.float64(a) for a in k))
    assert abs(v - _dblquad(f, f, *k)) < tol
    assert abs(d - _dblquad(df, df, *k)) < tol


@pytest.mark.parametrize("variance, mu", [(0.3, 1.0), (2.5, -2.0), (1.0, 0.0), (6.0, 3.0)])
def test_gate_mean_against_adaptive_quadrature(variance, mu):
    from scipy import integrate

    from rntk.kernels._gated import gate_mean

    phi = lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    want, _ = integrate.quad(lambda z: phi(z) * _expit(np.sqrt(variance) * z + mu), -12, 12, epsabs=1e-14)
    assert abs(float(gate_mean(variance, mu)) - want) < 1e-12


def test_shifted_gate_expectations_against_adaptive_quadrature():
    k1, k2, k3, mu = 0.5, 1.2, 0.3, 1.5
    f = lambda u: _expit(u + mu)  # noqa: E731
    df = lambda u: _dexpit(u + mu)  # noqa: E731
    for method, tol in (("series", 1e-11), ("quadrature", 1e-10)):
        v, d = GRUNTK(update_bias=mu).gate_expectations(k1, k2, k3, method=method)["sigmoid_shifted"]
        assert abs(v - _dblquad(f, f, k1, k2, k3)) < tol
        assert abs(d - _dblquad(df, df, k1, k2, k3)) < tol


# -- wide finite networks ------------------------------------------------------------------
def _z(kernel, X, width=256, n_nets=16, seed=5, tied=False):
    from rntk.empirical import gated_monte_carlo

    mc = gated_monte_carlo(kernel, X, width=width, n_nets=n_nets, seed=seed, tied=tied)
    K = kernel.gram(X)
    return (mc.ntk - K.ntk) / mc.ntk_sem, (mc.nngp - K.nngp) / mc.nngp_sem, mc


KERNELS = {
    "gru": GRUNTK(**HYP),
    "lstm-identity": LSTMNTK(**HYP, sigma_c=0.4, cell_activation="identity"),
    "lstm-tanh": LSTMNTK(**HYP, sigma_c=0.4, n_paths=2**14),
    # a gate bias with a mean (GRU update gate, LSTM forget gate): E[(1 - z)(1 - z')] != E[z z']
    "gru-update-bias": GRUNTK(**HYP, update_bias=2.0),
    "lstm-identity-forget-bias": LSTMNTK(**HYP, sigma_c=0.4, cell_activation="identity", forget_bias=1.5),
    "lstm-tanh-forget-bias": LSTMNTK(**HYP, sigma_c=0.4, n_paths=2**14, forget_bias=1.5),
}


@pytest.mark.parametrize("name", list(KERNELS))
def test_kernel_matches_wide_untied_networks(name, rng):
    pytest.importorskip("torch")
    X = _seqs(rng, (3, 1, 3, 2))
    z, zg, _ = _z(KERNELS[name], X)
    assert np.abs(z).max() < Z_MAX, np.round(z, 1)
    assert np.abs(zg).max() < Z_MAX, np.round(zg, 1)


@pytest.mark.parametrize("name, wrong", [
    ("gru", GRUNTK(**{**HYP, "sigma_w": 1.8})),
    ("lstm-tanh", LSTMNTK(**HYP, sigma_c=0.4, cell_activation="identity")),
    # networks with a gate bias mean reject the centred kernel (measured |z| 79 and 22)
    ("gru-update-bias", GRUNTK(**HYP)),
    ("lstm-identity-forget-bias", LSTMNTK(**HYP, sigma_c=0.4, cell_activation="identity")),
])
def test_the_same_check_rejects_a_wrong_kernel(name, wrong, rng):
    """The Monte Carlo check has power: a nearby wrong kernel fails it."""
    pytest.importorskip("torch")
    from rntk.empirical import gated_monte_carlo

    X = _seqs(rng, (3, 1, 3, 2))
    mc = gated_monte_carlo(KERNELS[name], X, width=256, n_nets=16, seed=5)
    z = (mc.ntk - wrong.gram(X).ntk) / mc.ntk_sem
    assert np.abs(z).max() > Z_MAX


def test_factored_empirical_ntk_equals_full_jacobians(rng):
    pytest.importorskip("torch")
    from rntk.empirical import gated_ntk

    X, Y = _seqs(rng, (3, 1, 2)), _seqs(rng, (2, 3))
    for name, tied, other in (("gru", False, Y), ("lstm-tanh", True, None)):
        a = gated_ntk(KERNELS[name], X, other, width=4, tied=tied, generator=3)
        b = gated_ntk(KERNELS[name], X, other, width=4, tied=tied, generator=3, method="jacobian")
        assert_close_matrices(a[0], b[0], 1e-12)


# -- implementations against each other --------------------------------------------------------
@pytest.mark.parametrize("name", ["gru", "lstm-identity", "gru-update-bias", "lstm-identity-forget-bias"])
def test_vectorized_gram_equals_per_pair_loop(name, rng):
    k = KERNELS[name]
    X, Y = _seqs(rng, (3, 1, 4, 2)), _seqs(rng, (2, 5))
    for args in ((X,), (X, Y)):
        a, b = k.gram(*args, backend="cpu-vectorized"), k.gram(*args, backend="reference")
        assert_close_matrices(a.ntk, b.ntk, 1e-13)
        assert_close_matrices(a.nngp, b.nngp, 1e-13)


@pytest.mark.parametrize("name", ["gru", "lstm-identity", "gru-update-bias", "lstm-identity-forget-bias"])
def test_compiled_pairs_equal_the_vectorised_series(name, rng):
    """cpu-fused runs cpu-series' recursion and tables pair by pair in numba; only the order of the
    series' summation differs (four partial sums), so they agree to rounding (a few ulp per step)."""
    k = KERNELS[name]
    X, Y = _seqs(rng, (3, 1, 4, 2, 6)), _seqs(rng, (2, 5, 1))
    for args in ((X,), (X, Y)):
        a, b = k.gram(*args, backend="cpu-fused"), k.gram(*args, backend="cpu-series")
        assert_close_matrices(a.ntk, b.ntk, 1e-13)
        assert_close_matrices(a.nngp, b.nngp, 1e-13)
    # a pair's value does not depend on which side it is on, nor on the tile it is computed in
    xy, yx = k.gram(X, Y, backend="cpu-fused"), k.gram(Y, X, backend="cpu-fused")
    assert np.array_equal(xy.ntk, yx.ntk.T) and np.array_equal(xy.nngp, yx.nngp.T)
    assert np.array_equal(k.gram(X, Y, batch_size=2).ntk, xy.ntk)


@pytest.mark.parametrize("name", ["gru", "lstm-identity", "gru-update-bias", "lstm-identity-forget-bias"])
def test_series_fast_path_against_fine_quadrature(name, rng):
    """Mehler's series (the default) against a 128^2-point Gauss-Hermite rule: a different
    discretisation of the same integrals; both are converged to ~1e-9 at these variances."""
    k = KERNELS[name]
    fine = replace(k, n_nodes=128)
    X, Y = _seqs(rng, (3, 1, 2)), _seqs(rng, (2, 4))
    for args in ((X,), (X, Y)):
        a, b = k.gram(*args), fine.gram(*args, backend="cpu-vectorized")
        assert_close_matrices(a.ntk, b.ntk, 1e-7)
        assert_close_matrices(a.nngp, b.nngp, 1e-7)


def test_path_monte_carlo_matches_the_closed_recursion(rng):
    """With h = o * c the recursion closes; the path Monte Carlo must agree to its own error."""
    k = LSTMNTK(**HYP, sigma_c=0.4, cell_activation="identity", n_paths=2**15)
    x, y = rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    qx = np.array(lstm_self(x.tolist(), k)[0])[:, None]
    qy = np.array(lstm_self(y.tolist(), k)[0])[:, None]
    ntk, nngp, _ = lstm_paths(x, y, qx, qy, k)
    ntk0, nngp0 = lstm_pair(x.tolist(), y.tolist(), k)
    scale = np.sqrt(lstm_pair(x.tolist(), x.tolist(), k, same=True)[0] * lstm_pair(y.tolist(), y.tolist(), k,
                                                                                 same=True)[0])
    # measured spread over path seeds: s.d. 0.004 * scale (2^15 paths); 0.02 is 5 s.d.
    assert abs(ntk - ntk0) < 0.02 * scale and abs(nngp - nngp0) < 0.02 * scale
    ntk_s, nngp_s, series = lstm_paths(x, x, None, None, k, same=True)
    assert abs(ntk_s - lstm_pair(x.tolist(), x.tolist(), k, same=True)[0]) < 0.02 * ntk_s


def test_sigma_h_on_the_training_diagonal_only(rng):
    X = _seqs(rng, (3, 2))
    k = KERNELS["gru"]
    d, c = np.diag(k.gram(X).nngp), np.diag(k.gram(X, X).nngp)
    assert (d > c).all()
    assert np.array_equal(k.gram(X).ntk, k.gram(X).ntk.T)


# -- the contract --------------------------------------------------------------------------------
class _Inputs:
    # backends are compared at rtol 1e-10: the Gauss-Hermite pairs (reference, cpu-vectorized) and the
    # series (cpu-series) are converged that far with 128 nodes at these input scales (docs/gated.md)
    def make_inputs(self, rng):
        return [0.5 * s for s in _seqs(rng, (3, 3, 3, 3))], [0.5 * s for s in _seqs(rng, (3, 3))]

    def make_variable_length_inputs(self, rng):
        return _seqs(rng, (3, 1, 4, 2)), _seqs(rng, (2, 4))


class TestGRUContract(_Inputs, KernelContractTests):
    kernel = GRUNTK(**HYP, n_nodes=128)


class TestLSTMIdentityContract(_Inputs, KernelContractTests):
    kernel = LSTMNTK(**HYP, sigma_c=0.4, cell_activation="identity", n_nodes=128)


class TestLSTMTanhContract(_Inputs, KernelContractTests):
    kernel = LSTMNTK(**HYP, n_paths=2**10)


class TestGRUUpdateBiasContract(_Inputs, KernelContractTests):
    kernel = GRUNTK(**HYP, update_bias=1.0, n_nodes=128)


class TestLSTMForgetBiasContract(_Inputs, KernelContractTests):
    kernel = LSTMNTK(**HYP, sigma_c=0.4, cell_activation="identity", forget_bias=1.0, n_nodes=128)


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: GRUNTK(sigma_w=-1.0), "sigma_w"),
    (lambda: GRUNTK(n_nodes=4), "n_nodes"),
    (lambda: LSTMNTK(cell_activation="relu"), "cell_activation"),
    (lambda: LSTMNTK(n_paths=101), "even"),
    (lambda: LSTMNTK(seed=-1), "seed"),
    (lambda: GRUNTK(update_bias=float("nan")), "update_bias"),
    (lambda: LSTMNTK(forget_bias="1"), "forget_bias"),
    (lambda: GRUNTK().gram([[1.0, 2.0]], backend="gpu-fused"), "backend"),
    (lambda: GRUNTK().gram([[1.0, 2.0]], dtype="float32"), "float64"),
    (lambda: GRUNTK().gram([np.array([1.0, np.nan, 2.0])]), "NaN"),
    (lambda: GRUNTK().gram([np.ones((2, 2))], [np.ones((2, 3))]), "feature"),
])
def test_bad_input_is_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()
