"""Empirical neural tangent kernels of finite networks.

* :func:`jacobian_ntk`: any function ``fn(params, inputs) -> outputs`` (a torch
  module through ``torch.func.functional_call``): Theta = J_x J_y^T from the
  Jacobians of the outputs w.r.t. every parameter (torch.func.jacrev).
  Memory N * P numbers: fine for small models, GRU and LSTM included.
* :func:`empirical_ntk` for :class:`RNN`: the factored path contracts gradient
  blocks through per-time-step Grams of delta = df/dg and of the hidden states,
  never forming a Jacobian: for tied weights
  <df(x)/dW, df(y)/dW> = s_w^2 sum_{t,t'} <delta_t, delta'_t'> <h_{t-1}, h'_{t'-1}>,
  and likewise for U, b and the read-out.
* :func:`monte_carlo_ntk`: the mean and standard error over independent
  networks, the finite-width estimate of the analytic kernel.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ._rnn import RNN, as_batch

__all__ = ["jacobian_ntk", "empirical_ntk", "monte_carlo_ntk", "MonteCarloNTK"]


def jacobian_ntk(fn, params: dict, inputs_x, inputs_y=None, chunk_params: bool = True):
    """Theta(x, y) = sum_p J_p(x) J_p(y)^T by full Jacobians.

    Parameters
    ----------
    fn : callable
        ``fn(params, inputs)`` returns outputs of shape (B,) or (B, d).
    params : dict of str to tensor
    inputs_x, inputs_y : anything ``fn`` takes; ``inputs_y=None`` means x.
    chunk_params : bool
        Take one parameter tensor's Jacobian at a time (memory N x numel of the
        largest tensor instead of N x P).

    Returns
    -------
    tensor of shape (N, M) for scalar outputs, (N, M, d, d) for vector outputs.
    """
    from torch.func import jacrev

    params = {k: v.detach() for k, v in params.items()}
    groups = [[k] for k in params] if chunk_params else [list(params)]
    total = None
    for names in groups:
        rest = {k: v for k, v in params.items() if k not in names}

        def f(sub, inputs):
            return fn({**rest, **sub}, inputs)

        sub = {k: params[k] for k in names}
        jx = jacrev(f)(sub, inputs_x)
        jy = jx if inputs_y is None else jacrev(f)(sub, inputs_y)
        for k in names:
            a, b = jx[k], jy[k]
            nx, ny = a.shape[0], b.shape[0]
            out_shape = a.shape[1 : a.ndim - params[k].ndim]
            a = a.reshape(nx, *out_shape, -1)
            b = b.reshape(ny, *out_shape, -1)
            term = torch.einsum("i...p,j...p->ij...", a, b) if not out_shape else torch.einsum(
                "iap,jbp->ijab", a, b
            )
            total = term if total is None else total + term
    return total


def _pair_sum(A, B, C, D, tied):
    """sum_{t,t'} <A_t, C_t'> <B_t, D_t'>  (tied) or sum_t <A_t, C_t><B_t, D_t> (untied).

    A, B: (N, T, .), C, D: (M, T', .). Returns (N, M).
    """
    if not tied:
        return torch.einsum("itk,jtk,itl,jtl->ij", A, C, B, D)
    N, T = A.shape[:2]
    M, Tp = C.shape[:2]
    g1 = A.reshape(N * T, -1) @ C.reshape(M * Tp, -1).T
    g2 = B.reshape(N * T, -1) @ D.reshape(M * Tp, -1).T
    return (g1 * g2).reshape(N, T, M, Tp).sum(dim=(1, 3))


def empirical_ntk(rnn: RNN, X, Y=None, *, method: str = "factored", generator=None,
                  h0_x=None, h0_y=None):
    """Empirical NTK Gram of one network, (N, M), and its outputs.

    ``Y=None``: the training Gram of X, each sequence with its own h(l, 0) on
    both sides (the same sample). ``gram(X, Y)``: the sequences of Y
    draw their own initial states. h0 is sampled from ``generator`` unless
    given as (L, N, n) tensors.

    Returns ``(ntk, f_x, f_y)`` as torch tensors.
    """
    if method not in ("factored", "jacobian"):
        raise ValueError(f"method must be 'factored' or 'jacobian', got {method!r}")
    x, lx = as_batch(X, dtype=rnn.dtype)
    if Y is None:
        y, ly = x, lx
    else:
        y, ly = as_batch(Y, dtype=rnn.dtype)
    for name, t in (("X", x), ("Y", y)):
        if t.shape[2] != rnn.input_dim:
            raise ValueError(f"{name} has {t.shape[2]} features but the network expects {rnn.input_dim}")
    if isinstance(generator, (int, np.integer)):
        generator = torch.Generator().manual_seed(int(generator))
    if h0_x is None:
        h0_x = rnn.sample_h0(x.shape[0], generator)
    if Y is None:
        h0_y = h0_x
    elif h0_y is None:
        h0_y = rnn.sample_h0(y.shape[0], generator)
    if method == "jacobian":
        params = dict(rnn.named_parameters())

        def fn(p, inputs):
            return rnn(*inputs, params=p)

        K = jacobian_ntk(fn, params, (x, lx, h0_x), None if Y is None else (y, ly, h0_y))
        with torch.no_grad():
            fx = rnn(x, lx, h0_x)
            fy = fx if Y is None else rnn(y, ly, h0_y)
        return K, fx, fy
    sx = _states(rnn, x, lx, h0_x)
    sy = sx if Y is None else _states(rnn, y, ly, h0_y)
    return _factored(rnn, sx, sy), sx[0], sy[0]


def _states(rnn, x, lengths, h0):
    out, gs, hs, c0 = rnn(x, lengths, h0, return_states=True)
    L, C = rnn.kernel.n_layers, len(gs[0])
    flat = [g for layer in gs for g in layer]
    grads = torch.autograd.grad(out.sum(), flat, allow_unused=True)
    grads = [torch.zeros_like(g) if d is None else d for g, d in zip(flat, grads)]
    D = [torch.stack(grads[l * C : (l + 1) * C], dim=1).detach() for l in range(L)]
    Hprev = [torch.stack(hs[l][:-1], dim=1).detach() for l in range(L)]
    Inp = [x[:, c0:, :]] + [torch.stack(hs[l - 1][1:], dim=1).detach() for l in range(1, L)]
    last = hs[L - 1][-1].detach()
    return out.detach(), D, Hprev, Inp, last


def _factored(rnn, sx, sy):
    _, Dx, Hx, Ix, lastx = sx
    _, Dy, Hy, Iy, lasty = sy
    sc = rnn._scale
    K = sc["v"] ** 2 * (lastx @ lasty.T)
    for l in range(rnn.kernel.n_layers):
        K = K + sc[f"W{l}"] ** 2 * _pair_sum(Dx[l], Hx[l], Dy[l], Hy[l], rnn.tied)
        K = K + sc[f"U{l}"] ** 2 * _pair_sum(Dx[l], Ix[l], Dy[l], Iy[l], rnn.tied)
        if rnn.tied:
            K = K + sc[f"b{l}"] ** 2 * (Dx[l].sum(1) @ Dy[l].sum(1).T)
        else:
            K = K + sc[f"b{l}"] ** 2 * torch.einsum("itk,jtk->ij", Dx[l], Dy[l])
    return K


@dataclass(frozen=True)
class MonteCarloNTK:
    """Mean and standard error over independent networks.

    Attributes
    ----------
    ntk, ntk_sem : ndarray of shape (N, M)
        Mean empirical NTK and its standard error of the mean.
    nngp, nngp_sem : ndarray of shape (N, M)
        Mean of f(x) f(y) (the output covariance) and its standard error.
    n_nets : int
    """

    ntk: np.ndarray
    ntk_sem: np.ndarray
    nngp: np.ndarray
    nngp_sem: np.ndarray
    n_nets: int


def monte_carlo_ntk(kernel, X, Y=None, *, width: int, n_nets: int, seed: int = 0,
                    tied: bool = True, method: str = "factored", progress: bool = False,
                    dtype=torch.float64) -> MonteCarloNTK:
    """Average the empirical NTK of ``n_nets`` independent RNNs built from ``kernel``.

    Every network draws its parameters and initial states from its own stream
    of ``numpy.random.SeedSequence(seed)``.
    """
    if n_nets < 2:
        raise ValueError(f"n_nets must be >= 2 for a standard error, got {n_nets}")
    x, lx = as_batch(X, dtype=dtype)
    m = x.shape[2]
    max_len = int(lx.max()) if not tied else None
    seqs = np.random.SeedSequence(seed).spawn(n_nets)
    it = range(n_nets)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"networks (n={width})", unit="net")
    s1 = s2 = g1 = g2 = None
    for k in it:
        g = torch.Generator().manual_seed(int(seqs[k].generate_state(1)[0]))
        rnn = RNN(kernel, width, m, tied=tied, max_len=max_len, generator=g, dtype=dtype)
        K, fx, fy = empirical_ntk(rnn, X, Y, method=method, generator=g)
        K = K.detach().numpy()
        F = np.outer(fx.detach().numpy(), fy.detach().numpy())
        if s1 is None:
            s1, s2, g1, g2 = K, K * K, F, F * F
        else:
            s1, s2, g1, g2 = s1 + K, s2 + K * K, g1 + F, g2 + F * F
    mean, fmean = s1 / n_nets, g1 / n_nets
    var = np.maximum(s2 / n_nets - mean**2, 0) * n_nets / (n_nets - 1)
    fvar = np.maximum(g2 / n_nets - fmean**2, 0) * n_nets / (n_nets - 1)
    return MonteCarloNTK(mean, np.sqrt(var / n_nets), fmean, np.sqrt(fvar / n_nets), n_nets)
