"""rntk.dynamics: FGD and its closed form, PGD recording, ReNT's gradient formulas (R-2)."""
import numpy as np
import pytest
import scipy.linalg
from hypothesis import given
from hypothesis import strategies as st

from rntk.dynamics import (
    KernelFlow,
    ar2_series,
    ar2_windows,
    constant_schedule,
    cosine_schedule,
    fourier_features,
    functional_gd,
    order_aware_gradients,
)
from rntk.testing import rel_frobenius


def _psd(rng, n, rank=None):
    A = rng.standard_normal((n, rank or n))
    return A @ A.T / (rank or n)


# -- closed-form flow ----------------------------------------------------------
@given(st.integers(2, 8), st.integers(1, 4), st.floats(0.0, 50.0), st.integers(0, 2**31))
def test_flow_matches_matrix_exponential(n, m, tau, seed):
    """f(tau) - y = expm(-(2/N) K tau)(f0 - y), and the test predictions are the
    integral of the training residual: both checked with scipy's expm (on the
    augmented block matrix for the integral, Van Loan's trick)."""
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n + m, n + m))
    Kfull = G @ G.T / (n + m)
    K, Ks = Kfull[:n, :n], Kfull[n:, :n]
    y, f0, f0t = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)
    train, test = KernelFlow(K, y, f0=f0, K_test=Ks, f0_test=f0t).predict(tau)
    c = 2.0 / n
    expected_train = y + scipy.linalg.expm(-c * K * tau) @ (f0 - y)
    # d/dtau [r; q] = [[-cK, 0], [-cKs, 0]] [r; q] with r the residual, q the test shift
    A = np.zeros((n + m, n + m))
    A[:n, :n] = -c * K
    A[n:, :n] = -c * Ks
    E = scipy.linalg.expm(A * tau)
    expected_test = f0t + E[n:, :n] @ (f0 - y)
    scale = 1.0 + np.abs(y).max() + np.abs(f0).max()
    assert np.abs(train - expected_train).max() <= 1e-9 * scale
    assert np.abs(test - expected_test).max() <= 1e-9 * scale * (1 + tau)


def test_flow_endpoints(rng):
    n, m = 12, 5
    G = rng.standard_normal((n + m, n + m + 3))
    Kfull = G @ G.T
    K, Ks = Kfull[:n, :n], Kfull[n:, :n]
    y, f0, f0t = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal(m)
    flow = KernelFlow(K, y, f0=f0, K_test=Ks, f0_test=f0t)
    tr0, te0 = flow.predict(0.0)
    np.testing.assert_array_equal(te0, f0t)
    np.testing.assert_allclose(tr0, f0, rtol=0, atol=1e-12)
    trinf, teinf = flow.predict(1e7)
    np.testing.assert_allclose(trinf, y, atol=1e-8)
    # kernel regression of the residual, solved directly
    np.testing.assert_allclose(teinf, f0t + Ks @ np.linalg.solve(K, y - f0), atol=1e-7)


def test_flow_singular_kernel_has_finite_limit(rng):
    """Rank-deficient K: the null-space component of the residual never moves
    and the test limit is the pseudo-inverse solution."""
    n = 8
    A = rng.standard_normal((n + 2, 3))
    Kfull = A @ A.T
    K, Ks = Kfull[:n, :n], Kfull[n:, :n]
    y, f0 = rng.standard_normal(n), np.zeros(n)
    tr, te = KernelFlow(K, y, f0=f0, K_test=Ks).predict(1e9)
    np.testing.assert_allclose(te, Ks @ np.linalg.pinv(K, rcond=1e-10) @ y, atol=1e-6)
    P = K @ np.linalg.pinv(K, rcond=1e-10)  # projector onto range(K)
    np.testing.assert_allclose(tr, P @ y, atol=1e-6)


def test_small_step_fgd_matches_flow(rng):
    """Discrete FGD with constant step eta after k steps vs the flow at tau = k eta:
    the gap is O(eta) (Euler), so it drops ~10x when eta drops 10x."""
    n, m = 10, 4
    G = rng.standard_normal((n + m, n + m))
    Kfull = G @ G.T / (n + m)
    K, Ks = Kfull[:n, :n], Kfull[n:, :n]
    y = rng.standard_normal(n)
    flow = KernelFlow(K, y, K_test=Ks)
    gaps = []
    for eta in (1e-2, 1e-3):
        k = int(round(2.0 / eta))
        res = functional_gd(K, y, constant_schedule(eta, k), K_test=Ks, record=[k])
        tr, te = flow.predict(k * eta)
        gaps.append(max(np.abs(res.train[0] - tr).max(), np.abs(res.test[0] - te).max()))
    assert gaps[1] < 1e-3
    assert 5 < gaps[0] / gaps[1] < 20


def test_fgd_records_and_first_step(rng):
    K = _psd(rng, 6)
    y = rng.standard_normal(6)
    res = functional_gd(K, y, cosine_schedule(0.1, 5))
    assert res.train.shape == (6, 6) and res.test is None
    np.testing.assert_array_equal(res.train[0], 0.0)
    np.testing.assert_allclose(res.train[1], 0.1 * (2 / 6) * (K @ y), rtol=1e-13)


