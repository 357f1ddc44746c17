"""ReNT Proposition 4 (experiment R-4): is the "sufficient loss reduction" bound true?

Prop. 4 claims: for a convex loss that is tau-smooth in f and a kernel bounded
above by gamma, FGD with eta <= 1/(2 tau gamma) decreases the loss by at least
(eta gamma / 2) (mean_i dL/df_i)^2 per unit step. Here: discrete FGD
f_{k+1} = f_k - eta K (1/N) g_k, g_k = 2 (f_k - y) (the per-sample squared
error, tau = 2), L = mean (f - y)^2, on N = 50 points x ~ U[-3, 3],
y = sin x + b, b in {0, 2}, Gaussian kernels of bandwidth h (gamma = 1),
eta = 0.99 / (2 tau gamma), 200 steps from f_0 = 0. The ratio
rho_k = (L_k - L_{k+1}) / ((eta gamma / 2) (mean g_k)^2) must be >= 1 at every
step for the proposition to hold. For K = gamma I and equal residuals the
ratio is exactly 2/N - 2 eta gamma / N^2 < 1 whenever N >= 3: the proof
needs a lower bound on the kernel entries, not an upper one.
"""
from __future__ import annotations

import numpy as np

from _common import out_dir, parser, save_figure, write_json

N, STEPS, TAU, GAMMA = 50, 200, 2.0, 1.0
BANDWIDTHS = (0.01, 0.1, 0.5, 2.0, 10.0)
OFFSETS = (0.0, 2.0)
SEED = 0


def prop4_ratios(K, y, f0, eta, gamma, n_steps):
    """rho_k = actual decrease / claimed decrease of L = mean (f - y)^2 under FGD."""
    n = len(y)
    f = np.array(f0, dtype=float)
    out = np.empty(n_steps)
    for k in range(n_steps):
        g = 2.0 * (f - y)
        new = f - eta * K @ g / n
        actual = np.mean((f - y) ** 2) - np.mean((new - y) ** 2)
        claimed = 0.5 * eta * gamma * np.mean(g) ** 2
        out[k] = actual / claimed if claimed > 0 else np.inf
        f = new
    return out


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    rng = np.random.default_rng(SEED)
    x = rng.uniform(-3, 3, N)
    eta = 0.99 / (2 * TAU * GAMMA)
    d2 = (x[:, None] - x[None, :]) ** 2
    runs = []
    for b in OFFSETS:
        y = np.sin(x) + b
        for h in BANDWIDTHS:
            K = np.exp(-d2 / (2 * h * h))
            rho = prop4_ratios(K, y, np.zeros(N), eta, GAMMA, STEPS)
            finite = rho[np.isfinite(rho)]
            runs.append({
                "b": b, "h": h, "min_rho": float(finite.min()), "median_rho": float(np.median(finite)),
                "fraction_violated": float(np.mean(finite < 1)), "rho": rho.tolist(),
            })
    # the analytic counterexample, evaluated by the same code
    r = np.full(N, 0.7)
    analytic = float(2 / N - 2 * eta * GAMMA / N**2)
    measured = float(prop4_ratios(GAMMA * np.eye(N), r, np.zeros(N), eta, GAMMA, 1)[0])
    holds = all(run["min_rho"] >= 1 for run in runs)
    violating = [(run["b"], run["h"]) for run in runs if run["min_rho"] < 1]
    result = {
        "experiment": "R-4: ReNT Proposition 4 (sufficient loss reduction) stress test",
        "mode": "quick" if args.quick else "full",
        "config": {"N": N, "steps": STEPS, "tau": TAU, "gamma": GAMMA, "eta": eta,
                   "bandwidths": BANDWIDTHS, "offsets": OFFSETS, "seed": SEED},
        "runs": runs,
        "identity_kernel_ratio": {"closed_form": analytic, "computed": measured},
        "violating_settings": violating,
        "verdict": "supported" if holds else "not supported",
    }
    out = out_dir(args)
    write_json(out / "rent_prop4.json", result)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for b, mk in zip(OFFSETS, "os"):
        rs = [run for run in runs if run["b"] == b]
        ax[0].plot(BANDWIDTHS, [run["min_rho"] for run in rs], mk + "-", label=f"y = sin x + {b:g}")
        ax[1].plot(BANDWIDTHS, [run["fraction_violated"] for run in rs], mk + "-", label=f"b = {b:g}")
    ax[0].axhline(1.0, color="r", ls="--", lw=0.8, label="claimed bound (rho = 1)")
    ax[0].axhline(analytic, color="grey", ls=":", lw=0.8, label=f"K = I, equal residuals: {analytic:.3f}")
    ax[0].set(xscale="log", yscale="log", xlabel="Gaussian bandwidth h", ylabel=r"min$_k\ \rho_k$",
              title="actual / claimed loss decrease (Prop. 4)")
    ax[0].legend(fontsize=8)
    ax[1].set(xscale="log", xlabel="Gaussian bandwidth h", ylabel="fraction of steps with rho < 1",
              title=f"verdict: {result['verdict']}")
    ax[1].legend(fontsize=8)
    save_figure(fig, out / "rent_prop4.png")
    for run in runs:
        print(f"b={run['b']:g} h={run['h']:<5g} min rho {run['min_rho']:.3g}  violated at "
              f"{100 * run['fraction_violated']:.0f}% of steps")
    print(f"K = I, equal residuals: rho = {measured:.4f} (closed form {analytic:.4f}); verdict: {result['verdict']}")


if __name__ == "__main__":
    main()
