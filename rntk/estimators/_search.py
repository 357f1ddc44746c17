"""Hyperparameter search that evaluates each kernel configuration's Gram once.

For every kernel configuration, :func:`kernel_grid_search` computes the
train-by-train Gram ``K = gram(X)`` and, when a test set is given, the
test-by-train block ``gram(X_test, X)``; the test-by-test block is never
needed. Every cross-validation fold then uses sub-blocks of ``K``
(``K[train, train]`` to fit, ``K[val, train]`` to score) for every value of
the SVM's C (or the ridge term alpha). This is what
``GridSearchCV(KernelSVC(), {"kernel": kernels, "C": Cs}, cv=splitter)``
computes, without recomputing the Gram per fold and per C (a test checks that
both give the same scores).

Selection and ties. The selected setting maximises the mean validation score
over folds (accuracy for classification, negative mean squared error for
regression). Settings whose mean score is within ``TIE_ATOL`` of the best are
*tied*; among them the rule is: **the most regularised one (smallest C, or
largest alpha), then the kernel configuration given first**. The test scores
of all tied settings are recorded (``tied_test_scores``), so the spread that
an arbitrary tie-break would cause is visible. Test scores of every setting are
computed only because the Gram blocks are in memory anyway; they never enter
the selection.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Sequence

import numpy as np

from ._checkpoint import _Checkpoint, _fingerprint
from ._estimators import gram_block
from ._libsvm import fit_precomputed
from ._scaling import SeriesScaler

__all__ = ["GridSearchResult", "kernel_grid_search", "TIE_ATOL"]

TIE_ATOL = 1e-9  # mean CV scores this close count as equal
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0)  # the RNTK paper's C-SVM grid (Appendix A.1)


@dataclass(frozen=True)
class GridSearchResult:
    """Outcome of :func:`kernel_grid_search`.

    Attributes
    ----------
    kernels : tuple
        The kernel configurations, in the order given.
    params : ndarray of shape (n_params,)
        The C values (classification) or alpha values (regression).
    param_name : str
        ``"C"`` or ``"alpha"``.
    fold_scores : ndarray of shape (n_kernels, n_params, n_folds)
        Validation score of every setting on every fold.
    cv_scores : ndarray of shape (n_kernels, n_params)
        Mean over folds (the selection criterion).
    test_scores : ndarray of shape (n_kernels, n_params), or None
        Score on the test set after refitting on the whole training set.
    best : tuple of (int, int)
        Indices (kernel, param) of the selected setting.
    tied : ndarray of shape (n_tied, 2)
        Indices of every setting tied with the best CV score (best included).
    gram_seconds, fit_seconds : ndarray of shape (n_kernels,)
        Wall time spent on the Gram blocks and on the SVM/ridge fits.
    unconverged : ndarray of shape (n_kernels,)
        C-SVM fits of each kernel configuration that stopped at ``max_iter``.
    """

    kernels: tuple
    params: np.ndarray
    param_name: str
    fold_scores: np.ndarray
    cv_scores: np.ndarray
    test_scores: np.ndarray | None
    best: tuple
    tied: np.ndarray
    gram_seconds: np.ndarray
    fit_seconds: np.ndarray
    unconverged: np.ndarray | None = None

    @property
    def best_kernel(self):
        return self.kernels[self.best[0]]

    @property
    def best_param(self) -> float:
        return float(self.params[self.best[1]])

    @property
    def best_cv_score(self) -> float:
        return float(self.cv_scores[self.best])

    @property
    def test_score(self) -> float | None:
        return None if self.test_scores is None else float(self.test_scores[self.best])

    @property
    def tied_test_scores(self) -> np.ndarray | None:
        """Test scores of all tied settings, shape (n_tied,)."""
        if self.test_scores is None:
            return None
        return self.test_scores[self.tied[:, 0], self.tied[:, 1]]


def _splits(cv, X, y, regression: bool, random_state):
    from sklearn.model_selection import KFold, StratifiedKFold

    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be >= 2 folds, got {cv}")
        if cv > len(y):
            raise ValueError(f"cv = {cv} folds but only {len(y)} training samples")
        if regression:
            cv = KFold(n_splits=int(cv), shuffle=True, random_state=random_state)
        elif np.unique(y, return_counts=True)[1].max() >= cv:
            cv = StratifiedKFold(n_splits=int(cv), shuffle=True, random_state=random_state)
        else:  # sklearn refuses when no class has cv members (e.g. UCR Beef: 6 a class)
            return _round_robin_folds(y, int(cv), random_state)
    elif not hasattr(cv, "split"):
        raise ValueError(f"cv must be an int or a scikit-learn splitter, got {cv!r}")
    return [(np.asarray(tr), np.asarray(va)) for tr, va in cv.split(np.zeros((len(y), 1)), y)]


def _round_robin_folds(y, k: int, random_state):
    """Stratified folds for small classes: every class's members, shuffled,
    are dealt in turn to folds 0, 1, ..., k-1, continuing from class to class
    (libsvm's stratified CV does the same), so fold sizes differ by at most one."""
    rng = np.random.default_rng(random_state)
    fold = np.empty(len(y), dtype=np.int64)
    pos = 0
    for c in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == c))
        fold[members] = (pos + np.arange(len(members))) % k
        pos += len(members)
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]


