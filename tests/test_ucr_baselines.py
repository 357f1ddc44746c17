"""The practitioner baselines (rntk.estimators: minirocket_ridge, nn1_dtw, dtw_matrix) against independent computations."""
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dtaidistance")
from rntk.estimators import DTW_WINDOWS, dtw_matrix, minirocket_ridge, nn1_dtw

ROOT = Path(__file__).resolve().parent.parent


def _dtw_brute(a, b, radius=None):
    """Textbook DTW by dynamic programming in plain floats: sqrt of the cheapest squared path."""
    n, m = len(a), len(b)
    INF = float("inf")
    D = [[INF] * (m + 1) for _ in range(n + 1)]
    D[0][0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if radius is not None and abs(i - j) > radius:
                continue
            D[i][j] = (float(a[i - 1]) - float(b[j - 1])) ** 2 + min(D[i - 1][j], D[i][j - 1], D[i - 1][j - 1])
    return D[n][m] ** 0.5


@pytest.mark.parametrize("radius", [None, 0, 1, 3])
def test_dtw_matrix_matches_textbook_dtw(rng, radius):
    X, Y = rng.normal(size=(5, 9)), rng.normal(size=(4, 9))
    want = np.array([[_dtw_brute(a, b, radius) for b in Y] for a in X])
    got = dtw_matrix(X, Y, radius)
    assert np.allclose(got, want, rtol=1e-12, atol=1e-12)
    sym = dtw_matrix(X, None, radius)
    want_sym = np.array([[_dtw_brute(a, b, radius) for b in X] for a in X])
    assert np.allclose(sym, want_sym, rtol=1e-12, atol=1e-12)


def test_dtw_radius_zero_is_euclidean_and_blocks_cover_many_rows(rng, monkeypatch):
    import rntk.estimators._baselines as B

    monkeypatch.setattr(B, "_ROWS", 3)  # several cross blocks, one partial
    X, Y = rng.normal(size=(4, 7)), rng.normal(size=(8, 7))
    eu = np.sqrt(((X[:, None] - Y[None]) ** 2).sum(-1))
    assert np.allclose(B.dtw_matrix(X, Y, 0), eu, rtol=1e-12)


def test_dtw_of_different_lengths_matches_tslearn(rng):
    tslearn = pytest.importorskip("tslearn.metrics")
    X = rng.normal(size=(3, 12))
    X[1, 9:] = np.nan  # shorter series: trailing NaN
    Y = rng.normal(size=(2, 10))
    Y[0, 7:] = np.nan
    for r in (None, 1, 4):
        kw = {} if r is None else {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": r}
        want = np.array([[tslearn.dtw(a[np.isfinite(a)], b[np.isfinite(b)], **kw) for b in Y] for a in X])
        assert np.allclose(dtw_matrix(X, Y, r), want, rtol=1e-10)


def test_nn1_dtw_follows_leave_one_out_by_brute_force(rng):
    T = 10
    X = np.cumsum(rng.normal(size=(14, T)), axis=1)
    y = np.arange(14) % 2
    X[y == 1] += np.linspace(0, 2, T)  # a learnable difference
    Xt = np.cumsum(rng.normal(size=(6, T)), axis=1)
    yt = np.arange(6) % 2
    Xt[yt == 1] += np.linspace(0, 2, T)
    windows = (0.0, 0.1, 0.3, 1.0)
    out = nn1_dtw(X, y, Xt, yt, windows=windows)
    loo = []
    for f in windows:
        r = None if f >= 1 else round(f * T)
        D = np.array([[_dtw_brute(a, b, r) for b in X] for a in X])
        np.fill_diagonal(D, np.inf)
        loo.append(100 * np.mean(y[np.argmin(D, axis=1)] == y))
    assert list(out["learned"]["loo_acc"].values()) == pytest.approx(loo)
    best = int(np.argmax(loo))  # ties: the smallest window
    assert out["learned"]["window"] == windows[best]
    r = None if windows[best] >= 1 else round(windows[best] * T)
    Dt = np.array([[_dtw_brute(a, b, r) for b in X] for a in Xt])
    assert out["learned"]["test_acc"] == pytest.approx(100 * np.mean(y[np.argmin(Dt, axis=1)] == yt))
    Df = np.array([[_dtw_brute(a, b) for b in X] for a in Xt])
    assert out["full"]["test_acc"] == pytest.approx(100 * np.mean(y[np.argmin(Df, axis=1)] == yt))
    assert DTW_WINDOWS[0] == 0.0 and DTW_WINDOWS[-1] == 1.0


def test_minirocket_is_sktimes_and_separates_an_easy_problem(rng):
    pytest.importorskip("sktime")
    t = np.linspace(0, 1, 60)
    freq = np.where(np.arange(60) % 2, 7.0, 2.0)
    X = np.sin(2 * np.pi * freq[:, None] * t + rng.uniform(0, 6, size=(60, 1))) + 0.2 * rng.normal(size=(60, 60))
    y = (np.arange(60) % 2).astype(int)
    out = minirocket_ridge(X[:30], y[:30], X[30:], y[30:], random_state=0, num_kernels=84)
    assert out["classifier"].startswith("sktime.") and out["classifier"].endswith("RocketClassifier")
    assert out["test_acc"] >= 95
    assert not out["padded"]
    shuffled = minirocket_ridge(X[:30], rng.permutation(y[:30]), X[30:], y[30:], random_state=0, num_kernels=84)
    assert shuffled["test_acc"] < 90  # labels carry the signal, not the recipe


def test_bad_input_is_named():
    X = np.ones((3, 5))
    with pytest.raises(ValueError, match="NaN inside"):
        dtw_matrix(np.array([[1.0, np.nan, 2.0]]))
    with pytest.raises(ValueError, match="infinite"):
        dtw_matrix(np.array([[1.0, np.inf, 2.0]]))
    with pytest.raises(ValueError, match="radius"):
        dtw_matrix(X, None, -1)
    with pytest.raises(ValueError, match="univariate"):
        dtw_matrix(np.ones((3, 5, 2)))
    with pytest.raises(ValueError, match="one label per series"):
        nn1_dtw(X, [0, 1], X, [0, 1, 0])
    with pytest.raises(ValueError, match="fractions"):
        nn1_dtw(X, [0, 1, 0], X, [0, 1, 0], windows=(0.1, 2.0))
    with pytest.raises(ValueError, match="empty"):
        dtw_matrix(np.ones((0, 5)))
    with pytest.raises(ValueError, match="length >= 9"):
        minirocket_ridge(X, [0, 1, 0], X, [0, 1, 0])


def test_rank_summary_by_hand(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "verify"))
    extra = runpy.run_path(str(ROOT / "verify" / "_ucr_extra.py"))
    acc = np.array([[90.0, 80.0, 70.0], [90.0, 70.0, 80.0], [60.0, 60.0, 50.0]])
    s = extra["rank_summary"](acc, ["a", "b", "c"], ["d1", "d2", "d3"])
    # ranks per row: (1, 2, 3), (1, 3, 2), (1.5, 1.5, 3)
    assert s["average_rank"] == pytest.approx({"a": 3.5 / 3, "b": 6.5 / 3, "c": 8 / 3})
    assert s["nemenyi_cd_0.05"] == pytest.approx(2.343 * np.sqrt(3 * 4 / (6 * 3)))
    assert 0 < s["friedman_p"] <= 1
    sys.modules.pop("_ucr_extra", None)
