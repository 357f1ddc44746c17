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

from .._validation import check_sequences
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
    """Whether trailing-NaN (variable-length) rows are valid input for ``kernel``.

    Read from the kernel's declared ``capabilities``; a kernel that declares
    none is taken to need sequences of one length. ``None`` stands for the
    default ``RNTK()``.
    """
    if kernel is None:
        return RNTK.capabilities.variable_length
    return bool(getattr(getattr(kernel, "capabilities", None), "variable_length", False))


def _fixed_length_hint(kernel: Any) -> str:
    """How to go on when ``kernel`` was given sequences of several lengths."""
    hint = ("pad them with rntk.pad_sequences, or use a kernel that reads variable lengths "
            "(rntk.RNTK, rntk.GAKKernel)")
    if getattr(kernel, "capabilities", None) is None:
        hint += (f". {type(kernel).__name__} declares no capabilities, so it is taken to need one "
                 "length; a kernel whose gram reads variable lengths (a list of (T_i, m) arrays, "
                 "or trailing NaN) says so with a class attribute "
                 "capabilities = rntk.kernels.Capabilities(variable_length=True, diag=False)")
    return hint


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


def _ragged_lengths(X) -> list[int] | None:
    """The lengths of a list of sequences of different lengths; None for any other input."""
    if not isinstance(X, (list, tuple)) or not X:
        return None
    shapes = []
    for s in X:
        try:
            shape = np.shape(s) if isinstance(s, (np.ndarray, list, tuple)) else None
        except ValueError:  # a ragged sequence: left to the usual checks
            return None
        if not shape:
            return None  # not a list of sequences: left to the usual checks
        shapes.append(shape)
    if len({sh[0] for sh in shapes}) == 1:
        return None
    return [sh[0] for sh in shapes]


def _pad_ragged(X, kernel, width=None):
    """A list of sequences of different lengths as one NaN-padded array (trailing
    NaN: a shorter sequence), for the kernels that read that padding."""
    lengths = _ragged_lengths(X)
    if lengths is None:
        return X
    if not _accepts_padding(kernel):
        raise ValueError(
            f"X is a list of sequences of different lengths ({min(lengths)} to {max(lengths)} "
            f"time steps); {kernel!r} takes sequences of one length only: "
            + _fixed_length_hint(kernel)
        )
    b = check_sequences(X, "X")  # the one parser of sequence collections: shapes, NaN, feature counts
    T = max(lengths)
    if width is not None:
        if T > width:
            i = int(np.argmax(lengths))
            raise ValueError(
                f"sequence {i} of X has {T} time steps, more than the {width} of the training "
                f"inputs (the test inputs may not be longer)"
            )
        T = width
    out = np.full((len(b), T, b.n_features), np.nan)
    for i, t in enumerate(b.lengths):
        out[i, :t] = b.data[i, :t]
    return out[..., 0] if all(np.ndim(s) == 1 for s in X) else out


class _KernelMixin:
    """Fitting on a precomputed Gram: shared input handling and tags."""

    def _validate(self, X, y="no_validation", reset=True):
        # width=: test sequences are padded to the training width, which the
        # estimator's shape check expects
        width = None if reset else self.X_fit_.shape[1]
        X = _pad_ragged(X, self.kernel, width)
        # Trailing NaN pass here for kernels that declare variable lengths (the
        # RNTK, the GAK), whose own checks reject NaN anywhere else (so the
        # allow_nan tag, which means "NaN anywhere", stays False).
        nan = "allow-nan" if _accepts_padding(self.kernel) else True
        try:
            if isinstance(y, str) and y == "no_validation":
                return validate_data(
                    self, X, reset=reset, ensure_all_finite=nan, allow_nd=True, dtype=np.float64
                )
            return validate_data(
                self, X, y, reset=reset, ensure_all_finite=nan, allow_nd=True, dtype=np.float64,
                y_numeric=isinstance(self, RegressorMixin), multi_output=isinstance(self, RegressorMixin),
            )
        except ValueError as e:
            # trailing NaN may have been meant as shorter sequences: say how to go on
            if nan is True and self.kernel is not None and str(e).startswith("Input X contains NaN"):
                raise ValueError(
                    f"Input X contains NaN; {self.kernel!r} takes finite sequences of one length "
                    "(if trailing NaN mark shorter sequences: " + _fixed_length_hint(self.kernel) + ")"
                ) from e
            raise

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
    (n_samples, T, m). With a kernel whose ``capabilities.variable_length``
    is True (the RNTK, the GAK), rows may end in trailing NaN (shorter
    sequences, the :func:`rntk.datasets.load_ucr` layout), and X may be a list
    of sequences of different lengths, arrays of shape (T_i,) or (T_i, m),
    which are NaN-padded so; other kernels (a kernel without ``capabilities``
    among them) take finite rows of one length only. Test inputs must have
    the training inputs' T (a list of sequences of different lengths is
    padded to it).

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
