"""The diagonal Elman RNN in torch, for autograd checks of the numpy recursion.

torch is imported inside the functions.
"""
from __future__ import annotations

import numpy as np

__all__ = ["autograd_ntk", "diagonal_rnn_torch"]


def diagonal_rnn_torch(w, U, c, X, gain: float = 1.0):
    """F_t for t = 1 .. T as a torch tensor of shape (n, T).

    w : tensor (m,); U : tensor (m, d); c : tensor (m,); X : tensor (n, T, d).
    """
    import torch

    n, T, _ = X.shape
    h = torch.zeros(n, w.shape[0], dtype=X.dtype)
    out = []
    proj = torch.einsum("ntd,md->tnm", X, U)
    for t in range(T):
        h = torch.tanh(gain * (w * h + proj[t]))
        out.append(h @ c / w.shape[0] ** 0.5)
    return torch.stack(out, 1)


def autograd_ntk(model, X) -> np.ndarray:
    """NTK of F_T from autograd: J J^T with J = dF_T/d(diag W, U), shape (n, n)."""
    import torch
    from torch.func import jacrev

    Xt = torch.tensor(np.asarray(X, dtype=float))
    c = torch.tensor(model.c)

    def f(w, U):
        return diagonal_rnn_torch(w, U, c, Xt, model.gain)[:, -1]

    Jw, JU = jacrev(f, argnums=(0, 1))(torch.tensor(model.w), torch.tensor(model.U))
    J = torch.cat([Jw, JU.reshape(JU.shape[0], -1)], 1)
    return (J @ J.T).numpy()
