"""The finite networks of the RNTK's variants (frozen layers, read-outs, directions).

``RNTK(frozen_layers=k, readout=..., direction=...)`` is the infinite-width
kernel of the network built here (derivations in ``docs/kernel.md``, "Kernel
variants"):

* one plain :class:`RNN` trunk per direction ("forward", "reversed": the RNN
  reads the sequence backwards; "bidirectional": two independent trunks whose
  outputs are added), each with its own parameters and initial states;
* the read-out of each trunk: "last" its own ``v`` on the last state;
  "per-step" an independent vector ``V[s]`` on the state ``s`` steps before the
  end, output scaled by ``T^(-1/2)``; "mean" its ``v`` on the mean state
  ``(1/T) sum_t h(L, t)``;
* frozen layers: the parameters of layers ``1..k`` are left out of the
  gradient (they keep their random values), so the tangent kernel sums the
  other parameters' gradient inner products only.

Its empirical NTK is computed by full Jacobians (:func:`jacobian_ntk`), so
nothing here shares the recursion it is used to check.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from .._validation import check_positive_int, check_sequences
from ._ntk import jacobian_ntk
from ._rnn import RNN, as_batch

__all__ = ["VariantRNN", "variant_ntk"]

_TRUNKS = {"forward": ("f",), "reversed": ("r",), "bidirectional": ("f", "r")}


def _generator(generator):
    if isinstance(generator, (int, np.integer)):
        return torch.Generator().manual_seed(int(generator))
    return generator


class VariantRNN:
    """The network whose infinite-width kernels are ``kernel``'s (any read-out, direction, frozen layers).

    Parameters
    ----------
    kernel : rntk.RNTK
    width : int
        Hidden units per layer.
    input_dim : int
    max_len : int
        Longest sequence the per-step read-out has a vector for (ignored otherwise).
    generator : torch.Generator or int, optional
    """

    def __init__(self, kernel, width: int, input_dim: int, *, max_len: int = 1, generator=None,
                 dtype=torch.float64):
        check_positive_int(max_len, "max_len")
        g = _generator(generator)
        self.kernel, self.width, self.max_len, self.dtype = kernel, int(width), int(max_len), dtype
        trunk = replace(kernel, frozen_layers=0, direction="forward", readout="last")
        self.trunks = {d: RNN(trunk, width, input_dim, generator=g, dtype=dtype) for d in _TRUNKS[kernel.direction]}
        self.params = {}
        for d, rnn in self.trunks.items():
            for name, p in rnn.named_parameters():
                self.params[f"{d}.{name}"] = p.detach()
            if kernel.readout == "per-step":  # one read-out vector per lag s = 0..max_len-1
                self.params[f"{d}.V"] = torch.randn((self.max_len, self.width), generator=g, dtype=dtype)

    def trained(self) -> dict:
        """The parameters the gradient sees: all but layers ``1..frozen_layers`` (0-based ``< k``)."""
        k = self.kernel.frozen_layers

        def frozen(name):
            p = name.split(".", 1)[1]
            return p[0] in "WUb" and int(p[1:]) < k

        return {n: p for n, p in self.params.items() if not frozen(n)}

    def inputs(self, X, generator=None):
        """Per trunk: the right-aligned batch (reversed sequences for "r"), lengths, h(l, 0)."""
        g = _generator(generator)
        b = check_sequences(X)
        seqs = [b.data[i, : b.lengths[i]] for i in range(len(b))]
        out = {}
        for d, rnn in self.trunks.items():
            x, lx = as_batch(seqs if d == "f" else [s[::-1] for s in seqs], dtype=self.dtype)
            if self.kernel.readout == "per-step" and int(lx.max()) > self.max_len:
                raise ValueError(f"a sequence of length {int(lx.max())} is longer than max_len = {self.max_len}")
            out[d] = (x, lx, rnn.sample_h0(len(lx), g))
        return out

    def __call__(self, params: dict, inputs: dict) -> torch.Tensor:
        """Outputs f of shape (N,): the sum over trunks of each trunk's read-out."""
        params = {**self.params, **params}
        total = 0
        for d, rnn in self.trunks.items():
            own = {n.split(".", 1)[1]: p for n, p in params.items() if n.startswith(d + ".")}
            total = total + self._readout(rnn, own, *inputs[d])
        return total

    def _readout(self, rnn, prm, x, lx, h0):
        readout = self.kernel.readout
        if readout == "last":
            return rnn(x, lx, h0, params=prm)
        net = {k: v for k, v in prm.items() if k != "V"}
        _, _, hs, c0 = rnn(x, lx, h0, params=net, return_states=True)
        W = x.shape[1]
        start = W - lx
        sv = self.kernel.sigma_v / math.sqrt(self.width)
        total = 0
        for j, c in enumerate(range(c0, W)):
            h = torch.where((start <= c)[:, None], hs[-1][j + 1], 0.0)  # the state after column c
            total = total + (h @ prm["V"][W - 1 - c] if readout == "per-step" else h)
        if readout == "per-step":
            return sv * total / torch.sqrt(lx.to(self.dtype))
        return sv * (total @ prm["v"]) / lx.to(self.dtype)


def variant_ntk(kernel, X, width: int, generator=None, dtype=torch.float64):
    """Empirical NTK Gram and outputs of one random :class:`VariantRNN` on ``X``.

    Every sequence draws its own initial states (so sigma_h enters the
    diagonal only, as in ``kernel.gram(X)``).

    Returns
    -------
    ntk : ndarray of shape (N, N)
    f : ndarray of shape (N,)
        The outputs at initialisation (``outer(f, f)`` estimates the NNGP).
    """
    g = _generator(generator)
    x, lx = as_batch(X)
    net = VariantRNN(kernel, width, x.shape[2], max_len=int(lx.max()), generator=g, dtype=dtype)
    inputs = net.inputs(X, g)
    K = jacobian_ntk(net, net.trained(), inputs)
    with torch.no_grad():
        f = net(net.trained(), inputs)
    return K.detach().numpy(), f.detach().numpy()