_KERNEL_HINT = "kernel objects with a gram(X, Y=None) method, e.g. [RNTK(sigma_w=1.4), RBFKernel(gamma=1.0)]"


def _check_kernels(kernels) -> tuple:
    if isinstance(kernels, (str, bytes)):
        raise TypeError(f"kernels must be a sequence of {_KERNEL_HINT}; got the string {kernels!r}")
    if callable(getattr(kernels, "gram", None)):
        raise TypeError(f"kernels must be a sequence of kernel objects; got the single kernel {kernels!r}: "
                        "pass [kernel]")
    try:
        kernels = tuple(kernels)
    except TypeError:
        raise TypeError(f"kernels must be a sequence of {_KERNEL_HINT}; got {type(kernels).__name__} "
                        f"{kernels!r}") from None
    if not kernels:
        raise ValueError("kernels is empty: give at least one kernel configuration")
    for i, k in enumerate(kernels):
        if not callable(getattr(k, "gram", None)):
            what = f"the string {k!r}" if isinstance(k, str) else f"{k!r} ({type(k).__name__})"
            raise TypeError(f"kernels[{i}] is {what}, not a kernel: give {_KERNEL_HINT}")
    return kernels


def _check_params(params) -> np.ndarray:
    if isinstance(params, (str, bytes)):
        raise TypeError(f"params must be a sequence of numbers (C or alpha values), got the string {params!r}")
    try:
        out = np.asarray(params, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise TypeError(f"params must be a sequence of numbers (C or alpha values), got {params!r}") from None
    if out.size == 0 or not np.isfinite(out).all():
        raise ValueError(f"params must be a non-empty sequence of finite numbers, got {params!r}")
    return out


def _select(cv_scores: np.ndarray, params: np.ndarray, regression: bool):
    best_score = np.max(cv_scores)
    tied = np.argwhere(cv_scores >= best_score - TIE_ATOL)  # row-major: kernel, then param
    # most regularised first: smallest C / largest alpha; then the earliest kernel
    reg = params[tied[:, 1]]
    order = np.lexsort((tied[:, 0], -reg if regression else reg))
    return tuple(int(i) for i in tied[order[0]]), tied


def kernel_grid_search(
    X,
    y,
    kernels: Sequence[Any],
    params: Sequence[float] = C_GRID,
    *,
    X_test=None,
    y_test=None,
    cv=10,
    random_state: int | np.random.Generator | None = 0,
    task: str = "classification",
    output: str = "ntk",
    progress: bool = False,
    svm: str = "libsvm",
    checkpoint=None,
    checkpoint_every: float = 60.0,
    max_iter: int = -1,
    scale: str | None = None,
) -> GridSearchResult:
    """Grid search over kernel configurations and C (or alpha), one Gram each.

    Parameters
    ----------
    X : array of shape (n_train, T) or (n_train, T, m)
        Training inputs. Trailing NaN (shorter sequences) are for kernels
        whose ``capabilities.variable_length`` is True (the RNTK, the GAK);
        each kernel's ``gram`` checks its own inputs.
    y : array of shape (n_train,)
        Class labels (classification) or targets (regression).
    kernels : sequence of kernel objects with ``gram(X, Y=None)``
        The kernel configurations, e.g. ``[RNTK(sigma_b=b) for b in grid]``
        (names such as ``"rbf"`` are refused with a ``TypeError``).
    params : sequence of float
        C values of the C-SVM (classification; default the paper's
        0.01, 0.1, 1, 10, 100) or alpha values of kernel ridge (regression).
    X_test, y_test : arrays, optional
        If given, every setting is refit on all of X and scored on the test set.
    cv : int or scikit-learn splitter
        An int k means k folds shuffled with ``random_state``: ``KFold`` for
        regression, ``StratifiedKFold`` for classification or, when no class
        has k members (sklearn refuses those), each class's members dealt
        round-robin into the k folds. A splitter is used as is.
    random_state : int, Generator or None
        Seed of the fold shuffle (a Generator draws one).
    task : {"classification", "regression"}
        C-SVM scored by accuracy, or kernel ridge scored by negative MSE.
    output : {"ntk", "nngp"}
    progress : bool
        A tqdm bar over kernel configurations.
    svm : {"libsvm", "sklearn"}
        How the C-SVMs are fitted: "libsvm" makes the libsvm call of
        ``SVC(kernel="precomputed")`` directly (identical predictions, without
        SVC's ~1 ms of per-fit validation; see ``rntk.estimators._libsvm``),
        "sklearn" uses ``SVC`` itself. Ignored for regression.
    max_iter : int
        libsvm's iteration cap per C-SVM fit (-1: none, SVC's default). A
        kernel far from unit scale (e.g. an RNTK with sigma_w > sqrt(2) on
        long series, whose entries grow like (sigma_w^2 / 2)^T) acts like a
        huge C and can make one fit run for hours; capped fits are counted
        in ``unconverged``.
    scale : {None, "unit", "dataset-max"}
        Scale the series first (:class:`SeriesScaler`): each to unit norm, or
        all by the largest norm of the training series (the RNTK authors'
        rule). The scaler is fitted on ``X`` only; ``X_test`` gets the same
        scale. None: the series as given.
    checkpoint : path, optional
        An ``.npz`` file the scores of finished kernel configurations are
        written to (atomically, at most every ``checkpoint_every`` seconds and
        at the end). If it exists, the configurations it holds are not
        recomputed; a checkpoint of a different search (other data, kernels,
        params, folds or task; kernels are identified by their ``repr``)
        raises ``ValueError``. One that cannot be read (truncated, or not
        written by this function; it is never unpickled) is discarded with a
        ``RuntimeWarning`` naming it, and the search starts afresh.

    Returns
    -------
    GridSearchResult
        See the module docstring for the selection and tie-break rule.
    """
    from sklearn.kernel_ridge import KernelRidge
    from sklearn.svm import SVC

    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")
    regression = task == "regression"
    kernels = _check_kernels(kernels)
    params = _check_params(params)
    if regression and (params < 0).any():
        raise ValueError(f"alpha values must be >= 0, got {params}")
    if not regression and (params <= 0).any():
        raise ValueError(f"C values must be > 0, got {params}")
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    if (X_test is None) != (y_test is None):
        raise ValueError("give both X_test and y_test, or neither")
    if X_test is not None:
        X_test = np.asarray(X_test, dtype=np.float64)
        y_test = np.asarray(y_test)
        if len(X_test) != len(y_test):
            raise ValueError(f"X_test has {len(X_test)} samples but y_test has {len(y_test)}")
    if output not in ("ntk", "nngp"):
        raise ValueError(f"output must be 'ntk' or 'nngp', got {output!r}")
    if svm not in ("libsvm", "sklearn"):
        raise ValueError(f"svm must be 'libsvm' or 'sklearn', got {svm!r}")
    if (isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer))
            or not (max_iter == -1 or max_iter >= 1)):
        raise ValueError(f"max_iter must be an int >= 1, or -1 for no cap; got {max_iter!r}")
    if (isinstance(checkpoint_every, bool) or not isinstance(checkpoint_every, (int, float, np.number))
            or not (np.isfinite(checkpoint_every) and checkpoint_every >= 0)):
        raise ValueError(f"checkpoint_every must be a finite number of seconds >= 0, got {checkpoint_every!r}")
    if scale is not None:
        scaler = SeriesScaler(scale).fit(X)
        X = scaler.transform(X)
        if X_test is not None:
            X_test = scaler.transform(X_test)
    if isinstance(random_state, np.random.Generator):
        random_state = int(random_state.integers(2**31))
    splits = _splits(cv, X, y, regression, random_state)

    def fit(p, K, target, k):
        if regression:
            return KernelRidge(kernel="precomputed", alpha=p).fit(K, target)
        if svm == "libsvm":
            m = fit_precomputed(K, target, p, max_iter)
            ok = m.converged
        else:
            import warnings

            from sklearn.exceptions import ConvergenceWarning

            with warnings.catch_warnings():  # counted below, not printed per fit
                warnings.simplefilter("ignore", ConvergenceWarning)
                m = SVC(kernel="precomputed", C=p, max_iter=max_iter).fit(K, target)
            ok = m.fit_status_ == 0
        state.unconverged[k] += not ok
        return m

    def score(m, K, target):
        pred = m.predict(K)
        if regression:
            return -float(np.mean((np.asarray(target, dtype=float) - pred) ** 2))
        return float(np.mean(pred == target))

    nk, npar, nf = len(kernels), len(params), len(splits)
    state = _Checkpoint(checkpoint, _fingerprint(X, y, X_test, y_test, kernels, params, splits, task, output,
                                                 max_iter), nk, npar, nf, X_test is not None, checkpoint_every)
    fold_scores, test_scores, gram_s, fit_s = state.fold_scores, state.test_scores, state.gram_s, state.fit_s
    todo = np.flatnonzero(~state.done)
    it = todo
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(todo, desc="kernel configurations", leave=False, initial=nk - len(todo), total=nk)
    for k in it:
        t0 = time.perf_counter()
        K = gram_block(kernels[k], X, None, output)
        Kt = None if X_test is None else gram_block(kernels[k], X_test, X, output)
        t1 = time.perf_counter()
        for f, (tr, va) in enumerate(splits):
            Ktr, Kva = K[np.ix_(tr, tr)], K[np.ix_(va, tr)]
            for j, p in enumerate(params):
                fold_scores[k, j, f] = score(fit(p, Ktr, y[tr], k), Kva, y[va])
        if Kt is not None:
            for j, p in enumerate(params):
                test_scores[k, j] = score(fit(p, K, y, k), Kt, y_test)
        gram_s[k], fit_s[k] = t1 - t0, time.perf_counter() - t1
        state.finished(k)
    state.save()
    cv_scores = fold_scores.mean(axis=2)
    best, tied = _select(cv_scores, params, regression)
    return GridSearchResult(
        kernels, params, "alpha" if regression else "C", fold_scores, cv_scores,
        test_scores, best, tied, gram_s, fit_s, state.unconverged.copy(),
    )
