"""rntk.estimators.Nystroem: the Nyström feature map of rntk kernels, checked against the exact
Gram, scikit-learn's kernel ridge, and the sampling rules' defining properties."""
import numpy as np
import pytest
from sklearn.kernel_ridge import KernelRidge
from sklearn.linear_model import RidgeClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from rntk import RNTK, RBFKernel
from rntk.datasets import load_ucr
from rntk.estimators import Nystroem


def _rel_fro(A, B):
    return np.linalg.norm(A - B) / np.linalg.norm(B)


@parametrize_with_checks([Nystroem(n_components=5, random_state=0),
                          Nystroem(RBFKernel(gamma=0.5), n_components=4, landmarks="kmeans++", random_state=0),
                          Nystroem(n_components=3, landmarks="leverage", random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("landmarks", ["uniform", "kmeans++", "leverage"])
def test_all_landmarks_reproduce_the_gram(rng, landmarks):
    """k = n: every sequence is a landmark, so Phi Phi^T = K W^+ K = K (W = K) up to rounding
    amplified by K's conditioning (the relative error bound 1e-7 allows cond(K) ~ 1e8)."""
    X = [rng.normal(size=(t, 2)) for t in rng.integers(3, 12, size=25)]
    k = RNTK(n_layers=2, sigma_b=0.2)
    F = Nystroem(k, n_components=25, landmarks=landmarks, random_state=1).fit_transform(X)
    K = k.gram(X, X).ntk  # the kernel of two inputs: no sigma_h term (sigma_h = 0 here anyway)
    assert F.shape == (25, 25)
    assert _rel_fro(F @ F.T, K) < 1e-7


def test_features_are_the_nystroem_formula(rng):
    """Phi Phi^T against K(X, S) pinv(K(S, S)) K(S, X) computed independently (numpy's pinv)."""
    X = rng.normal(size=(40, 9))
    k = RNTK(sigma_h=0.5)
    ny = Nystroem(k, n_components=12, random_state=3).fit(X)
    S = X[ny.component_indices_]
    assert np.array_equal(S, ny.components_) and len(set(ny.component_indices_)) == 12
    C = k.gram(X, S).ntk
    approx = C @ np.linalg.pinv(k.gram(S, S).ntk, rcond=1e-12, hermitian=True) @ C.T
    F = ny.transform(X)
    assert _rel_fro(F @ F.T, approx) < 1e-9
    # more landmarks, a better approximation of the Gram (error falls from k = 4 to 36)
    K = k.gram(X, X).ntk
    errs = [_rel_fro(ny.set_params(n_components=m).fit_transform(X) @ ny.transform(X).T, K) for m in (4, 36)]
    assert errs[1] < errs[0] / 3, errs


def test_kmeanspp_covers_every_cluster(rng):
    """Five tight clusters: D^2 sampling takes its k = 5 landmarks one from each (a next landmark in
    an already covered cluster has probability ~1e-10); uniform sampling rarely does (5!/5^5 ~ 4 %)."""
    centres = rng.normal(size=(5, 6)) * 3
    label = np.repeat(np.arange(5), 12)
    X = centres[label] + 1e-5 * rng.normal(size=(60, 6))
    for seed in range(5):
        idx = Nystroem(RNTK(), n_components=5, landmarks="kmeans++", random_state=seed).fit(X).component_indices_
        assert sorted(label[idx]) == [0, 1, 2, 3, 4]


def test_leverage_prefers_unique_sequences(rng):
    """60 copies of one sequence and 10 distinct ones: the copies share one direction (ridge
    leverage ~1/60 each, ~1 in all), the distinct ones ~1 each, so of k = 8 landmarks leverage
    sampling takes most from the distinct ten; uniform sampling takes 8 x 10/70 ~ 1.1 of them
    (5 or more with probability < 1e-3)."""
    X = np.concatenate([np.repeat(rng.normal(size=(1, 8)), 60, axis=0), rng.normal(size=(10, 8))])
    for seed in range(3):
        idx = Nystroem(RNTK(), n_components=8, landmarks="leverage", random_state=seed).fit(X).component_indices_
        assert len(set(idx)) == 8 and (idx >= 60).sum() >= 5, idx


def test_pipeline_ridge_equals_kernel_ridge_and_linear_svm_learns():
    """With every training sequence a landmark, linear ridge (no intercept) on the features is
    kernel ridge on the exact Gram: decision values equal sklearn's KernelRidge on +-1 targets."""
    X, y = load_ucr("SynthCBF", "train")
    Xt, yt = load_ucr("SynthCBF", "test")
    k = RNTK(sigma_b=0.1)
    alpha = 1.0
    pipe = make_pipeline(Nystroem(k, n_components=len(X), random_state=0),
                         RidgeClassifier(alpha=alpha, fit_intercept=False)).fit(X, y)
    Y = np.where(y[:, None] == np.unique(y)[None, :], 1.0, -1.0)
    kr = KernelRidge(kernel="precomputed", alpha=alpha).fit(k.gram(X, X).ntk, Y)
    want = kr.predict(k.gram(Xt, X).ntk)
    assert _rel_fro(pipe.decision_function(Xt), want) < 1e-6
    # a linear SVM on 20 landmarks' features of Trace (100 training series, 4 classes): far above
    # chance (1/4), near the exact kernel's C-SVM (0.88 when this test was written)
    X, y = load_ucr("Trace", "train")
    Xt, yt = load_ucr("Trace", "test")
    svm = make_pipeline(Nystroem(k, n_components=20, landmarks="kmeans++", random_state=0),
                        LinearSVC(C=1.0)).fit(X, y)
    assert svm.score(Xt, yt) > 0.75


def test_variable_lengths_and_bad_arguments(rng):
    X, _ = load_ucr("SynthVarLenSines", "train")
    F = Nystroem(RNTK(), n_components=10, random_state=0).fit(X).transform(X[:5])
    assert F.shape == (5, 10) and np.isfinite(F).all()
    with pytest.raises(ValueError, match="landmarks must be one of"):
        Nystroem(landmarks="random").fit(X)
    with pytest.raises(ValueError, match="n_components must be a positive integer"):
        Nystroem(n_components=0).fit(X)
    with pytest.warns(UserWarning, match="n_components = 100 > n_samples = 24"):
        assert Nystroem(random_state=0).fit(X).normalization_.shape == (24, 24)
