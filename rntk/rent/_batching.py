"""Index batches of a :class:`SequenceData` as tensors, and no-grad passes over them."""
from __future__ import annotations

import numpy as np
import torch

from ._data import SequenceData

__all__ = ["Batcher", "outputs", "SCAN_CHUNK", "scan_chunk", "epoch_rng"]

# Passes that train nothing (validation, scoring, loss refreshes, gradient
# norms) go in chunks of this many samples: the RNN's cost per call dominates
# small batches, and a chunk without stored activations is cheap to hold.
SCAN_CHUNK = 256

_PURPOSE = {"partition": 0, "twin": 1, "order": 2, "amplification": 3}


def scan_chunk(batch_size: int) -> int:
    """Chunk size of a pass over the training set: :data:`SCAN_CHUNK`, or a
    training batch where that is larger (the device holds one, and smaller
    chunks would only add calls)."""
    return max(SCAN_CHUNK, batch_size)


def epoch_rng(seed: int, epoch: int, purpose: str) -> np.random.Generator:
    """The generator of one kind of random choice at one epoch.

    Seeded by (seed, epoch, purpose) and never carried over, so a run resumed
    after epoch e draws what an uninterrupted one would, with no RNG state in
    its checkpoint. ``purpose``: "partition", "twin" (the random twins' and the
    baselines' draws), "order" (batch order) or "amplification".
    """
    return np.random.default_rng([seed, epoch, _PURPOSE[purpose]])


class Batcher:
    """Moves index batches of a :class:`SequenceData` to tensors on a device.

    Parameters
    ----------
    data : SequenceData
    device : torch.device
    classification : bool
        Targets as int64 class ids (otherwise float32 values).
    element : bool
        Element-level targets, cut to the batch's longest sequence like the inputs.
    """

    def __init__(self, data: SequenceData, device, classification: bool, element: bool):
        X = np.asarray(data.X)
        self.X = torch.as_tensor(X if not np.issubdtype(X.dtype, np.floating) else X.astype(np.float32))
        self.lengths = torch.as_tensor(np.asarray(data.lengths), dtype=torch.int64)
        y = np.asarray(data.y)
        self.y = torch.as_tensor(y.astype(np.int64) if classification else y.astype(np.float32))
        self.device, self.element = device, element
        self.T = self.X.shape[1]

    def get(self, ids):
        """(x, lengths, y) of the samples ``ids``; x and y on the device, lengths on the CPU."""
        ids = torch.as_tensor(np.asarray(ids), dtype=torch.int64)
        lengths = self.lengths[ids]
        T = int(lengths.max())
        x = self.X[ids, :T].to(self.device)
        y = self.y[ids]
        if self.element:
            y = y[:, :T]
        return x, lengths, y.to(self.device)


def outputs(model, batcher: Batcher, ids, chunk: int) -> np.ndarray:
    """Model outputs on ``ids`` as numpy, in eval mode without gradients, ``chunk`` samples a call.

    Element-level outputs are zero-padded to the data's full length, so chunks
    of different longest lengths stack.
    """
    outs = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(ids), chunk):
            x, lengths, _ = batcher.get(ids[i : i + chunk])
            o = model(x, lengths).float().cpu().numpy()
            if batcher.element and o.shape[1] < batcher.T:
                o = np.concatenate([o, np.zeros((o.shape[0], batcher.T - o.shape[1], o.shape[2]), o.dtype)], 1)
            outs.append(o)
    model.train()
    return np.concatenate(outs)
