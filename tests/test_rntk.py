"""The analytic RNTK: every backend against the literal float64 reference,
the reference against 50-digit arithmetic, equivalent forms, invariances,
special cases and bad input."""
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given

from rntk import RNTK
from rntk.kernels._reference import pair_aligned, pair_forward, pair_general
from strategies import rntk_cases

from rntk.testing import (
    RTOL_ILL_CONDITIONED,
    TOLERANCES,
    assert_close_matrices,
    check_kernel_contract,
    rel_frobenius,
    scaled_max_error,
)

def cases(max_len=40):
    return rntk_cases(max_len=max_len)


# the project's tolerance tables, with their justification (rntk/testing/_compare.py)
TOL = {dt: t.rtol for dt, t in TOLERANCES.items()}
TOL_DEGENERATE = RTOL_ILL_CONDITIONED


@given(cases())
def test_backends_match_literal_reference(case):
    k, X, Y = case
    tol = TOL_DEGENERATE if 0.0 in k.sigma_u else TOL
    ref_sym = k.gram(X, backend="reference")
    ref_xy = k.gram(X, Y, backend="reference")
    dx, dy = k.diag(X), k.diag(Y)
    for backend, dtype in [("cpu-vectorized", "float64"), ("cpu-fused", "float64"), ("cpu-fused", "float32"), ("cpu-vectorized", "float32")]:
        if dtype == "float32" and np.abs(np.diag(ref_sym.ntk)).min() < 1e-19:
            # intermediate products (V' Q) of such a kernel fall below float32's
            # normal range (1e-38); see test_float32_underflow_warns
            continue
        got = k.gram(X, backend=backend, dtype=dtype)
        got_xy = k.gram(X, Y, backend=backend, dtype=dtype)
        for name in ("ntk", "nngp"):
            what = f"{backend}/{dtype}/{name}"
            assert_close_matrices(getattr(got, name), getattr(ref_sym, name), tol[dtype], what)
            if dtype == "float64":
                assert_close_matrices(getattr(got_xy, name), getattr(ref_xy, name), tol[dtype], what + " (X, Y)")
            else:
                # a cross block can be a single entry that cancels to ~0 (ReLU at
                # c ~ -1): judge float32 on the kernel's scale, not the entry's
                err = scaled_max_error(
                    getattr(got_xy, name), getattr(ref_xy, name), getattr(dx, name), getattr(dy, name)
                )
                assert err <= tol[dtype], f"{what} (X, Y) scaled error {err:.2e}"


@given(cases(max_len=12))
def test_forward_and_all_pairs_forms_equal_pi_form(case):
    """The paper's Pi form == forward (Q) form == the all-(t, t') recursion."""
    k, X, Y = case
    for x, y, same in [(X[0], Y[0], False), (X[0], X[0], True)]:
        x, y = x.tolist(), y.tolist()
        a = pair_aligned(x, y, k, same)
        f = pair_forward(x, y, k, same)
        g = pair_general(x, y, k, same)
        for u, v in zip(a, f):
            assert abs(u - v) <= 1e-12 * max(abs(u), 1e-300)
        for u, v in zip(a, g):
            assert abs(u - v) <= 1e-12 * max(abs(u), 1e-300)


# Independent 50-digit check of the float64 numerics: the all-(t, t') recursion
# in mpmath at 50 significant digits vs the fused float64 kernel.
MP_CASES = [
    dict(n_layers=1, activation="relu", sigma_w=2**0.5, sigma_u=1.0, sigma_b=0.0, sigma_h=0.0),
    dict(n_layers=2, activation="relu", sigma_w=[1.2, 0.8], sigma_u=[1.0, 1.5], sigma_b=[0.1, 0.0], sigma_h=[0.5, 0.2], sigma_v=1.3),
    dict(n_layers=3, activation="erf", sigma_w=1.1, sigma_u=0.9, sigma_b=0.3, sigma_h=0.4, sigma_v=0.7),
    dict(n_layers=1, activation="erf", sigma_w=0.0, sigma_u=1.0, sigma_b=0.0, sigma_h=0.0),
    dict(n_layers=2, activation="relu", sigma_w=1.0, sigma_u=1.0, sigma_b=0.0, sigma_h=0.0),
]


