"""The differentiable torch RNTK: values against the numpy backend, gradients
against central finite differences of the float64 numpy kernel, gradcheck,
the arccos clamp at c = +-1, and bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from rntk import RNTK
from rntk.kernels import _torch as tk
from rntk.testing import rel_frobenius

from strategies import SIGMAS, rntk_cases  # noqa: E402
# sigma_u = 0 cuts a layer off from its input and drives every correlation to
# c ~ 1, where arccos is ill-conditioned (see TOL_DEGENERATE in test_rntk.py);
# those cases are not what this file tests.
SIGMAS_U = st.sampled_from([0.3, 0.7, 1.0, 2**0.5, 1.8])
# float64, same formulas in the same order as the numpy backend: measured <= 4e-16;
# 1e-8 is the contract of the brief (leaves room for a different summation order).
TOL_VALUES = 1e-8
# Central differences of the float64 numpy kernel with step h = 1e-6 have a
# truncation error h^2 |K'''| / 6 ~ 1e-12 |K| and a rounding error ~ u eps |K| / h,
# with u the ulps of rounding in a kernel value (tens, after <= 15 steps x 3 layers).
# Relative to the derivative that is ~ 1e-10 |K| / |dK|: 1e-5 on the derivative's
# scale leaves a factor >= 100 while any wrong derivative term is O(1) relative.
# Where the kernel hardly depends on the input (erf, small sigma_u, large sigma_b:
# measured |K| / |dK| up to 5e6) central differences cannot resolve the derivative
# to 1e-5 at all (their error shrinks with larger h there, so it is theirs), hence
# the additional rounding floor FD_ULPS * eps * |K| / h.
FD_STEP = 1e-6
TOL_GRAD = 1e-5
FD_ULPS = 100


def right_aligned(seqs, dtype=torch.float64):
    """List of (T_i, m) arrays -> right-aligned tensor (N, W, m) and lengths."""
    W, m = max(len(s) for s in seqs), seqs[0].shape[1]
    out = np.zeros((len(seqs), W, m))
    for i, s in enumerate(seqs):
        out[i, W - len(s) :] = s
    return torch.tensor(out, dtype=dtype), [len(s) for s in seqs]


def to_seqs(X, lengths):
    X = X.detach().numpy()
    return [X[i, X.shape[1] - t :] for i, t in enumerate(lengths)]


def cases(sig=SIGMAS, zeros=True):
    return rntk_cases(max_len=15, sig=sig, sig_u=SIGMAS_U, n_x=4, n_y=3, zeros=zeros)


@given(cases())
@settings(max_examples=25)
def test_values_match_numpy_backend(case):
    k, xs, ys = case
    X, lx = right_aligned(xs)
    Y, ly = right_aligned(ys)
    ref, ref_xy = k.gram(xs, backend="cpu-vectorized"), k.gram(xs, ys, backend="cpu-vectorized")
    got = k.gram_torch(X, lengths_x=lx)
    got_xy = k.gram_torch(X, Y, lengths_x=lx, lengths_y=ly)
    for name in ("ntk", "nngp"):
        a, b = getattr(got, name), getattr(got_xy, name)
        assert a.shape == (len(xs), len(xs)) and b.shape == (len(xs), len(ys))
        assert torch.equal(a, a.T)
        assert rel_frobenius(a.numpy(), getattr(ref, name)) <= TOL_VALUES, name
        assert rel_frobenius(b.numpy(), getattr(ref_xy, name)) <= TOL_VALUES, name + " (X, Y)"
    d = k.gram_torch(X, lengths_x=lx, diag=True)
    assert rel_frobenius(d.ntk.numpy(), np.diag(ref.ntk)) <= TOL_VALUES
    n = min(len(xs), len(ys))
    dxy = k.gram_torch(X[:n], Y[:n], lengths_x=lx[:n], lengths_y=ly[:n], diag=True)
    assert rel_frobenius(dxy.ntk.numpy(), np.diag(ref_xy.ntk[:n, :n])) <= TOL_VALUES


def _sigma_tensors(k):
    return {
        "sigma_w": torch.tensor(k.sigma_w, dtype=torch.float64),
        "sigma_u": torch.tensor(k.sigma_u, dtype=torch.float64),
        "sigma_b": torch.tensor(k.sigma_b, dtype=torch.float64),
        "sigma_h": torch.tensor(k.sigma_h, dtype=torch.float64),
        "sigma_v": torch.tensor(k.sigma_v, dtype=torch.float64),
    }


def _numpy_kernel(k, sig):
    """RNTK from a dict of numpy values; only squares enter, so |sigma| is exact."""
    kw = {key: np.abs(v).tolist() for key, v in sig.items()}
    return RNTK(n_layers=k.n_layers, activation=k.activation, **kw)


def _fd_error(k, xs, ys, rng, wrt_sigma=True):
    """Error of autograd directional derivatives against central FD, in units of
    the allowed error (pass: <= 1).

    Direction: random in X, Y and (``wrt_sigma``) all hyperparameters at once. For
    a random weight matrix R the autograd derivative of sum(R * K) is compared with
    the FD of the numpy kernel; allowed: TOL_GRAD * sum(|R| |dK|) (the derivative's
    scale, without cancellation) + FD_ULPS * eps * sum(|R| |K|) / h.
    """
    X, lx = right_aligned(xs)
    Y, ly = (None, None) if ys is None else right_aligned(ys)
    sig = {key: v.requires_grad_() for key, v in _sigma_tensors(k).items()}
    X.requires_grad_()
    if Y is not None:
        Y.requires_grad_()
    res = k.gram_torch(X, Y, sigma=sig, lengths_x=lx, lengths_y=ly)
    vX = torch.tensor(rng.normal(size=X.shape))
    vY = None if Y is None else torch.tensor(rng.normal(size=Y.shape))
    vs = {key: rng.normal(size=np.shape(v.detach().numpy())) * wrt_sigma for key, v in sig.items()}

    def numpy_eval(sign):
        h = sign * FD_STEP
        s = {key: v.detach().numpy() + h * vs[key] for key, v in sig.items()}
        xs_ = to_seqs(X + h * vX, lx)
        ys_ = None if Y is None else to_seqs(Y + h * vY, ly)
        return _numpy_kernel(k, s).gram(xs_, ys_, backend="cpu-vectorized")

    plus, minus = numpy_eval(1), numpy_eval(-1)
    errs = {}
    for name in ("ntk", "nngp"):
        K = getattr(res, name)
        R = torch.tensor(rng.uniform(-1, 1, size=K.shape))
        inputs = [X, *sig.values()] + ([] if Y is None else [Y])
        grads = torch.autograd.grad((R * K).sum(), inputs, allow_unused=True, retain_graph=True)
        dirs = [vX, *(torch.tensor(vs[key]) for key in sig)] + ([] if Y is None else [vY])
        ad = sum(float((g * v).sum()) for g, v in zip(grads, dirs) if g is not None)
        dK = (getattr(plus, name) - getattr(minus, name)) / (2 * FD_STEP)
        fd = float((R.numpy() * dK).sum())
        absR = np.abs(R.numpy())
        allowed = (
            TOL_GRAD * float((absR * np.abs(dK)).sum())
            + FD_ULPS
            * np.finfo(float).eps
            * float((absR * np.abs(K.detach().numpy())).sum())
            / FD_STEP
        )
        errs[name] = abs(ad - fd) / allowed if allowed > 0 else abs(ad - fd)
    return errs


@given(cases(sig=st.sampled_from([0.0, 0.5, 1.0, 2**0.5]), zeros=False), st.integers(0, 2**31))
@settings(max_examples=10)
def test_input_gradients_match_finite_differences(case, seed):
    k, xs, ys = case
    rng = np.random.default_rng(seed)
    for other in (None, ys):
        errs = _fd_error(k, xs, other, rng, wrt_sigma=False)
        assert max(errs.values()) <= 1.0, errs


# A sigma at 0 can be a kink of the kernel: e.g. m = 1, sigma_w = sigma_b = 0 makes a
# cross pair's c = -1 exactly, and any sigma_w > 0 moves it by O(sigma_w^2), so arccos
# and the kernel move by O(|sigma_w|). autograd returns the symmetric derivative 0 there
# (d sigma^2 / d sigma = 0), while central differences in a direction that mixes sigma
# with the inputs are O(h) off. Hyperparameter gradients are checked away from 0.
@given(cases(sig=st.sampled_from([0.2, 0.5, 1.0, 2**0.5]), zeros=False), st.integers(0, 2**31))
@settings(max_examples=10)
def test_hyperparameter_gradients_match_finite_differences(case, seed):
    k, xs, ys = case
    rng = np.random.default_rng(seed)
    for other in (None, ys):
        errs = _fd_error(k, xs, other, rng)
        assert max(errs.values()) <= 1.0, errs


def test_gradcheck_tiny():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2, 3, 2, dtype=torch.float64, generator=g, requires_grad=True)
    Y = torch.randn(2, 4, 2, dtype=torch.float64, generator=g, requires_grad=True)
    for act in ("relu", "erf"):
        k = RNTK(n_layers=2, activation=act, sigma_b=0.2, sigma_h=0.4)
        sw = torch.tensor([1.2, 0.9], dtype=torch.float64, requires_grad=True)
        sh = torch.tensor([0.4, 0.3], dtype=torch.float64, requires_grad=True)
        sv = torch.tensor(1.1, dtype=torch.float64, requires_grad=True)

        def f(X, Y, sw, sh, sv, k=k):
            sig = {"sigma_w": sw, "sigma_h": sh, "sigma_v": sv}
            a = tk.rntk_torch(X, None, k, sig, lengths_x=[3, 2])
            b = tk.rntk_torch(X, Y, k, sig, lengths_x=[3, 2], lengths_y=[4, 1])
            return (*a, *b)

        assert torch.autograd.gradcheck(f, (X, Y, sw, sh, sv))


def test_sigma_tensors_equal_floats_and_scalars_broadcast():
    k = RNTK(
        n_layers=2,
        activation="erf",
        sigma_w=[1.0, 0.8],
        sigma_u=0.5,
        sigma_b=0.1,
        sigma_h=0.2,
        sigma_v=1.3,
    )
    X = torch.randn(3, 5, 2, dtype=torch.float64)
    a = k.gram_torch(X)
    b = k.gram_torch(X, sigma=_sigma_tensors(k))
    c = k.gram_torch(X, sigma={"sigma_u": torch.tensor(0.5, dtype=torch.float64)})
    assert torch.equal(a.ntk, b.ntk) and torch.equal(a.ntk, c.ntk)


# -- the clamp of c at +-1 (see the module docstring of rntk.kernels._torch) ----------
def test_exact_unit_correlation_values_and_gradients():
    """m = 1, equal lengths, sigma_b = sigma_h = 0: the first aligned step of every
    cross pair has c = sign(x_1 y_1) = +-1 exactly, where arccos' is infinite. The
    values must still be the numpy ones and the gradients finite and right (c is
    locally constant there, so the numpy kernel is smooth in x)."""
    rng = np.random.default_rng(3)
    k = RNTK(n_layers=2, activation="relu", sigma_w=2**0.5, sigma_u=1.0)
    xs = [rng.normal(size=(6, 1)) for _ in range(4)]
    ys = [rng.normal(size=(6, 1)) for _ in range(3)]
    X, _ = right_aligned(xs)
    Y, _ = right_aligned(ys)
    got = k.gram_torch(X, Y)
    ref = k.gram(xs, ys, backend="cpu-vectorized")
    assert rel_frobenius(got.ntk.numpy(), ref.ntk) <= 1e-14
    errs = _fd_error(k, xs, ys, rng)
    assert max(errs.values()) <= 1.0, errs


def test_identical_cross_pair_is_exact_with_finite_gradient():
    """gram_torch(X, X) pairs identical sequences as different samples (no sigma_h):
    c = 1 at every step. Values exact; gradient finite (a one-sided derivative)."""
    rng = np.random.default_rng(4)
    k = RNTK(n_layers=2, activation="relu", sigma_b=0.1)
    xs = [rng.normal(size=(5, 3)) for _ in range(3)]
    X, _ = right_aligned(xs)
    X.requires_grad_()
    res = k.gram_torch(X, X)
    ref = k.gram(xs, xs, backend="cpu-vectorized")
    assert rel_frobenius(res.ntk.detach().numpy(), ref.ntk) <= 1e-14
    (g,) = torch.autograd.grad(res.ntk.sum(), X)
    assert torch.isfinite(g).all()


def test_clamp_moves_derivative_only():
    """At c = 1 the ReLU dual's values are the exact ones (V' = 1/2, V = sqrt(K1 K2)/2);
    a plain clamp to 1 - d would move V' by sqrt(2 d) / (2 pi) ~ 2.3e-7, the bound
    quoted in the module docstring."""
    k1 = torch.tensor([2.0, 3.0], dtype=torch.float64, requires_grad=True)
    k3 = torch.tensor([2.0, -3.0], dtype=torch.float64, requires_grad=True)  # c = +1, -1
    v, d = tk._relu_pair(k1, k1, k3)
    assert torch.equal(d.detach(), torch.tensor([0.5, 0.0], dtype=torch.float64))
    assert torch.allclose(
        v.detach(), torch.tensor([1.0, 0.0], dtype=torch.float64), rtol=0, atol=1e-15
    )
    (v + d).sum().backward()
    assert torch.isfinite(k1.grad).all() and torch.isfinite(k3.grad).all()
    dd = tk.GRAD_CLAMP[torch.float64]
    shift = (math.pi - math.acos(1 - dd)) / (2 * math.pi) - 0.5
    assert 2.2e-7 < abs(shift) < 2.3e-7


def test_float32_runs_with_finite_gradients():
    k = RNTK(activation="relu")
    X = torch.randn(3, 8, 1, requires_grad=True)
    res = k.gram_torch(X, X.detach())
    ref = k.gram(X.detach().double().numpy(), X.detach().double().numpy(), backend="cpu-vectorized")
    assert res.ntk.dtype == torch.float32
    assert rel_frobenius(res.ntk.detach().numpy(), ref.ntk) <= 1e-5
    (g,) = torch.autograd.grad(res.ntk.sum(), X)
    assert torch.isfinite(g).all()


def test_padding_is_ignored():
    k = RNTK(activation="erf", sigma_b=0.3)
    X = torch.randn(2, 6, 2, dtype=torch.float64)
    X2 = X.clone()
    X2[1, :2] = float("nan")  # leading padding of the length-4 sequence
    a = k.gram_torch(X, lengths_x=[6, 4])
    b = k.gram_torch(X2, lengths_x=[6, 4])
    c = k.gram_torch(X[1:, 2:])
    assert torch.equal(a.ntk, b.ntk) and torch.equal(a.ntk[1:, 1:], c.ntk)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(kernel=RNTK(activation=np.tanh)), "relu"),
        (dict(Y=torch.zeros(2, 3, 2, dtype=torch.float64)), "feature sizes"),
        (dict(Y=torch.zeros(2, 3, 1)), "dtype"),
        (dict(lengths_x=[4, 1]), "lengths"),
        (dict(lengths_x=[0, 1]), "lengths"),
        (dict(lengths_y=[1, 1]), "without Y"),
        (dict(sigma={"sigma_x": torch.tensor(1.0)}), "unknown"),
        (dict(sigma={"sigma_w": torch.ones(3)}), "shape"),
        (dict(X=torch.tensor([[[1.0], [float("inf")], [0.0]]], dtype=torch.float64)), "non-finite"),
        (dict(X=torch.zeros(2, 3, dtype=torch.long)), "floating"),
        (dict(Y=torch.zeros(3, 3, 1, dtype=torch.float64), diag=True), "diag"),
    ],
)
def test_bad_input(kwargs, match):
    args = dict(X=torch.zeros(2, 3, 1, dtype=torch.float64), Y=None, kernel=RNTK())
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        tk.rntk_torch(**args)


def test_not_a_kernel():
    with pytest.raises(TypeError):
        tk.rntk_torch(torch.zeros(1, 2, 1, dtype=torch.float64), kernel=None)
