"""The RNTK on torch tensors, differentiable by autograd.

The recursion is :mod:`rntk.kernels._recursion`, run on torch tensors (its
operations are out of place, so autograd differentiates ``ntk`` and ``nngp``
with respect to the inputs and, when given as tensors, the hyperparameters).
What is torch-specific lives here: input checking of tensors, the
hyperparameter overrides, and the dual activations, whose derivatives need
care at the edges. ReLU and erf only (closed-form duals).

Derivative of arccos at c = +-1
-------------------------------
The ReLU dual needs arccos(c), whose derivative is infinite at c = +-1 (so is
that of sqrt(1 - c^2)). Cross pairs reach |c| = 1 exactly in degenerate but
common cases (m = 1 and equal lengths at the first aligned step with
sigma_b = sigma_h = 0; sigma_u = 0; ``gram_torch(X, X)``). Their derivative is
taken at c clamped to [-1 + d, 1 - d], d = 1e-12 in float64 (1e-6 in float32,
where 1 - 1e-12 rounds to 1), through a straight-through construction::

    value = f(c_exact) + (f(c_clamped) - f(c_clamped).detach())

so the *values* are exactly those of the numpy backend (c snapped to +-1
within 16 ulps, ``_activations.relu_snap``); only the backward pass sees the
clamp. A plain clamp would instead move V' by up to sqrt(2 d)/(2 pi) = 2.3e-7
(absolute; 4.5e-7 relative to V' = 1/2, ~1e-6 relative in the kernel at worst)
and V by O(d). ``clamp`` has zero derivative outside its range, so where |c| is
within d of 1 the gradient through c is 0: exact where c is locally constant
(c = sign(x_1 y_1) for m = 1), a one-sided derivative of the kink of arccos
at c = 1 otherwise (e.g. a sequence against an identical copy of itself).
Same-sample pairs never go through this: they use the exact c = 1 diagonal
formulas (V = K/2, V' = 1/2 for ReLU).

Other non-smooth points get a zero (sub)gradient: a zero-variance ReLU
pre-activation (V' = 1/4 by convention; sqrt(K1 K2) at 0).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._activations import relu_snap
from ._declaration import Hyper, RNTKDeclaration
from ._recursion import cross_pairs, self_variance_table, training_diagonal

__all__ = ["rntk_torch"]

#: half-width d of the clamp of c used for the ReLU dual's derivative (see module docstring)
GRAD_CLAMP = {torch.float64: 1e-12, torch.float32: 1e-6}
_PER_LAYER = ("sigma_w", "sigma_u", "sigma_b", "sigma_h")
_TWO_PI = 2 * math.pi


# -- dual activations on tensors ------------------------------------------------
def _relu_unit(c):
    theta = torch.arccos(c)
    return c * (math.pi - theta) + torch.sqrt(1.0 - c * c), math.pi - theta


def _relu_pair(k1, k2, k3):
    p = k1 * k2
    pos = p > 0
    # zero variance: V' undefined, the convention takes the c = 0 value; safe sqrt/division
    # keep the (discarded) branch's derivative finite.
    s = torch.where(pos, torch.sqrt(torch.where(pos, p, 1.0)), 0.0)
    c = torch.where(pos, k3 / torch.where(pos, s, 1.0), 0.0)
    snap = relu_snap(np.float32 if c.dtype == torch.float32 else np.float64)
    d = GRAD_CLAMP.get(c.dtype, 1e-6)
    cv = c.detach()  # detach, not no_grad: no_grad does not stop forward-mode AD
    cv = torch.where(cv > 1.0 - snap, 1.0, torch.where(cv < snap - 1.0, -1.0, cv))
    ev, ed = _relu_unit(cv)
    gv, gd = _relu_unit(c.clamp(-1.0 + d, 1.0 - d))
    uv = ev + (gv - gv.detach())  # value exactly ev, derivative that of gv
    ud = ed + (gd - gd.detach())
    return uv * s / _TWO_PI, ud / _TWO_PI


def _relu_diag(k):
    return k / 2.0, torch.where(k > 0, k.new_tensor(0.5), k.new_tensor(0.25))


def _erf_pair(k1, k2, k3):
    a = (1.0 + 2.0 * k1) * (1.0 + 2.0 * k2)
    # |2 K3| / sqrt(a) < 1 strictly (a > 4 K1 K2 >= 4 K3^2), so the clamp never binds
    r = (2.0 * k3 / torch.sqrt(a)).clamp(-1.0, 1.0)
    return 2.0 / math.pi * torch.arcsin(r), 4.0 / (math.pi * torch.sqrt(a - 4.0 * k3 * k3))


def _erf_diag(k):
    return 2.0 / math.pi * torch.arcsin(2.0 * k / (1.0 + 2.0 * k)), 4.0 / (
        math.pi * torch.sqrt(1.0 + 4.0 * k)
    )


_DUALS = {"relu": (_relu_pair, _relu_diag), "erf": (_erf_pair, _erf_diag)}


# -- input checking -------------------------------------------------------------
def _prepare(X, lengths, name):
    """Checked (N, T, m) tensor with the unused leading columns zeroed, and lengths."""
    if not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(X).__name__}")
    if X.dtype not in (torch.float64, torch.float32):
        raise ValueError(f"{name} must be a floating-point tensor (float64 or float32), got {X.dtype}")
    if X.ndim == 2:
        X = X.unsqueeze(-1)
    elif X.ndim != 3:
        raise ValueError(f"{name} must have shape (N, T, m) or (N, T), got {tuple(X.shape)}")
    N, T, m = X.shape
    if N == 0 or T == 0 or m == 0:
        raise ValueError(f"{name} is empty: shape {tuple(X.shape)}")
    if lengths is None:
        lengths = torch.full((N,), T, dtype=torch.long, device=X.device)
    else:
        lengths = torch.as_tensor(lengths, device=X.device)
        if lengths.shape != (N,) or lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths of {name} must be {N} integers, got {lengths!r}")
        lengths = lengths.long()
        if bool((lengths < 1).any()) or bool((lengths > T).any()):
            raise ValueError(f"lengths of {name} must lie in [1, {T}], got {lengths.tolist()}")
    used = torch.arange(T, device=X.device)[None, :] >= (T - lengths)[:, None]
    with torch.no_grad():
        bad = ~torch.isfinite(X) & used[..., None]
    if bool(bad.any()):
        i, t, _ = (int(v) for v in torch.nonzero(bad)[0])
        raise ValueError(f"{name} has a non-finite value in sequence {i} at column {t}")
    return torch.where(used[..., None], X, 0.0), lengths


def _widen(X, W):
    """Right-aligned (N, T, m) -> (N, W, m): crop or zero-pad at the start."""
    T = X.shape[1]
    if T >= W:
        return X[:, T - W :]
    return torch.nn.functional.pad(X, (0, 0, W - T, 0))


def _hyper(kernel, sigma, dtype, device):
    """Squared hyperparameters: per-layer lists of floats or 0-d tensors, and sigma_v^2."""
    L = kernel.n_layers
    sigma = {} if sigma is None else dict(sigma)
    unknown = set(sigma) - set(_PER_LAYER) - {"sigma_v"}
    if unknown:
        raise ValueError(
            f"unknown hyperparameters {sorted(unknown)}; use {_PER_LAYER + ('sigma_v',)}"
        )
    out = []
    for key in _PER_LAYER:
        if key in sigma:
            t = torch.as_tensor(sigma[key]).to(dtype=dtype, device=device)
            if t.ndim == 0:
                t = t.expand(L)
            if t.shape != (L,):
                raise ValueError(
                    f"sigma[{key!r}] must have shape ({L},) or (), got {tuple(t.shape)}"
                )
            out.append([t[l] * t[l] for l in range(L)])
        else:
            out.append([s * s for s in getattr(kernel, key)])
    if "sigma_v" in sigma:
        t = torch.as_tensor(sigma["sigma_v"]).to(dtype=dtype, device=device)
        if t.numel() != 1:
            raise ValueError(f"sigma['sigma_v'] must be a scalar, got shape {tuple(t.shape)}")
        sv2 = t.reshape(()) ** 2
    else:
        sv2 = kernel.sigma_v**2
    declared = kernel.squares()
    return Hyper(*(tuple(v) for v in out), sv2, declared.trained, declared.per_step, declared.mean)


def _reversed(X, lengths):
    """Each right-aligned sequence read backwards, still right-aligned (differentiable gather)."""
    N, T, _ = X.shape
    c = torch.arange(T, device=X.device)[None, :]
    first = (T - lengths)[:, None]
    src = torch.where(c >= first, 2 * T - 1 - lengths[:, None] - c, c)
    return torch.gather(X, 1, src[:, :, None].expand_as(X))


def _directed(X, Y, kernel, sigma, lx, lengths_y, diag):
    """The reversed kernel, or the sum of both directions' (see ``RNTK.direction``)."""
    import dataclasses

    fwd = dataclasses.replace(kernel, direction="forward")
    if Y is not None:
        Y, ly = _prepare(Y, lengths_y, "Y")
    Yr = None if Y is None else _reversed(Y, ly)
    ly_ = None if Y is None else ly
    rev = rntk_torch(_reversed(X, lx), Yr, fwd, sigma, lx, ly_, diag)
    if kernel.direction == "reversed":
        return rev
    ntk, nngp = rntk_torch(X, Y, fwd, sigma, lx, ly_, diag)
    return ntk + rev[0], nngp + rev[1]