@pytest.mark.parametrize("kw", MP_CASES)
def test_against_50_digit_reference(kw):
    k = RNTK(**kw)
    rng = np.random.default_rng(7)
    X = [rng.normal(size=(t, 2)) for t in (3, 6, 1, 5)]
    X[1][:2] = 0.0  # zero-variance steps when sigma_b = sigma_h = 0
    mpmath.mp.dps = 50
    n = len(X)
    want = np.empty((2, n, n))
    for i in range(n):
        for j in range(n):
            x = [[mpmath.mpf(float(v)) for v in row] for row in X[i]]
            y = [[mpmath.mpf(float(v)) for v in row] for row in X[j]]
            t, g = pair_general(x, y, k, same=(i == j), M=mpmath)
            want[:, i, j] = float(t), float(g)
    for backend in ("cpu-fused", "cpu-vectorized", "reference"):
        got = k.gram(X, backend=backend)
        assert rel_frobenius(got.ntk, want[0]) <= 1e-13
        assert rel_frobenius(got.nngp, want[1]) <= 1e-13


@given(cases(max_len=15))
def test_kernel_contract(case):
    k, X, _ = case
    check_kernel_contract(k, X)


@pytest.mark.parametrize("backend", ["cpu-fused", "cpu-vectorized"])
def test_opposite_proportional_inputs_give_exact_zero(backend):
    """ReLU at c = -1 exactly: with sigma_w = 0 and one input feature, the last
    step's correlation of two series whose last values have opposite signs is
    -1, and both duals vanish exactly (V(-1) = V'(-1) = 0), as the literal
    reference gives. The fused dual's even/odd split must cancel exactly there,
    not to ~1e-19 (which is an infinite relative error for this entry)."""
    k = RNTK(sigma_w=0.0, sigma_u=0.3, sigma_v=0.5)
    x = np.array([[0.2], [-1.0], [0.35537271]])
    y = np.array([[0.7], [-1.16980191]])
    ref = k.gram([x], [y], backend="reference")
    got = k.gram([x], [y], backend=backend)
    assert ref.ntk[0, 0] == 0.0 and ref.nngp[0, 0] == 0.0
    assert got.ntk[0, 0] == 0.0 and got.nngp[0, 0] == 0.0


def test_float32_underflow_warns():
    """sigma_w = 0.3, ReLU: the kernel shrinks ~20x a step and leaves float32's range."""
    k = RNTK(sigma_w=0.3, sigma_u=0.0, sigma_h=1.0)
    X = np.ones((2, 60))
    assert 0 < np.abs(k.gram(X).ntk).max() < 1e-40
    with pytest.warns(RuntimeWarning, match="float32"):
        k.gram(X, dtype="float32")


def test_sigma_h_only_on_the_training_diagonal(rng):
    k = RNTK(sigma_h=0.8, sigma_b=0.1)
    X = [rng.normal(size=(t, 1)) for t in (4, 7, 7)]
    a = k.gram(X)
    b = k.gram(X, X)
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(a.ntk[off], b.ntk[off], rtol=1e-13)
    # sigma_h means the same sample: the difference on the diagonal is large, not rounding
    assert np.all(np.diag(a.ntk) - np.diag(b.ntk) > 1e-2 * np.diag(a.ntk))
    np.testing.assert_allclose(np.diag(a.ntk), k.diag(X).ntk, rtol=1e-13)
    # identical values in different samples are not "the same sample"
    c = k.gram([X[1], X[1].copy()])
    assert c.ntk[0, 1] < c.ntk[0, 0]


def test_t_equals_one_is_the_mlp_ntk(rng):
    """T = 1: a one-hidden-layer MLP NTK, written out from its definition."""
    X = rng.normal(size=(6, 1, 3))
    sw, su, sb, sv = 1.3, 0.9, 0.4, 1.2
    for act in ("relu", "erf"):
        k = RNTK(activation=act, sigma_w=sw, sigma_u=su, sigma_b=sb, sigma_h=0.0, sigma_v=sv)
        x = X[:, 0, :]
        S = su**2 / 3 * x @ x.T + sb**2
        d = np.diag(S)
        dual = k.dual
        V, D = dual.pair(d[:, None] + 0 * S, d[None, :] + 0 * S, S)
        Vd, Dd = dual.diag(d)
        V[np.diag_indices(6)], D[np.diag_indices(6)] = Vd, Dd
        want = sv**2 * V + sv**2 * D * S
        assert_close_matrices(k.gram(X).ntk, want, 1e-13)


