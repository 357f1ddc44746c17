"""Baseline kernels: MLP NTK, RBF, polynomial, and pad_sequences."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rntk import MLPNTK, RNTK, KernelResult, PolynomialKernel, RBFKernel, pad_sequences


def rel_fro(a, b):
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(b))


def assert_contract(kernel, X, psd_tol=1e-10):
    """gram(X) exactly symmetric and PSD; cross Grams consistent with it."""
    res = kernel.gram(X)
    n = len(X)
    for K in (res.ntk, res.nngp):
        assert K.shape == (n, n)
        assert np.array_equal(K, K.T)
        ev = np.linalg.eigvalsh(K)
        assert ev.min() >= -psd_tol * max(np.trace(K), 1e-300), (ev.min(), np.trace(K))
    k = max(1, n // 2)
    cross, swapped = kernel.gram(X, X[:k]), kernel.gram(X[:k], X)
    off = ~np.eye(n, k, dtype=bool)
    for full, c, s in ((res.ntk, cross.ntk, swapped.ntk), (res.nngp, cross.nngp, swapped.nngp)):
        np.testing.assert_allclose(c[off], full[:, :k][off], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(s, c.T, rtol=1e-12, atol=1e-14)


# -- independent dual activations (closed forms, written out here) ---------------
def relu_dual(k1, k2, k3):
    s = math.sqrt(k1 * k2)
    if s == 0:
        return 0.0, 0.25
    c = min(max(k3 / s, -1.0), 1.0)
    th = math.acos(c)
    return s * (math.sin(th) + (math.pi - th) * math.cos(th)) / (2 * math.pi), (math.pi - th) / (2 * math.pi)


def erf_dual(k1, k2, k3):
    a = (1 + 2 * k1) * (1 + 2 * k2)
    return 2 / math.pi * math.asin(2 * k3 / math.sqrt(a)), 4 / (math.pi * math.sqrt(a - 4 * k3 * k3))


DUALS = {"relu": relu_dual, "erf": erf_dual}


def product_form(x, y, L, act, sw, sb, sv):
    """Appendix A.1, corrected: ntk = sum_l Sigma_l prod_{l'=l..L} Sdot_l' + nngp.

    Evaluated per pair with the full 2x2 covariance at every layer (no forward
    running sum, no shared code with the package).
    """
    V = DUALS[act]
    d = len(x)
    K = [(sw[0] ** 2 / d * float(x @ x) + sb[0] ** 2,
          sw[0] ** 2 / d * float(y @ y) + sb[0] ** 2,
          sw[0] ** 2 / d * float(x @ y) + sb[0] ** 2)]
    for l in range(1, L):
        k1, k2, k3 = K[-1]
        K.append((sw[l] ** 2 * V(k1, k1, k1)[0] + sb[l] ** 2,
                  sw[l] ** 2 * V(k2, k2, k2)[0] + sb[l] ** 2,
                  sw[l] ** 2 * V(k1, k2, k3)[0] + sb[l] ** 2))
    Sdot = [(sw[l + 1] ** 2 if l + 1 < L else sv**2) * V(*K[l])[1] for l in range(L)]
    nngp = sv**2 * V(*K[-1])[0]
    ntk = nngp + sum(K[l][2] * math.prod(Sdot[l:]) for l in range(L))
    return ntk, nngp


# -- (a) MLP NTK = RNTK at T = 1 ------------------------------------------------
@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("L", [1, 2, 3])
def test_mlp_equals_rntk_with_one_time_step(act, L, rng):
    # An Elman RNN read at T = 1 with h0 = 0 is an L-hidden-layer MLP whose
    # layer weights are the RNN's input weights U (sigma_u).
    sw, sb = [1.3, 0.8, 1.6][:L], [0.2, 0.5, 0.0][:L]
    X, Y = rng.normal(size=(7, 4)), rng.normal(size=(3, 4))
    mlp = MLPNTK(L, act, sigma_w=sw, sigma_b=sb, sigma_v=0.9)
    rnn = RNTK(L, act, sigma_w=0.7, sigma_u=sw, sigma_b=sb, sigma_h=0.0, sigma_v=0.9)
    X3, Y3 = X[:, None, :], Y[:, None, :]  # (N, T=1, m)
    # backend="cpu-vectorized": the same math as "cpu-fused" without its JIT compile time
    for a, b in ((mlp.gram(X), rnn.gram(X3, backend="cpu-vectorized")),
                 (mlp.gram(X, Y), rnn.gram(X3, Y3, backend="cpu-vectorized"))):
        assert rel_fro(a.ntk, b.ntk) < 1e-12
        assert rel_fro(a.nngp, b.nngp) < 1e-12


# -- (b) against the empirical NTK of a wide finite MLP -------------------------
def empirical_ntk(X, width, sw, sb, sv, seed):
    """J J^T of a finite L-layer ReLU MLP in NTK parametrisation, by autograd."""
    import torch

    g = torch.Generator().manual_seed(seed)
    dims = [X.shape[1]] + [width] * len(sw)
    Ws = [torch.randn(dims[l + 1], dims[l], generator=g, dtype=torch.float64, requires_grad=True)
          for l in range(len(sw))]
    bs = [torch.randn(width, generator=g, dtype=torch.float64, requires_grad=True) for _ in sw]
    v = torch.randn(width, generator=g, dtype=torch.float64, requires_grad=True)
    params = Ws + bs + [v]
    h = torch.as_tensor(X, dtype=torch.float64)
    for l in range(len(sw)):
        h = torch.relu(sw[l] / dims[l] ** 0.5 * h @ Ws[l].T + sb[l] * bs[l])
    f = sv / width**0.5 * h @ v
    grads = [torch.autograd.grad(f[i], params, retain_graph=True) for i in range(len(X))]
    K = torch.zeros(len(X), len(X), dtype=torch.float64)
    for p in range(len(params)):
        J = torch.stack([gr[p].reshape(-1) for gr in grads])
        K += J @ J.T
    return K.numpy()


@pytest.mark.slow
def test_mlp_ntk_matches_wide_network():
    pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    X = rng.normal(size=(4, 5)) * np.array([[1.0], [0.5], [2.0], [1.5]])
    sw, sb, sv = (1.2, 2**0.5), (0.3, 0.2), 1.1
    K = MLPNTK(2, "relu", sigma_w=sw, sigma_b=sb, sigma_v=sv).gram(X).ntk
    width, seeds = 2000, 4
    emp = np.mean([empirical_ntk(X, width, sw, sb, sv, s) for s in range(seeds)], axis=0)
    # Tolerance. The empirical NTK is a sum over ~width i.i.d. neuron terms per
    # layer, so it fluctuates around the limit by O(1/sqrt(width)) (CLT) with a
    # bias of only O(1/width). For this network and inputs we measured the rms
    # single-network relative Frobenius error as 2.1-2.6/sqrt(width) over widths
    # 250-4000, and the bias as undetectable (< 0.5 %, within its standard error
    # from 400 networks of width 250). The mean of 4 networks therefore has rms
    # error ~1.25/sqrt(width) (0.028 here); 5/sqrt(width) (0.11) is 4 rms.
    tol = 5 / math.sqrt(width)
    err = rel_fro(emp, K)
    assert err < tol, (err, tol)
    # Power: the same tolerance rejects a kernel of the wrong depth (~35 % off).
    wrong = MLPNTK(1, "relu", sigma_w=sw[0], sigma_b=sb[0], sigma_v=sv).gram(X).ntk
    assert rel_fro(emp, wrong) > 2 * tol


# -- (c) printed product form = forward form -----------------------------------
@pytest.mark.parametrize("act", ["relu", "erf"])
@pytest.mark.parametrize("L", [1, 2, 4])
def test_product_form_equals_forward_form(act, L, rng):
    sw = list(rng.uniform(0.5, 1.8, size=L))
    sb = list(rng.uniform(0.0, 0.6, size=L))
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    X[1] = 0.0  # a zero input: zero variance when sigma_b1 = 0 is handled below
    k = MLPNTK(L, act, sigma_w=sw, sigma_b=sb, sigma_v=1.3)
    for A, B, res in ((X, X, k.gram(X)), (X, Y, k.gram(X, Y))):
        ref = np.array([[product_form(a, b, L, act, sw, sb, 1.3) for b in B] for a in A])
        assert rel_fro(res.ntk, ref[..., 0]) < 1e-12
        assert rel_fro(res.nngp, ref[..., 1]) < 1e-12


def test_zero_variance_input_relu():
    X = np.array([[0.0, 0.0], [1.0, -2.0]])
    res = MLPNTK(2, "relu", sigma_b=0.0).gram(X)
    ref = np.array([[product_form(a, b, 2, "relu", [2**0.5] * 2, [0, 0], 1.0) for b in X] for a in X])
    np.testing.assert_allclose(res.ntk, ref[..., 0], rtol=1e-13, atol=0)
    assert np.all(np.isfinite(res.ntk))


def test_callable_activation_matches_closed_form(rng):
    from scipy.special import erf

    # Pre-activation variances kept <= ~1, where 64-node Gauss-Hermite is
    # accurate to ~1e-10 for erf (it degrades for larger variances).
    X = 0.5 * rng.normal(size=(5, 3))
    a = MLPNTK(2, erf, sigma_w=[1.0, 1.2], sigma_b=0.1).gram(X)
    b = MLPNTK(2, "erf", sigma_w=[1.0, 1.2], sigma_b=0.1).gram(X)
    assert rel_fro(a.ntk, b.ntk) < 1e-9
    assert rel_fro(a.nngp, b.nngp) < 1e-9
    assert np.array_equal(a.ntk, a.ntk.T)


# float32 results and batch_size tiling: tests/test_kernel_contract.py
def test_input_layouts(rng):
    k = MLPNTK(2, "relu", sigma_b=0.1)
    X3 = rng.normal(size=(6, 3, 2))
    X2 = X3.reshape(6, 6)
    ref = k.gram(X2)
    assert isinstance(ref, KernelResult)
    np.testing.assert_array_equal(k.gram(X3).ntk, ref.ntk)
    np.testing.assert_array_equal(k.gram(list(X3)).ntk, ref.ntk)  # equal-length list


def test_batch_size_must_be_positive():
    with pytest.raises(ValueError, match="batch_size"):
        MLPNTK().gram(np.ones((3, 2)), batch_size=0)


# -- (d) symmetry and PSD, hypothesis-generated inputs --------------------------
inputs = st.integers(1, 4).flatmap(
    lambda d: hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 7), st.just(d)),
        elements=st.floats(-3, 3, allow_nan=False, allow_subnormal=False),
    )
)


@given(
    X=inputs,
    act=st.sampled_from(["relu", "erf"]),
    L=st.integers(1, 3),
    sb=st.sampled_from([0.0, 0.3]),
)
def test_mlp_symmetric_psd(X, act, L, sb):
    assert_contract(MLPNTK(L, act, sigma_b=sb), X)


@given(X=inputs, gamma=st.floats(0.01, 5.0))
def test_rbf_symmetric_psd(X, gamma):
    assert_contract(RBFKernel(gamma), X)
    assert np.all(np.diag(RBFKernel(gamma).gram(X).ntk) == 1.0)


@given(X=inputs, degree=st.integers(1, 4), coef0=st.floats(0.0, 2.0))
def test_polynomial_symmetric_psd(X, degree, coef0):
    k = PolynomialKernel(degree, coef0)
    res = k.gram(X)
    assert np.array_equal(res.ntk, res.ntk.T)
    ev = np.linalg.eigvalsh(res.ntk)
    assert ev.min() >= -1e-10 * max(np.trace(res.ntk), 1e-300)


# -- (e) classical kernels against direct formulas ------------------------------
def test_rbf_and_polynomial_direct(rng):
    X, Y = rng.normal(size=(6, 4)), rng.normal(size=(3, 4))
    for A, B in ((X, X), (X, Y)):
        d2 = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
        rbf = RBFKernel(0.3).gram(A, None if B is A else B)
        np.testing.assert_allclose(rbf.ntk, np.exp(-0.3 * d2), rtol=1e-12, atol=1e-15)
        np.testing.assert_array_equal(rbf.nngp, rbf.ntk)
        dots = np.array([[sum(a * b) for b in B] for a in A])
        poly = PolynomialKernel(3, 0.5).gram(A, None if B is A else B)
        np.testing.assert_allclose(poly.ntk, (0.5 + dots) ** 3, rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(poly.nngp, poly.ntk)
    # (N, T, m) is flattened time-major
    X3 = rng.normal(size=(4, 2, 3))
    np.testing.assert_array_equal(RBFKernel().gram(X3).ntk, RBFKernel().gram(X3.reshape(4, 6)).ntk)


# -- pad_sequences ---------------------------------------------------------------
def test_pad_sequences():
    seqs = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[5.0, 6.0]])]
    np.testing.assert_array_equal(pad_sequences(seqs), [[1, 2, 3, 4], [5, 6, 0, 0]])
    np.testing.assert_array_equal(
        pad_sequences(seqs, length=3, value=-1.0, side="start"),
        [[-1, -1, 1, 2, 3, 4], [-1, -1, -1, -1, 5, 6]],
    )
    ucr = np.array([[1.0, 2.0, 3.0], [4.0, np.nan, np.nan]])  # (N, T), trailing NaN
    np.testing.assert_array_equal(pad_sequences(ucr), [[1, 2, 3], [4, 0, 0]])
    assert MLPNTK().gram(pad_sequences(ucr)).ntk.shape == (2, 2)
    with pytest.raises(ValueError, match="length = 1 is shorter"):
        pad_sequences(seqs, length=1)
    with pytest.raises(ValueError, match="length must be a positive integer"):
        pad_sequences(seqs, length=2.0)
    with pytest.raises(ValueError, match="value must be finite"):
        pad_sequences(seqs, value=np.nan)
    with pytest.raises(ValueError, match="side"):
        pad_sequences(seqs, side="left")


# -- (f) bad inputs ---------------------------------------------------------------
KERNELS = [MLPNTK(), RBFKernel(), PolynomialKernel()]


@pytest.mark.parametrize("kernel", KERNELS, ids=lambda k: type(k).__name__)
def test_bad_inputs(kernel):
    X = np.arange(6.0).reshape(2, 3)
    bad = X.copy()
    bad[0, 1] = np.nan
    with pytest.raises(ValueError, match=r"NaN at index \(0, 1\)"):
        kernel.gram(bad)
    with pytest.raises(ValueError, match="NaN"):
        kernel.gram(X, bad)
    trailing = X.copy()
    trailing[1, 2] = np.nan
    with pytest.raises(ValueError, match="NaN.*pad_sequences"):
        kernel.gram(trailing)
    with pytest.raises(ValueError, match="NaN.*pad_sequences"):
        kernel.diag(trailing)
    with pytest.raises(ValueError, match="different lengths.*pad_sequences"):
        kernel.gram([np.ones((3, 2)), np.ones((2, 2))])
    with pytest.raises(ValueError, match=r"d = 3 \(X\) vs d = 4 \(Y\)"):
        kernel.gram(X, np.ones((2, 4)))
    with pytest.raises(ValueError, match="infinite"):
        kernel.gram(np.array([[1.0, np.inf]]))
    with pytest.raises(ValueError, match="dtype"):
        kernel.gram(X, dtype="int32")
    with pytest.raises(ValueError, match="dtype"):
        kernel.diag(X, dtype="int32")
    with pytest.raises(ValueError, match="empty"):
        kernel.gram(np.empty((0, 3)))


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: RBFKernel(0.0), "gamma must be > 0"),
        (lambda: RBFKernel(-1.0), "gamma must be > 0"),
        (lambda: RBFKernel(np.inf), "gamma must be finite"),
        (lambda: RBFKernel(np.nan), "gamma must be finite"),
        (lambda: RBFKernel("1"), "gamma must be a real number"),
        (lambda: PolynomialKernel(0), "degree must be a positive integer"),
        (lambda: PolynomialKernel(2.5), "degree must be a positive integer"),
        (lambda: PolynomialKernel(True), "degree must be a positive integer"),
        (lambda: PolynomialKernel(2, np.inf), "coef0 must be finite"),
        (lambda: MLPNTK(sigma_w=-1.0), "sigma_w must be >= 0"),
        (lambda: MLPNTK(n_layers=2, sigma_b=[0.1, 0.2, 0.3]), "sigma_b has 3 per-layer values"),
        (lambda: MLPNTK(sigma_v=np.nan), "sigma_v must be finite"),
        (lambda: MLPNTK(n_layers=0), "n_layers must be an integer >= 1"),
        (lambda: MLPNTK(activation="tanh"), "unknown activation"),
    ],
)
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def _gak_by_dp(x, y, sigma):
    """The global alignment kernel by its definition: a sum over all monotone
    alignments, as the O(T T') recursion M[i, j] = k(i, j) (M[i-1, j] + M[i, j-1] + M[i-1, j-1])."""
    M = np.zeros((len(x) + 1, len(y) + 1))
    M[0, 0] = 1.0
    for i in range(1, len(x) + 1):
        for j in range(1, len(y) + 1):
            d = np.sum((x[i - 1] - y[j - 1]) ** 2) / (2 * sigma**2)
            k = np.exp(-d) / (2 - np.exp(-d))  # exp(-phi)
            M[i, j] = k * (M[i - 1, j] + M[i, j - 1] + M[i - 1, j - 1])
    return M[-1, -1]


def test_gak_matches_its_definition_on_variable_lengths(rng):
    pytest.importorskip("tslearn")
    from rntk import GAKKernel

    xs = [rng.normal(size=(t, 2)) for t in (3, 5, 1, 4)]
    sigma = 0.9
    K = GAKKernel(sigma=sigma).gram(xs).ntk
    raw = np.array([[_gak_by_dp(a, b, sigma) for b in xs] for a in xs])
    ref = raw / np.sqrt(np.outer(np.diag(raw), np.diag(raw)))
    np.testing.assert_allclose(K, ref, rtol=1e-10, atol=1e-14)
    assert (K == K.T).all() and (np.diag(K) == 1.0).all()
    cross = GAKKernel(sigma=sigma).gram(xs[:2], xs[2:]).ntk
    np.testing.assert_allclose(cross, ref[:2, 2:], rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="sigma"):
        GAKKernel(sigma=0.0)
