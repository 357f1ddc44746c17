"""Reliability of the analytic RNTK: overflow is refused with a clear error
instead of a non-finite Gram, callable activations are checked before use, and
quadrature duals are exactly symmetric in their two arguments."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rntk import RNTK
from rntk.kernels._activations import ErfDual, QuadratureDual
from rntk.testing import assert_close_matrices, check_kernel_contract, rel_frobenius

# ReLU with sigma_w = 2 multiplies the self-variance by sigma_w^2 / 2 = 2 a
# step: float64 (1.8e308 = 2^1024) overflows after ~1000 steps, float32
# (3.4e38 = 2^128) after ~120.
X_F64 = np.random.default_rng(0).normal(size=(4, 1100))
X_F32 = X_F64[:, :200]


def _overflow_error(fn):
    with pytest.raises(ValueError) as info:
        fn()
    assert isinstance(info.value, FloatingPointError)
    return str(info.value)


@pytest.mark.parametrize(
    "backend, X, dtype",
    [
        ("cpu-fused", X_F64, "float64"),
        ("cpu-fused", X_F32, "float32"),
        ("cpu-vectorized", X_F64, "float64"),
        ("cpu-vectorized", X_F32, "float32"),
        ("reference", X_F64[:2], "float64"),
    ],
)
def test_overflowing_gram_raises_naming_cause_and_remedy(backend, X, dtype):
    msg = _overflow_error(lambda: RNTK(sigma_w=2.0).gram(X, backend=backend, dtype=dtype))
    assert f"overflows {dtype}" in msg and "time step" in msg and "sigma_w" in msg
    assert ("dtype='float64'" in msg) == (dtype == "float32")


@pytest.mark.parametrize("backend", ["cpu-fused", "cpu-vectorized"])
def test_overflow_in_y_or_in_a_later_tile_names_the_sequence(backend):
    """The error names the sample in the caller's numbering, whichever side and tile holds it."""
    k = RNTK(sigma_w=2.0)
    X = [np.ones((3, 1))] * 5
    bad = X_F32[:1]
    msg = _overflow_error(lambda: k.gram(X, [X[0], bad[0]], backend=backend, dtype="float32"))
    assert "sequence 1 of Y" in msg
    msg = _overflow_error(lambda: k.gram(X + [bad[0]], backend=backend, dtype="float32", batch_size=2))
    assert "sequence 5 of X" in msg


def test_overflowing_diag_raises():
    msg = _overflow_error(lambda: RNTK(sigma_w=2.0).diag(X_F64))
    assert "overflows float64" in msg
    msg = _overflow_error(lambda: RNTK(sigma_w=2.0).diag(X_F32, dtype="float32"))
    assert "overflows float32" in msg


def test_erf_accumulated_ntk_overflow_raises():
    """erf's variances stay bounded (|V| <= 1), but with sigma_w = 10 the NTK
    sum grows by sigma_w^2 V' ~ 6 a step and overflows float32 in ~50 steps."""
    k = RNTK(activation="erf", sigma_w=10.0)
    X = X_F32[:2, :80]
    for backend in ("cpu-fused", "cpu-vectorized"):
        msg = _overflow_error(lambda: k.gram(X, backend=backend, dtype="float32"))
        assert "overflows float32" in msg
    assert np.isfinite(k.gram(X).ntk).all()  # representable in float64


def test_large_but_representable_kernels_are_computed():
    """Near the limits, but inside them: float32 with a diagonal ~1e30 (past
    float32's sqrt(max) = 1.8e19, where a product of two variances would
    overflow), and the long default-sigma_w sequence of the README."""
    X = X_F64[:3, :95]
    k = RNTK(sigma_w=2.0)
    ref = k.gram(X, backend="reference")
    assert 1e25 < ref.ntk.max() < 1e35
    for backend in ("cpu-fused", "cpu-vectorized"):
        got = k.gram(X, backend=backend, dtype="float32")
        # unit roundoff 6e-8, compounded through 95 steps of a recursion that
        # doubles every step: measured 3e-5 (numba), 2e-6 (numpy)
        assert_close_matrices(got.ntk / ref.ntk.max(), ref.ntk / ref.ntk.max(), 1e-4, backend)
    long = np.random.default_rng(1).normal(size=(2, 10_000))
    res = RNTK().gram(long)
    assert np.isfinite(res.ntk).all() and res.ntk.max() > 1e7


