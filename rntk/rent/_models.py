"""Recurrent learners for ReNT (torch): Elman, GRU and LSTM, any depth.

Inputs are left-aligned batches (B, T, m) with per-sample lengths (padding
after the end is ignored through packing), or token ids (B, T) with
``vocab_size`` set. ``level="sequence"``: one output vector per sequence,
read from the top layer's state at the sample's last step;
``level="element"``: one output vector per step (the caller masks padding).
"""
from __future__ import annotations

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .._validation import check_positive_int

__all__ = ["SequenceModel"]

_CELLS = {"elman": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}


class SequenceModel(torch.nn.Module):
    """A recurrent network with a linear read-out.

    Parameters
    ----------
    cell : {"elman", "gru", "lstm"}
    input_dim : features per step (ignored with ``vocab_size``)
    hidden : units per layer; n_layers : depth; out_dim : outputs per read-out
    level : {"sequence", "element"}
    nonlinearity : Elman activation, "tanh" (spec A16) or "relu"
    vocab_size : optional; inputs are then integer token ids, embedded to ``input_dim``
    """

    def __init__(self, cell="elman", input_dim=1, hidden=64, n_layers=2, out_dim=1, *, level="sequence",
                 nonlinearity="tanh", vocab_size=None):
        super().__init__()
        if cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {cell!r}")
        if level not in ("sequence", "element"):
            raise ValueError(f"level must be 'sequence' or 'element', got {level!r}")
        for name, v in (("input_dim", input_dim), ("hidden", hidden), ("n_layers", n_layers), ("out_dim", out_dim)):
            check_positive_int(v, name)
        kw = dict(nonlinearity=nonlinearity) if cell == "elman" else {}
        self.embed = None if vocab_size is None else torch.nn.Embedding(vocab_size, input_dim)
        self.rnn = _CELLS[cell](input_dim, hidden, num_layers=n_layers, batch_first=True, **kw)
        self.head = torch.nn.Linear(hidden, out_dim)
        self.level = level
        self.cell = cell

    def forward(self, x, lengths):
        """x (B, T, m) or token ids (B, T); lengths (B,) -> (B, out) or (B, T, out)."""
        if self.embed is not None:
            x = self.embed(x)
        lengths = torch.as_tensor(lengths, dtype=torch.int64).cpu()
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        if self.level == "element":
            h, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            return self.head(h)
        h_n = state[0] if self.cell == "lstm" else state
        return self.head(h_n[-1])
