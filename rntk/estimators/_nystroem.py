"""Nyström feature map of an rntk kernel: linear models at the cost of N x k kernel values.

With landmarks S (k of the training sequences), the map

    phi(x) = K(x, S) K(S, S)^(-1/2)

gives features whose inner products are the Nyström approximation
K(X, S) K(S, S)^+ K(S, X) of the Gram. A linear SVM or ridge on them stands
in for the kernel machine on the N x N Gram, at O(N k) kernel values and
O(N k^2) arithmetic. scikit-learn's ``Nystroem`` conventions throughout
(``n_components``, ``components_``, ``component_indices_``, ``normalization_``
from the SVD of K(S, S) with singular values floored at 1e-12); the kernel
values come from the kernel object's ``gram`` (its fused kernel), not from a
per-pair callable. ``gram(X, Y)`` is the kernel of two inputs, so the map
approximates ``gram(X, X)``: for the RNTK with ``sigma_h > 0`` the training
Gram ``gram(X)`` differs from it on the diagonal (the sigma_h term of a
sample's own initial state), which a map of single inputs cannot express.
"""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from .._validation import as_generator
from ._estimators import OUTPUTS, _accepts_padding, _kernel_or_default, _pad_ragged, gram_block

__all__ = ["LANDMARKS", "Nystroem"]

LANDMARKS = ("uniform", "kmeans++", "leverage")
OVERSAMPLE = 2  # leverage: uniform columns drawn per landmark to estimate the scores