def test_float64_kernel_beyond_sqrt_range_matches_reference():
    """Diagonal ~1e180, past float64's sqrt(max) = 1.3e154, where a dual that
    forms the product K1 K2 of two variances overflows."""
    X = X_F64[:2, :600]
    k = RNTK(sigma_w=2.0)
    ref = k.gram(X, backend="reference")
    scale = ref.ntk.max()
    assert scale > 1e170
    for backend in ("cpu-fused", "cpu-vectorized"):
        got = k.gram(X, backend=backend)
        # as in tests/test_rntk.py: float64 paths differ by rounding only
        assert_close_matrices(got.ntk / scale, ref.ntk / scale, 1e-10, backend)


def test_non_finite_result_is_never_returned():
    """The backstop behind the diagonal check: an activation that is finite
    where it is probed and on every node of the diagonal's quadrature (|z| <=
    sqrt(16) * 14.9 = 60 at 64 nodes) but NaN beyond |z| = 70, which the pair
    rule reaches at correlation 1/sqrt(2) (up to 4 * sqrt(2) * 14.9 = 84)."""
    k = RNTK(activation=lambda z: np.where(np.abs(z) < 70, np.tanh(z), np.nan), sigma_u=4.0)
    X = [np.array([[1.0, 1.0]]), np.array([[2**0.5, 0.0]])]  # variances 16, correlation 1/sqrt(2)
    assert np.isfinite(k.diag(X).ntk).all()
    msg = _overflow_error(lambda: k.gram(X))
    assert "non-finite" in msg


def test_torch_gram_refuses_a_non_finite_result():
    torch = pytest.importorskip("torch")
    k = RNTK(sigma_w=2.0)
    X = torch.tensor(X_F32[:2, :150], dtype=torch.float32)
    msg = _overflow_error(lambda: k.gram_torch(X))
    assert "non-finite" in msg and "dtype='float64'" in msg
    ok = k.gram_torch(X.double())
    assert torch.isfinite(ok.ntk).all()


def test_cli_exits_non_zero_with_one_line(tmp_path):
    from rntk.cli import main

    np.save(tmp_path / "X.npy", X_F64[:2])
    out = tmp_path / "K.npz"
    with pytest.raises(SystemExit) as info:
        main(["gram", str(tmp_path / "X.npy"), "--out", str(out), "--sigma-w", "2.0"])
    code = info.value.code
    # a str code makes Python print it to stderr and exit with status 1
    assert isinstance(code, str) and code and "\n" not in code
    assert "overflows float64" in code and "sigma_w" in code
    assert not out.exists()


# -- callable activations are checked ---------------------------------------------


@pytest.mark.parametrize(
    "activation, match",
    [
        (lambda z: z[..., :1], "shape"),
        (lambda z: np.sum(z), "shape"),
        (lambda z: np.full_like(z, np.nan), "nan"),
        (lambda z: np.where(z > 5, np.inf, z), "inf"),
        (lambda z: z > 0, "dtype bool"),
        (lambda z: z.astype(complex), "complex"),
        (math.tanh, "vectorised"),
    ],
)
def test_bad_callable_activation_is_named(activation, match):
    with pytest.raises(ValueError, match=match):
        RNTK(activation=activation)


def test_bad_activation_derivative_is_named():
    with pytest.raises(ValueError, match="activation_derivative .* shape"):
        RNTK(activation=np.tanh, activation_derivative=lambda z: z[:1])


