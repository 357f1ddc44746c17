"""Issue 23: RNTK hyperparameters learned by gradient instead of gridded.

Classification (the RNTK paper's Tables 1-2 protocol, ``table_ucr.py``): the
grid's numbers are those already in ``figures/table_ucr.json`` (900 RNTK
configurations x 5 C by 10-fold CV). Learned: sigma_w, sigma_u, sigma_b,
sigma_h and a ridge term minimise the closed-form leave-one-out error of
kernel ridge on +-1 class codes (``rntk.gp.fit_loo_hyperparameters``: L-BFGS,
from sigma_w = sqrt 2, sigma_u = 1, sigma_b = sigma_h = 0.1), then the same
C-SVM protocol picks C alone (``C_GRID``, 10-fold stratified CV, seed 0, same
splits, same unit-norm scaling) and scores the test set. Subset, by size
only: the UCR sets of the grid run with at most ``MAX_TRAIN`` training series
(first 150; widened to 250 after ten sets had run, to include sets where the
grid is costly; none was dropped). Time per set: the grid's RNTK unit wall
time from ``table_ucr.json`` (one core each, this machine) against ours, wall
and CPU (``process_time``: the machine is shared, so wall time is inflated by
other load).

Regression (Figure 4, ``fig4_regression.py``): on the same segments, the Fig 4
script's RNTK grid (6 kernels x 20 lambdas by 5-fold CV, kernel ridge) against
an exact GP (``rntk.gp.RNTKKernel`` in a ``ScaleKernel``, constant mean,
Gaussian noise) whose hyperparameters maximise the marginal likelihood
(L-BFGS); prediction = posterior mean. Test SNR and wall time per repetition.

Resumable: every UCR set and every regression setting is cached in
``<out>/learned_hyperparameters_cache/`` as it finishes. Output:
``learned_hyperparameters.json`` and ``.png``.
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from _common import ROOT, out_dir, parser, save_figure, write_json

MAX_TRAIN = 250  # UCR subset: sets with at most this many training series (23 of 38)
LOO_MAX_ITER = 30  # L-BFGS iterations of the leave-one-out fit
GP_MAX_ITER = 50  # L-BFGS iterations of the marginal-likelihood fit
REG_N_TRAIN = (20, 50)  # Fig 4's default N_train and one larger
FULL = {"reps": 20, "n_test": 1000, "loo_iter": LOO_MAX_ITER, "gp_iter": GP_MAX_ITER}
QUICK = {"reps": 2, "n_test": 200, "loo_iter": 3, "gp_iter": 5}
QUICK_SETS = ("Trace",)  # shipped with rntk; its grid row is in table_ucr.json
VERSION = 2  # of the cached unit records


def ucr_subset(grid: dict) -> list[str]:
    return sorted(n for n, r in grid["datasets"].items() if r["n_train"] <= MAX_TRAIN)


def ucr_unit(name: str, grid_row: dict, loo_iter: int) -> dict:
    """Learned hyperparameters + the table_ucr protocol's C-SVM on one UCR set."""
    from table_ucr import CV_FOLDS, SEED, SVM_MAX_ITER, load_dataset

    from rntk.estimators import C_GRID, kernel_grid_search
    from rntk.gp import fit_loo_hyperparameters

    t0, c0 = time.perf_counter(), time.process_time()
    X, y, Xt, yt, _, _ = load_dataset(name, None)
    fit = fit_loo_hyperparameters(X, y, max_iter=loo_iter, seed=SEED)
    res = kernel_grid_search(X, y, [fit.kernel], C_GRID, X_test=Xt, y_test=yt, cv=CV_FOLDS,
                             random_state=SEED, max_iter=SVM_MAX_ITER)
    g = grid_row["families"]["RNTK"]
    k = fit.kernel
    return {
        "learned_acc": 100 * res.test_score, "learned_cv_acc": 100 * res.best_cv_score,
        "learned_wall_s": time.perf_counter() - t0, "learned_cpu_s": time.process_time() - c0,
        "learned_fit_s": fit.seconds,
        "learned": {"sigma_w": k.sigma_w[0], "sigma_u": k.sigma_u[0], "sigma_b": k.sigma_b[0],
                    "sigma_h": k.sigma_h[0], "C": res.best_param, "lam_relative": fit.lam},
        "loo_loss_initial": fit.loss_initial, "loo_loss": fit.loss, "n_fit": fit.n_fit,
        "n_evals": fit.n_evals, "unconverged_fits": int(res.unconverged.sum()),
        "grid_acc": g["test_acc"], "grid_wall_s": g["wall_s"], "grid_best": g["best"],
        "n_train": grid_row["n_train"], "n_test": grid_row["n_test"], "length": grid_row["length"],
    }


