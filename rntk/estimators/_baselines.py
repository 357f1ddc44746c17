"""What a practitioner would run on UCR instead of a kernel SVM, from installed libraries.

* MiniRocket with its ridge classifier: sktime's ``RocketClassifier(rocket_transform=
  "minirocket")`` (MiniRocket features, ``StandardScaler(with_mean=False)``,
  ``RidgeClassifierCV`` over 10 log-spaced alphas: the MiniRocket paper's recipe).
* 1-nearest-neighbour DTW: the DTW distances are dtaidistance's C implementation (the
  one sktime wraps as ``DtwDtaidistUniv``), with the full window or a Sakoe-Chiba
  window learned by leave-one-out 1-NN on the training set only.

Neither MiniRocket nor DTW is implemented here; this module only feeds the libraries
the UCR layout used by ``rntk.datasets`` ((N, T) float arrays, trailing NaN marking a
shorter series) and times them. Install them with ``pip install "rntk[baselines]"``;
they are imported on first use. Univariate series only.
"""
from __future__ import annotations

import time

import numpy as np

__all__ = ["DTW_WINDOWS", "dtw_matrix", "minirocket_ridge", "nn1_dtw"]

# Sakoe-Chiba windows tried by the learned-window 1-NN DTW, as fractions of the series
# length (1.0 = full window), fixed in advance; ties in leave-one-out accuracy go to the
# smallest window (the UCR archive's own DTW column searches 0-100 % in 1 % steps)
DTW_WINDOWS = (0.0, 0.01, 0.02, 0.03, 0.05, 0.07, 0.1, 0.15, 0.2, 1.0)
_ROWS = 256  # rows of a cross-distance block computed at once (bounds the temporary matrix)


def _series(X, name: str) -> list[np.ndarray]:
    """Univariate series as contiguous float64 arrays, the trailing NaN padding removed."""
    if isinstance(X, (list, tuple)):
        rows = [np.asarray(s, dtype=np.float64) for s in X]
    else:
        A = np.asarray(X, dtype=np.float64)
        if A.ndim == 3 and A.shape[2] == 1:
            A = A[:, :, 0]
        if A.ndim != 2:
            raise ValueError(f"{name} must be an (N, T) array of univariate series, got shape {A.shape}")
        rows = list(A)
    if not rows:
        raise ValueError(f"{name} is empty: no series")
    out = []
    for i, s in enumerate(rows):
        if s.ndim != 1:
            raise ValueError(f"{name}[{i}] must be a 1-D series, got shape {s.shape}")
        finite = np.isfinite(s)
        if np.isinf(s).any():
            raise ValueError(f"{name}[{i}] holds an infinite value")
        n = int(finite.sum())
        if n == 0:
            raise ValueError(f"{name}[{i}] has no finite value")
        if not finite[:n].all():
            raise ValueError(f"{name}[{i}] has NaN inside the series (only trailing NaN marks a shorter series)")
        out.append(np.ascontiguousarray(s[:n]))
    return out


def _window_arg(radius):
    """dtaidistance's ``window`` for a Sakoe-Chiba radius: it allows |i - j| < window."""
    if radius is None:
        return None
    if isinstance(radius, bool) or not isinstance(radius, (int, np.integer)) or radius < 0:
        raise ValueError(f"window radius must be an int >= 0 or None (full window), got {radius!r}")
    return int(radius) + 1


def dtw_matrix(X, Y=None, radius: int | None = None) -> np.ndarray:
    """DTW distances ``D[i, j] = dtw(X[i], Y[j])`` (``Y=None``: X against itself).

    The distance is the square root of the smallest sum of squared differences along
    a warping path (tslearn's and dtaidistance's convention). ``radius`` bounds the
    path to ``|i - j| <= radius`` steps from the diagonal (Sakoe-Chiba band; for
    series of different lengths both libraries widen it by the length difference);
    None allows every path. One thread.
    """
    from dtaidistance import dtw

    w = _window_arg(radius)
    A = _series(X, "X")
    if Y is None:
        return np.asarray(dtw.distance_matrix_fast(A, window=w, compact=False, parallel=False))
    B = _series(Y, "Y")
    D = np.empty((len(A), len(B)))
    for j0 in range(0, len(B), _ROWS):
        part = B[j0:j0 + _ROWS]
        full = dtw.distance_matrix_fast(A + part, window=w, compact=False, parallel=False,
                                        block=((0, len(A)), (len(A), len(A) + len(part))))
        D[:, j0:j0 + len(part)] = np.asarray(full)[:len(A), len(A):]
    return D


