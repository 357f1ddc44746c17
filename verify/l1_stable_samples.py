"""Livi, the sample-size law (experiment L-1): under symmetric
alpha-stable gradient noise, the sample size needed to detect a signal of size
f(l) scales as N ~ f^(-kappa_alpha), kappa_alpha = alpha / (alpha - 1) (arXiv
v4+), not f^(-alpha) as the seed's v1 abstract states; and the law is a
property of mean-type averaging, not of the data.

Observations z_j = f + xi_j, xi iid symmetric alpha-stable (scale 1, drawn by
Chambers-Mallows-Stuck), alpha in {2, 1.8, 1.5, 1.3}, f in {1, 0.7, 0.5, 0.35,
0.25, 0.18, 0.125}. A one-sided test at 5 % false alarm (threshold from an
independent null matrix) must reach 80 % power; N*(f) is the smallest N that
does, read from prefix sums of one replicates x N_max noise matrix per alpha
(interpolated between grid points). Statistics: the sample mean, and the
sample median as a control. Slopes are least-squares fits of log N* on log f
over the f whose N* lies inside the sampled range; bootstrap SE over replicates.

Pass (spec L-1): slope(mean) within +-10 % of -kappa_alpha for every alpha;
at alpha = 1.5 the slope differs from -alpha by > 3 bootstrap SE; control:
slope(median) in [-2.2, -1.8] for every alpha. An alpha whose N* is in range
for fewer than 3 shifts cannot be fitted ("inconclusive").
"""
from __future__ import annotations

import sys

import numpy as np

from _common import out_dir, parser, save_figure, write_json
from _verdicts import jsonable, verdict

ALPHAS = (2.0, 1.8, 1.5, 1.3)
SHIFTS = (1.0, 0.7, 0.5, 0.35, 0.25, 0.18, 0.125)
REPS_FULL, REPS_QUICK = 4000, 1000  # replicates per matrix
NMAX_FULL, NMAX_QUICK = 30000, 2000  # largest sample size for the mean
NMED_FULL, NMED_QUICK = 4096, 1024  # largest sample size for the median
LEVEL, POWER = 0.05, 0.80  # false alarm, power
SLOPE_TOL = 0.10  # relative tolerance on -kappa
SE_GAP = 3.0  # alpha = 1.5: |slope - (-alpha)| > 3 SE
MEDIAN_RANGE = (-2.2, -1.8)
BOOT_FULL, BOOT_QUICK = 200, 30
MIN_POINTS = 3  # shifts with N* in range needed for a slope
CHUNK = 1000  # columns drawn at a time
SEED = 2


def _stats(alpha, reps, nmax, nmed, grid, med_grid, rng):
    """Prefix means at ``grid`` and prefix medians at ``med_grid`` of one noise matrix."""
    from rntk.theory import symmetric_stable

    means = np.empty((reps, len(grid)))
    keep = np.empty((reps, nmed), dtype=np.float32)
    run = np.zeros(reps)
    done, gi = 0, 0
    while done < nmax:
        c = min(CHUNK, nmax - done)
        Z = symmetric_stable(alpha, (reps, c), rng)
        if done < nmed:
            k = min(c, nmed - done)
            keep[:, done:done + k] = Z[:, :k]
        cs = run[:, None] + np.cumsum(Z, axis=1)
        while gi < len(grid) and grid[gi] <= done + c:
            means[:, gi] = cs[:, grid[gi] - done - 1] / grid[gi]
            gi += 1
        run = cs[:, -1]
        done += c
    meds = np.stack([np.median(keep[:, :n], axis=1) for n in med_grid], 1).astype(float)
    return means, meds


def _nstar(null, alt, ns):
    from rntk.theory import detection_curves, threshold_crossing

    pw = detection_curves(null, alt, SHIFTS, LEVEL)
    return np.array([threshold_crossing(ns, p, POWER) for p in pw]), pw


