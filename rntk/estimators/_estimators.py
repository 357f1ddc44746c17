"""scikit-learn estimators on a kernel object's precomputed Gram.

:class:`KernelSVC` and :class:`KernelRidgeRegressor` take any object with the
rntk ``gram(X, Y=None) -> KernelResult`` API (:class:`rntk.RNTK`,
:class:`rntk.MLPNTK`, :class:`rntk.RBFKernel`, :class:`rntk.PolynomialKernel`)
and fit scikit-learn's ``SVC(kernel="precomputed")`` /
``KernelRidge(kernel="precomputed")`` on ``gram(X_train).ntk`` (or ``.nngp``);
prediction uses ``gram(X_new, X_train)``. scikit-learn is imported here, never
by ``import rntk``.
"""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..kernels import RNTK

__all__ = ["KernelSVC", "KernelRidgeRegressor", "gram_block"]

OUTPUTS = ("ntk", "nngp")


def _kernel_or_default(kernel: Any):
    if kernel is None:
        return RNTK()
    if not callable(getattr(kernel, "gram", None)):
        raise ValueError(
            f"kernel must be an object with a gram(X, Y=None) method (rntk.RNTK, "
            f"rntk.MLPNTK, rntk.RBFKernel, rntk.PolynomialKernel), got {kernel!r}"
        )
    return kernel


def _accepts_padding(kernel: Any) -> bool:
    """Whether trailing-NaN (variable-length) rows are valid input for ``kernel``."""
    return kernel is None or isinstance(kernel, RNTK)


def gram_block(kernel: Any, X, Y=None, output: str = "ntk") -> np.ndarray:
    """One Gram block of a kernel object as a float64 array.

    Parameters
    ----------
    kernel : object with ``gram(X, Y=None)``
    X : array of shape (n_x, T) or (n_x, T, m)
    Y : array of shape (n_y, T) or (n_y, T, m), optional
        None: the symmetric training Gram of X (for the RNTK, with the
        sigma_h term on the diagonal).
    output : {"ntk", "nngp"}

    Returns
    -------
    ndarray of shape (n_x, n_y or n_x)
    """
    if output not in OUTPUTS:
        raise ValueError(f"output must be 'ntk' or 'nngp', got {output!r}")
    res = kernel.gram(X) if Y is None else kernel.gram(X, Y)
    K = np.asarray(getattr(res, output), dtype=np.float64)
    want = (len(X), len(X) if Y is None else len(Y))
    if K.shape != want:
        raise ValueError(f"{kernel!r}.gram returned shape {K.shape}, expected {want}")
    if not np.isfinite(K).all():
        raise ValueError(
            f"{kernel!r} gave non-finite Gram values; check the inputs and hyperparameters"
        )
    return K


def _check_positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return value