def test_cosine_schedule_shape():
    r = cosine_schedule(0.2, 4)
    np.testing.assert_allclose(r, 0.2 * 0.5 * (1 + np.cos(np.pi * np.arange(4) / 4)))
    assert r[0] == 0.2


@pytest.mark.parametrize(
    "kwargs, msg",
    [
        (dict(K=np.ones((3, 2))), "square"),
        (dict(K=np.array([[1.0, 2.0], [0.0, 1.0]])), "symmetric"),
        (dict(y=np.array([1.0, np.nan])), "NaN"),
        (dict(y=np.ones(3)), "entries"),
        (dict(K_test=np.ones((2, 3))), "K_test"),
    ],
)
def test_bad_input_is_named(kwargs, msg):
    args = dict(K=np.eye(2), y=np.ones(2))
    args.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        KernelFlow(args["K"], args["y"], K_test=args.get("K_test"))


def test_bad_rates():
    with pytest.raises(ValueError, match="rates"):
        functional_gd(np.eye(2), np.ones(2), [0.1, np.nan])
    with pytest.raises(ValueError, match="lr"):
        cosine_schedule(-1.0, 10)
    with pytest.raises(ValueError, match="n_steps"):
        constant_schedule(0.1, 0)


# -- AR(2) data and features ---------------------------------------------------
def test_ar2_recovers_its_coefficients():
    """Least squares on a long series recovers (1.4, -0.6) and the noise variance 0.47
    (standard errors ~ 1/sqrt(n) ~ 0.003 at n = 200,000; tolerance ~5 SE)."""
    X, y = ar2_windows(200_000, seed=1)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(coef, [-0.6, 1.4], atol=0.01)
    assert abs(np.var(y - X @ coef) - 0.47) < 0.01


def test_ar2_seeded_and_initial_values():
    a, b = ar2_series(50, seed=3), ar2_series(50, seed=3)
    np.testing.assert_array_equal(a, b)
    X, y = ar2_windows(5, seed=3)
    np.testing.assert_array_equal(X[0], [1.2, -0.1])
    np.testing.assert_array_equal(X[1:, 1], y[:-1])
    # noise-free: the deterministic recursion by hand
    x = ar2_series(3, seed=0, noise_var=0.0)
    x0 = 1.4 * -0.1 - 0.6 * 1.2
    x1 = 1.4 * x0 - 0.6 * -0.1
    np.testing.assert_allclose(x[:2], [x0, x1], rtol=1e-15)


def test_fourier_features():
    X = np.array([[0.5, -2.0], [1.0, 0.0]])
    F, scale = fourier_features(X, n_freq=8, seed=0)
    assert F.shape == (2, 2, 16) and scale == 2.0
    np.testing.assert_allclose(F[..., :8] ** 2 + F[..., 8:] ** 2, 1.0, rtol=1e-14)
    np.testing.assert_allclose(F[1, 1], [0.0] * 8 + [1.0] * 8, atol=1e-15)  # x = 0
    with pytest.raises(ValueError, match="NaN"):
        fourier_features(np.array([[np.nan, 1.0]]), seed=0)


# -- order-aware gradients (ReNT eqs 9-12) vs autograd ----------------------
def _random_params(rng, widths, scale=0.6):
    P = {}
    for l in range(1, len(widths)):
        P[f"W{l}"] = rng.standard_normal((widths[l - 1], widths[l])) * scale
        P[f"Wr{l}"] = rng.standard_normal((widths[l], widths[l])) * scale
        P[f"b{l}"] = rng.standard_normal(widths[l]) * 0.3
    P["v"] = rng.standard_normal(widths[-1])
    return P


def _autograd(P, S, activation):
    import torch

    T = {k: torch.tensor(v, requires_grad=True) for k, v in P.items()}
    phi = torch.tanh if activation == "tanh" else torch.relu
    L = sum(1 for k in P if k.startswith("Wr"))
    h = [torch.zeros(P[f"b{l}"].shape[0], dtype=torch.float64) for l in range(1, L + 1)]
    for s in range(S.shape[0]):
        inp = torch.tensor(S[s])
        for l in range(1, L + 1):
            h[l - 1] = phi(inp @ T[f"W{l}"] + h[l - 1] @ T[f"Wr{l}"] + T[f"b{l}"])
            inp = h[l - 1]
    f = h[-1] @ T["v"]
    f.backward()
    return {k: t.grad.numpy() for k, t in T.items()}


@pytest.mark.parametrize("length", [1, 2, 3, 10])
@pytest.mark.parametrize("form", ["matrix", "paths"])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_order_aware_gradient_equals_autograd(length, form, activation, rng):
    """R-2: the 2-layer RNN of the spec (h0 = 3, h1 = 5, h2 = 4), max abs diff <= 1e-10."""
    P = _random_params(rng, [3, 5, 4])
    S = rng.standard_normal((length, 3))
    ours = order_aware_gradients(P, S, activation=activation, form=form)
    ref = _autograd(P, S, activation)
    assert set(ours) == set(ref)
    for k in ref:
        assert ours[k].shape == P[k].shape
        assert np.abs(ours[k] - ref[k]).max() <= 1e-10, k


