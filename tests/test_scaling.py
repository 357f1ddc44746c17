"""SeriesScaler: per-series unit norm and the dataset max-norm rule, against direct computation."""
import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from rntk import RNTK
from rntk.datasets import load_ucr
from rntk.estimators import KernelSVC, SeriesScaler, kernel_grid_search


def _norm(s):
    s = np.asarray(s, dtype=float)
    return np.sqrt(sum(v * v for v in s[np.isfinite(s)].ravel()))


def test_unit_norm_gives_every_series_norm_one(rng):
    X = rng.normal(size=(6, 9, 2)) * rng.uniform(0.1, 10, size=(6, 1, 1))
    X[1, 6:] = np.nan
    Z = SeriesScaler("unit").fit_transform(X)
    assert np.allclose([_norm(z) for z in Z], 1.0, rtol=0, atol=1e-14)
    assert np.isnan(Z[1, 6:]).all() and np.isfinite(Z[1, :6]).all()


def test_dataset_max_matches_the_largest_training_norm(rng):
    X = rng.normal(size=(7, 12)) * rng.uniform(0.1, 10, size=(7, 1))
    Xt = rng.normal(size=(3, 12)) * 50  # larger than every training series: not rescaled by its own norm
    s = SeriesScaler("dataset-max").fit(X)
    big = max(_norm(x) for x in X)
    assert s.scale_ == pytest.approx(big, rel=1e-14)
    np.testing.assert_allclose(s.transform(X), X / big, rtol=1e-15)
    np.testing.assert_allclose(s.transform(Xt), Xt / big, rtol=1e-15)
    assert max(_norm(z) for z in s.transform(X)) == pytest.approx(1.0, rel=1e-14)


def test_lists_of_different_lengths(rng):
    xs = [rng.normal(size=(t, 2)) for t in (3, 8, 5)]
    for z in SeriesScaler("unit").fit_transform(xs):
        assert _norm(z) == pytest.approx(1.0, rel=1e-14)


def test_relu_rntk_without_biases_is_homogeneous_so_dataset_max_only_rescales(rng):
    """Theta(cx, cy) = c^2 Theta(x, y) for ReLU with sigma_b = sigma_h = 0, but not with sigma_b > 0."""
    X = rng.normal(size=(5, 7))
    c = 1 / SeriesScaler("dataset-max").fit(X).scale_
    k0, kb = RNTK(), RNTK(sigma_b=0.5)
    np.testing.assert_allclose(k0.gram(c * X).ntk, c**2 * k0.gram(X).ntk, rtol=1e-12)
    assert not np.allclose(kb.gram(c * X).ntk, c**2 * kb.gram(X).ntk, rtol=1e-3)


@pytest.mark.parametrize("bad, match", [
    (dict(norm="max"), "norm must be one of"),
])
def test_bad_norm_is_named(bad, match):
    with pytest.raises(ValueError, match=match):
        SeriesScaler(**bad).fit(np.ones((2, 3)))


def test_zero_series_are_named():
    with pytest.raises(ValueError, match="series 1 is all zeros"):
        SeriesScaler("unit").fit_transform(np.array([[1.0, 2.0], [0.0, 0.0]]))
    with pytest.raises(ValueError, match="every series is all zeros"):
        SeriesScaler("dataset-max").fit(np.zeros((2, 3)))


def test_unfitted_transform_is_refused():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        SeriesScaler().transform(np.ones((2, 3)))


def test_in_a_pipeline_and_in_the_grid_search():
    X, y = load_ucr("SynthCBF", "train")
    Xt, yt = load_ucr("SynthCBF", "test")
    k = RNTK(sigma_b=0.3)
    pipe = make_pipeline(SeriesScaler("dataset-max"), KernelSVC(k, C=1.0)).fit(X, y)
    s = SeriesScaler("dataset-max").fit(X)
    want = KernelSVC(k, C=1.0).fit(s.transform(X), y).predict(s.transform(Xt))
    np.testing.assert_array_equal(pipe.predict(Xt), want)
    res = kernel_grid_search(X, y, [k], [1.0], X_test=Xt, y_test=yt, cv=3, scale="dataset-max")
    assert res.test_score == pytest.approx(np.mean(want == yt))