class _KernelMixin:
    """Fitting on a precomputed Gram: shared input handling and tags."""

    def _validate(self, X, y="no_validation", reset=True):
        # Trailing NaN pass here for the RNTK, whose own check rejects NaN
        # anywhere else (so the allow_nan tag, which means "NaN anywhere",
        # stays False).
        nan = "allow-nan" if _accepts_padding(self.kernel) else True
        if isinstance(y, str) and y == "no_validation":
            return validate_data(
                self, X, reset=reset, ensure_all_finite=nan, allow_nd=True, dtype=np.float64
            )
        return validate_data(
            self, X, y, reset=reset, ensure_all_finite=nan, allow_nd=True, dtype=np.float64,
            y_numeric=isinstance(self, RegressorMixin), multi_output=isinstance(self, RegressorMixin),
        )

    def _test_gram(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        return gram_block(self.kernel_, X, self.X_fit_, self.output)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        if isinstance(self, RegressorMixin):
            tags.target_tags.multi_output = True
        return tags


class KernelSVC(_KernelMixin, ClassifierMixin, BaseEstimator):
    """C-SVM classifier on the Gram of an rntk kernel object.

    Parameters
    ----------
    kernel : object with ``gram(X, Y=None)``, optional
        :class:`rntk.RNTK` (default: ``RNTK()``), :class:`rntk.MLPNTK`,
        :class:`rntk.RBFKernel`, :class:`rntk.PolynomialKernel`, ...
    C : float, > 0
        SVM cost.
    output : {"ntk", "nngp"}
        Which kernel of the :class:`~rntk.KernelResult` to use.
    class_weight, tol, max_iter, break_ties
        Passed to :class:`sklearn.svm.SVC`.

    Attributes
    ----------
    kernel_ : the kernel object used
    X_fit_ : ndarray of shape (n_samples, T) or (n_samples, T, m)
        Training inputs (needed for the test-by-train Gram).
    svc_ : sklearn.svm.SVC
        Fitted on the precomputed training Gram.
    classes_ : ndarray of shape (n_classes,)
    n_iter_ : ndarray of shape (n_classes * (n_classes - 1) // 2,)
        libsvm iterations per one-vs-one problem.

    Notes
    -----
    Inputs are 2-D arrays (n_samples, T) (one feature a step) or 3-D arrays
    (n_samples, T, m). With the RNTK, rows may end in trailing NaN (shorter
    sequences, the :func:`rntk.datasets.load_ucr` layout); the baseline kernels
    take finite rows only. Test inputs must have the training inputs' T.

    Examples
    --------
    >>> import numpy as np
    >>> from rntk import RNTK
    >>> from rntk.estimators import KernelSVC
    >>> X = np.array([[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.2]])
    >>> KernelSVC(RNTK(sigma_b=0.1), C=10).fit(X, [0, 0, 1, 1]).predict(X).tolist()
    [0, 0, 1, 1]
    """

    def __init__(self, kernel=None, C=1.0, output="ntk", class_weight=None, tol=1e-3,
                 max_iter=-1, break_ties=False):
        self.kernel = kernel
        self.C = C
        self.output = output
        self.class_weight = class_weight
        self.tol = tol
        self.max_iter = max_iter
        self.break_ties = break_ties

    def fit(self, X, y):
        """Fit the SVM on ``gram(X)``; X of shape (n_samples, T) or (n_samples, T, m)."""
        from sklearn.svm import SVC

        C = _check_positive(self.C, "C")
        X, y = self._validate(X, y)
        check_classification_targets(y)
        self.kernel_ = _kernel_or_default(self.kernel)
        K = gram_block(self.kernel_, X, None, self.output)
        self.svc_ = SVC(kernel="precomputed", C=C, class_weight=self.class_weight, tol=self.tol,
                        max_iter=self.max_iter, break_ties=self.break_ties).fit(K, y)
        self.classes_ = self.svc_.classes_
        self.n_iter_ = self.svc_.n_iter_
        self.X_fit_ = X
        return self

    def decision_function(self, X):
        """SVC decision values of ``gram(X, X_fit_)``."""
        K = self._test_gram(X)  # checks fitted first
        return self.svc_.decision_function(K)

    def predict(self, X):
        """Predicted class labels, shape (n_samples,)."""
        K = self._test_gram(X)
        return self.svc_.predict(K)


class KernelRidgeRegressor(_KernelMixin, RegressorMixin, BaseEstimator):
    """Kernel ridge regression on the Gram of an rntk kernel object.

    Parameters
    ----------
    kernel : object with ``gram(X, Y=None)``, optional
        As for :class:`KernelSVC` (default ``RNTK()``).
    alpha : float, >= 0
        Ridge term lambda (0 is allowed: scikit-learn then falls back to a
        least-squares solve and warns when the Gram is singular).
    output : {"ntk", "nngp"}

    Attributes
    ----------
    kernel_, X_fit_
        As for :class:`KernelSVC`.
    ridge_ : sklearn.kernel_ridge.KernelRidge

    Examples
    --------
    >>> import numpy as np
    >>> from rntk import RNTK
    >>> from rntk.estimators import KernelRidgeRegressor
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    >>> m = KernelRidgeRegressor(RNTK(), alpha=1e-8).fit(X, [1.0, 2.0, 3.0])
    >>> np.round(m.predict(X), 4).tolist()
    [1.0, 2.0, 3.0]
    """

    def __init__(self, kernel=None, alpha=1.0, output="ntk"):
        self.kernel = kernel
        self.alpha = alpha
        self.output = output

    def fit(self, X, y):
        """Fit kernel ridge on ``gram(X)``; y of shape (n_samples,) or (n_samples, n_targets)."""
        from sklearn.kernel_ridge import KernelRidge

        alpha = self.alpha
        if isinstance(alpha, bool) or not isinstance(alpha, (numbers.Real, np.floating, np.integer)) \
                or not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a finite real number >= 0, got {alpha!r}")
        X, y = self._validate(X, y)
        self.kernel_ = _kernel_or_default(self.kernel)
        K = gram_block(self.kernel_, X, None, self.output)
        self.ridge_ = KernelRidge(kernel="precomputed", alpha=float(alpha)).fit(K, y)
        self.X_fit_ = X
        return self

    def predict(self, X):
        """Predictions, shape (n_samples,) or (n_samples, n_targets)."""
        K = self._test_gram(X)
        return self.ridge_.predict(K)
