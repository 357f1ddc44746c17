"""verify/fig4_regression.py: the segment cutter, the SNR, the previous-step
predictor and the kernel ridge CV, against hand-computed values and scikit-learn."""
import importlib
import math
import sys
from pathlib import Path

import numpy as np
import pytest

VERIFY = Path(__file__).resolve().parent.parent / "verify"


@pytest.fixture(scope="module")
def f4():
    sys.path.insert(0, str(VERIFY))
    try:
        yield importlib.import_module("fig4_regression")
    finally:
        sys.path.remove(str(VERIFY))


def test_segments_lengths_targets_and_no_leakage(f4):
    series = np.arange(300, dtype=float) * 1.5 + 7.0  # distinct values: positions are recoverable
    rng = np.random.default_rng(3)
    X, y, L, s = f4.cut_segments(series, 2000, t_fixed=10, t_var=6, rng=rng)
    assert X.shape == (2000, 16)
    assert L.min() == 10 and L.max() == 16  # both ends of [T_fixed, T_fixed + T_var] occur
    assert set(np.unique(L)) == set(range(10, 17))
    for i in range(len(X)):
        n = np.isfinite(X[i]).sum()
        assert n == L[i] and np.isnan(X[i, n:]).all()  # values first, then NaN
        assert np.array_equal(X[i, :n], series[s[i]:s[i] + n])
        assert y[i] == series[s[i] + n]  # the value right after the segment
        assert y[i] == X[i, n - 1] + 1.5  # ... which is one step after its last value
        assert y[i] not in X[i, :n]  # the target is not in the input
    assert s.min() >= 0 and (s + L).max() <= 299  # the target index stays inside the series


def test_segments_respect_the_train_test_split(f4):
    series = np.arange(975, dtype=float)
    rng = np.random.default_rng(0)
    X, y, L, s = f4.cut_segments(series, 3000, 10, 10, rng, lo=0, hi=700)
    assert np.nanmax(X) < 699 and y.max() <= 699  # training inputs and targets in 0..699
    Xt, yt, Lt, st = f4.cut_segments(series, 3000, 10, 10, rng, lo=700, hi=975)
    assert np.nanmin(Xt) >= 700 and yt.max() <= 974  # test inputs and targets in 700..974
    assert st.min() == 700  # the first admissible start is reached
    assert (st + Lt).max() == 974  # and the last admissible target


def test_segments_reject_bad_input(f4):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="fewer than"):
        f4.cut_segments(np.zeros(20), 5, 10, 10, rng)  # a 20-step segment needs 21 values
    with pytest.raises(ValueError, match="t_var"):
        f4.cut_segments(np.zeros(100), 5, 10, -1, rng)
    with pytest.raises(ValueError, match="finite"):
        f4.cut_segments(np.array([1.0, np.nan] * 20), 5, 2, 0, rng)
    with pytest.raises(ValueError, match="lo"):
        f4.cut_segments(np.zeros(100), 5, 2, 0, rng, lo=50, hi=40)


def test_segments_are_reproducible(f4):
    a = f4.cut_segments(np.arange(100.0), 10, 3, 4, np.random.default_rng(9))
    b = f4.cut_segments(np.arange(100.0), 10, 3, 4, np.random.default_rng(9))
    assert all(np.array_equal(u, v, equal_nan=True) for u, v in zip(a, b))


def test_snr_hand_computed(f4):
    # sum y^2 = 1 + 4 + 4 = 9; sum err^2 = 0 + 1 + 1 = 2; 10 log10(4.5) = 6.5321251...
    assert f4.snr_db([1.0, 2.0, 2.0], [1.0, 1.0, 3.0]) == pytest.approx(6.532125137753437, rel=1e-12)
    assert f4.snr_db([3.0, 4.0], [0.0, 0.0]) == pytest.approx(0.0, abs=1e-12)  # predicting 0: 0 dB
    assert f4.snr_db([1.0, -1.0], [1.1, -0.9]) == pytest.approx(10 * math.log10(2 / 0.02))  # 20 dB
    assert f4.snr_db([1.0, 2.0], [1.0, 2.0]) == math.inf
    with pytest.raises(ValueError):
        f4.snr_db([1.0, 2.0], [1.0])


