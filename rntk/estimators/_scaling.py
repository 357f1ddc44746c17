"""Scaling of whole series before a kernel sees them.

Two rules are in use for the RNTK on UCR data: the RNTK paper's text scales
every series to unit norm; the authors' public code divides every series by
the largest norm in the data set, which keeps the series' relative sizes. With
ReLU and sigma_b = sigma_h = 0 the RNTK is positively homogeneous of degree 2
in the pair, so the second rule only rescales the Gram (an SVM's C absorbs
it); with sigma_b or sigma_h > 0, or erf, the two rules give different kernels.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["SeriesScaler"]

_NORMS = ("unit", "dataset-max")


def _series_norms(X) -> np.ndarray:
    """Euclidean norm of every series over its finite values (trailing NaN padding ignored)."""
    if isinstance(X, (list, tuple)):
        if not X:
            raise ValueError("X is empty: no series to scale")
        return np.array([np.sqrt(np.nansum(np.asarray(s, dtype=np.float64) ** 2)) for s in X])
    A = np.asarray(X, dtype=np.float64)
    if A.ndim not in (2, 3) or A.shape[0] == 0:
        raise ValueError(f"X must be an (N, T) or (N, T, m) array of N >= 1 series, got shape {A.shape}")
    return np.sqrt(np.nansum((A * A).reshape(len(A), -1), axis=1))


def _scale(X, factors):
    if isinstance(X, (list, tuple)):
        return [np.asarray(s, dtype=np.float64) / f for s, f in zip(X, factors)]
    A = np.asarray(X, dtype=np.float64)
    return A / factors.reshape((-1,) + (1,) * (A.ndim - 1))


class SeriesScaler(TransformerMixin, BaseEstimator):
    """Scale whole series: each to unit norm, or all by the training set's largest norm.

    Parameters
    ----------
    norm : {"unit", "dataset-max"}
        "unit": every series divided by its own Euclidean norm (over all its
        steps and features). "dataset-max": every series divided by the
        largest norm among the series given to :meth:`fit` (the rule of the
        RNTK authors' code, which applies it to the whole data set; here it
        is fitted on training data only, so no test series informs it).

    Attributes
    ----------
    scale_ : float
        "dataset-max" only: the largest training norm.

    Examples
    --------
    >>> import numpy as np
    >>> from rntk.estimators import SeriesScaler
    >>> X = np.array([[3.0, 4.0], [0.6, 0.8]])
    >>> SeriesScaler("unit").fit_transform(X)
    array([[0.6, 0.8],
           [0.6, 0.8]])
    >>> SeriesScaler("dataset-max").fit_transform(X)
    array([[0.6 , 0.8 ],
           [0.12, 0.16]])
    """

    def __init__(self, norm: str = "unit"):
        self.norm = norm

    def fit(self, X, y=None):
        """Check the rule, and for "dataset-max" record the largest norm of ``X``."""
        if self.norm not in _NORMS:
            raise ValueError(f"norm must be one of {_NORMS}, got {self.norm!r}")
        norms = _series_norms(X)
        if not np.isfinite(norms).all():
            raise ValueError("X holds an infinite value; series norms are not finite")
        if self.norm == "dataset-max":
            if norms.max() == 0:
                raise ValueError("every series is all zeros: there is no norm to scale by")
            self.scale_ = float(norms.max())
        self.fitted_ = True
        return self

    def transform(self, X):
        """Scaled copies of the series, in the layout given (arrays or a list of arrays)."""
        check_is_fitted(self, "fitted_")
        norms = _series_norms(X)
        if self.norm == "unit":
            zero = np.flatnonzero(norms == 0)
            if len(zero):
                raise ValueError(f"series {int(zero[0])} is all zeros: it cannot be scaled to unit norm")
            return _scale(X, norms)
        return _scale(X, np.full(len(norms), self.scale_))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # trailing NaN marks a shorter series
        tags.requires_fit = True
        return tags