def _fig2_left(alpha):
    k = RNTK(activation="relu", sigma_w=2**0.5, sigma_u=1.0, sigma_b=0.0, sigma_h=0.0, sigma_v=1.0)
    x = np.array([1.0, -1.0, 1.0])
    Y = [np.array([math.cos(a), math.sin(a)]) for a in np.atleast_1d(alpha)]
    return k.gram([x], Y).ntk[0]


def test_figure2_left_example():
    """Figure 2 left: kinks at a = pi/2 and 3pi/2, negative near 3pi/2; smooth elsewhere."""
    h = 1e-4

    def jump(a):
        left = (_fig2_left(a) - _fig2_left(a - h)) / h
        right = (_fig2_left(a + h) - _fig2_left(a)) / h
        return abs(right - left)[0]

    assert jump(math.pi / 2) > 0.1
    assert jump(3 * math.pi / 2) > 0.1
    assert jump(1.0) < 1e-3 and jump(4.0) < 1e-3
    assert _fig2_left(3 * math.pi / 2)[0] < 0
    # 2-pi periodic, and the values against the 50-digit reference
    np.testing.assert_allclose(_fig2_left(0.0), _fig2_left(2 * math.pi), rtol=1e-12)
    mpmath.mp.dps = 50
    k = RNTK()
    for a in (0.3, math.pi / 2, 2.5, 3 * math.pi / 2, 5.5):
        x = [[mpmath.mpf(1)], [mpmath.mpf(-1)], [mpmath.mpf(1)]]
        y = [[mpmath.mpf(math.cos(a))], [mpmath.mpf(math.sin(a))]]
        want = float(pair_general(x, y, k, M=mpmath)[0])
        assert abs(_fig2_left(a)[0] - want) <= 1e-13 * max(1, abs(want))


def test_permutation_and_argument_swap(rng):
    k = RNTK(n_layers=2, sigma_b=0.2, sigma_h=0.3)
    X = [rng.normal(size=(t, 2)) for t in rng.integers(1, 20, size=9)]
    Y = [rng.normal(size=(t, 2)) for t in rng.integers(1, 20, size=4)]
    perm = rng.permutation(9)
    a = k.gram(X).ntk
    b = k.gram([X[p] for p in perm]).ntk
    np.testing.assert_allclose(b, a[np.ix_(perm, perm)], rtol=1e-13)
    np.testing.assert_allclose(k.gram(Y, X).ntk, k.gram(X, Y).ntk.T, rtol=1e-13)


@pytest.mark.parametrize("backend", ["cpu-fused", "cpu-vectorized"])
def test_batched_equals_unbatched_exactly(rng, backend):
    k = RNTK(activation="erf", n_layers=2, sigma_h=0.5)
    X = [rng.normal(size=(t, 1)) for t in rng.integers(1, 30, size=23)]
    Y = [rng.normal(size=(t, 1)) for t in rng.integers(1, 30, size=11)]
    for args in [(X,), (X, Y)]:
        full = k.gram(*args, backend=backend)
        for bs in (1, 5, 8):
            tiled = k.gram(*args, backend=backend, batch_size=bs)
            assert np.array_equal(tiled.ntk, full.ntk)
            assert np.array_equal(tiled.nngp, full.nngp)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_fused_tiles_match_numpy_past_one_tile(rng, activation):
    """More samples than one fused tile holds (512 columns, 4 rows), sample
    counts that are not multiples of 4, mixed lengths (tiles whose pairs start
    at different columns) and m = 2, L = 2: the fused kernel against the
    vectorised path (float64, the same 1e-10 as the hypothesis test)."""
    from rntk.kernels._fused import TILE_I
    from rntk.kernels._fused_driver import TILE_J

    k = RNTK(activation=activation, n_layers=2, sigma_b=0.3)
    X = [rng.normal(size=(t, 2)) for t in rng.integers(1, 9, size=TILE_J + 2 * TILE_I + 1)]
    Y = [rng.normal(size=(t, 2)) for t in rng.integers(1, 9, size=TILE_J + 3)]
    for args in [(X,), (X, Y), (Y, X)]:
        got, want = k.gram(*args, backend="cpu-fused"), k.gram(*args, backend="cpu-vectorized")
        assert_close_matrices(got.ntk, want.ntk, 1e-10, "ntk")
        assert_close_matrices(got.nngp, want.nngp, 1e-10, "nngp")


