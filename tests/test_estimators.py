"""rntk.estimators: sklearn compatibility, Gram-reusing search, metrics."""
import runpy
from pathlib import Path

import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from rntk import MLPNTK, RNTK, PolynomialKernel, RBFKernel
from rntk.datasets import load_ucr
from rntk.estimators import (
    KernelRidgeRegressor,
    KernelSVC,
    friedman_rank,
    kernel_grid_search,
    mean_accuracy,
    p_within,
    pma,
    summarize,
)
from rntk.estimators._search import _select

ROOT = Path(__file__).resolve().parent.parent


# -- scikit-learn's estimator checks --------------------------------------------------
ESTIMATORS = [
    KernelSVC(),
    KernelSVC(RBFKernel(gamma=0.5), C=10.0),
    KernelSVC(MLPNTK(n_layers=2), output="nngp"),
    KernelRidgeRegressor(),
    KernelRidgeRegressor(PolynomialKernel(degree=2, coef0=1.0), alpha=0.1),
]


def _expected_failures(est):
    # None is: the RNTK accepts trailing NaN only (shorter sequences) and
    # rejects NaN anywhere else, so the allow_nan tag ("NaN anywhere") stays
    # False and sklearn's NaN/inf check (NaN at X[0, 0]) applies and passes.
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# -- estimators against scikit-learn's own kernels (independent oracle) ----------------
def _blobs(rng, n=40, T=6, classes=3):
    y = np.arange(n) % classes
    X = rng.normal(size=(n, T)) + y[:, None] * 0.8
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


def test_svc_matches_sklearn_rbf_and_poly(rng):
    X, y = _blobs(rng)
    Xt, _ = _blobs(rng, n=15)
    for ours, ref in [
        (KernelSVC(RBFKernel(gamma=0.7), C=3.0), SVC(kernel="rbf", gamma=0.7, C=3.0)),
        (KernelSVC(PolynomialKernel(3, 0.5), C=0.5), SVC(kernel="poly", degree=3, gamma=1.0, coef0=0.5, C=0.5)),
    ]:
        ours.fit(X, y)
        ref.fit(X, y)
        np.testing.assert_array_equal(ours.predict(Xt), ref.predict(Xt))
        np.testing.assert_allclose(ours.decision_function(Xt), ref.decision_function(Xt), rtol=1e-7, atol=1e-9)


def test_ridge_matches_sklearn_rbf(rng):
    X, _ = _blobs(rng)
    t = rng.normal(size=len(X))
    Xt, _ = _blobs(rng, n=10)
    ours = KernelRidgeRegressor(RBFKernel(gamma=2.0), alpha=0.3).fit(X, t)
    ref = KernelRidge(kernel="rbf", gamma=2.0, alpha=0.3).fit(X, t)
    np.testing.assert_allclose(ours.predict(Xt), ref.predict(Xt), rtol=1e-10, atol=1e-12)


def test_rntk_svc_on_variable_length_data():
    X, y = load_ucr("SynthVarLenSines", "train")
    Xt, yt = load_ucr("SynthVarLenSines", "test")
    k = RNTK(sigma_b=0.1)
    m = KernelSVC(k, C=10.0).fit(X, y)
    # the same thing by hand, from lists of native-length sequences
    seqs = [r[np.isfinite(r)] for r in X]
    tseqs = [r[np.isfinite(r)] for r in Xt]
    ref = SVC(kernel="precomputed", C=10.0).fit(k.gram(seqs).ntk, y)
    np.testing.assert_array_equal(m.predict(Xt), ref.predict(k.gram(tseqs, seqs).ntk))
    assert m.score(Xt, yt) > 0.5  # three classes: chance is 1/3


