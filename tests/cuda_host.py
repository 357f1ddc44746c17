"""The CUDA source compiled for the host (nvcc), for the CPU tests of its arithmetic.

``rntk_pair`` is ``__host__ __device__``: compiled for the CPU, every line of
the GPU kernel's arithmetic can be checked against the float64 reference on a
machine without a GPU. Used by ``test_cupy.py`` and ``test_fused_variants.py``.
"""
import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from rntk._validation import check_sequences
from rntk.kernels._activations import relu_snap
from rntk.kernels._cuda_source import host_harness
from rntk.kernels._vectorized import duals_for, tables


def compile_host(directory):
    """The host harness as a ctypes library; skips the test when nvcc is absent."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc not found: the CUDA source cannot be compiled for the host here")
    (directory / "h.cu").write_text(host_harness())
    subprocess.run([nvcc, "-x", "cu", "-O2", "-shared", "-Xcompiler", "-fPIC", "-o", str(directory / "h.so"),
                    str(directory / "h.cu")], check=True, capture_output=True)
    return ctypes.CDLL(str(directory / "h.so"))


def _tables(k, b, W, dt):
    XR, start, S = tables(b, W, k.squares(), duals_for(k.dual, np)[1])
    xT = np.ascontiguousarray(XR.transpose(1, 2, 0), dtype=dt)
    return xT, np.ascontiguousarray(start, dtype=np.int32), np.ascontiguousarray(S, dtype=dt)


def host_cross(lib, k, X, Y, dtype):
    """Every pair (i, j) of X x Y through the CUDA function compiled for the host.

    ``k``'s frozen layers and read-out ("last" or "per-step") are passed on;
    cross pairs only (no sigma_h term), as the GPU kernel computes them.
    """
    dt = np.dtype(dtype)
    bx, by = check_sequences(X), check_sequences(Y)
    W = int(max(bx.lengths.max(), by.lengths.max()))
    xT, sx, Sx = _tables(k, bx, W, dt)
    yT, sy, Sy = _tables(k, by, W, dt)
    nx, ny = len(bx), len(by)
    ip, jp = (np.ascontiguousarray(a.ravel(), dtype=np.int32) for a in np.meshgrid(np.arange(nx), np.arange(ny),
                                                                                     indexing="ij"))
    sw2, su2, sb2 = (np.ascontiguousarray(v, dtype=dt) for v in k.squares()[:3])
    ntk, nngp = np.empty(nx * ny, dtype=dt), np.empty(nx * ny, dtype=dt)
    ct = ctypes.c_double if dt == np.float64 else ctypes.c_float
    fn = lib.rntk_pairs_f64 if dt == np.float64 else lib.rntk_pairs_f32
    P = lambda a: a.ctypes.data_as(ctypes.c_void_p)
    I = ctypes.c_int
    fn(I(len(ip)), P(ip), P(jp), I(k.n_layers), I(k.readout == "per-step"), P(xT), P(sx), P(Sx), I(nx),
       P(yT), P(sy), P(Sy), I(ny), I(W), I(bx.n_features), P(sw2), P(su2), P(sb2), ct(k.sigma_v**2),
       I(k.frozen_layers), I(0 if k.activation == "relu" else 1), ct(relu_snap(dt)), P(ntk), P(nngp))
    return ntk.reshape(nx, ny), nngp.reshape(nx, ny)