def test_long_sequence_stays_finite_and_matches_reference(rng):
    x = rng.normal(size=(3, 10_000))
    x[2, :5000] = np.nan  # a shorter one, UCR padding at the end
    x[2] = np.concatenate([x[1, 5000:], np.full(5000, np.nan)])
    for k in (RNTK(), RNTK(activation="erf", sigma_w=1.0, sigma_u=0.5, sigma_b=0.1)):
        ref = k.gram(x, backend="reference")
        got = k.gram(x)
        assert np.isfinite(got.ntk).all() and np.isfinite(got.nngp).all()
        assert_close_matrices(got.ntk, ref.ntk, 1e-10)
        assert_close_matrices(got.nngp, ref.nngp, 1e-10)


def test_input_layouts_agree(rng):
    k = RNTK(sigma_b=0.1)
    arr = rng.normal(size=(4, 6))
    arr[1, 4:] = np.nan
    as_list = [arr[0], arr[1, :4], arr[2], arr[3]]
    as_3d = arr[:, :, None]
    a, b, c = k.gram(arr).ntk, k.gram(as_list).ntk, k.gram(as_3d).ntk
    assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.parametrize(
    "X, Y, match",
    [
        (np.array([[1.0, np.nan, 2.0]]), None, "NaN inside"),
        (np.array([[np.nan, np.nan]]), None, "empty"),
        ([np.zeros((0, 1))], None, "empty"),
        ([], None, "empty"),
        (np.zeros((2, 3, 2)), np.zeros((2, 3, 1)), "mismatched feature sizes"),
        ([np.zeros((3, 2)), np.zeros((3, 1))], None, "different feature sizes"),
        (np.zeros((2, 3, 2, 1)), None, "ndim"),
        (np.zeros(3), None, "ndim"),
        (np.array([[1.0, np.inf]]), None, "infinite"),
        (np.array([[[1.0, np.nan], [1.0, 2.0]]]), None, "only some features"),
        (np.array([["a", "b"]]), None, "real numbers"),
    ],
)
def test_bad_input_is_named(X, Y, match):
    with pytest.raises(ValueError, match=match):
        RNTK().gram(X, Y)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(sigma_w=-1.0), "sigma_w must be >= 0"),
        (dict(sigma_u=float("nan")), "sigma_u must be finite"),
        (dict(sigma_b=float("inf")), "sigma_b must be finite"),
        (dict(sigma_v=-0.1), "sigma_v must be >= 0"),
        (dict(n_layers=2, sigma_h=[0.1, 0.2, 0.3]), "3 per-layer values but n_layers = 2"),
        (dict(n_layers=0), "n_layers"),
        (dict(n_layers=1.5), "n_layers"),
        (dict(activation="softplus"), "unknown activation"),
        (dict(sigma_w="big"), "sigma_w must be a number"),
    ],
)
def test_bad_hyperparameters_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        RNTK(**kw)


def test_bad_call_options():
    X = np.zeros((2, 3))
    with pytest.raises(ValueError, match="unknown backend"):
        RNTK().gram(X, backend="gpu9")
    with pytest.raises(ValueError, match="dtype"):
        RNTK().gram(X, dtype="int32")
    with pytest.raises(ValueError, match="batch_size"):
        RNTK().gram(X, batch_size=0)
    with pytest.raises(ValueError, match="relu' and 'erf"):
        RNTK(activation=np.tanh).gram(X, backend="cpu-fused")


def test_callable_activation_matches_closed_form(rng):
    """erf given as a callable (quadrature dual) vs the closed form."""
    from scipy.special import erf

    X = [0.5 * rng.normal(size=(t, 1)) for t in (3, 5, 4)]
    kw = dict(sigma_w=0.8, sigma_u=0.6, sigma_b=0.1)
    closed = RNTK(activation="erf", **kw).gram(X)
    quad = RNTK(
        activation=erf, activation_derivative=lambda z: 2 / np.sqrt(np.pi) * np.exp(-z * z), **kw
    ).gram(X)
    # pre-activation variances stay below 1 here: quadrature error ~1e-11 (docstring table)
    assert_close_matrices(quad.ntk, closed.ntk, 1e-9)


def test_renamed_backend_names_the_new_name():
    with pytest.raises(ValueError, match="now called 'cpu-fused'"):
        RNTK().gram(np.ones((2, 3)), backend="numba")
    with pytest.raises(ValueError, match="unknown backend 'fast'"):
        RNTK().gram(np.ones((2, 3)), backend="fast")
