"""Practitioner columns for the UCR scripts, and a rank summary over every column.

Columns (issue 19; ``rntk.estimators.minirocket_ridge`` and ``nn1_dtw``, libraries of the ``baselines`` extra):
``MINIROCKET`` (sktime's MiniRocket + ridge, seed 0), ``DTW_FULL`` (1-NN DTW, full
window) and ``DTW_CV`` (1-NN DTW, Sakoe-Chiba window learned by leave-one-out on the
training set over ``DTW_WINDOWS``). They see the series as shipped (the UCR files are
z-normalised per series), not the unit-norm series the kernel SVMs get: that is how
they are used in practice.

Ranks: average ranks over the datasets where every column ran (ties share the
average rank, the usual convention; ``rntk.estimators.summarize`` gives the paper's
"min" convention), the Friedman test, and Nemenyi's critical difference at 0.05
(Demsar 2006, Table 5a): two columns whose average ranks differ by less than the CD
are not distinguished by that test.
"""
from __future__ import annotations

import time

import numpy as np

from rntk.estimators import DTW_WINDOWS

BASELINES = ("MINIROCKET", "DTW_FULL", "DTW_CV")
BASELINE_GRIDS = {"MINIROCKET": {"num_kernels": 10_000, "random_state": 0},
                  "DTW_FULL": {"window": 1.0}, "DTW_CV": {"windows": list(DTW_WINDOWS)}}
DTW_CELLS_PER_S = 1.2e8  # dtaidistance DP cells a second, one core, measured here on Fish (idle machine)
# q_0.05 of the Studentized range / sqrt(2), k = 2..10 columns (Demsar 2006, Table 5a)
NEMENYI_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


def baseline_cost(facts: dict, fam: str) -> float:
    """Rough seconds on one core (for ordering units and skipping the largest)."""
    n, nt, T = facts["n_train"], facts["n_test"], facts["length"]
    if fam == "MINIROCKET":
        return 5 + (n + nt) * T * 2e-5
    if fam == "DTW_FULL":
        return n * nt * T * T / DTW_CELLS_PER_S
    band = sum(min(1.0, 2 * w + 1 / T) for w in DTW_WINDOWS)  # share of the T x T cells inside each band
    return (band * n * n / 2 + n * nt * 2 * max(DTW_WINDOWS[1:-1])) * T * T / DTW_CELLS_PER_S


def load_filled(name: str, split: str, root=None):
    """``load_ucr`` with missing values inside a series filled (``rntk.datasets.fill_gaps``).

    Only the DodgerLoop sets and MelbournePedestrian have such gaps; no column here
    accepts them, and linear interpolation is what the archive's own adjusted release
    does. Every other set comes back exactly as loaded."""
    from rntk.datasets import fill_gaps, load_ucr

    X, y = load_ucr(name, split, root)
    return fill_gaps(X), y


def run_baseline(name: str, fam: str, root) -> dict:
    """One practitioner column on one dataset, as a table_ucr unit record."""
    from rntk.estimators import minirocket_ridge, nn1_dtw

    t0 = time.perf_counter()
    X, y = load_filled(name, "train", root)
    Xt, yt = load_filled(name, "test", root)
    rec = {"tied_test_acc_min": None, "n_tied": 1, "best_test_acc_any_setting": None, "cv_acc": None,
           "unconverged_fits": 0, "gram_s": 0.0, "fit_s": 0.0}
    if fam == "MINIROCKET":
        r = minirocket_ridge(X, y, Xt, yt, random_state=BASELINE_GRIDS[fam]["random_state"],
                             num_kernels=BASELINE_GRIDS[fam]["num_kernels"])
        rec.update(test_acc=r["test_acc"], best={"seed": 0}, n_settings=1, fit_s=r["wall_s"], padded=r["padded"])
    elif fam == "DTW_FULL":
        r = nn1_dtw(X, y, Xt, yt, learn=False)["full"]
        rec.update(test_acc=r["test_acc"], best={"window": 1.0}, n_settings=1, gram_s=r["wall_s"])
    elif fam == "DTW_CV":
        r = nn1_dtw(X, y, Xt, yt, full=False)["learned"]
        loo = np.array(list(r["loo_acc"].values()))
        rec.update(test_acc=r["test_acc"], cv_acc=max(loo), best={"window": r["window"]},
                   n_settings=len(loo), n_tied=int((loo == loo.max()).sum()), gram_s=r["wall_s"],
                   loo_acc=r["loo_acc"], radius=r["radius"])
    else:
        raise ValueError(f"unknown baseline {fam!r}; known: {BASELINES}")
    rec["tied_test_acc_min"] = rec["tied_test_acc_max"] = rec["test_acc"]
    rec["wall_s"] = time.perf_counter() - t0
    return rec


def rank_summary(acc: np.ndarray, names, datasets) -> dict:
    """Average ranks (1 = best), Friedman test and Nemenyi CD for a datasets x columns matrix."""
    from scipy.stats import friedmanchisquare, rankdata

    acc = np.asarray(acc, dtype=float)
    n, k = acc.shape
    ranks = np.vstack([rankdata(-row, method="average") for row in acc]).mean(axis=0)
    out = {"columns": list(names), "datasets": list(datasets), "n_datasets": n,
           "average_rank": dict(zip(names, map(float, ranks)))}
    if n >= 2 and k >= 3:
        stat, p = friedmanchisquare(*acc.T)
        out.update(friedman_chi2=float(stat), friedman_p=float(p))
    if k in NEMENYI_Q05 and n >= 2:
        out["nemenyi_cd_0.05"] = float(NEMENYI_Q05[k] * np.sqrt(k * (k + 1) / (6 * n)))
    return out


def cd_plot(summary: dict, path, title: str, save) -> None:
    """A critical-difference style plot: columns on an average-rank axis, the CD as a bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = sorted(summary["average_rank"].items(), key=lambda kv: kv[1])
    k = len(items)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.28 * k))
    ax.set_xlim(1, k)
    ax.set_ylim(-k - 1, 1.5)
    ax.axhline(0, color="0.2", lw=1)
    for j in range(1, k + 1):
        ax.plot([j, j], [0, 0.12], color="0.2", lw=0.8)
        ax.text(j, 0.25, str(j), ha="center", fontsize=7)
    for i, (name, r) in enumerate(items):
        ax.plot([r, r], [0, -i - 0.6], color=f"C{i % 10}", lw=0.8)
        ax.plot(r, 0, "o", color=f"C{i % 10}", ms=4)
        ax.text(r + 0.03, -i - 0.6, f"{name} ({r:.2f})", va="center", fontsize=7)
    cd = summary.get("nemenyi_cd_0.05")
    if cd:
        ax.plot([1, 1 + cd], [1.0, 1.0], color="k", lw=2)
        ax.text(1 + cd / 2, 1.15, f"CD = {cd:.2f} (Nemenyi, 0.05)", ha="center", fontsize=7)
        # groups whose ranks lie within one CD of each other (cliques), as thick bars below the axis
        ranks = [r for _, r in items]
        depth, seen = -0.3, []
        for i in range(k):
            j = max(jj for jj in range(k) if ranks[jj] - ranks[i] < cd)
            if j > i and not any(a <= i and j <= b for a, b in seen):
                ax.plot([ranks[i], ranks[j]], [depth, depth], color="k", lw=3, alpha=0.5)
                depth -= 0.25
                seen.append((i, j))
    ax.axis("off")
    p = summary.get("friedman_p")
    ax.set_title(title + (f"\nFriedman p = {p:.2g}, {summary['n_datasets']} datasets" if p is not None else ""),
                 fontsize=8)
    save(fig, path)