def _gp_predict(X, y, Xt, max_iter):
    """Exact GP with the RNTK, marginal likelihood by L-BFGS; posterior mean at Xt."""
    import gpytorch
    import torch

    from rntk.gp import RNTKKernel, encode_sequences

    T = X.shape[1]
    x, xt = encode_sequences(X, max_length=T), encode_sequences(Xt, max_length=T)
    yy = torch.as_tensor(y)

    class GP(gpytorch.models.ExactGP):
        def __init__(self, lik):
            super().__init__(x, yy, lik)
            self.mean = gpytorch.means.ConstantMean()
            self.cov = gpytorch.kernels.ScaleKernel(RNTKKernel(n_features=1))

        def forward(self, z):
            return gpytorch.distributions.MultivariateNormal(self.mean(z), self.cov(z))

    lik = gpytorch.likelihoods.GaussianLikelihood()
    model = GP(lik).double()
    lik.noise = torch.tensor(0.1, dtype=torch.float64)
    model.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(lik, model)
    params = list(model.parameters())
    opt = torch.optim.LBFGS(params, max_iter=max_iter, line_search_fn="strong_wolfe")
    best = [np.inf, None]

    def closure():
        opt.zero_grad()
        try:
            loss = -mll(model(x), yy)
            loss.backward()
        except (ValueError, RuntimeError):  # overflow or a failed Cholesky on a wild step
            for p in params:
                p.grad = torch.zeros_like(p)
            return torch.tensor(1e30, dtype=torch.float64)
        if float(loss.detach()) < best[0]:
            best[:] = [float(loss.detach()), [p.detach().clone() for p in params]]
        return loss

    with torch.no_grad():
        start = float(-mll(model(x), yy))
    opt.step(closure)
    with torch.no_grad():
        for p, v in zip(params, best[1]):
            p.copy_(v)
    model.eval()
    with torch.no_grad():
        pred = model(xt).mean.numpy()
    k = model.cov.base_kernel
    learned = {n: float(getattr(k, n).detach()[0]) for n in ("sigma_w", "sigma_u", "sigma_b", "sigma_h")}
    learned.update(outputscale=float(model.cov.outputscale.detach()), noise=float(lik.noise.detach()))
    return pred, {"neg_mll_start": start, "neg_mll": best[0], "learned": learned}


