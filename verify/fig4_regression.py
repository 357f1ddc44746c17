"""RNTK paper, Figure 4 (Section 4, Appendix A.2): next-step regression on
randomly cut segments of variable length, kernel ridge regression.

Protocol (the paper's, with what it leaves open filled in as stated here):

* Sinusoid: one period sampled at 1000 points, ``s_i = sin(2 pi i / 1000)``,
  plus white Gaussian noise of standard deviation sigma_n (default 0.05); a
  new noise draw every repetition. Training and test segments are cut from
  the same noisy series (the paper: "from this fixed data").
* Real series: the paper's Google stock prices (975 days, 2014-2018) are not
  available offline. **We use the Mauna Loa weekly CO2 series
  (statsmodels ``co2``) instead**: its last 975 weekly values (1983-2001),
  NaN gaps linearly interpolated, standardised with the mean and standard
  deviation of the first 700 values. Training segments are cut from values
  1-700 and test segments from 701-975 (targets included), as in the paper.
* Segments: length L uniform on the integers T_fixed .. T_fixed + T_var
  (T_fixed = 10), start uniform over the positions that leave room for the
  target; input = the L values, target = the value right after them.
  N_train = 20 by default; N_test = 1000 (the paper: 5000; the SNR's
  repetition-to-repetition spread is dominated by the 20 training segments).
* Kernels: the RNTK (one layer, ReLU, sigma_u = 1) on the segments' native
  lengths; the MLP NTK (ReLU), RBF and polynomial kernels on the segments
  zero-padded at the end to T_fixed + T_var (the paper's "zero padding").
  Each family has a small hyperparameter grid (``GRIDS``; the paper says only
  "same hyperparameter sets for all kernels"); the kernel configuration and
  the ridge term are chosen jointly by 5-fold CV (mean squared error) on the
  training segments, over the paper's lambda grid (its duplicated 0.8 counted
  once). Ties: the largest lambda, then the first configuration.
* PTS: predict the next value by the segment's last value (no training).
* SNR (undefined in the paper): ``10 log10(sum y^2 / sum (y - y_hat)^2)`` in
  dB over the test targets y (noisy observations for the sinusoid,
  standardised values for CO2); the mean over repetitions is reported with
  its standard error, and the paired RNTK-minus-other differences likewise.
  The paper repeats every point 1000 times; we repeat ``REPS`` times.

Output: ``fig4_regression.png`` (the paper's 4 panels: sinusoid vs T_var,
sinusoid vs sigma_n, CO2 vs T_var, CO2 vs N_train; and a fifth, not in the
paper: sinusoid vs N_train) and ``fig4_regression.json``.
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from _common import out_dir, parser, save_figure, write_json

T_FIXED = 10
SIGMA_N = 0.05  # the paper's default noise
T_VAR_DEFAULT = 10  # the paper's T_var for panels (b) and (d)
N_TRAIN_DEFAULT = 20
N_SINE = 1000  # samples of one period
CO2_LEN, CO2_SPLIT = 975, 700  # the paper's stock series length and train/test split
CV_FOLDS = 5
# Appendix A.2 (the paper lists 0.8 twice; counted once here)
LAMBDAS = (0, 0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1, 2, 3, 4, 5, 6, 7, 8, 10, 100)
GRIDS = {  # small grids (ours): a few values of each family's main hyperparameters
    "RNTK": [dict(sigma_w=w, sigma_b=b) for w in (1.34, 2**0.5) for b in (0.0, 0.1, 1.0)],
    "NTK": [dict(n_layers=L, sigma_w=2**0.5, sigma_b=b) for L in (1, 3) for b in (0.0, 0.1, 1.0)],
    "RBF": [dict(gamma=g) for g in (0.01, 0.1, 1.0, 10.0)],
    "POLY": [dict(degree=d, coef0=r) for d in (1, 2, 3) for r in (0.0, 1.0)],
}
METHODS = ("RNTK", "NTK", "RBF", "POLY", "PTS")
FULL = dict(
    reps=20, n_test=1000,
    t_var=(0, 5, 10, 20, 30, 40, 50),
    sigma_n=(0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
    n_train=(10, 20, 50, 100, 200),
)
QUICK = dict(reps=3, n_test=200, t_var=(0, 20, 50), sigma_n=(0.01, 0.1, 0.5), n_train=(10, 50))


# -- data ---------------------------------------------------------------------
def noisy_sinusoid(n: int, sigma_n: float, rng: np.random.Generator) -> np.ndarray:
    """One period of a sine sampled at n points plus N(0, sigma_n^2) noise."""
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    if not (np.isfinite(sigma_n) and sigma_n >= 0):
        raise ValueError(f"sigma_n must be finite and >= 0, got {sigma_n}")
    return np.sin(2 * np.pi * np.arange(n) / n) + sigma_n * rng.standard_normal(n)


def co2_series(length: int = CO2_LEN, n_fit: int = CO2_SPLIT) -> np.ndarray:
    """The last ``length`` weekly Mauna Loa CO2 values (``rntk.datasets.load_co2``,
    the statsmodels series shipped with rntk), gaps interpolated, standardised
    by the mean and s.d. of the first ``n_fit``."""
    from rntk.datasets import load_co2

    s = load_co2(interpolate=True)
    s = s[np.isfinite(s)][-length:]
    mu, sd = s[:n_fit].mean(), s[:n_fit].std()
    return (s - mu) / sd


def cut_segments(series, n: int, t_fixed: int, t_var: int, rng: np.random.Generator,
                 lo: int = 0, hi: int | None = None):
    """Cut n random segments and their next values from ``series[lo:hi]``.

    Each segment has a length L drawn uniformly from the integers
    t_fixed .. t_fixed + t_var and a start s drawn uniformly from lo ..
    hi - L - 1; its input is ``series[s:s+L]`` and its target
    ``series[s+L]`` (inside ``lo:hi`` too).

    Returns
    -------
    X : ndarray (n, t_fixed + t_var), float64
        Row i holds segment i's values followed by NaN (rntk's trailing-NaN
        convention for shorter sequences).
    y : ndarray (n,)
        The targets.
    lengths, starts : ndarray (n,) of int
    """
    series = np.asarray(series, dtype=np.float64)
    if series.ndim != 1 or not np.isfinite(series).all():
        raise ValueError("series must be a 1-D array of finite values")
    hi = len(series) if hi is None else hi
    if not (0 <= lo < hi <= len(series)):
        raise ValueError(f"need 0 <= lo < hi <= len(series), got lo={lo}, hi={hi}, len={len(series)}")
    if n < 1 or t_fixed < 1 or t_var < 0:
        raise ValueError(f"need n >= 1, t_fixed >= 1, t_var >= 0; got {n}, {t_fixed}, {t_var}")
    t_max = t_fixed + t_var
    if hi - lo < t_max + 1:
        raise ValueError(f"the range lo:hi has {hi - lo} values, fewer than the {t_max + 1} "
                         "a longest segment and its target need")
    lengths = rng.integers(t_fixed, t_max + 1, size=n)
    starts = lo + (rng.random(n) * (hi - lo - lengths)).astype(np.int64)  # lo .. hi-L-1
    X = np.full((n, t_max), np.nan)
    for i, (s, L) in enumerate(zip(starts, lengths)):
        X[i, :L] = series[s:s + L]
    return X, series[starts + lengths], lengths, starts


def snr_db(y, y_hat) -> float:
    """10 log10(sum y^2 / sum (y - y_hat)^2); +inf for a perfect prediction."""
    y, y_hat = np.asarray(y, dtype=np.float64), np.asarray(y_hat, dtype=np.float64)
    if y.shape != y_hat.shape or y.size == 0:
        raise ValueError(f"y and y_hat must be non-empty and of one shape, got {y.shape}, {y_hat.shape}")
    err = np.sum((y - y_hat) ** 2)
    return float("inf") if err == 0 else float(10 * np.log10(np.sum(y * y) / err))


def pts_predict(X) -> np.ndarray:
    """Previous-time-step predictor: each row's last finite value."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, T), got shape {X.shape}")
    fin = np.isfinite(X)
    if not fin[:, 0].all():
        raise ValueError("every row needs at least one value (its first entry is NaN)")
    last = fin.shape[1] - 1 - np.argmax(fin[:, ::-1], axis=1)
    return X[np.arange(len(X)), last]


