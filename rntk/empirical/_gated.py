"""Finite GRU and LSTM networks in the NTK parametrisation, and their empirical kernels.

``GatedRNN(kernel, width, input_dim)`` is the network whose infinite-width
limit ``rntk.GRUNTK`` / ``rntk.LSTMNTK`` compute (``docs/gated.md``): the same
hyperparameters, raw parameters i.i.d. N(0, 1), scaled in the forward pass.
Untied (the default): an independent W, U, b per gate and per time step,
counted from the end of the sequence (the step ``s`` columns before the last
uses ``W[s]``), so that end-aligned sequences of different lengths share the
weights of the columns they meet in. Tied: one W, U, b per gate for all
steps (whose limit is *not* the untied kernel; see the docs).

Sequences are right-aligned (``as_batch``); a sequence's state stays at its
initial value until its first step.

The empirical NTK is computed two ways that share nothing but the forward
pass: :func:`gated_ntk` by full Jacobians (``jacobian_ntk``), and the
factored form (gradients with respect to the pre-activations, contracted with
the inputs of each weight), which the width sweeps use.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .._validation import check_positive_int
from ._ntk import jacobian_ntk
from ._rnn import as_batch

__all__ = ["GatedRNN", "gated_ntk", "gated_monte_carlo", "GatedMonteCarlo"]

_GATES = {"GRUNTK": ("r", "z", "n"), "LSTMNTK": ("i", "f", "o", "c")}


class GatedRNN:
    """A GRU or LSTM of width ``n`` whose limit kernel is ``kernel``.

    Parameters
    ----------
    kernel : rntk.GRUNTK or rntk.LSTMNTK
    width : int
    input_dim : int
    tied : bool
        One set of weights for all steps (True) or one per step (False).
    max_len : int
        Steps the untied network has weights for (ignored when tied).
    generator : torch.Generator or int, optional
    """

    def __init__(self, kernel, width: int, input_dim: int, *, tied: bool = False, max_len: int = 1,
                 generator=None, dtype=torch.float64):
        name = type(kernel).__name__
        if name not in _GATES:
            raise ValueError(f"kernel must be a GRUNTK or an LSTMNTK, got {name}")
        self.kernel, self.cell = kernel, ("gru" if name == "GRUNTK" else "lstm")
        self.width = check_positive_int(width, "width")
        self.input_dim = check_positive_int(input_dim, "input_dim")
        self.tied, self.dtype = bool(tied), dtype
        self.steps = 1 if tied else check_positive_int(max_len, "max_len")
        g = torch.Generator().manual_seed(int(generator)) if isinstance(generator, (int, np.integer)) else generator
        n, m, S = self.width, self.input_dim, self.steps
        rand = lambda *shape: torch.randn(shape, generator=g, dtype=dtype)  # noqa: E731
        self.params = {}
        for a in _GATES[name]:
            self.params[f"W{a}"], self.params[f"U{a}"], self.params[f"b{a}"] = rand(S, n, n), rand(S, n, m), rand(S, n)
        self.params["v"] = rand(n)
        self.gates = _GATES[name]

    def sample_initial(self, N: int, generator=None):
        """Initial (h_0, c_0) of N sequences, each of shape (N, n) (c_0 is None for a GRU)."""
        k = self.kernel
        h0 = k.sigma_h * torch.randn((N, self.width), generator=generator, dtype=self.dtype)
        c0 = None if self.cell == "gru" else k.sigma_c * torch.randn((N, self.width), generator=generator,
                                                                       dtype=self.dtype)
        return h0, c0

    def __call__(self, params, inputs, eps=None, return_states=False):
        """Outputs f of shape (N,) for ``inputs = (x, lengths, h0, c0)``.

        ``eps``: optional dict gate -> (N, W, n) added to that gate's
        pre-activations (zero: their gradient is dL/dg). ``return_states``
        also returns, per column, the input of each gate's W ((N, n)).
        """
        x, lengths, h0, c0 = inputs
        k, p = self.kernel, {**self.params, **params}
        N, W, m = x.shape
        n = self.width
        if not self.tied and W > self.steps:
            raise ValueError(f"a batch of {W} steps is longer than the {self.steps} steps the network has weights for")
        sw, su, sb = k.sigma_w / math.sqrt(n), k.sigma_u / math.sqrt(m), k.sigma_b
        # the gate whose bias has a fixed mean: the GRU's update gate, the LSTM's forget gate
        mean = {"z": k.update_bias} if self.cell == "gru" else {"f": k.forget_bias}
        start = W - lengths
        h, c = h0, c0
        win = []
        for col in range(W):
            s = 0 if self.tied else W - 1 - col
            xt = x[:, col]
            active = (col >= start)[:, None]

            def pre(a, hin):
                g = sw * hin @ p[f"W{a}"][s].T + su * xt @ p[f"U{a}"][s].T + sb * p[f"b{a}"][s] + mean.get(a, 0.0)
                return g if eps is None else g + eps[a][:, col]

            if self.cell == "gru":
                r, z = torch.sigmoid(pre("r", h)), torch.sigmoid(pre("z", h))
                nt = torch.tanh(pre("n", r * h))
                win.append({"r": h, "z": h, "n": r * h})
                h = torch.where(active, (1 - z) * nt + z * h, h)
            else:
                i, f, o = (torch.sigmoid(pre(a, h)) for a in ("i", "f", "o"))
                win.append({a: h for a in self.gates})
                c_new = f * c + i * torch.tanh(pre("c", h))
                h_new = o * (torch.tanh(c_new) if k.cell_activation == "tanh" else c_new)
                c = torch.where(active, c_new, c)
                h = torch.where(active, h_new, h)
        out = k.sigma_v / math.sqrt(n) * h @ p["v"]
        return (out, win, h) if return_states else out


def _factored(net, x, lx, init, y, ly, init_y, same):
    """Empirical NTK from gradients w.r.t. pre-activations (exact for the finite network)."""
    k = net.kernel
    n = net.width

    def grads(xx, ll, ini):
        N, W, _ = xx.shape
        eps = {a: torch.zeros((N, W, n), dtype=net.dtype, requires_grad=True) for a in net.gates}
        out, win, h = net({}, (xx, ll, *ini), eps=eps, return_states=True)
        D = torch.autograd.grad(out.sum(), [eps[a] for a in net.gates])
        return out.detach(), {a: d.detach() for a, d in zip(net.gates, D)}, win, h.detach()

    fx, Dx, Hx, hx = grads(x, lx, init)
    fy, Dy, Hy, hy = (fx, Dx, Hx, hx) if same else grads(y, ly, init_y)
    m, W = x.shape[2], x.shape[1]
    K = k.sigma_v**2 / n * hx @ hy.T
    for a in net.gates:
        A, B = Dx[a], Dy[a]  # (N, W, n)
        Ha = torch.stack([w[a].detach() for w in Hx], 1)
        Hb = torch.stack([w[a].detach() for w in Hy], 1)
        if net.tied:
            gd = torch.einsum("isk,jtk->isjt", A, B)
            K = K + (gd * (k.sigma_w**2 / n * torch.einsum("isk,jtk->isjt", Ha, Hb)
                           + k.sigma_u**2 / m * torch.einsum("isk,jtk->isjt", x, y) + k.sigma_b**2)).sum((1, 3))
        else:
            gd = torch.einsum("itk,jtk->ijt", A, B)
            K = K + (gd * (k.sigma_w**2 / n * torch.einsum("itk,jtk->ijt", Ha, Hb)
                           + k.sigma_u**2 / m * torch.einsum("itk,jtk->ijt", x, y) + k.sigma_b**2)).sum(2)
    return K, fx, fy


def _one_network(kernel, X, Y, width, tied, generator, method, dtype):
    """(ntk, f_x, f_y, nngp_v) of one random network; nngp_v = E_v[f(x) f(y)] = sigma_v^2 h_T . h'_T / n."""
    if method not in ("factored", "jacobian"):
        raise ValueError(f"method must be 'factored' or 'jacobian', got {method!r}")
    g = torch.Generator().manual_seed(int(generator)) if isinstance(generator, (int, np.integer)) else generator
    x, lx = as_batch(X, dtype=dtype)
    y, ly = (x, lx) if Y is None else as_batch(Y, dtype=dtype)
    W = max(x.shape[1], y.shape[1])
    x, lx = as_batch(X, dtype=dtype, width=W)
    y, ly = (x, lx) if Y is None else as_batch(Y, dtype=dtype, width=W)
    net = GatedRNN(kernel, width, x.shape[2], tied=tied, max_len=W, generator=g, dtype=dtype)
    init = net.sample_initial(len(lx), g)
    init_y = init if Y is None else net.sample_initial(len(ly), g)
    if method == "factored":
        K, fx, fy = _factored(net, x, lx, init, y, ly, init_y, Y is None)
    else:
        K = jacobian_ntk(net, net.params, (x, lx, *init), None if Y is None else (y, ly, *init_y))
    with torch.no_grad():
        fx, _, hx = net({}, (x, lx, *init), return_states=True)
        fy, _, hy = (fx, None, hx) if Y is None else net({}, (y, ly, *init_y), return_states=True)
    G = kernel.sigma_v**2 / width * hx @ hy.T
    return K.detach().numpy(), fx.numpy(), fy.numpy(), G.numpy()


