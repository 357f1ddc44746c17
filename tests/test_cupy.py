"""The GPU backends: the CUDA arithmetic checked on the CPU (nvcc), and GPU tests.

The per-pair CUDA function is ``__host__ __device__``; compiling the same
source for the host with nvcc lets the CPU check every line of the kernel's
arithmetic against the float64 reference even on machines without a GPU
(skipped when nvcc is absent). The tests marked ``gpu`` need CuPy and an
NVIDIA device and skip cleanly otherwise.
"""
import numpy as np
import pytest
from cuda_host import compile_host, host_cross
from hypothesis import given, settings
from strategies import rntk_cases

from rntk import RNTK
from rntk.kernels._cuda_source import MAX_LAYERS
from rntk.testing import RTOL_ILL_CONDITIONED, TOLERANCES, assert_close_matrices, scaled_max_error

TOL = {dt: t.rtol for dt, t in TOLERANCES.items()}
TOL_DEGENERATE = RTOL_ILL_CONDITIONED


def _has_gpu():
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # noqa: BLE001
        return False


gpu = pytest.mark.skipif(not _has_gpu(), reason="needs CuPy and an NVIDIA GPU")


@pytest.fixture(scope="module")
def host_lib(tmp_path_factory):
    return compile_host(tmp_path_factory.mktemp("cuda_host"))


@settings(max_examples=40)
@given(rntk_cases())
def test_cuda_pair_arithmetic_on_the_host_matches_the_reference(host_lib, case):
    k, X, Y = case
    ref = k.gram(X, Y, backend="reference")
    dx, dy = k.diag(X), k.diag(Y)
    tol = TOL_DEGENERATE if 0.0 in k.sigma_u else TOL
    t, g = host_cross(host_lib, k, X, Y, "float64")
    assert_close_matrices(t, ref.ntk, tol["float64"], "cuda-host/f64/ntk")
    assert_close_matrices(g, ref.nngp, tol["float64"], "cuda-host/f64/nngp")
    if np.abs(np.diag(k.gram(X, backend="reference").ntk)).min() >= 1e-19:  # see test_rntk: f32 underflow
        t32, g32 = host_cross(host_lib, k, X, Y, "float32")
        assert scaled_max_error(t32, ref.ntk, dx.ntk, dy.ntk) <= tol["float32"]
        assert scaled_max_error(g32, ref.nngp, dx.nngp, dy.nngp) <= tol["float32"]


def test_cuda_host_harness_covers_every_supported_depth(host_lib, rng):
    X = [rng.normal(size=(t, 2)) for t in (4, 7)]
    Y = [rng.normal(size=(5, 2))]
    for L in (1, MAX_LAYERS):
        k = RNTK(n_layers=L, sigma_b=0.1)
        t, _ = host_cross(host_lib, k, X, Y, "float64")
        assert_close_matrices(t, k.gram(X, Y, backend="reference").ntk, 1e-10, f"L={L}")


def test_gpu_backend_without_a_gpu_names_the_problem():
    if _has_gpu():
        pytest.skip("a GPU is present")
    with pytest.raises(ValueError, match="needs CuPy and an NVIDIA GPU"):
        RNTK().gram(np.ones((3, 4)), backend="gpu-fused")


# -- on a GPU ----------------------------------------------------------------------
@gpu
@pytest.mark.gpu
@settings(max_examples=30)
@given(rntk_cases())
def test_gpu_backends_match_the_reference(case):
    k, X, Y = case
    tol = TOL_DEGENERATE if 0.0 in k.sigma_u else TOL
    ref_sym, ref_xy = k.gram(X, backend="reference"), k.gram(X, Y, backend="reference")
    dx, dy = k.diag(X), k.diag(Y)
    for backend in ("gpu-fused", "gpu-vectorized"):
        for dtype in ("float64", "float32"):
            if dtype == "float32" and np.abs(np.diag(ref_sym.ntk)).min() < 1e-19:
                continue
            got, got_xy = k.gram(X, backend=backend, dtype=dtype), k.gram(X, Y, backend=backend, dtype=dtype)
            assert isinstance(got.ntk, np.ndarray)  # numpy in, numpy out
            np.testing.assert_array_equal(got.ntk, got.ntk.T)
            for name in ("ntk", "nngp"):
                assert_close_matrices(getattr(got, name), getattr(ref_sym, name), tol[dtype], f"{backend}/{dtype}")
                err = scaled_max_error(getattr(got_xy, name), getattr(ref_xy, name), getattr(dx, name),
                                       getattr(dy, name))
                assert err <= tol[dtype], f"{backend}/{dtype}/{name} (X, Y): {err:.2e}"


@gpu
@pytest.mark.gpu
def test_gpu_namespaces(rng):
    import cupy as cp

    X = rng.normal(size=(6, 9, 2))
    Xg = cp.asarray(X)
    k = RNTK(sigma_b=0.1)
    out = k.gram(Xg, backend="gpu-fused")
    assert isinstance(out.ntk, cp.ndarray)
    np.testing.assert_allclose(out.ntk.get(), k.gram(X, backend="cpu-fused").ntk, rtol=1e-10)
    with pytest.raises(ValueError, match="different array namespaces"):
        k.gram(Xg, X, backend="gpu-fused")


@gpu
@pytest.mark.gpu
def test_gpu_tiles_equal_untiled(rng):
    X = rng.normal(size=(37, 8))
    k = RNTK()
    a = k.gram(X, backend="gpu-fused")
    b = k.gram(X, backend="gpu-fused", batch_size=10)
    np.testing.assert_array_equal(a.ntk, b.ntk)