def test_order_aware_gradient_depth3_paths(rng):
    P = _random_params(rng, [2, 3, 4, 3])
    S = rng.standard_normal((4, 2))
    ours = order_aware_gradients(P, S, form="paths")
    ref = _autograd(P, S, "tanh")
    for k in ref:
        assert np.abs(ours[k] - ref[k]).max() <= 1e-10, k


def test_length_one_gradient_is_the_mlp_gradient(rng):
    """S = 1: the RNN gradient equals that of the MLP with the same W, b (torch
    nn.Linear stack, autograd); the recurrent weights get zero gradient."""
    import torch

    P = _random_params(rng, [3, 5, 4])
    x = rng.standard_normal(3)
    ours = order_aware_gradients(P, x[None, :])
    lin1, lin2 = torch.nn.Linear(3, 5).double(), torch.nn.Linear(5, 4).double()
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor(P["W1"].T))
        lin1.bias.copy_(torch.tensor(P["b1"]))
        lin2.weight.copy_(torch.tensor(P["W2"].T))
        lin2.bias.copy_(torch.tensor(P["b2"]))
    v = torch.tensor(P["v"], requires_grad=True)
    f = torch.tanh(lin2(torch.tanh(lin1(torch.tensor(x))))) @ v
    f.backward()
    np.testing.assert_allclose(ours["W1"], lin1.weight.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(ours["b1"], lin1.bias.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(ours["W2"], lin2.weight.grad.numpy().T, atol=1e-12)
    np.testing.assert_allclose(ours["v"], v.grad.numpy(), atol=1e-12)
    assert not ours["Wr1"].any() and not ours["Wr2"].any()


def test_gradient_bad_params(rng):
    P = _random_params(rng, [3, 5])
    with pytest.raises(ValueError, match="W1"):
        order_aware_gradients(P, rng.standard_normal((2, 4)))
    with pytest.raises(ValueError, match="form"):
        order_aware_gradients(P, rng.standard_normal((2, 3)), form="x")


# -- PGD recording ---------------------------------------------------------------
def test_pgd_of_a_linear_model_is_fgd_with_its_kernel(rng):
    """A linear model f(x) = <w, x> + b has the constant NTK K = X X^T + 1, so
    PGD and FGD must agree to rounding at every step (an exact identity)."""
    import torch

    from rntk.dynamics import train_pgd

    X = rng.standard_normal((9, 4))
    y = rng.standard_normal(9)
    model = torch.nn.Linear(4, 1).double()
    rates = cosine_schedule(0.3, 40)
    res = train_pgd(model, torch.tensor(X), y, rates, X_test=torch.tensor(X[:3] * 2), ntk_at=[0, 40])
    with torch.no_grad():
        f0 = res.train[0]
    K = X @ X.T + 1.0
    fgd = functional_gd(K, y, rates, f0=f0, K_test=(2 * X[:3]) @ X.T + 1.0, f0_test=res.test[0])
    assert rel_frobenius(res.train, fgd.train) < 1e-12
    assert rel_frobenius(res.test, fgd.test) < 1e-12
    for Kk in res.ntk:
        assert rel_frobenius(Kk, K) < 1e-13
    assert res.loss.shape == (40,) and res.loss[-1] < res.loss[0]


def test_pgd_divergence_is_reported(rng):
    import torch

    from rntk.dynamics import train_pgd

    X = torch.tensor(rng.standard_normal((5, 3)) * 10)
    model = torch.nn.Linear(3, 1).double()
    with pytest.raises(FloatingPointError, match="diverges"):
        train_pgd(model, X, np.ones(5), constant_schedule(10.0, 200))


def test_import_dynamics_without_torch():
    import subprocess
    import sys

    code = "import sys, rntk.dynamics; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("n", [1, 2, 3, 10, 50])
def test_prop4_identity_kernel_counterexample(n):
    """R-4's analytic case, derived by hand: K = gamma I, equal residuals r, one
    FGD step of L = mean (f - y)^2 shrinks every residual by (1 - 2 eta gamma / N),
    so actual / claimed = (1 - (1 - 2 eta gamma/N)^2) / (2 eta gamma)
    = 2/N - 2 eta gamma / N^2: below 1 for every N >= 2 at eta = 1/(4 gamma)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "verify" / "rent_prop4.py"
    import sys

    sys.path.insert(0, str(path.parent))
    try:
        spec = importlib.util.spec_from_file_location("rent_prop4", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(path.parent))
    gamma, eta = 1.5, 1 / (4 * 1.5)
    rho = mod.prop4_ratios(gamma * np.eye(n), np.full(n, -0.3), np.zeros(n), eta, gamma, 1)[0]
    assert rho == pytest.approx(2 / n - 2 * eta * gamma / n**2, rel=1e-12)
    assert (rho < 1) == (n >= 2)