def test_pts_hand_computed(f4):
    X = np.array([[1.0, 2.0, 3.0, np.nan], [5.0, np.nan, np.nan, np.nan], [1.0, 2.0, 3.0, 4.0]])
    assert np.array_equal(f4.pts_predict(X), [3.0, 5.0, 4.0])
    # PTS on y_t = t: every prediction is off by exactly 1
    series = np.arange(50.0)
    Xs, ys, _, _ = f4.cut_segments(series, 30, 3, 5, np.random.default_rng(1))
    assert np.array_equal(ys - f4.pts_predict(Xs), np.ones(30))
    with pytest.raises(ValueError):
        f4.pts_predict(np.array([[np.nan, 1.0]]))


def test_ridge_solve_matches_sklearn(f4):
    from sklearn.kernel_ridge import KernelRidge

    rng = np.random.default_rng(0)
    A = rng.normal(size=(12, 5))
    K = A @ A.T + 0.3 * np.eye(12)
    y = rng.normal(size=12)
    lams = [0.0, 0.01, 1.0, 100.0]
    coef = f4._ridge_solve(K, y, lams)
    for a, lam in zip(coef, lams):
        ref = KernelRidge(kernel="precomputed", alpha=lam).fit(K, y).dual_coef_
        assert np.allclose(a, ref, rtol=1e-8, atol=1e-10)
    # lambda = 0 on a singular K: the minimum-norm solution (pseudo-inverse)
    Ks = A @ A.T  # rank 5
    assert np.allclose(f4._ridge_solve(Ks, y, [0.0])[0], np.linalg.pinv(Ks, rcond=1e-10) @ y, atol=1e-6)


def test_cv_matches_naive_sklearn_loop(f4):
    """The vectorised CV equals a per-fold, per-lambda KernelRidge loop on the same folds,
    and it picks the kernel that fits the data."""
    from sklearn.kernel_ridge import KernelRidge

    rng = np.random.default_rng(5)
    X = rng.normal(size=(25, 3))
    Xt = rng.normal(size=(40, 3))
    w = np.array([1.0, -2.0, 0.5])
    y = X @ w + 0.01 * rng.normal(size=25)
    good = (X @ X.T, Xt @ X.T)  # the linear kernel: the true model
    Z = rng.normal(size=(25 + 40, 25 + 40))
    bad_full = Z @ Z.T  # an unrelated kernel
    bad = (bad_full[:25, :25], bad_full[25:, :25])
    lams = (0.01, 0.1, 1.0)
    pred, (c, j), mse = f4.select_and_predict([bad, good], y, lams, 5, np.random.default_rng(11))
    assert c == 1
    assert np.allclose(pred, Xt @ w, atol=0.1)
    perm = np.random.default_rng(11).permutation(25)  # the same folds, rebuilt
    fold = np.empty(25, dtype=int)
    fold[perm] = np.arange(25) % 5
    for ci, (K, _) in enumerate([bad, good]):
        for ji, lam in enumerate(lams):
            errs = []
            for f in range(5):
                tr, va = fold != f, fold == f
                m = KernelRidge(kernel="precomputed", alpha=lam).fit(K[np.ix_(tr, tr)], y[tr])
                errs.append(np.mean((m.predict(K[np.ix_(va, tr)]) - y[va]) ** 2))
            assert mse[ci, ji] == pytest.approx(np.mean(errs), rel=1e-7)


def test_sinusoid_and_co2(f4):
    s = f4.noisy_sinusoid(8, 0.0, np.random.default_rng(0))
    assert np.allclose(s, [0, math.sqrt(0.5), 1, math.sqrt(0.5), 0, -math.sqrt(0.5), -1, -math.sqrt(0.5)])
    with pytest.raises(ValueError):
        f4.noisy_sinusoid(10, -0.1, np.random.default_rng(0))
    pytest.importorskip("statsmodels")
    c = f4.co2_series()
    assert c.shape == (975,) and np.isfinite(c).all()
    assert abs(c[:700].mean()) < 1e-12 and c[:700].std() == pytest.approx(1.0)
    assert c[-1] > c[0]  # CO2 rises
