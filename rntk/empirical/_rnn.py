"""A finite Elman RNN built from the same declaration as the analytic RNTK.

``RNN(kernel, width, input_dim)`` reads every hyperparameter from an
:class:`rntk.RNTK`, so the network and its infinite-width kernel cannot drift
apart. NTK parametrisation: raw parameters i.i.d. N(0, 1), scaled in
the forward pass by sigma/sqrt(fan_in); the standard parametrisation draws the
weights with that scale instead and uses them raw (same function at
initialisation, different training dynamics).

Sequences are end-aligned, as in the kernel: a batch is right-aligned in time
(padding at the start), and a sequence's hidden state stays at its h(l, 0)
until its first step. Untied weights (an independent W, U, b per time step,
Theorem 3) are defined for equal lengths only.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from .._validation import check_positive_int, check_sequences

__all__ = ["RNN", "as_batch"]

_ACTIVATIONS: dict[str, Callable] = {
    "relu": torch.relu,
    "erf": torch.special.erf,
    "tanh": torch.tanh,
}


def as_batch(X, dtype=torch.float64, width: int | None = None):
    """Sequences as the input of :class:`RNN`: values right-aligned in time, and lengths.

    Parameters
    ----------
    X : list of array-like of shape (T_i, m) or (T_i,), or array-like of shape (N, T, m) or (N, T)
        Any input :meth:`rntk.RNTK.gram` accepts; trailing all-NaN time steps
        mark a shorter sequence (the UCR convention).
    dtype : torch.dtype
        Of the values.
    width : int, optional
        Time steps W of the batch (>= the longest sequence). Default: the longest.

    Returns
    -------
    x : torch.Tensor of shape (N, W, m)
        Sequence i in the last ``lengths[i]`` columns, zeros before (the
        end alignment of the RNTK and of ``RNN.forward``).
    lengths : torch.Tensor of shape (N,), int64

    Examples
    --------
    >>> import numpy as np
    >>> from rntk.empirical import as_batch
    >>> x, lengths = as_batch([np.array([1.0, 2.0]), np.array([3.0])])
    >>> x[:, :, 0]
    tensor([[1., 2.],
            [0., 3.]], dtype=torch.float64)
    >>> lengths
    tensor([2, 1])
    """
    b = check_sequences(X)
    W = int(b.lengths.max()) if width is None else width
    return torch.as_tensor(b.right_aligned(W), dtype=dtype), torch.as_tensor(b.lengths)


class RNN(torch.nn.Module):
    """L-layer Elman RNN with a scalar read-out of the last hidden state.

    Parameters
    ----------
    kernel : rntk.RNTK
        Hyperparameters (depth, sigmas, activation).
    width : int
        Hidden units per layer, n.
    input_dim : int
        Features per time step, m.
    tied : bool
        Share W, U, b across time steps (the usual RNN). ``False`` gives every
        time step its own weights (needs ``max_len``; equal lengths only).
    max_len : int, optional
        Number of time steps for untied weights.
    parametrization : {"ntk", "standard"}
    activation : {"relu", "erf", "tanh"} or callable, optional
        Defaults to the kernel's activation.
    generator : torch.Generator or int, optional
        Seed or generator for the initial parameters.
    dtype : torch.dtype
    """

    def __init__(self, kernel, width: int, input_dim: int, *, tied: bool = True,
                 max_len: int | None = None, parametrization: str = "ntk",
                 activation=None, generator=None, dtype=torch.float64):
        super().__init__()
        check_positive_int(width, "width")
        check_positive_int(input_dim, "input_dim")
        if (getattr(kernel, "frozen_layers", 0) or getattr(kernel, "direction", "forward") != "forward"
                or getattr(kernel, "readout", "last") != "last"):
            raise ValueError("RNN builds the plain network (forward, last-state read-out, every layer "
                             "trained); use rntk.empirical.VariantRNN for frozen_layers, readout or direction")
        if parametrization not in ("ntk", "standard"):
            raise ValueError(f"parametrization must be 'ntk' or 'standard', got {parametrization!r}")
        if not tied and (max_len is None or max_len < 1):
            raise ValueError("untied weights need max_len (the number of time steps)")
        act = kernel.activation if activation is None else activation
        if isinstance(act, str):
            if act not in _ACTIVATIONS:
                raise ValueError(f"unknown activation {act!r}; use {sorted(_ACTIVATIONS)} or a callable")
            self.phi = _ACTIVATIONS[act]
        elif callable(act):
            self.phi = act
        else:
            raise ValueError(f"activation must be a name or a callable, got {act!r}")
        self.kernel, self.width, self.input_dim = kernel, int(width), int(input_dim)
        self.tied, self.max_len, self.parametrization = tied, max_len, parametrization
        if isinstance(generator, (int, np.integer)):
            generator = torch.Generator().manual_seed(int(generator))
        n, L = self.width, kernel.n_layers
        steps = () if tied else (max_len,)
        # forward multipliers s and init std: NTK: raw N(0,1) times s; standard: N(0, s^2), times 1
        self._scale = {}
        params = {}
        for l in range(L):
            fan_in = self.input_dim if l == 0 else n
            spec = {
                f"W{l}": ((*steps, n, n), kernel.sigma_w[l] / math.sqrt(n)),
                f"U{l}": ((*steps, n, fan_in), kernel.sigma_u[l] / math.sqrt(fan_in)),
                f"b{l}": ((*steps, n), kernel.sigma_b[l]),
            }
            for name, (shape, s) in spec.items():
                params[name] = (shape, s)
        params["v"] = ((n,), kernel.sigma_v / math.sqrt(n))
        for name, (shape, s) in params.items():
            raw = torch.randn(shape, generator=generator, dtype=dtype)
            if parametrization == "ntk":
                self._scale[name] = s
                self.register_parameter(name, torch.nn.Parameter(raw))
            else:
                self._scale[name] = 1.0
                self.register_parameter(name, torch.nn.Parameter(raw * s))
        self.dtype = dtype

    def sample_h0(self, batch: int, generator=None) -> torch.Tensor:
        """h(l, 0) ~ N(0, sigma_h_l^2 I_n) for every sequence: shape (L, batch, n)."""
        if isinstance(generator, (int, np.integer)):
            generator = torch.Generator().manual_seed(int(generator))
        z = torch.randn((self.kernel.n_layers, batch, self.width), generator=generator, dtype=self.dtype)
        sh = torch.tensor(self.kernel.sigma_h, dtype=self.dtype)[:, None, None]
        return sh * z

    def _w(self, name, t, params):
        """The raw parameter at time step t (its scale is applied to the product)."""
        p = params[name] if params is not None else getattr(self, name)
        return p if self.tied else p[t]

    def forward(self, x, lengths=None, h0=None, params=None, return_states=False):
        """Outputs f(x) of shape (B,).

        x : tensor (B, W, m), right-aligned; lengths : (B,) (default: all W);
        h0 : (L, B, n) initial states (default zeros; required if any sigma_h > 0
        so that the function is deterministic). ``params``: optional dict of
        tensors replacing the module's parameters (for torch.func).
        With ``return_states``, also returns the per-column pre-activations g
        (list over layers of lists over columns) and hidden states h.
        """
        B, W, m = x.shape
        if m != self.input_dim:
            raise ValueError(f"x has {m} features per step but the network expects {self.input_dim}")
        L, n = self.kernel.n_layers, self.width
        if lengths is None:
            lengths = torch.full((B,), W)
        start = W - torch.as_tensor(lengths)
        if not self.tied:
            if bool((start != 0).any()) or W != self.max_len:
                raise ValueError("untied weights are defined for equal lengths = max_len only")
        if h0 is None:
            if any(s > 0 for s in self.kernel.sigma_h):
                raise ValueError("sigma_h > 0: pass h0 (see sample_h0) so the function is deterministic")
            h0 = torch.zeros((L, B, n), dtype=x.dtype)
        h = [h0[l] for l in range(L)]
        gs = [[] for _ in range(L)]
        hs = [[h0[l]] for l in range(L)]
        for c in range(int(start.min()), W):
            active = (start <= c)[:, None]
            inp = x[:, c, :]
            for l in range(L):
                t = c
                # scale the (B, n) products, not the (n, n) weights: same function
                # and gradients, n times less work
                sc = self._scale
                g = sc[f"W{l}"] * (h[l] @ self._w(f"W{l}", t, params).T)
                g = g + sc[f"U{l}"] * (inp @ self._w(f"U{l}", t, params).T)
                g = g + sc[f"b{l}"] * self._w(f"b{l}", t, params)
                new = torch.where(active, self.phi(g), h[l])
                if return_states:
                    gs[l].append(g)
                    hs[l].append(new)
                h[l] = new
                inp = new
        v = params["v"] if params is not None else self.v
        out = self._scale["v"] * (h[L - 1] @ v)
        if return_states:
            return out, gs, hs, int(start.min())
        return out
