"""RNTK paper, Figure 3 (Section 3.4): per-time-step sensitivity of the RNTK.

What is computed (the paper's eq. 22, s(t) = ||grad_{x_t} Theta(x, x')||_2):
for a pair of independent sequences x, x' of length T with x_t, x'_t ~ N(0, 1)
(input dimension m = 1, so the 2-norm is an absolute value), s(t) is the
absolute derivative of the analytic ntk Theta(x, x') (a cross pair: no sigma_h
term) with respect to x_t, the input of the *first* argument at
time t, by autograd through ``RNTK.gram_torch`` (float64). The curve drawn is
the mean of s(t) over the pairs, divided by its maximum over t:
mean_pairs s(t) / max_t mean_pairs s(t). The JSON also holds the other reading
of the paper's "mean of the normalized sensitivity", mean_pairs (s(t) / max_t s(t)).

Settings: one layer, sigma_v = 1, T = 100. Rows: ReLU around the paper's
S_ReLU = {sigma_w, sigma_u, sigma_b, sigma_h} = {sqrt 2, 1, 0, 0} and erf around
S_erf = {1, 0.01, 0.05, 0}; columns: one hyperparameter varied at a time. The
paper does not list the values in its panels (only "the subplot internal
legend", not in the text), so the values below are our choice: a few around the
base value on both sides, 0 included for sigma_b and sigma_h.

The paper uses 10,000 pairs; the full run uses 10,000 too (the batched torch
kernel takes a few seconds per setting), the quick run 20 pairs and T = 30.
Self-check: for a few pairs of each row's base setting the autograd values and
input gradients are compared with the numpy backend and with its central
finite differences (step 1e-6, relative error <= 1e-5).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from _common import out_dir, parser, save_figure, write_json

T_FULL = 100  # sequence length (paper: T = 100)
T_QUICK = 30  # sequence length of the quick run
N_PAIRS_FULL = 10_000  # random pairs per setting (paper: 10,000)
N_PAIRS_QUICK = 20  # pairs per setting in the quick run
CHUNK = 2_500  # pairs per autograd batch (bounds memory: ~ CHUNK * T * 60 floats)
TORCH_THREADS = 1  # ops are small and elementwise; extra OpenMP threads only wait on a busy machine
SEED = 0  # the same pairs for every setting (common random numbers)
N_CHECK = 3  # pairs per row checked against finite differences of the numpy kernel
FD_STEP = 1e-6  # central-difference step of that check
TOL_CHECK = 1e-5  # relative error allowed in that check (see tests/test_torch_kernel.py)
PARAMS = ("sigma_w", "sigma_u", "sigma_b", "sigma_h")  # panel order
LABELS = {"sigma_w": "σw", "sigma_u": "σu", "sigma_b": "σb", "sigma_h": "σh"}
ROWS = {  # activation: (base setting S = (sigma_w, sigma_u, sigma_b, sigma_h), values per panel)
    "relu": (
        (2**0.5, 1.0, 0.0, 0.0),
        {
            "sigma_w": [1.2, 1.3, 2**0.5, 1.5, 1.6],
            "sigma_u": [0.5, 1.0, 2.0],
            "sigma_b": [0.0, 0.1, 0.5, 1.0],
            "sigma_h": [0.0, 0.5, 1.0, 2.0],
        },
    ),
    "erf": (
        (1.0, 0.01, 0.05, 0.0),
        {
            "sigma_w": [0.5, 0.8, 1.0, 1.2, 1.5],
            "sigma_u": [0.001, 0.01, 0.1, 1.0],
            "sigma_b": [0.0, 0.05, 0.2, 1.0],
            "sigma_h": [0.0, 0.5, 1.0, 2.0],
        },
    ),
}


def pairs(n, T):
    rng = np.random.default_rng(SEED)
    return rng.normal(size=(n, T, 1)), rng.normal(size=(n, T, 1))


def sensitivity(kernel, X, Y):
    """s(t) for every pair: |d Theta(x_i, y_i) / d x_{i,t}|, array (n, T)."""
    import torch

    out = []
    for a in range(0, len(X), CHUNK):
        x = torch.tensor(X[a : a + CHUNK], requires_grad=True)
        y = torch.tensor(Y[a : a + CHUNK])
        ntk = kernel.gram_torch(x, y, diag=True).ntk
        # pairs are independent: d(sum_i Theta_i)/dx_i = dTheta_i/dx_i
        (g,) = torch.autograd.grad(ntk.sum(), x)
        out.append(g[:, :, 0].abs().numpy())
    return np.concatenate(out)


def check_gradients(kernel, X, Y):
    """Max relative error of values and of input gradients against the numpy kernel."""
    import torch

    x = torch.tensor(X, requires_grad=True)
    ntk = kernel.gram_torch(x, torch.tensor(Y), diag=True).ntk
    (g,) = torch.autograd.grad(ntk.sum(), x)
    ref = np.diag(kernel.gram(X, Y, backend="cpu-vectorized").ntk)
    err_val = float(np.max(np.abs(ntk.detach().numpy() - ref) / np.abs(ref)))
    v = np.random.default_rng(SEED + 1).normal(size=X.shape)
    plus = np.diag(kernel.gram(X + FD_STEP * v, Y, backend="cpu-vectorized").ntk)
    minus = np.diag(kernel.gram(X - FD_STEP * v, Y, backend="cpu-vectorized").ntk)
    fd = (plus - minus) / (2 * FD_STEP)
    ad = (g.numpy() * v).sum(axis=(1, 2))
    err_grad = float(np.max(np.abs(ad - fd) / np.abs(fd)))
    return err_val, err_grad


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    import torch

    from rntk import RNTK

    torch.set_num_threads(TORCH_THREADS)
    T = T_QUICK if args.quick else T_FULL
    n = N_PAIRS_QUICK if args.quick else N_PAIRS_FULL
    X, Y = pairs(n, T)
    t0 = time.perf_counter()
    results, checks, cache = {}, {}, {}
    for act, (base, panels) in ROWS.items():
        k0 = RNTK(activation=act, **dict(zip(PARAMS, base)))
        checks[act] = dict(
            zip(
                ("max_rel_err_value", "max_rel_err_grad"),
                check_gradients(k0, X[:N_CHECK], Y[:N_CHECK]),
            )
        )
        results[act] = {}
        for p, values in panels.items():
            curves = []
            for val in values:
                setting = dict(zip(PARAMS, base), **{p: val})
                key = (act, tuple(setting.values()))
                if key not in cache:
                    s = sensitivity(RNTK(activation=act, **setting), X, Y)
                    mean = s.mean(axis=0)
                    per_pair = (s / s.max(axis=1, keepdims=True)).mean(axis=0)
                    cache[key] = {
                        "setting": setting,
                        "normalised_mean": (mean / mean.max()).tolist(),
                        "mean_of_normalised": per_pair.tolist(),
                        "max_mean_s": float(mean.max()),
                        # Monte Carlo standard error of the normalised curve, worst t
                        "max_stderr_over_max": float(
                            (s.std(axis=0, ddof=1) / math.sqrt(len(s))).max() / mean.max()
                        ),
                        "argmax_t": int(np.argmax(mean)) + 1,
                        "s1_over_max": float(mean[0] / mean.max()),
                        "sT_over_max": float(mean[-1] / mean.max()),
                        "min_over_max": float(mean.min() / mean.max()),
                    }
                curves.append(dict(cache[key], value=val))
            results[act][p] = curves
    elapsed = time.perf_counter() - t0

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(1, T + 1)
    fig, axes = plt.subplots(2, 4, figsize=(16, 7), sharex=True, sharey=True)
    for r, (act, (base, panels)) in enumerate(ROWS.items()):
        for c, p in enumerate(PARAMS):
            ax = axes[r, c]
            for i, cv in enumerate(results[act][p]):
                is_base = math.isclose(cv["value"], base[PARAMS.index(p)])
                lbl = f"{LABELS[p]} = {cv['value']:.3g}" + (" (S)" if is_base else "")
                ax.plot(
                    t, cv["normalised_mean"], color=f"C{i}", lw=2.2 if is_base else 1.3, label=lbl
                )
            rest = ", ".join(f"{LABELS[q]}={b:.3g}" for q, b in zip(PARAMS, base) if q != p)
            ax.set_title(f"{act}: vary {LABELS[p]}  ({rest})", fontsize=9)
            ax.legend(fontsize=8, frameon=False, loc="best")
            ax.set_ylim(0, 1.05)
            if r == 1:
                ax.set_xlabel("time step t")
            if c == 0:
                ax.set_ylabel("s(t) / max_t s(t)")
    fig.suptitle(
        f"RNTK sensitivity s(t) = |∂Θ(x, x')/∂x_t|, mean over {n} pairs of N(0,1) sequences, T = {T} (one layer, σv = 1)",
        fontsize=11,
    )
    fig.tight_layout()
    d = out_dir(args)
    save_figure(fig, d / "fig3_sensitivity.png")
    write_json(
        d / "fig3_sensitivity.json",
        {
            "T": T,
            "n_pairs": n,
            "seed": SEED,
            "definition": "normalised_mean = mean_pairs |dTheta(x,x')/dx_t| / its max over t; "
            "mean_of_normalised = mean_pairs (|dTheta/dx_t| / max_t |dTheta/dx_t|)",
            "results": results,
            "checks": checks,
            "seconds": elapsed,
            "quick": bool(args.quick),
        },
    )
    for act in ROWS:
        for p in PARAMS:
            peaks = ", ".join(f"{cv['value']:.3g}: t*={cv['argmax_t']}" for cv in results[act][p])
            print(f"fig3 {act} vary {p}: {peaks}")
    worst = max(max(c.values()) for c in checks.values())
    print(
        f"fig3_sensitivity: {n} pairs, T = {T}, {elapsed:.1f} s; max rel err vs numpy/FD {worst:.1e}"
    )
    return 0 if worst <= TOL_CHECK else 1


if __name__ == "__main__":
    sys.exit(main())