def regression_unit(task: str, n_train: int, reps: int, n_test: int, gp_iter: int, seed: int) -> dict:
    """Grid (Fig 4 script) vs marginal likelihood on the same segments, ``reps`` times."""
    import fig4_regression as f4

    kernels = f4._kernels("RNTK")
    co2 = f4.co2_series()
    rows = []
    rng = np.random.default_rng([seed, n_train])
    for _ in range(reps):
        if task == "sine":
            s = f4.noisy_sinusoid(f4.N_SINE, f4.SIGMA_N, rng)
            tr, te = (s, 0, f4.N_SINE), (s, 0, f4.N_SINE)
        else:
            tr, te = (co2, 0, f4.CO2_SPLIT), (co2, f4.CO2_SPLIT, f4.CO2_LEN)
        X, y, _, _ = f4.cut_segments(*tr[:1], n_train, f4.T_FIXED, f4.T_VAR_DEFAULT, rng, *tr[1:])
        Xt, yt, _, _ = f4.cut_segments(*te[:1], n_test, f4.T_FIXED, f4.T_VAR_DEFAULT, rng, *te[1:])
        t0, c0 = time.perf_counter(), time.process_time()
        both = np.concatenate([X, Xt])
        grams = []
        for k in kernels:
            G = k.gram(both, X, n_jobs=1).ntk
            grams.append((0.5 * (G[:n_train] + G[:n_train].T), G[n_train:]))
        pred, (c, j), _ = f4.select_and_predict(grams, y, f4.LAMBDAS, f4.CV_FOLDS, rng)
        t1, c1 = time.perf_counter(), time.process_time()
        gp_pred, info = _gp_predict(X, y, Xt, gp_iter)
        t2, c2 = time.perf_counter(), time.process_time()
        rows.append({"grid_snr_db": f4.snr_db(yt, pred), "learned_snr_db": f4.snr_db(yt, gp_pred),
                     "grid_s": t1 - t0, "learned_s": t2 - t1,
                     "grid_cpu_s": c1 - c0, "learned_cpu_s": c2 - c1, "grid_choice": [c, f4.LAMBDAS[j]], **info})
    g = np.array([r["grid_snr_db"] for r in rows])
    ll = np.array([r["learned_snr_db"] for r in rows])
    se = (lambda a: float(a.std(ddof=1) / np.sqrt(len(a))) if len(a) > 1 else 0.0)
    return {"task": task, "n_train": n_train, "reps": reps, "n_test": n_test,
            "grid_mean_snr_db": float(g.mean()), "grid_se": se(g),
            "learned_mean_snr_db": float(ll.mean()), "learned_se": se(ll),
            "learned_minus_grid_mean": float((ll - g).mean()), "learned_minus_grid_se": se(ll - g),
            "grid_s_mean": float(np.mean([r["grid_s"] for r in rows])),
            "learned_s_mean": float(np.mean([r["learned_s"] for r in rows])),
            "grid_cpu_s_mean": float(np.mean([r["grid_cpu_s"] for r in rows])),
            "learned_cpu_s_mean": float(np.mean([r["learned_cpu_s"] for r in rows])), "rows": rows}


def _cached(cache, key, version_key, compute):
    from rntk.experiments import load_cached

    path = cache / f"{key}.json"
    rec = load_cached(path, lambda r: r.get("version") == version_key)
    if rec is None:
        rec = {**compute(), "version": version_key}
        write_json(path, rec)
    return rec