def _slope(nstar):
    ok = np.isfinite(nstar)
    if ok.sum() < MIN_POINTS:
        return float("nan")
    return float(np.polyfit(np.log(np.array(SHIFTS)[ok]), np.log(nstar[ok]), 1)[0])


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    q = args.quick
    reps, nmax, nmed = (REPS_QUICK, NMAX_QUICK, NMED_QUICK) if q else (REPS_FULL, NMAX_FULL, NMED_FULL)
    n_boot = BOOT_QUICK if q else BOOT_FULL
    grid = np.unique(np.round(np.geomspace(1, nmax, 160)).astype(int))
    med_grid = np.unique(np.round(np.geomspace(1, nmed, 60)).astype(int))
    rng = np.random.default_rng(SEED)
    out = {}
    for a in ALPHAS:
        null_m, null_d = _stats(a, reps, nmax, nmed, grid, med_grid, rng)
        alt_m, alt_d = _stats(a, reps, nmax, nmed, grid, med_grid, rng)
        ns_mean, _ = _nstar(null_m, alt_m, grid)
        ns_med, _ = _nstar(null_d, alt_d, med_grid)
        s_mean, s_med = _slope(ns_mean), _slope(ns_med)
        boot = []
        for _ in range(n_boot):
            i0, i1 = rng.integers(0, reps, reps), rng.integers(0, reps, reps)
            boot.append(_slope(_nstar(null_m[i0], alt_m[i1], grid)[0]))
        boot = np.array(boot)
        se = float(np.nanstd(boot, ddof=1)) if np.isfinite(boot).sum() > 2 else float("nan")
        kappa = a / (a - 1) if a > 1 else float("inf")
        out[a] = {
            "kappa": kappa, "nstar_mean": ns_mean.tolist(), "nstar_median": ns_med.tolist(),
            "slope_mean": s_mean, "slope_mean_boot_se": se, "slope_median": s_med,
            "n_fitted_mean": int(np.isfinite(ns_mean).sum()), "n_fitted_median": int(np.isfinite(ns_med).sum()),
            "slope_mean_over_minus_kappa": s_mean / -kappa if np.isfinite(s_mean) else float("nan"),
        }
        print(f"alpha={a}: slope(mean) {s_mean:.3f} +- {se:.3f} (-kappa = {-kappa:.3f}, -alpha = {-a}), "
              f"slope(median) {s_med:.3f}; N*(mean) = {np.round(ns_mean, 1).tolist()}")

    def within_kappa(a):
        s = out[a]["slope_mean"]
        return None if not np.isfinite(s) else abs(s / -out[a]["kappa"] - 1) <= SLOPE_TOL

    def median_ok(a):
        s = out[a]["slope_median"]
        return None if not np.isfinite(s) else MEDIAN_RANGE[0] <= s <= MEDIAN_RANGE[1]

    r15 = out[1.5]
    gap = (abs(r15["slope_mean"] + 1.5) / r15["slope_mean_boot_se"]
           if np.isfinite(r15["slope_mean"]) and np.isfinite(r15["slope_mean_boot_se"]) else float("nan"))
    claims = {
        "N_scales_as_f_pow_minus_kappa_alpha": verdict(*[within_kappa(a) for a in ALPHAS]),
        "N_scales_as_f_pow_minus_alpha_v1_abstract": verdict(
            *[None if not np.isfinite(out[a]["slope_mean"]) else abs(out[a]["slope_mean"] / -a - 1) <= SLOPE_TOL
              for a in ALPHAS]),
        "alpha_1.5_slope_differs_from_minus_alpha_by_3SE": verdict(None if not np.isfinite(gap) else gap > SE_GAP),
        "median_control_slope_near_minus_2": verdict(*[median_ok(a) for a in ALPHAS]),
    }
    per_alpha = {a: within_kappa(a) for a in ALPHAS}

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    f = np.array(SHIFTS)
    for k, a in enumerate(ALPHAS):
        r = out[a]
        ns = np.array(r["nstar_mean"])
        a1.plot(f, ns, "o-", color=f"C{k}", label=f"α={a}: slope {r['slope_mean']:.2f} (−κ={-r['kappa']:.2f})")
        ok = np.isfinite(ns)
        if ok.any():
            j = int(np.flatnonzero(ok)[0])
            a1.plot(f, ns[j] * (f / f[j]) ** -r["kappa"], ":", color=f"C{k}", lw=0.9)
            a1.plot(f, ns[j] * (f / f[j]) ** -a, "--", color=f"C{k}", lw=0.6, alpha=0.6)
        a2.plot(f, r["nstar_median"], "s-", color=f"C{k}", label=f"α={a}: slope {r['slope_median']:.2f}")
    for ax, t in ((a1, "sample mean (dotted −κ_α, dashed −α)"), (a2, "sample median (control)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("signal f")
        ax.set_ylabel("N* (5 % false alarm, 80 % power)")
        ax.set_title(t)
        ax.legend(frameon=False, fontsize=7.5)
    d = out_dir(args)
    save_figure(fig, d / "l1_stable_samples.png")
    write_json(d / "l1_stable_samples.json", jsonable({
        "claims": claims, "per_alpha_within_kappa": {str(a): per_alpha[a] for a in ALPHAS},
        "alpha_1.5_gap_in_se": gap, "se_gap_min": SE_GAP, "slope_tol": SLOPE_TOL, "median_range": list(MEDIAN_RANGE),
        "shifts": list(SHIFTS), "per_alpha": {str(a): out[a] for a in ALPHAS},
        "setup": {"replicates": reps, "n_max_mean": nmax, "n_max_median": nmed, "bootstrap": n_boot,
                  "level": LEVEL, "power": POWER, "seed": SEED},
        "quick": bool(q),
    }))
    print("verdicts:", claims)
    return 0


if __name__ == "__main__":
    sys.exit(main())
