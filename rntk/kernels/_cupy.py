"""RNTK Gram matrices on an NVIDIA GPU with CuPy.

Two paths, one algorithm (the forward form of the recursion):

* ``fused=True``: the CUDA kernel of ``_cuda_source`` (one thread per pair,
  all columns and layers in registers, upper triangle only for a training
  Gram, exact diagonal from ``_recursion.diagonal``), launched tile by tile so
  that only inputs, tables and the output live on the device;
* ``fused=False``: the array-namespace code of ``_recursion`` run with
  ``xp = cupy`` (one vectorised step per time column and layer), the
  baseline the fused kernel is benchmarked against.

The self-variance tables and the exact diagonal always use the array-namespace
code on the device. Not verified on a GPU yet in this repository (no device
was available when it was written): the CUDA per-pair arithmetic is checked
on the CPU by compiling the same source with nvcc (``tests/test_cupy.py``); the
GPU tests are marked ``gpu`` and skip without one.
"""
from __future__ import annotations

import numpy as np

from ._activations import relu_snap
from ._cuda_source import MAX_LAYERS, READOUTS, SOURCE
from ._recursion import cross_pairs, diagonal
from ._vectorized import duals_for, tables

__all__ = ["cupy_gram", "is_cupy_array"]

_MODULES = {}
BLOCK = (128, 2)  # threads along j (coalesced reads of y), along i


def is_cupy_array(a) -> bool:
    return type(a).__module__.split(".")[0] == "cupy"


def _module(dt, L, per_step):
    import cupy as cp

    key = (np.dtype(dt).name, L, per_step)
    if key not in _MODULES:
        T = "double" if np.dtype(dt) == np.float64 else "float"
        name = f"rntk_fused<{T}, {L}, {'true' if per_step else 'false'}>"
        mod = cp.RawModule(code=SOURCE, options=("-std=c++14",), name_expressions=[name])
        _MODULES[key] = mod.get_function(name)
    return _MODULES[key]


def cupy_gram(p, bx, by, dt, *, fused=True, tile=8192):
    """(ntk, nngp) as CuPy arrays of dtype ``dt``; ``by is None``: training Gram.

    ``tile``: pairs are launched in blocks of tile x tile (device memory for
    the output is n_x n_y per matrix; the inputs and tables are O(N W L)).
    """
    import cupy as cp

    L = p.n_layers
    sym = by is None
    by_ = bx if sym else by
    W = int(max(bx.lengths.max(), by_.lengths.max()))
    hp = p.squares()
    pair, diag = duals_for(p.dual, cp)
    XR, sx, Sx = tables(bx, W, hp, diag, cp)  # float64 on the device
    YR, sy, Sy = (XR, sx, Sx) if sym else tables(by_, W, hp, diag, cp)
    nx, ny = len(bx), len(by_)
    ntk = cp.zeros((nx, ny), dtype=dt)
    nngp = cp.zeros((nx, ny), dtype=dt)
    sw2, su2, sb2 = (np.asarray(v, dtype=dt) for v in hp[:3])
    sv2 = dt.type(p.sigma_v**2)
    if fused:
        if L > MAX_LAYERS:
            raise ValueError(f"the fused CUDA kernel supports n_layers <= {MAX_LAYERS}; use backend='gpu-vectorized'")
        if p.readout not in READOUTS:
            raise ValueError(f"the fused CUDA kernel implements readout in {READOUTS}, not {p.readout!r}; "
                             "use backend='gpu-vectorized'")
        kernel = _module(dt, L, p.readout == "per-step")
        xT = cp.ascontiguousarray(XR.transpose(1, 2, 0).astype(dt))
        yT = xT if sym else cp.ascontiguousarray(YR.transpose(1, 2, 0).astype(dt))
        Sxd = cp.ascontiguousarray(Sx.astype(dt))
        Syd = Sxd if sym else cp.ascontiguousarray(Sy.astype(dt))
        sxi, syi = sx.astype(cp.int32), sy.astype(cp.int32)
        consts = [cp.asarray(v) for v in (sw2, su2, sb2)]
        act = np.int32(0 if p.dual.name == "relu" else 1)
        snap = dt.type(relu_snap(dt))
        for i0 in range(0, nx, tile):
            ni = min(tile, nx - i0)
            for j0 in range(i0 if sym else 0, ny, tile):
                nj = min(tile, ny - j0)
                grid = ((nj + BLOCK[0] - 1) // BLOCK[0], (ni + BLOCK[1] - 1) // BLOCK[1])
                kernel(grid, BLOCK, (xT, sxi, Sxd, np.int32(nx), yT, syi, Syd, np.int32(ny),
                                     np.int32(W), np.int32(XR.shape[2]), *consts, sv2,
                                     np.int32(p.frozen_layers), act, snap,
                                     np.int32(i0), np.int32(ni), np.int32(j0), np.int32(nj), np.int32(sym),
                                     ntk, nngp, np.int32(ny)))
    else:
        for i0 in range(0, nx, tile):
            for j0 in range(i0 if sym else 0, ny, tile):
                ii = cp.arange(i0, min(i0 + tile, nx))
                jj = cp.arange(j0, min(j0 + tile, ny))
                ip, jp = (a.ravel() for a in cp.meshgrid(ii, jj, indexing="ij"))
                if sym:
                    keep = jp > ip
                    ip, jp = ip[keep], jp[keep]
                if ip.size == 0:
                    continue
                t, g = cross_pairs(XR.astype(dt), sx, Sx.astype(dt), YR.astype(dt), sy, Sy.astype(dt), ip, jp, hp,
                                   pair)
                ntk[ip, jp], nngp[ip, jp] = t, g
    if sym:
        ntk += cp.triu(ntk, 1).T
        nngp += cp.triu(nngp, 1).T
        d_ntk, d_nngp = diagonal(Sx, sx, hp, diag)
        idx = cp.arange(nx)
        ntk[idx, idx], nngp[idx, idx] = d_ntk.astype(dt), d_nngp.astype(dt)
    return ntk, nngp
