"""Summary metrics over many datasets (RNTK paper, Appendix A.1, eqs. 26-28).

``acc`` is an array of shape (n_datasets, n_classifiers): the test accuracy of
classifier j on dataset i (fractions or percents: every metric here is
unchanged by a common scale, except ``mean_accuracy`` which keeps the unit).
"""
from __future__ import annotations

import numpy as np

__all__ = ["mean_accuracy", "p_within", "pma", "friedman_rank", "summarize"]


def _check(acc) -> np.ndarray:
    a = np.asarray(acc, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(
            f"acc must have shape (n_datasets, n_classifiers) with both >= 1, got shape {a.shape}"
        )
    if not np.isfinite(a).all():
        i, j = np.argwhere(~np.isfinite(a))[0]
        raise ValueError(f"acc[{i}, {j}] is not finite ({a[i, j]}); fill in every result")
    if (a < 0).any():
        raise ValueError("accuracies must be >= 0")
    return a


def mean_accuracy(acc) -> np.ndarray:
    """Mean accuracy of every classifier over datasets, shape (n_classifiers,)."""
    return _check(acc).mean(axis=0)


def p_within(acc, fraction: float) -> np.ndarray:
    """Fraction of datasets on which a classifier reaches ``fraction`` of the best.

    ``P90 = p_within(acc, 0.9)``, ``P95 = p_within(acc, 0.95)`` (eq. 26):
    ``mean_i 1(acc_ij >= fraction * max_j' acc_ij')``. Shape (n_classifiers,).
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    a = _check(acc)
    return (a >= fraction * a.max(axis=1, keepdims=True)).mean(axis=0)


def pma(acc) -> np.ndarray:
    """Percentage of maximum accuracy (eq. 27), as a fraction, shape (n_classifiers,).

    ``mean_i acc_ij / max_j' acc_ij'``; a dataset on which every classifier
    has accuracy 0 is an error (the ratio is undefined).
    """
    a = _check(acc)
    best = a.max(axis=1, keepdims=True)
    if (best == 0).any():
        i = int(np.argmax(best[:, 0] == 0))
        raise ValueError(f"every classifier has accuracy 0 on dataset {i}: PMA undefined")
    return (a / best).mean(axis=0)


def friedman_rank(acc, ties: str = "average") -> np.ndarray:
    """Mean rank of every classifier over datasets (eq. 28), shape (n_classifiers,).

    On each dataset the most accurate classifier gets rank 1. Lower is better.

    Parameters
    ----------
    acc : array of shape (n_datasets, n_classifiers)
    ties : {"average", "min"}
        "average": tied classifiers share the mean of the ranks they span (two
        tied for first both get 1.5), the usual convention of the Friedman
        test. "min": they all get the best of those ranks (both get 1), which
        is what reproduces the RNTK paper's Table 1 from its Table 2 for the
        kernel columns (the paper does not say which it used).
    """
    from scipy.stats import rankdata

    if ties not in ("average", "min"):
        raise ValueError(f"ties must be 'average' or 'min', got {ties!r}")
    a = _check(acc)
    return rankdata(-a, method=ties, axis=1).mean(axis=0)


def summarize(acc, names=None, ties: str = "average") -> dict:
    """All of the paper's Table 1 metrics, keyed by classifier name.

    Returns
    -------
    dict
        ``{name: {"mean", "std", "p90", "p95", "pma", "friedman_rank"}}``;
        ``std`` is the sample standard deviation over datasets (ddof = 1, the
        paper's "±"; 0 for a single dataset); ``ties`` as in
        :func:`friedman_rank`.
    """
    a = _check(acc)
    names = list(range(a.shape[1])) if names is None else list(names)
    if len(names) != a.shape[1]:
        raise ValueError(f"{len(names)} names for {a.shape[1]} classifiers")
    cols = {
        "mean": mean_accuracy(a),
        "std": a.std(axis=0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1]),
        "p90": p_within(a, 0.9),
        "p95": p_within(a, 0.95),
        "pma": pma(a),
        "friedman_rank": friedman_rank(a, ties),
    }
    return {n: {k: float(v[j]) for k, v in cols.items()} for j, n in enumerate(names)}