class Nystroem(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Nyström features of an rntk kernel, for linear models on many sequences.

    Parameters
    ----------
    kernel : object with ``gram(X, Y=None)``, optional
        :class:`rntk.RNTK` (default ``RNTK()``) or another rntk kernel.
    n_components : int
        Landmarks k (at most the number of training sequences; more are cut
        to it with a warning, as scikit-learn does).
    landmarks : {"uniform", "kmeans++", "leverage"}
        "uniform": k training sequences drawn without replacement.
        "kmeans++": kernel k-means++ seeding, each next landmark drawn with
        probability proportional to its squared feature-space distance to the
        nearest landmark so far (k kernel columns, one after another).
        "leverage": approximate ridge leverage scores from 2k uniform columns
        (the ridge chosen so that the scores sum to k), then k sequences drawn
        without replacement with probability proportional to them.
    output : {"ntk", "nngp"}
    random_state : int, numpy Generator or None

    Attributes
    ----------
    kernel_ : the kernel object used
    components_ : ndarray of shape (k, T) or (k, T, m)
        The landmark sequences.
    component_indices_ : ndarray of shape (k,)
        Their rows in the training inputs.
    normalization_ : ndarray of shape (k, k)
        K(S, S)^(-1/2) (pseudo-inverse square root).
    n_features_in_ : int
        T, the training inputs' time steps.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.linear_model import RidgeClassifier
    >>> from rntk import RNTK
    >>> from rntk.estimators import Nystroem
    >>> X = np.random.default_rng(0).normal(size=(40, 8))
    >>> y = (X[:, -1] > 0).astype(int)
    >>> clf = make_pipeline(Nystroem(RNTK(), n_components=20, random_state=0), RidgeClassifier(alpha=1e-3))
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    """

    def __init__(self, kernel=None, n_components=100, landmarks="uniform", output="ntk", random_state=None):
        self.kernel = kernel
        self.n_components = n_components
        self.landmarks = landmarks
        self.output = output
        self.random_state = random_state

    def _check_X(self, X, reset: bool):
        X = _pad_ragged(X, self.kernel, None if reset else self.n_features_in_)
        nan = "allow-nan" if _accepts_padding(self.kernel) else True
        return validate_data(self, X, reset=reset, ensure_all_finite=nan, allow_nd=True, dtype=np.float64)

    def fit(self, X, y=None):
        """Choose the landmarks among the rows of X and factor K(S, S).

        Parameters
        ----------
        X : array of shape (n_samples, T) or (n_samples, T, m), or a list of sequences
        y : ignored

        Returns
        -------
        self
        """
        k = self.n_components
        if isinstance(k, bool) or not isinstance(k, (numbers.Integral, np.integer)) or k < 1:
            raise ValueError(f"n_components must be a positive integer, got {k!r}")
        if self.landmarks not in LANDMARKS:
            raise ValueError(f"landmarks must be one of {LANDMARKS}, got {self.landmarks!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be 'ntk' or 'nngp', got {self.output!r}")
        X = self._check_X(X, reset=True)
        self.kernel_ = _kernel_or_default(self.kernel)
        n = len(X)
        if k > n:
            import warnings

            warnings.warn(f"n_components = {k} > n_samples = {n}: using n_components = {n}", stacklevel=2)
            k = n
        rng = as_generator(self.random_state)
        if self.landmarks == "uniform":
            idx = np.sort(rng.choice(n, size=k, replace=False))
        elif self.landmarks == "kmeans++":
            idx = self._kmeanspp(X, k, rng)
        else:
            idx = self._leverage(X, k, rng)
        S = X[idx]
        W = gram_block(self.kernel_, S, S, self.output)  # the kernel of two inputs, as transform uses
        U, s, Vt = np.linalg.svd(W)
        s = np.maximum(s, 1e-12)
        self.normalization_ = (U / np.sqrt(s)) @ Vt
        self.components_ = S
        self.component_indices_ = idx
        self._n_features_out = k
        return self

    def transform(self, X):
        """Features of shape (n_samples, n_components): K(X, S) normalization_.T."""
        check_is_fitted(self)
        X = self._check_X(X, reset=False)
        return gram_block(self.kernel_, X, self.components_, self.output) @ self.normalization_.T

    def _diag(self, X) -> np.ndarray:
        """k(x, x) of every row (the kernel of two inputs: no sigma_h term)."""
        caps = getattr(self.kernel_, "capabilities", None)
        if getattr(caps, "diag", False) and not np.any(getattr(self.kernel_, "sigma_h", 0.0)):
            # O(N T) and equal to gram(X, X)'s diagonal when there is no sigma_h term
            return np.asarray(getattr(self.kernel_.diag(X), self.output), dtype=np.float64)
        return np.array([gram_block(self.kernel_, X[i : i + 1], X[i : i + 1], self.output)[0, 0]
                         for i in range(len(X))])

    def _kmeanspp(self, X, k, rng) -> np.ndarray:
        d = self._diag(X)
        idx = [int(rng.integers(len(X)))]
        d2 = np.full(len(X), np.inf)
        for _ in range(1, k):
            c = idx[-1]
            # one landmark by all N as a row: the fused kernel runs a 1 x N block ~3x faster than
            # N x 1 (its SIMD loop runs along a row); the kernel of two inputs is symmetric
            col = gram_block(self.kernel_, X[c : c + 1], X, self.output)[0]
            d2 = np.minimum(d2, np.maximum(d + d[c] - 2 * col, 0.0))
            d2[idx] = 0.0
            total = d2.sum()
            if not total > 0:  # every sequence coincides with a landmark: fill uniformly
                rest = np.setdiff1d(np.arange(len(X)), idx)
                idx += rng.choice(rest, size=k - len(idx), replace=False).tolist()
                break
            idx.append(int(rng.choice(len(X), p=d2 / total)))
        return np.sort(np.array(idx))

    def _leverage(self, X, k, rng) -> np.ndarray:
        """Ridge leverage scores l_i = [K (K + lam I)^-1]_ii estimated from s = 2k uniform columns
        U (Musco & Musco 2017, eq. 4, one uniform round instead of their recursion):
        l_i ~ (K_ii - a c_i^T (a W + lam I)^-1 c_i) / lam with c_i = K(x_i, U), W = K(U, U) and
        a = n / s; the residual K_ii - ... keeps sequences far from U's span likely. lam is set
        so that the scores sum to k (the effective dimension of k landmarks)."""
        n = len(X)
        s = min(n, OVERSAMPLE * k)
        u = np.sort(rng.choice(n, size=s, replace=False))
        C = gram_block(self.kernel_, X, X[u], self.output)
        W = C[u]  # K(U, U): rows u of K(X, U)
        w, V = np.linalg.eigh((W + W.T) / 2)
        w = np.maximum(w, 0.0)
        Z2 = (C @ V) ** 2
        d = self._diag(X)
        a = n / s

        def scores(lam):
            quad = Z2 @ (a / (a * w + lam))
            return np.clip((d - quad) / lam, 0.0, 1.0)

        lo, hi = 1e-14 * max(a * w.max(), d.max()), 1e3 * max(a * w.max(), d.max()) * n
        for _ in range(100):  # the score sum falls as lam grows: bisection in log lam
            mid = np.sqrt(lo * hi)
            lo, hi = (mid, hi) if scores(mid).sum() > k else (lo, mid)
        p = scores(np.sqrt(lo * hi))
        p = p + 1e-12 * max(p.max(), 1e-300)  # every sequence stays possible: k distinct draws
        return np.sort(rng.choice(n, size=k, replace=False, p=p / p.sum()))