# -- kernel ridge with CV over (configuration, lambda) -------------------------
def _ridge_solve(K, y, lambdas):
    """Dual coefficients of kernel ridge for every lambda, shape (n_lambda, n).

    ``a = (K + lambda I)^-1 y`` by one eigendecomposition; lambda = 0 is the
    pseudo-inverse (eigenvalues below n eps max|w| dropped), which equals
    scikit-learn's KernelRidge(alpha=0) when K is invertible."""
    w, V = np.linalg.eigh(K)
    Vy = V.T @ y
    tol = len(y) * np.finfo(float).eps * max(np.abs(w).max(), 1e-300)
    lam = np.asarray(lambdas, dtype=np.float64)[:, None]
    d = w[None, :] + lam
    inv = np.where(np.abs(d) > tol, 1.0 / np.where(d == 0, 1.0, d), 0.0)
    return (inv * Vy[None, :]) @ V.T


def select_and_predict(grams, y, lambdas, folds, rng):
    """Joint 5-fold CV over kernel configurations and lambdas.

    grams : list of (K_train (n, n), K_test_by_train (n_test, n)).
    Returns (test predictions of the selected setting, (config, lambda) index,
    CV mean squared errors (n_config, n_lambda))."""
    n = len(y)
    perm = rng.permutation(n)
    fold_of = np.empty(n, dtype=np.int64)
    fold_of[perm] = np.arange(n) % folds
    mse = np.zeros((len(grams), len(lambdas)))
    for c, (K, _) in enumerate(grams):
        for f in range(folds):
            tr, va = fold_of != f, fold_of == f
            A = _ridge_solve(K[np.ix_(tr, tr)], y[tr], lambdas)
            mse[c] += np.mean((K[np.ix_(va, tr)] @ A.T - y[va, None]) ** 2, axis=0) / folds
    best = mse.min()
    tied = np.argwhere(mse <= best * (1 + 1e-9) + 1e-300)
    lam = np.asarray(lambdas)[tied[:, 1]]
    c, j = tied[np.lexsort((tied[:, 0], -lam))[0]]
    K, Kt = grams[c]
    a = _ridge_solve(K, y, [lambdas[j]])[0]
    return Kt @ a, (int(c), int(j)), mse