def gated_ntk(kernel, X, Y=None, *, width: int, tied: bool = False, generator=None,
              method: str = "factored", dtype=torch.float64):
    """Empirical NTK Gram and outputs of one random :class:`GatedRNN`.

    ``Y=None``: the training Gram (each sequence meets its own initial
    state); otherwise Y's sequences draw their own. ``method``: "factored"
    (fast) or "jacobian" (full Jacobians, for checking).

    Returns
    -------
    ntk : ndarray of shape (N, M)
    f_x : ndarray of shape (N,)
    f_y : ndarray of shape (M,)
    """
    return _one_network(kernel, X, Y, width, tied, generator, method, dtype)[:3]


@dataclass(frozen=True)
class GatedMonteCarlo:
    """Mean and standard error over independent networks (arrays of shape (N, M)); ``n_nets``.

    ``nngp`` averages E_v[f(x) f(y)] = sigma_v^2 h_T(x) . h_T(y) / n, the output covariance
    given the network's state (the read-out v integrated out exactly): the same mean as
    f(x) f(y), without the chi-square noise of one read-out draw.
    """

    ntk: np.ndarray
    ntk_sem: np.ndarray
    nngp: np.ndarray
    nngp_sem: np.ndarray
    n_nets: int
    ntk_all: np.ndarray | None = None


def gated_monte_carlo(kernel, X, Y=None, *, width: int, n_nets: int, seed=0, tied: bool = False,
                      keep: bool = False, dtype=torch.float64) -> GatedMonteCarlo:
    """Average the empirical NTK and the output covariance of ``n_nets`` independent networks.

    Network k draws everything from stream k of ``numpy.random.SeedSequence(seed)``;
    ``keep``: also return every network's NTK (``ntk_all``, shape (n_nets, N, M)).
    """
    if n_nets < 2:
        raise ValueError(f"n_nets must be >= 2 for a standard error, got {n_nets}")
    Ks, Fs = [], []
    for s in np.random.SeedSequence(seed).spawn(n_nets):
        K, _, _, G = _one_network(kernel, X, Y, width, tied, int(s.generate_state(1)[0]), "factored", dtype)
        Ks.append(K)
        Fs.append(G)
    Ks, Fs = np.array(Ks), np.array(Fs)
    sem = lambda a: a.std(0, ddof=1) / math.sqrt(n_nets)  # noqa: E731
    return GatedMonteCarlo(Ks.mean(0), sem(Ks), Fs.mean(0), sem(Fs), n_nets, Ks if keep else None)
