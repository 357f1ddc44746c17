"""Frozen layers and the per-step and mean read-outs on the fused kernels, against the literal references.

The fused numba kernels ("cpu-fused", float64 and float32, their cross pairs and
diagonals) and the CUDA source compiled for the host
(``cuda_host``; the GPU kernel's arithmetic, which has no mean read-out) are
compared with the literal float64 per-pair references of
``_reference_variants`` (through ``backend="reference"``, which composes
``pair_frozen``, ``per_step`` and ``pair_mean``), by relative Frobenius
error at the tolerances of ``rntk.testing``.
"""
import dataclasses

import numpy as np
import pytest
from cuda_host import compile_host, host_cross
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import rntk_cases

from rntk import RNTK
from rntk.testing import (
    RTOL_ILL_CONDITIONED,
    TOLERANCES,
    assert_close_matrices,
    rel_frobenius,
    scaled_max_error,
)

TOL = {dt: t.rtol for dt, t in TOLERANCES.items()}
DTYPES = ("float64", "float32")

# every frozen count of depths 1-3, both read-outs and activations; m = 1 and
# m > 1 take different layer-1 paths through the fused kernel
CONFIGS = [(L, k, readout, act, m)
           for L in (1, 2, 3) for k in range(L + 1) for readout in ("last", "per-step")
           for act, m in (("relu", 1), ("erf", 3))]
EXTRA = [(2, 1, "per-step", "relu", 3), (3, 2, "last", "erf", 1)]
# the mean read-out (numba only): every frozen count of depth 2, both activations, m = 1 and 3
MEAN = [(2, k, "mean", act, m) for k in range(3) for act, m in (("relu", 1), ("erf", 3))] + [
    (1, 0, "mean", "relu", 2), (3, 1, "mean", "erf", 1)]


def _kernel(L, k, readout, act):
    return RNTK(n_layers=L, activation=act, frozen_layers=k, readout=readout,
                sigma_w=[1.3, 0.9, 1.1][:L], sigma_u=[1.0, 0.8, 1.2][:L], sigma_b=[0.2, 0.1, 0.3][:L],
                sigma_h=[0.3, 0.5, 0.2][:L], sigma_v=1.3)


def _data(rng, m):
    """Mixed lengths (1 included) so that pairs start at different columns."""
    X = [rng.normal(size=(t, m)) for t in (6, 1, 9, 4, 7)]
    Y = [rng.normal(size=(t, m)) for t in (3, 9, 5)]
    return X, Y


@pytest.fixture(scope="module")
def host_lib(tmp_path_factory):
    return compile_host(tmp_path_factory.mktemp("cuda_host_variants"))


def _check(got, want, dtype, what):
    for name in ("ntk", "nngp"):
        assert_close_matrices(getattr(got, name), getattr(want, name), TOL[dtype], f"{what} {name}")


@pytest.mark.parametrize("L, k, readout, act, m", CONFIGS + EXTRA + MEAN)
def test_fused_matches_the_literal_reference(L, k, readout, act, m, rng):
    kern = _kernel(L, k, readout, act)
    X, Y = _data(rng, m)
    ref_sym, ref_xy = kern.gram(X, backend="reference"), kern.gram(X, Y, backend="reference")
    for dtype in DTYPES:
        got = kern.gram(X, backend="cpu-fused", dtype=dtype)
        _check(got, ref_sym, dtype, f"cpu-fused {dtype} gram(X)")
        np.testing.assert_array_equal(got.ntk, got.ntk.T)
        _check(kern.gram(X, Y, backend="cpu-fused", dtype=dtype), ref_xy, dtype, f"cpu-fused {dtype} gram(X, Y)")
        # the diagonal (sigma_h included) comes from the per-sample pass alone: checked on its own
        for name in ("ntk", "nngp"):
            assert rel_frobenius(np.diag(getattr(got, name)), np.diag(getattr(ref_sym, name))) <= TOL[dtype]
    d = kern.diag(X)
    assert rel_frobenius(d.ntk, np.diag(ref_sym.ntk)) <= TOL["float64"]
    assert rel_frobenius(d.nngp, np.diag(ref_sym.nngp)) <= TOL["float64"]


@pytest.mark.parametrize("L, k, readout, act, m", CONFIGS + EXTRA)
def test_cuda_source_on_the_host_matches_the_literal_reference(L, k, readout, act, m, rng, host_lib):
    kern = _kernel(L, k, readout, act)
    X, Y = _data(rng, m)
    for B in (X, Y):  # gram(X, X) adds no sigma_h: the cross pairs the GPU kernel computes
        ref = kern.gram(X, B, backend="reference")
        for dtype in DTYPES:
            t, g = host_cross(host_lib, kern, X, B, dtype)
            assert_close_matrices(t, ref.ntk, TOL[dtype], f"cuda-host {dtype} ntk")
            assert_close_matrices(g, ref.nngp, TOL[dtype], f"cuda-host {dtype} nngp")


def test_variants_need_no_backend_argument(rng):
    """"auto" runs the fused kernel for them; the CUDA kernel refuses the mean read-out, naming the way out."""
    X, _ = _data(rng, 2)
    for kw in ({"n_layers": 2, "frozen_layers": 1}, {"readout": "per-step"}, {"readout": "mean"},
               {"n_layers": 2, "readout": "per-step", "frozen_layers": 1}):
        kern = RNTK(sigma_b=0.1, **kw)
        assert kern._resolve_backend("auto", np.dtype("float64")) == "cpu-fused"
        np.testing.assert_array_equal(kern.gram(X).ntk, kern.gram(X, backend="cpu-fused").ntk)
    tanh = RNTK(readout="per-step", activation=np.tanh)  # no fused form: "auto" avoids the fused kernel
    assert tanh._resolve_backend("auto", np.dtype("float64")) == "cpu-vectorized"
    with pytest.raises(ValueError, match="readout='mean'.*backend='gpu-vectorized'"):
        RNTK(readout="mean").gram(X, backend="gpu-fused")


