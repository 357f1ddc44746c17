"""rntk.gp: the GPyTorch kernel against the literal reference recursion, its
gradients against central finite differences, GPyTorch's train and predictive
modes against the closed-form GP formulas (the sigma_h convention), the
closed-form leave-one-out loss against explicit refits, and bad input."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
gpytorch = pytest.importorskip("gpytorch")

from rntk import RNTK
from rntk.gp import (
    RNTKKernel,
    decode_sequences,
    encode_sequences,
    fit_loo_hyperparameters,
    loo_ridge_loss,
)
from rntk.gp._kernel import same_samples
from rntk.testing import rel_frobenius

# The kernel runs the recursion of RNTK.gram_torch; the reference backend is a
# separate, literal per-pair recursion in Python floats. Both are float64 with
# the same formulas in different orders; the hyperparameters also pass through
# the constraint and back (softplus / inverse softplus: a few ulps of sigma, so
# ~T*L*few ulps of the kernel, T <= 8, L <= 2). Measured <= 6e-16; 1e-12 leaves
# three orders of magnitude while any wrong term is O(1e-2) or more.
TOL_VALUES = 1e-12
# Central differences with step h in raw-parameter space: truncation h^2 |K'''| / 6
# ~ 1e-12 relative, rounding ~ 100 eps |K| / h ~ 2e-8 |K|; relative to the
# derivative's scale, 1e-5 leaves a factor > 100 (as in test_torch_kernel.py).
FD_STEP = 1e-6
TOL_GRAD = 1e-5
FD_ULPS = 100
SIG_POS = st.sampled_from([0.5, 1.0, 2**0.5, 1.7])  # sigma_w, sigma_u: constrained > 0
SIG_NN = st.sampled_from([0.0, 0.3, 1.0])  # sigma_b, sigma_h: >= 0
# numpy side of the comparisons: the array recursion (the fused kernel is checked against it elsewhere)
BACKEND = "cpu-vectorized"
PARAMS = ("sigma_w", "sigma_u", "sigma_b", "sigma_h")


@st.composite
def cases(draw, max_len=8):
    L = draw(st.integers(1, 2))
    kw = {"n_layers": L, "activation": draw(st.sampled_from(["relu", "erf"])),
          "sigma_w": [draw(SIG_POS) for _ in range(L)], "sigma_u": [draw(SIG_POS) for _ in range(L)],
          "sigma_b": [draw(SIG_NN) for _ in range(L)], "sigma_h": [draw(SIG_NN) for _ in range(L)]}
    kw.update(draw(st.sampled_from([{}, {"direction": "bidirectional"}, {"readout": "per-step"},
                                    {"readout": "mean"}, {"frozen_layers": 1}])))
    m = draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    lens = rng.integers(1, max_len + 1, size=9)
    seqs = [rng.normal(size=(t, m)) for t in lens]
    return kw, m, seqs[:5], seqs[5:]


def make(kw, m):
    return RNTKKernel(n_features=m, **kw), RNTK(**kw)


@given(cases())
@settings(max_examples=10)
def test_values_equal_reference_recursion(case):
    kw, m, xs, ys = case
    k, r = make(kw, m)
    x, y = encode_sequences(xs, max_length=8), encode_sequences(ys, max_length=8)
    ref, ref_xy = r.gram(xs, backend="reference"), r.gram(xs, ys, backend="reference")
    for comp in ("ntk", "nngp"):
        k.component = comp
        with torch.no_grad():
            K, Kxy = k(x).to_dense().numpy(), k(x, y).to_dense().numpy()
            d, dxy = k(x, diag=True).numpy(), k(x[:4], y, diag=True).numpy()
        want = getattr(ref, comp)
        assert K.shape == (5, 5) and Kxy.shape == (5, 4)
        assert np.array_equal(K, K.T)
        assert rel_frobenius(K, want) <= TOL_VALUES
        assert rel_frobenius(Kxy, getattr(ref_xy, comp)) <= TOL_VALUES
        assert rel_frobenius(d, np.diag(want)) <= TOL_VALUES  # sigma_h included: same samples
        assert rel_frobenius(dxy, np.diag(getattr(ref_xy, comp))[:4]) <= TOL_VALUES


VARIANTS = [{"direction": "reversed"}, {"direction": "bidirectional"}, {"readout": "per-step"},
            {"readout": "mean"}, {"readout": "mean", "direction": "bidirectional"},
            {"n_layers": 2, "frozen_layers": 1}, {"n_layers": 2, "frozen_layers": 1, "readout": "mean"}]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(f"{k}={v[k]}" for k in v))
def test_every_variant_equals_reference_and_has_fd_gradients(variant, rng):
    """Each variant of RNTK, deterministically (the hypothesis draws above may miss one):
    K(X), K(X, Y) and both diagonals against the literal reference, for the NTK and the
    NNGP, and d/d sigma_b of sum(R * K(X)) against a central difference of that reference.
    (The mean read-out's same-sample diagonal is its own T x T computation, not the
    aligned-step one; a kernel that used the latter was off by O(1) there.)"""
    kw = {"sigma_w": 1.3, "sigma_u": 0.9, "sigma_b": 0.4, "sigma_h": 0.6, **variant}
    xs = [rng.normal(size=(t, 2)) for t in (3, 5, 1, 4)]
    ys = [rng.normal(size=(t, 2)) for t in (4, 2, 5)]
    k, r = make(kw, 2)
    x, y = encode_sequences(xs, max_length=5), encode_sequences(ys, max_length=5)
    ref, ref_xy = r.gram(xs, backend="reference"), r.gram(xs, ys, backend="reference")
    for comp in ("ntk", "nngp"):
        k.component = comp
        with torch.no_grad():
            K, Kxy = k(x).to_dense().numpy(), k(x, y).to_dense().numpy()
            d, dxy = k(x, diag=True).numpy(), k(x[:3], y, diag=True).numpy()
        want, want_xy = getattr(ref, comp), getattr(ref_xy, comp)
        assert rel_frobenius(K, want) <= TOL_VALUES
        assert rel_frobenius(Kxy, want_xy) <= TOL_VALUES
        assert rel_frobenius(d, np.diag(want)) <= TOL_VALUES
        assert rel_frobenius(dxy, np.diag(want_xy)) <= TOL_VALUES
        R = rng.uniform(-1, 1, size=K.shape)
        # sigma_b = |raw| with raw = 0.4 > 0, so d/d raw = d/d sigma_b
        (g,) = torch.autograd.grad((torch.tensor(R) * k(x).to_dense()).sum(), [k.raw_sigma_b])
        h, L = 1e-6, r.n_layers
        fd = []
        for l in range(L):
            def at(delta, l=l):
                sb = [0.4] * L
                sb[l] += delta
                return float((R * getattr(RNTK(**{**kw, "sigma_b": sb}).gram(xs, backend="reference"), comp)).sum())
            fd.append((at(h) - at(-h)) / (2 * h))
        scale = float(np.abs(R * want).sum())
        assert np.allclose(g.numpy(), fd, rtol=1e-6, atol=1e-7 * scale), (comp, g, fd)


def test_batched_inputs_and_hyperparameters(rng):
    xs = [rng.normal(size=(t, 2)) for t in (3, 5, 2, 4)]
    x = encode_sequences(xs)
    k = RNTKKernel(n_features=2, sigma_h=0.5)
    xb = torch.stack([x, x.flip(0)])
    with torch.no_grad():
        Kb = k(xb).to_dense()
        assert Kb.shape == (2, 4, 4)
        assert torch.equal(Kb[0], k(x).to_dense())
        assert torch.equal(Kb[1], k(x.flip(0).contiguous()).to_dense())
        Kc = k(xb, x[:3]).to_dense()  # broadcast of (2, 4, D) against (3, D)
        assert torch.equal(Kc[1], k(x.flip(0).contiguous(), x[:3]).to_dense())
    kb = RNTKKernel(n_features=2, batch_shape=torch.Size([3]))
    kb.sigma_b = torch.tensor([[0.1], [0.5], [1.0]], dtype=torch.float64)
    with torch.no_grad():
        K3 = kb(x).to_dense()
        assert K3.shape == (3, 4, 4)
        for i, b in enumerate((0.1, 0.5, 1.0)):
            assert rel_frobenius(K3[i].numpy(), RNTK(sigma_b=b, sigma_h=0.1).gram(xs, backend=BACKEND).ntk) <= TOL_VALUES


@given(cases(max_len=6), st.integers(0, 2**31))
@settings(max_examples=8)
def test_hyperparameter_gradients_match_finite_differences(case, seed):
    """d/d raw of sum(R * K) by autograd vs central FD of the numpy kernel at transformed raws."""
    kw, m, xs, ys = case
    if kw.get("frozen_layers"):
        kw = {**kw, "frozen_layers": 0}
    rng = np.random.default_rng(seed)
    k, _ = make(kw, m)
    x, y = encode_sequences(xs, max_length=6), encode_sequences(ys, max_length=6)
    raws = [getattr(k, f"raw_{p}") for p in PARAMS]
    direction = [torch.tensor(rng.normal(size=tuple(r.shape))) for r in raws]
    for comp in ("ntk", "nngp"):
        k.component = comp
        for args in ((x,), (x, y)):
            K = k(*args).to_dense()
            R = torch.tensor(rng.uniform(-1, 1, size=K.shape))
            grads = torch.autograd.grad((R * K).sum(), raws)
            ad = sum(float((g * v).sum()) for g, v in zip(grads, direction))

            def numpy_kernel(sign, args=args, comp=comp):
                sig = {}
                for p, r, v in zip(PARAMS, raws, direction):
                    c = getattr(k, f"raw_{p}_constraint")
                    sig[p] = [abs(float(s)) for s in c.transform(r.detach() + sign * FD_STEP * v)]
                kern = RNTK(**{**kw, **sig})
                xs_, ys_ = xs, (ys if len(args) == 2 else None)
                return getattr(kern.gram(xs_, ys_, backend="cpu-vectorized"), comp)

            dK = (numpy_kernel(1) - numpy_kernel(-1)) / (2 * FD_STEP)
            fd = float((R.numpy() * dK).sum())
            absR = np.abs(R.numpy())
            allowed = (TOL_GRAD * float((absR * np.abs(dK)).sum())
                       + FD_ULPS * np.finfo(float).eps * float((absR * np.abs(K.detach().numpy())).sum()) / FD_STEP)
            assert abs(ad - fd) <= allowed, (comp, len(args), ad, fd, allowed)


def test_same_samples_is_memory_identity():
    x = torch.randn(6, 4, dtype=torch.float64)
    assert same_samples(x, x)
    assert same_samples(x[2:], x[2:])  # what GPyTorch's test-test slice of the joint covariance is
    assert not same_samples(x, x.clone())  # equal values, other samples
    assert not same_samples(x[2:], x[:4])


class _GP(gpytorch.models.ExactGP):
    def __init__(self, x, y, lik, **kw):
        super().__init__(x, y, lik)
        self.mean = gpytorch.means.ZeroMean()
        self.cov = gpytorch.kernels.ScaleKernel(RNTKKernel(**kw))

    def forward(self, z):
        return gpytorch.distributions.MultivariateNormal(self.mean(z), self.cov(z))


def test_gpytorch_train_and_predictive_modes_follow_the_sigma_h_convention(rng):
    """Train-mode likelihood and posterior equal the GP formulas with RNTK.gram:
    sigma_h on the diagonal of K(X) and K(X*), never in K(X*, X), also when X* is
    a copy of X (the predictive variance at a training point is then visible)."""
    from scipy.stats import multivariate_normal

    xs = [rng.normal(size=(t, 1)) for t in rng.integers(2, 8, size=10)]
    ts = [rng.normal(size=(t, 1)) for t in rng.integers(2, 8, size=4)]
    x, xt = encode_sequences(xs, max_length=8), encode_sequences(ts, max_length=8)
    y = torch.tensor(rng.normal(size=10))
    lik = gpytorch.likelihoods.GaussianLikelihood()
    model = _GP(x, y, lik, sigma_h=0.8, sigma_b=0.3).double()
    noise, scale = 0.05, 1.7
    lik.noise = torch.tensor(noise, dtype=torch.float64)  # a float would go through float32
    model.cov.outputscale = torch.tensor(scale, dtype=torch.float64)
    r = RNTK(sigma_h=0.8, sigma_b=0.3, sigma_v=scale**0.5)
    Kxx = r.gram(xs, backend=BACKEND).ntk + noise * np.eye(10)
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, model)
    with torch.no_grad():
        got = float(mll(model(x), y)) * 10  # gpytorch divides by n
    want = multivariate_normal(np.zeros(10), Kxx).logpdf(y.numpy())
    assert abs(got - want) <= 1e-10 * abs(want)
    model.eval()
    for test_seqs, test_x in ((ts, xt), (xs, x.clone())):
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", gpytorch.utils.warnings.GPInputWarning)  # the copy of X
            post = model(test_x)
            mu, cov = post.mean.numpy(), post.covariance_matrix.numpy()
        Ktx, Ktt = r.gram(test_seqs, xs, backend=BACKEND).ntk, r.gram(test_seqs, backend=BACKEND).ntk
        assert rel_frobenius(mu, Ktx @ np.linalg.solve(Kxx, y.numpy())) <= 1e-9
        # gpytorch may add jitter ~1e-8 x the diagonal scale to the posterior covariance
        assert rel_frobenius(cov, Ktt - Ktx @ np.linalg.solve(Kxx, Ktx.T)) <= 1e-6
    # sigma_h matters here: without it on K(X*) the variances would be visibly smaller
    gap = np.diag(r.gram(xs, backend=BACKEND).ntk - r.gram(xs, xs, backend=BACKEND).ntk)
    assert gap.min() > 1e-3


def test_exact_gp_trains_and_its_marginal_likelihood_increases(rng):
    """Next-step regression on a noisy sine, as in Figure 4 (small)."""
    s = np.sin(2 * np.pi * np.arange(200) / 200) + 0.05 * rng.normal(size=200)
    starts, lens = rng.integers(0, 170, size=20), rng.integers(5, 11, size=20)
    xs = [s[a:a + t, None] for a, t in zip(starts, lens)]
    x, y = encode_sequences(xs, max_length=10), torch.tensor(s[starts + lens])
    lik = gpytorch.likelihoods.GaussianLikelihood()
    model = _GP(x, y, lik).double()
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, model)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    with torch.no_grad():
        start = float(mll(model(x), y))
    for _ in range(20):  # measured gain: 0.9 nats per sample after 20 steps, 1.4 after 40
        opt.zero_grad()
        loss = -mll(model(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        end = float(mll(model(x), y))
    assert end > start + 0.5, (start, end)  # per-sample log likelihood, nats
    k = model.cov.base_kernel
    assert all(bool(getattr(k, p).requires_grad) for p in PARAMS)
    assert all(float(v) > 0 for v in (k.sigma_w.detach()[0], k.sigma_u.detach()[0]))


def test_loo_ridge_loss_equals_explicit_refits(rng):
    n = 12
    A = rng.normal(size=(n, 5))
    K, Y, lam = A @ A.T, rng.normal(size=(n, 2)), 0.3
    res = []
    for i in range(n):
        keep = np.arange(n) != i
        a = np.linalg.solve(K[np.ix_(keep, keep)] + lam * np.eye(n - 1), Y[keep])
        res.append(Y[i] - K[i, keep] @ a)
    want = np.mean(np.square(res))
    got = float(loo_ridge_loss(torch.tensor(K), torch.tensor(Y), lam))
    assert abs(got - want) <= 1e-12 * want


def test_fit_loo_hyperparameters_lowers_the_loss(rng):
    t = np.linspace(0, 1, 12)
    X = np.stack([np.sin(2 * np.pi * (c + 1) * t + rng.normal(0, 0.3)) for c in range(3) for _ in range(8)])
    y = np.repeat(np.arange(3), 8)
    fit = fit_loo_hyperparameters(X, y, max_iter=4)
    assert fit.loss < fit.loss_initial
    assert isinstance(fit.kernel, RNTK) and fit.lam > 0 and fit.n_fit == 24
    small = fit_loo_hyperparameters(X, y, max_iter=1, max_pair_steps=12 * 12 * 6)  # n_fit = 12
    assert small.n_fit == 12


def test_to_rntk_gives_the_same_kernel(rng):
    xs = [rng.normal(size=(t, 1)) for t in (3, 6, 4)]
    k = RNTKKernel(n_layers=2, sigma_w=[1.2, 1.5], sigma_b=[0.2, 0.0], sigma_h=0.4)
    with torch.no_grad():
        K = k(encode_sequences(xs)).to_dense().numpy()
    assert rel_frobenius(K, k.to_rntk().gram(xs, backend=BACKEND).ntk) <= TOL_VALUES


@given(st.integers(0, 2**31), st.integers(1, 3))
@settings(max_examples=10)
def test_encode_decode_round_trip(seed, m):
    rng = np.random.default_rng(seed)
    seqs = [rng.normal(size=(t, m)) for t in rng.integers(1, 7, size=4)]
    x = encode_sequences(seqs, max_length=7)
    assert x.shape == (4, 1 + 7 * m) and not torch.isnan(x).any()
    back = decode_sequences(x, m)
    assert all(np.array_equal(a, b) for a, b in zip(seqs, back))
    nan_padded = np.full((4, 7, m), np.nan)
    for i, s in enumerate(seqs):
        nan_padded[i, : len(s)] = s
    assert torch.equal(encode_sequences(nan_padded), encode_sequences(seqs))


def test_bad_input_is_named():
    k = RNTKKernel(n_features=2)
    good = encode_sequences([np.ones((3, 2)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="NaN.*encode_sequences"):
        k(torch.tensor([[2.0, 1.0, 1.0, np.nan, np.nan]], dtype=torch.float64)).to_dense()
    with pytest.raises(ValueError, match="not 1 \\+ T\\*m"):
        k(good[:, :-1]).to_dense()
    bad = good.clone()
    bad[0, 0] = 2.5
    with pytest.raises(ValueError, match="whole number in \\[1, 3\\]"):
        k(bad).to_dense()
    bad[0, 0] = 4.0
    with pytest.raises(ValueError, match="whole number"):
        k(bad).to_dense()
    with pytest.raises(ValueError, match="n_features"):
        RNTKKernel(n_features=0)
    with pytest.raises(ValueError, match="activation"):
        RNTKKernel(activation="tanh")
    with pytest.raises(ValueError, match="component"):
        RNTKKernel(component="both")
    with pytest.raises(ValueError, match="sigma_w must be > 0"):
        RNTKKernel(sigma_w=0.0)
    with pytest.raises(ValueError, match="sigma_b must be >= 0"):
        RNTKKernel(sigma_b=-1.0)
    with pytest.raises(ValueError, match="max_length"):
        encode_sequences([np.ones(5)], max_length=3)
    with pytest.raises(ValueError, match="two classes"):
        fit_loo_hyperparameters(np.ones((4, 3)), np.zeros(4))
    with pytest.raises(NotImplementedError, match="last_dim_is_batch"):
        k.forward(good, good, last_dim_is_batch=True)


def test_botorch_single_task_gp_takes_the_kernel(rng):
    """BoTorch's SingleTaskGP with the RNTK: a q-batch posterior equals one-by-one posteriors."""
    botorch = pytest.importorskip("botorch")
    from botorch.models import SingleTaskGP

    xs = [rng.uniform(-1, 1, size=(t, 1)) for t in rng.integers(2, 6, size=8)]
    x = encode_sequences(xs, max_length=5)
    yv = torch.tensor(rng.normal(size=(8, 1)))
    model = SingleTaskGP(x, yv, covar_module=gpytorch.kernels.ScaleKernel(RNTKKernel(sigma_h=0.5)))
    cand = encode_sequences([rng.uniform(-1, 1, size=(t, 1)) for t in (2, 5, 3)], max_length=5)
    with torch.no_grad():
        joint = model.posterior(cand[:, None, :])  # 3 batches of q = 1
        each = [model.posterior(cand[i:i + 1]) for i in range(3)]
    assert botorch is not None
    for i in range(3):
        assert torch.allclose(joint.mean[i], each[i].mean, rtol=1e-10, atol=0)
        assert torch.allclose(joint.variance[i], each[i].variance, rtol=1e-8, atol=0)