def _kernels(family):
    from rntk import MLPNTK, RNTK, PolynomialKernel, RBFKernel

    make = {
        "RNTK": lambda p: RNTK(activation="relu", sigma_u=1.0, sigma_h=0.0, sigma_v=1.0, **p),
        "NTK": lambda p: MLPNTK(activation="relu", sigma_v=1.0, **p),
        "RBF": lambda p: RBFKernel(**p),
        "POLY": lambda p: PolynomialKernel(**p),
    }[family]
    return [make(p) for p in GRIDS[family]]


def one_run(series_train, series_test_range, n_train, n_test, t_var, rng, kernels):
    """One repetition: cut segments, fit every family, return SNR (dB) per method.

    series_train = (series, lo, hi) for training segments;
    series_test_range likewise for test segments."""
    s, lo, hi = series_train
    X, y, _, _ = cut_segments(s, n_train, T_FIXED, t_var, rng, lo, hi)
    s2, lo2, hi2 = series_test_range
    Xt, yt, _, _ = cut_segments(s2, n_test, T_FIXED, t_var, rng, lo2, hi2)
    Xp, Xtp = np.nan_to_num(X, nan=0.0), np.nan_to_num(Xt, nan=0.0)  # zero-padded at the end
    out, chosen = {}, {}
    for fam, ks in kernels.items():
        a, at = (X, Xt) if fam == "RNTK" else (Xp, Xtp)
        kw = {"n_jobs": 1} if fam == "RNTK" else {}
        both = np.concatenate([a, at])  # one call per configuration: [train; test] by train
        grams = []
        for k in ks:
            G = k.gram(both, a, **kw).ntk  # (sigma_h = 0: gram(X, X) equals gram(X))
            grams.append((0.5 * (G[:n_train] + G[:n_train].T), G[n_train:]))
        pred, (c, j), _ = select_and_predict(grams, y, LAMBDAS, CV_FOLDS, rng)
        out[fam] = snr_db(yt, pred)
        chosen[fam] = (c, LAMBDAS[j])
    out["PTS"] = snr_db(yt, pts_predict(Xt))
    return out, chosen