@st.composite
def variant_cases(draw):
    """rntk_cases (depth 1-3, relu/erf, per-layer sigmas, m = 1-3, mixed lengths up to 40,
    exact zeros) with a frozen count and a read-out drawn on top."""
    kern, X, Y = draw(rntk_cases())
    k = draw(st.integers(0, kern.n_layers))
    readout = draw(st.sampled_from(["last", "per-step"]))
    return dataclasses.replace(kern, frozen_layers=k, readout=readout), X, Y


@settings(max_examples=10, deadline=None)
@given(rntk_cases(max_len=12), st.data())
def test_fused_mean_readout_matches_the_reference_on_random_cases(case, data):
    """The mean read-out's O(T T') kernel: kept to short sequences (the literal reference is a Python loop)."""
    kern, X, Y = case
    kern = dataclasses.replace(kern, readout="mean", frozen_layers=data.draw(st.integers(0, kern.n_layers)))
    ref_sym, ref_xy = kern.gram(X, backend="reference"), kern.gram(X, Y, backend="reference")
    tol = RTOL_ILL_CONDITIONED if 0.0 in kern.sigma_u else TOL
    for dtype in DTYPES if _f32_in_range(ref_sym) else ("float64",):
        sym, xy = kern.gram(X, backend="cpu-fused", dtype=dtype), kern.gram(X, Y, backend="cpu-fused", dtype=dtype)
        for name in ("ntk", "nngp"):
            np.testing.assert_array_equal(getattr(sym, name), getattr(sym, name).T)
            assert_close_matrices(getattr(sym, name), getattr(ref_sym, name), tol[dtype], f"{dtype} {name}")
            assert_close_matrices(getattr(xy, name), getattr(ref_xy, name), tol[dtype], f"{dtype} {name} (X, Y)")


def _f32_in_range(ref_sym):
    """float32 keeps its 1e-5 only where the diagonal does not underflow (see test_rntk)."""
    return np.abs(np.diag(ref_sym.ntk)).min() >= 1e-19


@settings(max_examples=30, deadline=None)
@given(variant_cases())
def test_fused_variants_match_the_reference_on_random_cases(case):
    kern, X, Y = case
    ref_sym, ref_xy = kern.gram(X, backend="reference"), kern.gram(X, Y, backend="reference")
    diag_y = kern.gram(Y, backend="reference")
    tol = RTOL_ILL_CONDITIONED if 0.0 in kern.sigma_u else TOL
    for dtype in DTYPES if _f32_in_range(ref_sym) else ("float64",):
        sym, xy = kern.gram(X, backend="cpu-fused", dtype=dtype), kern.gram(X, Y, backend="cpu-fused", dtype=dtype)
        for name in ("ntk", "nngp"):
            np.testing.assert_array_equal(getattr(sym, name), getattr(sym, name).T)  # exactly symmetric
            assert_close_matrices(getattr(sym, name), getattr(ref_sym, name), tol[dtype], f"{dtype} {name}")
            err = scaled_max_error(getattr(xy, name), getattr(ref_xy, name), np.diag(getattr(ref_sym, name)),
                                   np.diag(getattr(diag_y, name)))
            assert err <= tol[dtype], f"{dtype} {name} (X, Y): {err:.2e}"


@pytest.mark.filterwarnings("ignore:float32 Gram values are all below:RuntimeWarning")  # equal all the same
@settings(max_examples=20, deadline=None)
@given(rntk_cases(), st.sampled_from(["last", "per-step"]))
def test_all_layers_frozen_is_exactly_the_nngp(host_lib, case, readout):
    """frozen_layers = L: only the read-out is trained, so the NTK is the NNGP
    (docs/kernel.md), exactly: no Q term is ever added."""
    kern, X, Y = case
    kern = dataclasses.replace(kern, frozen_layers=kern.n_layers, readout=readout)
    for dtype in DTYPES:
        for args in ((X,), (X, Y)):
            res = kern.gram(*args, backend="cpu-fused", dtype=dtype)
            np.testing.assert_array_equal(res.ntk, res.nngp)
        t, g = host_cross(host_lib, kern, X, Y, dtype)
        np.testing.assert_array_equal(t, g)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fused_mean_readout_is_bitwise_symmetric_in_its_arguments(dtype, rng):
    """A pair's value must not depend on which sample plays x (tiles of a Gram then match
    the whole): the grid is summed diagonal by diagonal, d with -d."""
    kern = _kernel(2, 0, "mean", "relu")
    X, Y = _data(rng, 2)
    a, b = kern.gram(X, Y, backend="cpu-fused", dtype=dtype), kern.gram(Y, X, backend="cpu-fused", dtype=dtype)
    np.testing.assert_array_equal(a.ntk, b.ntk.T)
    np.testing.assert_array_equal(a.nngp, b.nngp.T)
    whole = kern.gram(X + Y, backend="cpu-fused", dtype=dtype)
    np.testing.assert_array_equal(whole.ntk[: len(X), len(X):], a.ntk)