def main(argv=None):
    import json

    import torch
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    p = parser(__doc__)
    p.add_argument("--datasets", nargs="+", default=None, help="UCR sets (default: the subset)")
    args = p.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    torch.set_num_threads(1)
    limit = threadpool_limits(1)
    try:
        import numba

        numba.set_num_threads(1)
    except (ImportError, ValueError):
        pass
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    d = out_dir(args)
    cache = d / "learned_hyperparameters_cache"
    cache.mkdir(exist_ok=True)
    grid_path = ROOT / "figures" / "table_ucr.json"
    if not grid_path.is_file():
        print(f"learned_hyperparameters: {grid_path} (the grid's results) is missing; "
              "run verify/table_ucr.py first", file=sys.stderr)
        return 1
    grid = json.loads(grid_path.read_text())
    names = args.datasets or (list(QUICK_SETS) if args.quick else ucr_subset(grid))
    vkey = f"{VERSION}-{cfg['loo_iter']}-{cfg['gp_iter']}-{cfg['reps']}-{cfg['n_test']}"
    sets = {}
    for name in tqdm(names, desc="UCR sets"):
        sets[name] = _cached(cache, f"ucr__{name}", vkey,
                             lambda name=name: ucr_unit(name, grid["datasets"][name], cfg["loo_iter"]))
    reg = {}
    for task in ("sine", "co2"):
        for n in tqdm(REG_N_TRAIN[:1] if args.quick else REG_N_TRAIN, desc=f"regression {task}"):
            reg[f"{task}_n{n}"] = _cached(cache, f"reg__{task}_n{n}", vkey, lambda task=task, n=n: regression_unit(
                task, n, cfg["reps"], cfg["n_test"], cfg["gp_iter"], seed=23))
    limit.restore_original_limits()

    from rntk.estimators import summarize

    from scipy.stats import wilcoxon

    acc = np.array([[sets[n]["grid_acc"], sets[n]["learned_acc"]] for n in names])
    summary = summarize(acc, ("grid", "learned"))
    diff = acc[:, 1] - acc[:, 0]
    order = np.argsort(diff, kind="stable")
    paired = {  # learned minus grid, per set (accuracy points)
        "mean_diff": float(diff.mean()), "median_diff": float(np.median(diff)),
        # two-sided, ties split between the signs (all-zero differences would give no test)
        "wilcoxon_p": float(wilcoxon(diff, zero_method="zsplit").pvalue) if np.any(diff) else 1.0,
        "largest_losses": [[names[i], float(diff[i])] for i in order[:3]],
        "largest_gains": [[names[i], float(diff[i])] for i in order[::-1][:3]],
    }
    out = {
        "quick": bool(args.quick), "max_train": MAX_TRAIN, "datasets": sets, "regression": reg,
        "grid_mean_accuracy": summary["grid"]["mean"], "learned_mean_accuracy": summary["learned"]["mean"],
        "grid_wall_s": float(sum(sets[n]["grid_wall_s"] for n in names)),
        "learned_wall_s": float(sum(sets[n]["learned_wall_s"] for n in names)),
        "learned_cpu_s": float(sum(sets[n]["learned_cpu_s"] for n in names)),
        "paired": paired,
        "friedman_rank": {k: v["friedman_rank"] for k, v in summary.items()}, "summary": summary,
        "wins": {"learned": int((acc[:, 1] > acc[:, 0]).sum()), "grid": int((acc[:, 0] > acc[:, 1]).sum()),
                 "ties": int((acc[:, 0] == acc[:, 1]).sum())},
        "protocol": {"classification": "LOO kernel-ridge fit of sigma_w, sigma_u, sigma_b, sigma_h, then "
                     "C from C_GRID by 10-fold CV (table_ucr protocol); grid numbers from table_ucr.json",
                     "regression": "exact-GP marginal likelihood vs the Fig 4 script's RNTK grid, same segments",
                     "loo_max_iter": cfg["loo_iter"], "gp_max_iter": cfg["gp_iter"]},
    }
    write_json(d / "learned_hyperparameters.json", out)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    ax = axes[0]
    ax.scatter(acc[:, 0], acc[:, 1], s=16)
    lo = float(acc.min()) - 3
    ax.plot([lo, 100], [lo, 100], color="0.6", lw=0.8)
    ax.set_xlabel("grid: test accuracy (%)")
    ax.set_ylabel("learned: test accuracy (%)")
    ax.set_title(f"UCR, {len(names)} sets (n_train <= {MAX_TRAIN})", fontsize=9)
    ax = axes[1]
    gw = [sets[n]["grid_wall_s"] for n in names]
    lw = [sets[n]["learned_cpu_s"] for n in names]
    ax.scatter(gw, lw, s=16)
    hi = max(max(gw), max(lw)) * 1.5
    ax.plot([0.5, hi], [0.5, hi], color="0.6", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("grid: wall time per set (s)")
    ax.set_ylabel("learned: CPU time per set (s)")
    ax.set_title("time per set, one core (learned: CPU time, shared machine)", fontsize=9)
    ax = axes[2]
    keys = list(reg)
    xs = np.arange(len(keys))
    for off, (kind, c) in zip((-0.15, 0.15), (("grid", "C0"), ("learned", "C1"))):
        ax.errorbar(xs + off, [reg[k][f"{kind}_mean_snr_db"] for k in keys],
                    yerr=[2 * reg[k][f"{kind}_se"] for k in keys], fmt="o", color=c, label=kind)
    ax.set_xticks(xs)
    ax.set_xticklabels(keys, fontsize=8)
    ax.set_ylabel("test SNR (dB), mean ± 2 s.e.")
    ax.set_title("Fig 4 regression: grid + ridge vs GP marginal likelihood", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save_figure(fig, d / "learned_hyperparameters.png")
    print(f"UCR ({len(names)} sets): grid {out['grid_mean_accuracy']:.2f} % in {out['grid_wall_s']:.0f} s, "
          f"learned {out['learned_mean_accuracy']:.2f} % in {out['learned_wall_s']:.0f} s; Friedman rank "
          + ", ".join(f"{k} {v:.2f}" for k, v in out["friedman_rank"].items()))
    for k, r in reg.items():
        print(f"{k}: grid {r['grid_mean_snr_db']:.2f}±{r['grid_se']:.2f} dB ({r['grid_s_mean']:.2f} s), "
              f"learned {r['learned_mean_snr_db']:.2f}±{r['learned_se']:.2f} dB ({r['learned_s_mean']:.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