def test_estimator_input_errors():
    X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.5, 0.2]])
    y = [0, 1, 0, 1]
    with pytest.raises(ValueError, match="C must be finite and > 0"):
        KernelSVC(C=0).fit(X, y)
    with pytest.raises(ValueError, match="alpha must be"):
        KernelRidgeRegressor(alpha=-1).fit(X, y)
    with pytest.raises(ValueError, match="gram"):
        KernelSVC(kernel="rbf").fit(X, y)
    with pytest.raises(ValueError, match="output must be"):
        KernelSVC(output="both").fit(X, y)
    Xn = X.copy()
    Xn[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        KernelSVC(RBFKernel()).fit(Xn, y)
    KernelSVC().fit(Xn, y)  # trailing NaN: a shorter sequence for the RNTK
    Xm = X.copy()
    Xm[2, 0] = np.nan  # NaN inside a sequence
    with pytest.raises(ValueError, match="NaN inside"):
        KernelSVC().fit(Xm, y)


# -- the Gram-reusing search ---------------------------------------------------------
class CountingKernel:
    """Wraps a kernel and records the shape of every gram call."""

    def __init__(self, kernel):
        self.kernel, self.calls = kernel, []

    def gram(self, X, Y=None):
        self.calls.append((len(X), None if Y is None else len(Y)))
        return self.kernel.gram(X, Y)

    def __repr__(self):  # a checkpoint identifies kernels by repr
        return repr(self.kernel)


def test_search_equals_gridsearchcv_classification(rng):
    X, y = _blobs(rng, n=36, T=5)
    X[::4, -2:] = np.nan  # some shorter sequences
    kernels = [RNTK(sigma_b=0.0), RNTK(sigma_w=1.2, sigma_b=0.5, sigma_h=0.5), RNTK(sigma_b=1.0)]
    Cs = [0.01, 1.0, 100.0]
    cv = StratifiedKFold(n_splits=4, shuffle=True, random_state=3)
    res = kernel_grid_search(X, y, kernels, Cs, cv=cv)
    gs = GridSearchCV(KernelSVC(), {"kernel": kernels, "C": Cs}, cv=cv, refit=False).fit(X, y)
    for i, p in enumerate(gs.cv_results_["params"]):
        k, j = kernels.index(p["kernel"]), Cs.index(p["C"])
        folds = [gs.cv_results_[f"split{f}_test_score"][i] for f in range(4)]
        np.testing.assert_array_equal(res.fold_scores[k, j], folds)
    # and with the baselines
    base = [RBFKernel(gamma=0.5), PolynomialKernel(2, 1.0), MLPNTK(n_layers=3)]
    Xf = np.nan_to_num(X)
    res = kernel_grid_search(Xf, y, base, Cs, cv=cv)
    gs = GridSearchCV(KernelSVC(), {"kernel": base, "C": Cs}, cv=cv, refit=False).fit(Xf, y)
    for i, p in enumerate(gs.cv_results_["params"]):
        k, j = base.index(p["kernel"]), Cs.index(p["C"])
        assert res.cv_scores[k, j] == pytest.approx(gs.cv_results_["mean_test_score"][i], abs=1e-12)


def test_search_equals_gridsearchcv_regression(rng):
    X = rng.normal(size=(30, 6))
    t = np.sin(X.sum(axis=1))
    kernels = [RNTK(sigma_b=0.2), RBFKernel(gamma=0.3)]
    alphas = [0.01, 0.5, 5.0]
    cv = KFold(n_splits=5, shuffle=True, random_state=1)
    res = kernel_grid_search(X, t, kernels, alphas, cv=cv, task="regression")
    gs = GridSearchCV(KernelRidgeRegressor(), {"kernel": kernels, "alpha": alphas}, cv=cv,
                      scoring="neg_mean_squared_error").fit(X, t)
    for i, p in enumerate(gs.cv_results_["params"]):
        k, j = kernels.index(p["kernel"]), alphas.index(p["alpha"])
        assert res.cv_scores[k, j] == pytest.approx(gs.cv_results_["mean_test_score"][i], rel=1e-9)
    assert res.param_name == "alpha"


def test_search_computes_each_block_once_and_never_test_by_test(rng):
    X, y = _blobs(rng, n=30)
    Xt, yt = _blobs(rng, n=12)
    wrapped = [CountingKernel(RNTK(sigma_b=b)) for b in (0.0, 0.3)]
    res = kernel_grid_search(X, y, wrapped, X_test=Xt, y_test=yt, cv=5)
    for w in wrapped:
        assert w.calls == [(30, None), (12, 30)]
    # the test score of every setting is that of a model refit on all of X
    for k, w in enumerate(wrapped):
        for j, C in enumerate(res.params):
            m = KernelSVC(w.kernel, C=C).fit(X, y)
            assert res.test_scores[k, j] == m.score(Xt, yt)


def test_search_default_folds_are_seeded_and_stratified(rng):
    X, y = _blobs(rng, n=30)
    k = [RNTK(sigma_b=0.1)]
    a = kernel_grid_search(X, y, k, cv=3, random_state=7)
    b = kernel_grid_search(X, y, k, cv=StratifiedKFold(3, shuffle=True, random_state=7))
    np.testing.assert_array_equal(a.fold_scores, b.fold_scores)
    g1 = kernel_grid_search(X, y, k, cv=3, random_state=np.random.default_rng(5))
    g2 = kernel_grid_search(X, y, k, cv=3, random_state=np.random.default_rng(5))
    np.testing.assert_array_equal(g1.fold_scores, g2.fold_scores)


def test_tie_break_rule():
    scores = np.array([[0.5, 0.9, 0.9], [0.9, 0.9, 0.7]])
    params = np.array([0.1, 1.0, 10.0])
    best, tied = _select(scores, params, regression=False)
    assert best == (1, 0)  # smallest C among the ties
    assert sorted(map(tuple, tied.tolist())) == [(0, 1), (0, 2), (1, 0), (1, 1)]
    best, _ = _select(scores, params, regression=True)
    assert best == (0, 2)  # largest alpha among the ties
    best, _ = _select(np.array([[0.8, 0.6], [0.8, 0.7]]), np.array([1.0, 2.0]), regression=False)
    assert best == (0, 0)  # same C: the kernel given first
    best, tied = _select(np.array([[0.7, 0.7 + 1e-12]]), np.array([1.0, 2.0]), regression=False)
    assert best == (0, 0) and len(tied) == 2  # within TIE_ATOL


def test_search_records_the_spread_over_ties(rng):
    # Well separated classes: every setting reaches CV accuracy 1, all tie.
    y = np.repeat([0, 1], 10)
    X = np.where(y[:, None] == 0, 1.0, -1.0) * np.ones((20, 4)) + 0.01 * rng.normal(size=(20, 4))
    Xt = X[::2] + 0.01
    res = kernel_grid_search(X, y, [RBFKernel(0.5), RBFKernel(5.0)], [0.1, 1.0], X_test=Xt, y_test=y[::2], cv=5)
    assert res.best == (0, 0) and len(res.tied) == 4
    assert res.tied_test_scores.shape == (4,)
    assert res.best_kernel == RBFKernel(0.5) and res.best_param == 0.1


def test_search_input_errors(rng):
    X, y = _blobs(rng, n=12)
    k = [RNTK()]
    with pytest.raises(ValueError, match="kernels is empty"):
        kernel_grid_search(X, y, [])
    with pytest.raises(ValueError, match="C values must be > 0"):
        kernel_grid_search(X, y, k, [0.0, 1.0])
    with pytest.raises(ValueError, match="cv must be >= 2"):
        kernel_grid_search(X, y, k, cv=1)
    with pytest.raises(ValueError, match="both X_test and y_test"):
        kernel_grid_search(X, y, k, X_test=X)
    with pytest.raises(ValueError, match="12 samples but y has 11"):
        kernel_grid_search(X, y[:-1], k)
    with pytest.raises(ValueError, match="task must be"):
        kernel_grid_search(X, y, k, task="ranking")


# -- metrics against values computed by hand ------------------------------------------
ACC = np.array([[0.9, 0.8, 0.9], [0.5, 0.6, 0.3], [1.0, 0.92, 0.95]])


def test_metrics_by_hand():
    np.testing.assert_allclose(mean_accuracy(ACC), [0.8, 2.32 / 3, 2.15 / 3])
    # best per dataset 0.9, 0.6, 1.0; 90 % thresholds 0.81, 0.54, 0.9
    np.testing.assert_allclose(p_within(ACC, 0.9), [2 / 3, 2 / 3, 2 / 3])
    # 95 % thresholds 0.855, 0.57, 0.95 (0.95 itself counts)
    np.testing.assert_allclose(p_within(ACC, 0.95), [2 / 3, 1 / 3, 2 / 3])
    np.testing.assert_allclose(pma(ACC), [17 / 18, (8 / 9 + 1 + 0.92) / 3, 2.45 / 3])
    # ranks per dataset: (1.5, 3, 1.5), (2, 1, 3), (1, 3, 2)
    np.testing.assert_allclose(friedman_rank(ACC), [1.5, 7 / 3, 6.5 / 3])
    # ties sharing the best rank: (1, 3, 1), (2, 1, 3), (1, 3, 2)
    np.testing.assert_allclose(friedman_rank(ACC, ties="min"), [4 / 3, 7 / 3, 2.0])
    s = summarize(ACC * 100, ["a", "b", "c"])
    assert s["a"]["mean"] == pytest.approx(80.0)
    assert s["a"]["std"] == pytest.approx(100 * 0.07**0.5)  # ddof = 1
    assert s["c"]["pma"] == pytest.approx(2.45 / 3)  # scale-free


def test_metric_errors():
    with pytest.raises(ValueError, match="shape"):
        pma([0.5, 0.6])
    with pytest.raises(ValueError, match=r"acc\[0, 1\] is not finite"):
        mean_accuracy([[0.5, np.nan]])
    with pytest.raises(ValueError, match="PMA undefined"):
        pma([[0.0, 0.0], [1.0, 0.5]])
    with pytest.raises(ValueError, match="fraction"):
        p_within(ACC, 90)
    with pytest.raises(ValueError, match="ties"):
        friedman_rank(ACC, ties="dense")


def test_metrics_reproduce_the_papers_table1_from_its_table2():
    paper = runpy.run_path(str(ROOT / "verify" / "_paper_ucr.py"))
    acc = np.array(list(paper["TABLE2"].values()))
    t1 = paper["TABLE1"]
    s = summarize(acc, paper["COLUMNS"], ties="min")
    for j, c in enumerate(paper["COLUMNS"]):
        assert s[c]["mean"] == pytest.approx(t1["mean"][j], abs=0.011)
        # RBF: 94.846 here vs 94.86 printed; the others agree to rounding
        assert 100 * s[c]["pma"] == pytest.approx(t1["pma"][j], abs=0.02)
        assert 100 * s[c]["p95"] == pytest.approx(t1["p95"][j], abs=0.006)
        if c != "RBF":  # the paper prints 87.60, not a multiple of 1/56; 49/56 = 87.50
            assert 100 * s[c]["p90"] == pytest.approx(t1["p90"][j], abs=0.006)
        if j < 5:  # the two last columns' ranks differ slightly (5.23 vs 5.21, 4.16 vs 4.21)
            assert s[c]["friedman_rank"] == pytest.approx(t1["friedman_rank"][j], abs=0.006)
    assert 100 * s["RBF"]["p90"] == pytest.approx(87.5)


def test_small_classes_get_round_robin_stratified_folds(rng):
    # 3 classes of 4 members, 10 folds: StratifiedKFold refuses this.
    y = np.repeat([0, 1, 2], 4)
    X = rng.normal(size=(12, 3)) + y[:, None]
    res = kernel_grid_search(X, y, [RBFKernel(1.0)], [1.0], cv=10, random_state=0)
    assert res.fold_scores.shape == (1, 1, 10)
    from rntk.estimators._search import _round_robin_folds

    folds = _round_robin_folds(y, 10, 0)
    val = np.concatenate([va for _, va in folds])
    assert sorted(val.tolist()) == list(range(12))  # a partition
    assert sorted(len(va) for _, va in folds) == [1] * 8 + [2] * 2
    for tr, va in folds:
        assert len(np.intersect1d(tr, va)) == 0 and len(tr) + len(va) == 12


# -- direct libsvm fits and checkpoints ----------------------------------------------
def test_direct_libsvm_fits_predict_like_svc(rng):
    """fit_precomputed makes SVC's libsvm call: identical predictions on random
    precomputed problems (binary and multi-class, numeric and string labels)."""
    from rntk.estimators._libsvm import fit_precomputed

    for trial in range(60):
        n, k = int(rng.integers(8, 60)), int(rng.integers(2, 6))
        Z = rng.normal(size=(n + 25, int(rng.integers(1, 4))))
        G = Z @ Z.T + rng.uniform(0, 2) * np.exp(-((Z[:, None] - Z[None]) ** 2).sum(-1))
        codes = rng.integers(0, k, n)
        codes[:k] = np.arange(k)
        y = np.array(list("abcdef"))[codes] if trial % 2 else 3 * codes - 1
        C = 10 ** rng.uniform(-2, 2)
        ref = SVC(kernel="precomputed", C=C).fit(G[:n, :n], y).predict(G[n:, :n])
        np.testing.assert_array_equal(fit_precomputed(G[:n, :n], y, C).predict(G[n:, :n]), ref)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_precomputed(np.eye(3), np.zeros(3), 1.0)


def test_search_svm_backends_agree(rng):
    X, y = _blobs(rng, n=40, T=5)
    Xt, yt = _blobs(rng, n=15, T=5)
    kernels = [RNTK(sigma_b=0.0), RNTK(sigma_b=0.7, sigma_h=0.5), RBFKernel(gamma=2.0)]
    a = kernel_grid_search(X, y, kernels, X_test=Xt, y_test=yt, cv=4, svm="libsvm")
    b = kernel_grid_search(X, y, kernels, X_test=Xt, y_test=yt, cv=4, svm="sklearn")
    np.testing.assert_array_equal(a.fold_scores, b.fold_scores)
    np.testing.assert_array_equal(a.test_scores, b.test_scores)
    with pytest.raises(ValueError, match="svm must be"):
        kernel_grid_search(X, y, kernels, cv=4, svm="thundersvm")


class _Interrupt(Exception):
    pass


class FailingKernel:
    """A kernel whose gram raises on its n-th call (a crash mid-search)."""

    def __init__(self, kernel, fail_on):
        self.kernel, self.fail_on, self.n = kernel, fail_on, 0

    def gram(self, X, Y=None):
        self.n += 1
        if self.n == self.fail_on:
            raise _Interrupt
        return self.kernel.gram(X, Y)

    def __repr__(self):
        return repr(self.kernel)


def test_search_checkpoint_resumes_to_the_uninterrupted_result(rng, tmp_path):
    X, y = _blobs(rng, n=30, T=5)
    Xt, yt = _blobs(rng, n=10, T=5)
    base = [RNTK(sigma_b=b) for b in (0.0, 0.2, 0.5, 1.0)]
    full = kernel_grid_search(X, y, base, X_test=Xt, y_test=yt, cv=3)
    ck = tmp_path / "search.npz"
    crashing = [FailingKernel(k, fail_on=1 if i == 2 else 0) for i, k in enumerate(base)]
    with pytest.raises(_Interrupt):  # the third configuration crashes; two are saved
        kernel_grid_search(X, y, crashing, X_test=Xt, y_test=yt, cv=3, checkpoint=ck, checkpoint_every=0)
    with np.load(ck) as z:
        assert z["done"].tolist() == [True, True, False, False]
    counted = [CountingKernel(k) for k in base]
    resumed = kernel_grid_search(X, y, counted, X_test=Xt, y_test=yt, cv=3, checkpoint=ck)
    assert [len(c.calls) for c in counted] == [0, 0, 2, 2]  # only the unfinished ones ran
    np.testing.assert_array_equal(resumed.fold_scores, full.fold_scores)
    np.testing.assert_array_equal(resumed.test_scores, full.test_scores)
    assert resumed.best == full.best
    with pytest.raises(ValueError, match="different search"):  # other data, same file
        kernel_grid_search(X[::-1], y[::-1], base, X_test=Xt, y_test=yt, cv=3, checkpoint=ck)


def test_search_counts_fits_stopped_at_max_iter(rng):
    X, y = _blobs(rng, n=40, T=5)
    kernels = [RBFKernel(gamma=0.5), RBFKernel(gamma=5.0)]
    capped = [kernel_grid_search(X, y, kernels, [100.0], cv=4, max_iter=2, svm=svm) for svm in ("libsvm", "sklearn")]
    assert (capped[0].unconverged > 0).all()
    np.testing.assert_array_equal(capped[0].unconverged, capped[1].unconverged)
    np.testing.assert_array_equal(capped[0].fold_scores, capped[1].fold_scores)
    free = kernel_grid_search(X, y, kernels, [100.0], cv=4)
    assert (free.unconverged == 0).all()
