"""Gate transport in torch GRU/LSTM cells (the effective learning rates of Livi's learnability window).

The first-order transport of a gated cell is D_{t,l} = prod_{k=0}^{l-1} diag(lambda_{t-k}),
where lambda is the gate that multiplies the previous state: the GRU update
gate z (PyTorch: h_t = (1 - z) * n + z * h_{t-1}) and the LSTM forget gate f
(on the cell, c_t = f * c_{t-1} + i * g). The true transport J_{t,l} is the
product of step Jacobians d state_t / d state_{t-1} from autograd
(torch.func.jacrev), restricted to h for the GRU and to the c -> c block for
the LSTM. The envelopes are f_pred(l) = sum_i D_ii and f_meas(l) = sum_i |J_ii|.

torch is imported inside the functions, so importing this module is light.
"""
from __future__ import annotations

import numpy as np

__all__ = ["cell_step", "controlled_cell", "gate_transport"]


def _logit(p):
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


def controlled_cell(kind: str, hidden: int, lambdas=None, scale: float = 1.0, seed=0):
    """A one-layer ``nn.GRU``/``nn.LSTM`` (input size 1) with gates set by hand.

    Parameters
    ----------
    kind : "gru" or "lstm"
    hidden : int
    lambdas : array of shape (hidden,) in (0, 1), or None
        None keeps PyTorch's default initialisation (uncontrolled mode).
        Otherwise every gate's weights are zeroed; the transport gate (GRU z,
        LSTM f) gets bias logit(lambda), the other gates bias 0 (value 1/2).
    scale : float >= 0
        Candidate weights (GRU n, LSTM g; input and recurrent) are multiplied
        by ``scale`` (controlled mode only).
    seed : int
        torch seed for the default initialisation.
    """
    import torch

    if kind not in ("gru", "lstm"):
        raise ValueError(f"kind must be 'gru' or 'lstm'; got {kind!r}")
    if int(hidden) != hidden or hidden < 1:
        raise ValueError(f"hidden must be a positive integer; got {hidden!r}")
    if not np.isfinite(scale) or scale < 0:
        raise ValueError(f"scale must be non-negative; got {scale!r}")
    cls = torch.nn.GRU if kind == "gru" else torch.nn.LSTM
    with torch.random.fork_rng():  # the default init reads the global generator
        torch.manual_seed(int(seed))
        net = cls(1, hidden, batch_first=True).double()
    if lambdas is None:
        return net
    lam = np.asarray(lambdas, dtype=float)
    if lam.shape != (hidden,) or not np.all((lam > 0) & (lam < 1)):
        raise ValueError("lambdas must have shape (hidden,) with values in (0, 1)")
    H = hidden
    # row blocks: GRU [r, z, n]; LSTM [i, f, g, o]
    gate_idx = {"gru": (0, 1), "lstm": (0, 1, 3)}[kind]
    transport = 1
    cand = 2
    with torch.no_grad():
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            p = getattr(net, name)
            for b in gate_idx:
                p[b * H:(b + 1) * H] = 0.0
            p[cand * H:(cand + 1) * H] *= scale
        net.bias_ih_l0[transport * H:(transport + 1) * H] = torch.tensor(_logit(lam))
    return net


def cell_step(net, x, state):
    """One step of ``net`` written out (PyTorch's equations), with the transport gate.

    x : tensor (B, 1); state : h (B, H) for GRU, (h, c) for LSTM.
    Returns (new_state, lam) with lam of shape (B, H).
    """
    import torch

    Wi, Wh = net.weight_ih_l0, net.weight_hh_l0
    bi, bh = net.bias_ih_l0, net.bias_hh_l0
    if isinstance(net, torch.nn.GRU):
        h = state
        gi, gh = x @ Wi.T + bi, h @ Wh.T + bh
        ir, iz, in_ = gi.chunk(3, -1)
        hr, hz, hn = gh.chunk(3, -1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(in_ + r * hn)
        return (1 - z) * n + z * h, z
    h, c = state
    gates = x @ Wi.T + bi + h @ Wh.T + bh
    i, f, g, o = gates.chunk(4, -1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c2 = f * c + i * g
    return (o * torch.tanh(c2), c2), f


def gate_transport(net, x, ends, max_lag: int):
    """True and first-order transport of a cell on input sequences.

    Parameters
    ----------
    net : nn.GRU or nn.LSTM (one layer, input size 1, float64)
    x : ndarray of shape (B, T)
    ends : sequence of int
        End times t (1-based: state after t inputs) over which to average;
        every end must be >= max_lag.
    max_lag : int

    Returns
    -------
    dict of ndarrays of shape (max_lag,) for l = 1 .. max_lag:
      ``f_meas`` sum_i |J_ii|, ``f_pred`` sum_i D_ii (means over sequences and
      ends), ``rel_err`` mean ||J - D||_F / ||J||_F, ``ratio`` f_meas / f_pred.
    """
    import torch
    from torch.func import jacrev, vmap

    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or not np.isfinite(x).all():
        raise ValueError("x must be a finite array of shape (B, T)")
    B, T = x.shape
    ends = [int(e) for e in ends]
    if not ends or min(ends) < max_lag or max(ends) > T or max_lag < 1:
        raise ValueError("need 1 <= max_lag <= every end <= T")
    is_gru = isinstance(net, torch.nn.GRU)
    H = net.hidden_size
    xt = torch.tensor(x, dtype=torch.float64)
    def step_flat(s, xi):
        if is_gru:
            new, lam = cell_step(net, xi[None, None], s[None])
            return new[0], lam[0]
        h, c = s[:H], s[H:]
        (h2, c2), lam = cell_step(net, xi[None, None], (h[None], c[None]))
        return torch.cat([h2[0], c2[0]]), lam[0]

    jac = vmap(jacrev(lambda s, xi: step_flat(s, xi)[0]))
    fwd = vmap(step_flat)
    S = H if is_gru else 2 * H
    A, lams = [], []  # A[t-1] = d state_t / d state_{t-1}; lams[t-1] = gate at step t
    # jacrev is a function transform: it differentiates w.r.t. the state even
    # under no_grad, and no_grad stops autograd from tracking the parameters
    with torch.no_grad():
        state = torch.zeros(B, S, dtype=torch.float64)
        for t in range(T):
            A.append(jac(state, xt[:, t]))
            state, lam = fwd(state, xt[:, t])
            lams.append(lam)
        sl = slice(0, H) if is_gru else slice(H, 2 * H)
        E = len(ends)
        J = torch.eye(S, dtype=torch.float64).expand(E * B, S, S)
        D = torch.ones(E * B, H, dtype=torch.float64)
        f_meas, f_pred, rel = [], [], []
        for l in range(1, max_lag + 1):
            J = J @ torch.cat([A[e - l] for e in ends])
            D = D * torch.cat([lams[e - l] for e in ends])
            Jb = J[:, sl, sl]
            f_meas.append(torch.diagonal(Jb, dim1=1, dim2=2).abs().sum(1).mean())
            f_pred.append(D.sum(1).mean())
            rel.append((torch.linalg.norm(Jb - torch.diag_embed(D), dim=(1, 2))
                        / torch.linalg.norm(Jb, dim=(1, 2))).mean())
    f_meas, f_pred, rel = (torch.stack(v).numpy() for v in (f_meas, f_pred, rel))
    return {"f_meas": f_meas, "f_pred": f_pred, "rel_err": rel, "ratio": f_meas / f_pred}
