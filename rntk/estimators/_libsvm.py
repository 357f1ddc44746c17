"""C-SVM fits on a precomputed Gram, straight through scikit-learn's libsvm binding.

A grid search over kernels, C values and CV folds makes millions of small fits
(the RNTK paper's Table 1 protocol: ~3 million over its grids and datasets).
``SVC(kernel="precomputed").fit`` spends ~1 ms of each on input validation and
bookkeeping around the libsvm call, more than the call itself for the small
UCR training sets. This module makes the same libsvm call that ``SVC.fit`` and
``SVC.predict`` make, with the same arguments and the same label encoding, so
the predictions are identical (``tests/test_estimators.py`` compares them on
random problems); inputs are checked once by the caller.

``sklearn.svm._libsvm`` is private scikit-learn API. If its signature changes,
:func:`fit_precomputed` raises a ``RuntimeError`` that says so and how to go on
(``kernel_grid_search(..., svm="sklearn")``); it never falls back silently.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PrecomputedSVM", "fit_precomputed"]

# SVC's defaults (scikit-learn 1.3-1.9): C-SVC (svm_type 0), shrinking on,
# tol 1e-3, cache 200 MB, no iteration cap, no class weights
_SVC_DEFAULTS = dict(svm_type=0, kernel="precomputed", degree=3, gamma=0.0, coef0=0.0,
                     tol=1e-3, nu=0.5, epsilon=0.0, shrinking=1, probability=0,
                     cache_size=200.0)


@dataclass(frozen=True)
class PrecomputedSVM:
    """A fitted C-SVM on a precomputed kernel (libsvm's raw model)."""

    classes: np.ndarray
    support: np.ndarray
    support_vectors: np.ndarray
    n_support: np.ndarray
    dual_coef: np.ndarray
    intercept: np.ndarray
    prob_a: np.ndarray
    prob_b: np.ndarray
    converged: bool = True

    def predict(self, K: np.ndarray) -> np.ndarray:
        """Class labels for the rows of ``K`` (n_eval, n_fit): kernel values
        against the fit set, as ``SVC.predict`` takes them."""
        from sklearn.svm import _libsvm

        K = np.ascontiguousarray(K, dtype=np.float64)
        codes = _libsvm.predict(
            K, self.support, self.support_vectors, self.n_support, self.dual_coef,
            self.intercept, self.prob_a, self.prob_b, svm_type=0, kernel="precomputed",
            degree=3, coef0=0.0, gamma=0.0, cache_size=_SVC_DEFAULTS["cache_size"],
        )
        return self.classes[codes.astype(np.intp)]


def fit_precomputed(K: np.ndarray, y: np.ndarray, C: float, max_iter: int = -1) -> PrecomputedSVM:
    """Fit a C-SVM on the square precomputed Gram ``K`` with labels ``y``.

    The same libsvm call and label encoding (``np.unique``) as
    ``SVC(kernel="precomputed", C=C, max_iter=max_iter).fit(K, y)``, and the
    same refusal of a single class. ``converged`` is False when libsvm
    stopped at ``max_iter`` (-1: no limit, SVC's default).
    """
    from sklearn.svm import _libsvm

    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"a C-SVM needs at least 2 classes in its fit set; got {len(classes)}")
    K = np.ascontiguousarray(K, dtype=np.float64)
    _libsvm.set_verbosity_wrap(0)  # as SVC(verbose=False): libsvm prints its progress otherwise
    try:
        out = _libsvm.fit(K, codes.astype(np.float64), C=float(C), class_weight=np.empty(0),
                          sample_weight=np.empty(0), random_seed=0, max_iter=int(max_iter),
                          **_SVC_DEFAULTS)
    except TypeError as e:  # the private binding's signature changed
        import sklearn

        raise RuntimeError(
            f"scikit-learn {sklearn.__version__}'s private libsvm binding "
            f"(sklearn.svm._libsvm.fit) no longer takes the arguments rntk passes ({e}); "
            "use kernel_grid_search(..., svm='sklearn') or a scikit-learn between 1.3 and 1.9"
        ) from e
    support, sv, n_support, dual_coef, intercept, prob_a, prob_b, status, _n_iter = out
    return PrecomputedSVM(classes, support, sv, n_support, dual_coef, intercept, prob_a, prob_b,
                          converged=status != 1)