def sweep(name, values, make_run, reps, seed):
    """Run ``reps`` repetitions at every value; mean, s.e. and paired differences."""
    from tqdm.auto import tqdm

    snr = np.empty((len(values), reps, len(METHODS)))
    choices = []
    for i, v in enumerate(tqdm(values, desc=name, leave=False)):
        rng = np.random.default_rng([seed, i])
        ch = []
        for r in range(reps):
            res, chosen = make_run(v, rng)
            snr[i, r] = [res[m] for m in METHODS]
            ch.append(chosen)
        choices.append(ch)
    mean, se = snr.mean(1), snr.std(1, ddof=1) / np.sqrt(reps) if reps > 1 else np.zeros(snr.shape[::2])
    diff = snr[:, :, :1] - snr[:, :, 1:]  # RNTK minus each other method, paired
    dse = diff.std(1, ddof=1) / np.sqrt(reps) if reps > 1 else np.zeros(diff.shape[::2])
    lam_counts = {fam: {str(l): int(sum(c[fam][1] == l for ch in choices for c in ch)) for l in LAMBDAS
                        if any(c[fam][1] == l for ch in choices for c in ch)} for fam in GRIDS}
    return {
        "x": list(values),
        "mean_snr_db": {m: mean[:, k].tolist() for k, m in enumerate(METHODS)},
        "se_snr_db": {m: se[:, k].tolist() for k, m in enumerate(METHODS)},
        "rntk_minus": {m: {"mean": diff[:, :, k].mean(1).tolist(), "se": dse[:, k].tolist()}
                       for k, m in enumerate(METHODS[1:])},
        "selected_lambda_counts": lam_counts,
    }


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    cfg = QUICK if args.quick else FULL
    reps, n_test = cfg["reps"], cfg["n_test"]
    kernels = {f: _kernels(f) for f in GRIDS}
    co2 = co2_series()
    t0 = time.perf_counter()
    warnings.filterwarnings("ignore", category=RuntimeWarning)

    def sine(sigma_n, t_var, rng):
        s = noisy_sinusoid(N_SINE, sigma_n, rng)
        return one_run((s, 0, N_SINE), (s, 0, N_SINE), N_TRAIN_DEFAULT, n_test, t_var, rng, kernels)

    def sine_n(n_train, rng):
        s = noisy_sinusoid(N_SINE, SIGMA_N, rng)
        return one_run((s, 0, N_SINE), (s, 0, N_SINE), n_train, n_test, T_VAR_DEFAULT, rng, kernels)

    def real(n_train, t_var, rng):
        return one_run((co2, 0, CO2_SPLIT), (co2, CO2_SPLIT, CO2_LEN), n_train, n_test, t_var, rng, kernels)

    try:  # one BLAS thread: the solves are small, and threads fight numba's on 2 cores
        from threadpoolctl import threadpool_limits

        limit = threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        limit = None
    panels = {
        "a_sine_vs_t_var": sweep("(a) sine, T_var", cfg["t_var"], lambda v, r: sine(SIGMA_N, v, r), reps, 1),
        "b_sine_vs_sigma_n": sweep("(b) sine, sigma_n", cfg["sigma_n"],
                                   lambda v, r: sine(v, T_VAR_DEFAULT, r), reps, 2),
        "c_co2_vs_t_var": sweep("(c) CO2, T_var", cfg["t_var"],
                                lambda v, r: real(N_TRAIN_DEFAULT, v, r), reps, 3),
        "d_co2_vs_n_train": sweep("(d) CO2, N_train", cfg["n_train"],
                                  lambda v, r: real(v, T_VAR_DEFAULT, r), reps, 4),
        # not in the paper (its N_train panel is on the stock data): the same sweep on the sinusoid
        "e_sine_vs_n_train": sweep("(e) sine, N_train", cfg["n_train"],
                                   lambda v, r: sine_n(v, r), reps, 5),
    }
    wall = time.perf_counter() - t0
    if limit is not None:
        limit.restore_original_limits()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = {"RNTK": "RNTK (native lengths)", "NTK": "NTK (zero-padded)", "RBF": "RBF (zero-padded)",
              "POLY": "polynomial (zero-padded)", "PTS": "PTS (previous step)"}
    xlabels = {"a": "T_var", "b": "σ_n", "c": "T_var", "d": "N_train", "e": "N_train"}
    titles = {"a": "(a) noisy sinusoid", "b": f"(b) noisy sinusoid, T_var = {T_VAR_DEFAULT}",
              "c": "(c) Mauna Loa CO2 (stand-in for Google stock)",
              "d": f"(d) Mauna Loa CO2, T_var = {T_VAR_DEFAULT}",
              "e": f"(e) noisy sinusoid, T_var = {T_VAR_DEFAULT} (extra)"}
    fig, axes = plt.subplots(1, 5, figsize=(20, 3.8))
    for ax, (key, p) in zip(axes, panels.items()):
        x = np.asarray(p["x"], dtype=float)
        for k, m in enumerate(METHODS):
            ax.errorbar(x, p["mean_snr_db"][m], yerr=2 * np.asarray(p["se_snr_db"][m]), marker="o", ms=3.5,
                        capsize=2, color=f"C{k}" if m != "PTS" else "k", ls="-" if m != "PTS" else "--",
                        label=labels[m])
        if key[0] in "bde":
            ax.set_xscale("log")
            ax.minorticks_off()
        ax.set_xticks(x)
        ax.set_xticklabels([f"{v:g}" for v in x], fontsize=8)
        ax.set_xlabel(xlabels[key[0]])
        ax.set_title(titles[key[0]], fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test SNR (dB), mean ± 2 s.e.")
    axes[0].legend(frameon=False, fontsize=7.5)
    fig.suptitle(f"Next-step kernel ridge regression on variable-length segments "
                 f"({reps} repetitions per point, N_test = {n_test})", fontsize=10)
    fig.tight_layout()
    d = out_dir(args)
    save_figure(fig, d / "fig4_regression.png")
    write_json(d / "fig4_regression.json", {
        "quick": bool(args.quick),
        "real_series": "Mauna Loa weekly CO2 (statsmodels.datasets.co2, shipped as rntk.datasets.load_co2), last 975 values, gaps "
                       "interpolated, standardised on the first 700; a stand-in for the paper's Google "
                       "stock prices, which are not available offline",
        "reps": reps, "n_test": n_test, "t_fixed": T_FIXED, "sigma_n_default": SIGMA_N,
        "t_var_default": T_VAR_DEFAULT, "n_train_default": N_TRAIN_DEFAULT, "cv_folds": CV_FOLDS,
        "lambdas": list(LAMBDAS), "grids": {f: [{k: float(v) for k, v in p.items()} for p in g]
                                            for f, g in GRIDS.items()},
        "padding": "zero, at the end, to T_fixed + T_var (NTK, RBF, POLY); RNTK on native lengths",
        "snr": "10 log10(sum y^2 / sum (y - y_hat)^2) over the test targets, dB; mean over repetitions",
        "panels": panels, "wall_s": wall,
    })
    for key, p in panels.items():
        print(key)
        for i, v in enumerate(p["x"]):
            row = ", ".join(f"{m} {p['mean_snr_db'][m][i]:.2f}±{p['se_snr_db'][m][i]:.2f}" for m in METHODS)
            print(f"  {v}: {row}")
    print(f"fig4_regression: {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