def _labels(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must hold one label per series ({n}), got shape {y.shape}")
    return y


def _nn_predict(D: np.ndarray, y_train: np.ndarray) -> np.ndarray:
    """Label of the nearest training series for every column of D (train x query); ties: first."""
    return y_train[np.argmin(D, axis=0)]


def nn1_dtw(X, y, X_test, y_test, windows=DTW_WINDOWS, full: bool = True, learn: bool = True) -> dict:
    """1-NN DTW with the full window and with a window learned on the training set.

    The learned window is the fraction of ``windows`` (of the longest training series,
    rounded to whole steps) with the best leave-one-out 1-NN accuracy on the training
    set; ties go to the smallest window. Only then is the test set touched. Returns
    test accuracies (%), the learned window, every window's leave-one-out accuracy
    and the wall time of each part.
    """
    A, At = _series(X, "X"), _series(X_test, "X_test")
    y, y_test = _labels(y, len(A), "y"), _labels(y_test, len(At), "y_test")
    if len(A) < 2:
        raise ValueError("1-NN needs at least 2 training series")
    out = {}
    full_D = None
    if full:
        t0 = time.perf_counter()
        full_D = dtw_matrix(A, At, None)
        out["full"] = {"test_acc": 100 * float(np.mean(_nn_predict(full_D, y) == y_test)),
                       "wall_s": time.perf_counter() - t0}
    if learn:
        fr = np.asarray(windows, dtype=np.float64)
        if fr.size == 0 or not np.all((fr >= 0) & (fr <= 1)):
            raise ValueError(f"windows must be fractions in [0, 1], got {windows!r}")
        T = max(len(s) for s in A)
        t0 = time.perf_counter()
        loo = []
        for f in fr:
            D = dtw_matrix(A, None, None if f >= 1 else round(float(f) * T))
            np.fill_diagonal(D, np.inf)
            loo.append(100 * float(np.mean(_nn_predict(D, y) == y)))
        best = int(np.argmax(loo))  # first maximum = smallest window among ties
        r = None if fr[best] >= 1 else round(float(fr[best]) * T)
        t1 = time.perf_counter()
        Dt = full_D if (r is None and full_D is not None) else dtw_matrix(A, At, r)
        out["learned"] = {"test_acc": 100 * float(np.mean(_nn_predict(Dt, y) == y_test)),
                          "window": float(fr[best]), "radius": r, "loo_acc": dict(zip(map(float, fr), loo)),
                          "loo_s": t1 - t0, "wall_s": time.perf_counter() - t0}
    return out


def _equal_length(series: list[np.ndarray], width: int) -> np.ndarray:
    """(N, 1, width): shorter series zero-padded at the end (MiniRocket needs one length)."""
    out = np.zeros((len(series), 1, width))
    for i, s in enumerate(series):
        out[i, 0, :len(s)] = s
    return out


def minirocket_ridge(X, y, X_test, y_test, random_state: int = 0, num_kernels: int = 10_000) -> dict:
    """sktime's MiniRocket + ridge classifier: test accuracy (%) and wall time.

    Series of different lengths are zero-padded at the end to the longest one
    (recorded as ``padded``); MiniRocket's kernels and bias quantiles are drawn
    with ``random_state``.
    """
    from sktime.classification.kernel_based import RocketClassifier

    A, At = _series(X, "X"), _series(X_test, "X_test")
    y, y_test = _labels(y, len(A), "y"), _labels(y_test, len(At), "y_test")
    width = max(max(len(s) for s in A), max(len(s) for s in At))
    if width < 9:
        raise ValueError(f"MiniRocket needs series of length >= 9, got {width}")
    padded = len({len(s) for s in A + At}) > 1
    t0 = time.perf_counter()
    clf = RocketClassifier(rocket_transform="minirocket", num_kernels=num_kernels,
                           random_state=random_state, n_jobs=1)
    clf.fit(_equal_length(A, width), y)
    acc = float(np.mean(clf.predict(_equal_length(At, width)) == y_test))
    return {"test_acc": 100 * acc, "wall_s": time.perf_counter() - t0, "padded": padded,
            "classifier": f"{type(clf).__module__}.{type(clf).__name__}"}
