"""Small ReNT training data shared by the trainer tests."""
import numpy as np

from rntk.rent import SequenceData


def regression_sequences(rng, n, T, m=2):
    """n sequences of lengths 2..T (zero-padded), target 0.3 x the sum of feature 0."""
    X = rng.standard_normal((n, T, m))
    lengths = rng.integers(2, T + 1, n)
    for i, L in enumerate(lengths):
        X[i, L:] = 0.0
    y = np.array([X[i, :L, 0].sum() * 0.3 for i, L in enumerate(lengths)])
    return SequenceData(X, lengths, y)
