"""Building blocks of the theory checks (rntk.theory): the diagonal-RNN and learnability-window papers.

Every reference below is computed another way than the code under test:
torch autograd for the numpy recursions, Gauss-Hermite quadrature for the
Monte Carlo kernel, scipy.stats.levy_stable for the stable sampler, nn.GRU /
nn.LSTM for the written-out cell steps, brute force for the projection.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

import rntk.theory as th
from rntk.theory._diagonal import _closed_form_features


def _unit_inputs(rng, n, T, d, scale=1.0):
    X = rng.standard_normal((n, T, d))
    return scale * X / np.linalg.norm(X, axis=2, keepdims=True)


# --- symmetric initialisation ------------------------------------------------

@given(m=st.integers(1, 40).map(lambda k: 2 * k), d=st.integers(1, 4), T=st.integers(1, 12),
       alpha=st.floats(0.05, 2.0), seed=st.integers(0, 2**31))
def test_symmetric_init_output_is_zero(m, d, T, alpha, seed):
    rng = np.random.default_rng(seed)
    net = th.symmetric_init(m, d, alpha, rng)
    X = rng.standard_normal((3, T, d)) * 3
    assert np.max(np.abs(net.outputs(X))) <= 1e-12
    # Definition 1: +-alpha recurrent weights, paired neurons, opposite read-out
    h = m // 2
    assert np.allclose(np.abs(net.w), alpha)
    assert np.array_equal(net.w[:h], net.w[h:]) and np.array_equal(net.U[:h], net.U[h:])
    assert np.array_equal(net.c[:h], -net.c[h:])


def test_broken_symmetry_gives_nonzero_output(rng):
    net = th.symmetric_init(8, 2, 0.5, rng)
    moved = th.DiagonalRNN(w=net.w, U=net.U + 0.1 * rng.standard_normal(net.U.shape), c=net.c, w0=net.w0, U0=net.U0)
    assert np.max(np.abs(moved.outputs(_unit_inputs(rng, 4, 5, 2)))) > 1e-4


def test_symmetric_init_rejects_bad_arguments():
    with pytest.raises(ValueError, match="even"):
        th.symmetric_init(7, 2, 0.5, 0)
    with pytest.raises(ValueError, match="alpha"):
        th.symmetric_init(8, 2, -1.0, 0)
    with pytest.raises(ValueError, match="alpha"):
        th.symmetric_init(8, 2, float("nan"), 0)
    net = th.symmetric_init(8, 2, 0.5, 0)
    with pytest.raises(ValueError, match="NaN"):
        net.outputs(np.full((1, 3, 2), np.nan))
    with pytest.raises(ValueError, match="features"):
        net.outputs(np.zeros((1, 3, 5)))
    with pytest.raises(ValueError, match="shape"):
        net.outputs(np.zeros((3, 2)))


# --- recursions vs autograd ----------------------------------------------------

@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_numpy_ntk_and_gradient_match_autograd(rng, gain):
    import torch

    net = th.symmetric_init(12, 3, 0.7, rng, gain=gain)
    net = th.DiagonalRNN(w=net.w + 0.05 * rng.standard_normal(12), U=net.U, c=net.c, w0=net.w0, U0=net.U0, gain=gain)
    X = _unit_inputs(rng, 5, 6, 3)
    K = th.empirical_ntk_diagonal(net, X)
    K_auto = th.autograd_ntk(net, X)
    assert np.max(np.abs(K - K_auto)) <= 1e-12 * np.max(np.abs(K_auto))

    Y = rng.standard_normal((5, 6))
    R, gw, gU = th.risk_and_gradient(net, X, Y)
    w = torch.tensor(net.w, requires_grad=True)
    U = torch.tensor(net.U, requires_grad=True)
    F = th.diagonal_rnn_torch(w, U, torch.tensor(net.c), torch.tensor(X), gain)
    R_t = ((F - torch.tensor(Y)) ** 2).sum() / 5
    R_t.backward()
    assert abs(R - R_t.item()) <= 1e-12 * R
    assert np.allclose(gw, w.grad.numpy(), rtol=1e-10, atol=1e-14)
    assert np.allclose(gU, U.grad.numpy(), rtol=1e-10, atol=1e-14)


# --- kappa_T: recursion vs closed form, and vs quadrature ---------------------

@given(T=st.integers(1, 9), d=st.integers(1, 3), alpha=st.floats(0.1, 1.5), seed=st.integers(0, 2**31))
def test_kappa_closed_form_equals_recursion_per_draw(T, d, alpha, seed):
    rng = np.random.default_rng(seed)
    X = _unit_inputs(rng, 3, T, d)
    w0 = alpha * rng.choice([-1.0, 1.0], size=50)
    u0 = rng.standard_normal((50, d))
    A, B = _closed_form_features(w0, u0, X, 1.0, start=0)  # explicit double sum
    _, sw, su = th.sensitivities(w0, u0, X, every_t=False)  # chain-rule recursion
    assert np.allclose(A, su.transpose(1, 0, 2), rtol=1e-12, atol=1e-14)
    assert np.allclose(B, sw.T, rtol=1e-12, atol=1e-14)


def _kappa_quadrature(X, alpha, nodes=4001):
    """d = 1: kappa_T = 1/2 sum_{w = +-alpha} E_u[<g(w,u;X), g(w,u;X')>], u ~ N(0, 1).

    E_u by the trapezoid rule on [-10, 10] (geometric convergence for this
    smooth, fast-decaying integrand; Gauss-Hermite converges slowly here
    because of the poles of tanh near the real axis)."""
    z = np.linspace(-10, 10, nodes)
    wts = np.exp(-0.5 * z**2) * (z[1] - z[0]) / np.sqrt(2 * np.pi)
    K = 0.0
    for sgn in (1.0, -1.0):
        w = np.full(nodes, sgn * alpha)
        _, sw, su = th.sensitivities(w, z[:, None], X, every_t=False)
        G = np.concatenate([sw[..., None], su], axis=2)  # (n, nodes, 2)
        K = K + 0.5 * np.einsum("aqp,bqp,q->ab", G, G, wts)
    return K


@pytest.mark.parametrize("alpha", [0.5, 0.9])
def test_kappa_monte_carlo_matches_quadrature(rng, alpha):
    X = rng.uniform(-1, 1, size=(4, 5, 1))
    K_q = _kappa_quadrature(X, alpha)
    n_draws = 2**16
    K, var = th.limiting_kernel(X, alpha=alpha, n_draws=n_draws, seed=rng, return_variance=True)
    z = (K - K_q) / np.sqrt(var / n_draws)
    assert np.max(np.abs(z)) < 4.5
    # the printed index range (k, l from 1) is a different kernel, not MC noise
    K1 = th.limiting_kernel(X, alpha=alpha, n_draws=n_draws, seed=rng, start=1)
    assert np.linalg.norm(K1 - K_q) > 0.2 * np.linalg.norm(K_q)


def test_wide_network_ntk_approaches_kappa(rng):
    X = _unit_inputs(rng, 4, 6, 2)
    kappa = th.limiting_kernel(X, alpha=0.5, n_draws=2**15, seed=rng)
    errs = [np.linalg.norm(th.empirical_ntk_diagonal(th.symmetric_init(m, 2, 0.5, rng), X) - kappa)
            for m in (16, 4096)]
    assert errs[1] < errs[0] / 4  # sqrt(4096/16) = 16 in expectation


def test_mu_functions_closed_forms():
    for z in (0.3, 0.9, 1.5):
        for t in (1, 4, 10):
            assert th.mu0(z, t) == pytest.approx((1 - z**t) / (1 - z), rel=1e-12)
            # d/dz of sum z^(k+1) = sum (k+1) z^k
            s = (z - z ** (t + 1)) / (1 - z)
            eps = 1e-6
            s2 = ((z + eps) - (z + eps) ** (t + 1)) / (1 - z - eps)
            assert th.mu1(z, t) == pytest.approx((s2 - s) / eps, rel=1e-4)
    assert th.mu0(1.0, 7) * th.mu1(1.0, 7) == 7**2 * 8 / 2


def test_transport_target_is_mean_directional_sensitivity(rng):
    X = _unit_inputs(rng, 6, 5, 2)
    a = np.array([0.6, 0.8])
    Y = th.transport_target(X, alpha=0.5, v_u=a, v_w=0.3, n_draws=500, seed=11, chunk=200)
    r = np.random.default_rng(11)
    sw_all, su_all = [], []
    for c in (200, 200, 100):  # same draw order as the chunks
        w0 = 0.5 * r.choice([-1.0, 1.0], size=c)
        u0 = r.standard_normal((c, 2))
        _, SW, SU = th.sensitivities(w0, u0, X)
        sw_all.append(SW)
        su_all.append(SU)
    SW, SU = np.concatenate(sw_all, 2), np.concatenate(su_all, 2)
    want = ((SU @ a) + 0.3 * SW).mean(-1).T
    assert np.allclose(Y, want, rtol=1e-12, atol=1e-15)


# --- projection ----------------------------------------------------------------

@given(m=st.integers(1, 6), d=st.integers(0, 3), radius=st.floats(0.0, 2.0),
       scale=st.floats(0.01, 5.0), seed=st.integers(0, 2**31))
def test_projection_properties(m, d, radius, scale, seed):
    rng = np.random.default_rng(seed)
    shape = (m,) if d == 0 else (m, d)
    A0 = rng.standard_normal(shape)
    A = A0 + scale * rng.standard_normal(shape)
    P = th.project_max_norm(A, A0, radius)
    rows = lambda Z: (Z - A0).reshape(m, -1)
    # maps into the set
    assert np.all(np.linalg.norm(rows(P), axis=1) <= radius * (1 + 1e-12) + 1e-15)
    # idempotent
    assert np.allclose(th.project_max_norm(P, A0, radius), P, rtol=0, atol=1e-14)
    # identity inside
    inside = A0 + rows(P).reshape(shape) * 0.5
    assert np.array_equal(th.project_max_norm(inside, A0, radius), inside)
    # nearest point: no random point of the set is closer to A
    for _ in range(20):
        dirs = rng.standard_normal((m, max(d, 1)))
        dirs *= radius * rng.uniform(size=(m, 1)) / np.linalg.norm(dirs, axis=1, keepdims=True)
        Q = A0 + dirs.reshape(shape)
        assert np.linalg.norm(A - P) <= np.linalg.norm(A - Q) + 1e-12


def test_projection_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        th.project_max_norm(np.zeros((2, 3)), np.zeros((3, 2)), 1.0)
    with pytest.raises(ValueError, match="radius"):
        th.project_max_norm(np.zeros(3), np.zeros(3), -1.0)
    with pytest.raises(ValueError, match="finite"):
        th.project_max_norm(np.array([np.nan]), np.zeros(1), 1.0)


def test_projected_gd_stays_in_balls_and_plain_gd_descends(rng):
    X = _unit_inputs(rng, 16, 4, 2, 0.8)
    Y = np.sin(X.sum(2))
    net = th.symmetric_init(32, 2, 0.5, rng)
    res = th.train_gd(net, X, Y, eta=0.2, steps=30, rho_w=0.3, rho_u=0.3)
    r = 0.3 / np.sqrt(32)
    assert np.max(np.abs(res.model.w - net.w0)) <= r * (1 + 1e-12)
    assert np.max(np.linalg.norm(res.model.U - net.U0, axis=1)) <= r * (1 + 1e-12)
    plain = th.train_gd(net, X, Y, eta=0.05, steps=30)
    assert np.all(np.diff(plain.risk) <= 0) and plain.risk[-1] < 0.9 * plain.risk[0]
    # the projection was active: plain GD leaves the balls in the same number of steps
    assert np.max(np.linalg.norm(plain.model.U - net.U0, axis=1)) > r
    with pytest.raises(ValueError, match="both"):
        th.train_gd(net, X, Y, eta=0.1, steps=1, rho_w=1.0)
    with pytest.raises(ValueError, match="eta"):
        th.train_gd(net, X, Y, eta=0.0, steps=1)
    with pytest.raises(ValueError, match="Y must have shape"):
        th.train_gd(net, X, Y[:, :2], eta=0.1, steps=1)


# --- alpha-stable sampler ------------------------------------------------------

@pytest.mark.parametrize("alpha", [2.0, 1.8, 1.5, 1.3, 1.0, 0.7])
def test_stable_sampler_matches_scipy_quantiles(alpha):
    n = 40000
    x = th.symmetric_stable(alpha, n, np.random.default_rng(int(alpha * 100)))
    p = np.array([0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    q_ref = stats.levy_stable.ppf(p, alpha, 0.0)
    pdf = stats.levy_stable.pdf(q_ref, alpha, 0.0)
    se = np.sqrt(p * (1 - p) / n) / pdf  # asymptotic SE of a sample quantile
    assert np.all(np.abs(np.quantile(x, p) - q_ref) <= 4.5 * se)


def test_stable_sampler_scale_and_errors():
    x = th.symmetric_stable(2.0, 50000, 1, scale=3.0)
    assert np.var(x) == pytest.approx(2 * 9.0, rel=0.04)  # S_2(scale) = N(0, 2 scale^2)
    for bad in (0.0, 2.5, float("nan")):
        with pytest.raises(ValueError, match="alpha"):
            th.symmetric_stable(bad, 10, 0)
    with pytest.raises(ValueError, match="scale"):
        th.symmetric_stable(1.5, 10, 0, scale=0.0)


def test_detection_pipeline_recovers_the_gaussian_sample_size():
    """N* for a mean shift f under N(0, 2) noise is (z_.95 + z_.8)^2 * 2 / f^2."""
    rng = np.random.default_rng(5)
    reps, nmax = 4000, 400
    grid = np.arange(1, nmax + 1)
    null = np.cumsum(rng.normal(0, np.sqrt(2), (reps, nmax)), 1) / grid
    alt = np.cumsum(rng.normal(0, np.sqrt(2), (reps, nmax)), 1) / grid
    shifts = [1.0, 0.5]
    pw = th.detection_curves(null, alt, shifts)
    want = (stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) ** 2 * 2 / np.array(shifts) ** 2
    got = [th.threshold_crossing(grid, p) for p in pw]
    assert np.allclose(got, want, rtol=0.12)
    assert np.isnan(th.threshold_crossing(grid, np.linspace(0, 0.5, nmax)))


# --- gated cells ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("controlled", [False, True])
def test_cell_step_reproduces_torch_modules(kind, controlled):
    import torch

    lam = np.linspace(0.2, 0.95, 6) if controlled else None
    net = th.controlled_cell(kind, 6, lam, 0.5, seed=3)
    x = torch.randn(4, 7, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    out, _ = net(x)
    h = torch.zeros(4, 6, dtype=torch.float64)
    state = h if kind == "gru" else (h, h.clone())
    for t in range(7):
        state, gate = th.cell_step(net, x[:, t], state)
    assert torch.allclose(state if kind == "gru" else state[0], out[:, -1], atol=1e-12)
    if controlled:  # the transport gate is exactly the requested spectrum
        assert np.allclose(gate.detach().numpy(), np.broadcast_to(lam, (4, 6)), atol=1e-12)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_gate_transport_is_exact_without_candidate_weights(rng, kind):
    lam = np.linspace(0.3, 0.95, 8)
    x = rng.standard_normal((3, 12))
    r0 = th.gate_transport(th.controlled_cell(kind, 8, lam, 0.0), x, [10, 12], 8)
    assert np.allclose(r0["ratio"], 1, atol=1e-12) and np.max(r0["rel_err"]) < 1e-12
    assert np.allclose(r0["f_pred"], [(lam**l).sum() for l in range(1, 9)], rtol=1e-12)
    r1 = th.gate_transport(th.controlled_cell(kind, 8, lam, 1.0), x, [10, 12], 8)
    assert np.max(r1["rel_err"]) > 1e-3  # candidate weights add transport beyond D


def test_gate_helpers_reject_bad_input(rng):
    with pytest.raises(ValueError, match="kind"):
        th.controlled_cell("rnn", 4)
    with pytest.raises(ValueError, match="lambdas"):
        th.controlled_cell("gru", 4, np.array([0.5, 1.0, 0.2, 0.1]))
    with pytest.raises(ValueError, match="max_lag"):
        th.gate_transport(th.controlled_cell("gru", 4), rng.standard_normal((2, 5)), [3], 4)


def test_import_theory_is_light():
    import subprocess
    import sys

    code = "import sys, rntk.theory; print(' '.join(m for m in ('torch', 'matplotlib') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