def test_good_callables_pass_the_check():
    RNTK(activation=np.tanh, activation_derivative=lambda z: 1 - np.tanh(z) ** 2)
    RNTK(activation=lambda z: np.maximum(z, 0), activation_derivative=lambda z: (z > 0) * 1.0)
    RNTK(activation=lambda z: np.float32(1) * z.astype(np.float32))


# -- quadrature duals are symmetric ---------------------------------------------

# The two argument orders of the plain tensor-product rule integrate along
# different directions, with quadrature errors ~1e-6 to 1e-4 apart (tanh). A
# symmetric rule runs the same floating-point operations on the same operands
# in both orders, so they can differ only by the order of a few sums (~1e-16);
# 1e-12 lies orders of magnitude from both.
SYM_TOL = 1e-12

ACTIVATIONS = [np.tanh, np.sin, lambda z: np.logaddexp(0.0, z)]


@settings(max_examples=8)
@given(
    seed=st.integers(0, 2**31),
    act=st.sampled_from(range(len(ACTIVATIONS))),
    sigma_w=st.sampled_from([0.5, 1.2, 2.0]),
    n_layers=st.integers(1, 2),
)
def test_quadrature_gram_is_symmetric_under_swap(seed, act, sigma_w, n_layers):
    rng = np.random.default_rng(seed)
    k = RNTK(activation=ACTIVATIONS[act], sigma_w=sigma_w, sigma_u=1.3, sigma_b=0.2, n_layers=n_layers)
    X = [rng.normal(size=(t, 2)) for t in rng.integers(1, 5, size=3)]
    Y = [rng.normal(size=(t, 2)) for t in rng.integers(1, 5, size=2)]
    xy, yx = k.gram(X, Y, backend="cpu-vectorized"), k.gram(Y, X, backend="cpu-vectorized")
    xx, sym = k.gram(X, X, backend="cpu-vectorized"), k.gram(X, backend="cpu-vectorized")
    off = ~np.eye(3, dtype=bool)
    for name in ("ntk", "nngp"):
        assert rel_frobenius(getattr(yx, name).T, getattr(xy, name)) <= SYM_TOL
        assert rel_frobenius(getattr(xx, name)[off], getattr(sym, name)[off]) <= SYM_TOL


def test_quadrature_kernel_contract():
    """Exact symmetry, PSD, column and swap consistency (rntk.testing), also on the reference backend."""
    rng = np.random.default_rng(7)
    X = [rng.normal(size=(t, 1)) for t in (2, 4, 3, 4)]
    k = RNTK(activation=np.tanh, sigma_w=1.5, sigma_b=0.1)
    check_kernel_contract(k, X, backend="cpu-vectorized")
    a, b = k.gram(X[:2], X[2:], backend="reference"), k.gram(X[2:], X[:2], backend="reference")
    assert rel_frobenius(b.ntk.T, a.ntk) <= SYM_TOL


@pytest.mark.parametrize("n_nodes, kmax, tol", [(64, 1.0, 1e-10), (128, 3.0, 1e-8)])
def test_symmetric_quadrature_keeps_its_accuracy(n_nodes, kmax, tol):
    """erf by quadrature vs its closed form, both argument orders, unequal
    variances: the tolerances of the accuracy table in QuadratureDual."""
    from scipy.special import erf

    derf = lambda z: 2 / math.sqrt(math.pi) * np.exp(-z * z)  # noqa: E731
    quad = QuadratureDual(erf, derivative=derf, n_nodes=n_nodes)
    rng = np.random.default_rng(3)
    k1, k2 = rng.uniform(0.01, kmax, 200), rng.uniform(0.01, kmax, 200)
    k3 = rng.uniform(-1, 1, 200) * np.sqrt(k1 * k2)
    v, d = ErfDual.pair(k1, k2, k3)
    for a, b in ((k1, k2), (k2, k1)):
        vq, dq = quad.pair(a, b, k3)
        assert np.max(np.abs(vq - v)) < tol and np.max(np.abs(dq - d)) < tol
    assert np.array_equal(quad.pair(k1, k2, k3)[0], quad.pair(k2, k1, k3)[0])