def rntk_torch(X, Y=None, kernel=None, sigma=None, lengths_x=None, lengths_y=None, diag=False):
    """Differentiable RNTK Gram of torch tensors.

    Parameters
    ----------
    X : tensor of shape (N, T, m) or (N, T)
        Sequences, right-aligned (end-aligned): sequence i is
        ``X[i, T - lengths_x[i]:]``, the layout of ``rntk.empirical.RNN``;
        the leading padding columns are ignored (they get zero gradient).
        float64 or float32; the result has X's dtype and device.
    Y : tensor of shape (M, T', m) or (M, T'), optional
        If None, the training Gram of X: sigma_h term on the diagonal only,
        diagonal by the exact same-sample formula, exactly symmetric.
    kernel : rntk.RNTK
        Hyperparameters and depth; activation "relu" or "erf".
    sigma : dict of str to tensor, optional
        Overrides of the kernel's floats, to differentiate with respect to them:
        "sigma_w", "sigma_u", "sigma_b", "sigma_h" of shape (L,) (or scalars,
        used for every layer), "sigma_v" a scalar. Only squares enter.
    lengths_x, lengths_y : sequence of int or integer tensor, optional
        Lengths (default: all T, resp. T').
    diag : bool
        Only the pairs (X[i], Y[i]) (Y of the same length N), shape (N,); with
        Y None the diagonal of the training Gram (same sample, sigma_h included).

    Returns
    -------
    ntk, nngp : tensors of shape (N, M) (or (N,) with ``diag``)
    """
    if not isinstance(kernel, RNTKDeclaration):
        raise TypeError(f"kernel must be an rntk.RNTK, got {type(kernel).__name__}")
    name = kernel.dual.name
    if not isinstance(kernel.activation, str) or name not in _DUALS:
        raise ValueError(
            f"the torch backend supports the 'relu' and 'erf' activations only, not {name!r}"
        )
    pair, dual_diag = _DUALS[name]
    X, lx = _prepare(X, lengths_x, "X")
    if kernel.direction != "forward":
        return _directed(X, Y, kernel, sigma, lx, lengths_y, diag)
    if Y is None:
        if lengths_y is not None:
            raise ValueError("lengths_y given without Y")
    else:
        Y, ly = _prepare(Y, lengths_y, "Y")
        if Y.shape[2] != X.shape[2]:
            raise ValueError(
                f"X and Y have mismatched feature sizes: m = {X.shape[2]} vs m = {Y.shape[2]}"
            )
        if Y.dtype != X.dtype or Y.device != X.device:
            raise ValueError(
                f"X and Y must share dtype and device, got {X.dtype}/{X.device} and {Y.dtype}/{Y.device}"
            )
    hp = _hyper(kernel, sigma, X.dtype, X.device)
    N = X.shape[0]
    if Y is None:
        W = int(lx.max())
        XR, sx = _widen(X, W), W - lx
        Sx = self_variance_table(XR, sx, hp, dual_diag)
        d_ntk, d_nngp = training_diagonal(XR, sx, Sx, hp, pair, dual_diag)
        if diag:
            return d_ntk, d_nngp
        ip, jp = torch.triu_indices(N, N, 1, device=X.device)
        idx = torch.arange(N, device=X.device)
        out = []
        vals = (
            cross_pairs(XR, sx, Sx, XR, sx, Sx, ip, jp, hp, pair) if len(ip) else (d_ntk[:0], d_nngp[:0])
        )
        for off, dg in zip(vals, (d_ntk, d_nngp)):
            full = X.new_zeros(N, N).index_put((ip, jp), off).index_put((jp, ip), off)
            out.append(full.index_put((idx, idx), dg))
        return out[0], out[1]
    M = Y.shape[0]
    W = int(max(lx.max(), ly.max()))
    XR, sx, YR, sy = _widen(X, W), W - lx, _widen(Y, W), W - ly
    Sx = self_variance_table(XR, sx, hp, dual_diag)
    Sy = self_variance_table(YR, sy, hp, dual_diag)
    if diag:
        if M != N:
            raise ValueError(f"diag=True needs as many sequences in Y as in X, got {N} and {M}")
        ip = jp = torch.arange(N, device=X.device)
        return cross_pairs(XR, sx, Sx, YR, sy, Sy, ip, jp, hp, pair)
    ip = torch.arange(N, device=X.device).repeat_interleave(M)
    jp = torch.arange(M, device=X.device).repeat(N)
    ntk, nngp = cross_pairs(XR, sx, Sx, YR, sy, Sy, ip, jp, hp, pair)
    return ntk.reshape(N, M), nngp.reshape(N, M)
