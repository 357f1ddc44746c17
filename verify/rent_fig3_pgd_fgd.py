"""ReNT Figure 3 (experiment R-3): does parameter GD of an RNN track functional GD?

Protocol (the INT notebook protocol): a 1-layer tanh
Elman RNN (hidden 128, float64, torch's default initialisation) reads windows
(x_{t-2}, x_{t-1}) of the AR(2) series x_t = 1.4 x_{t-1} - 0.6 x_{t-2} + eps
(variance 0.47), each element embedded by 64 random Fourier frequencies
(sigma_B = 1), and is trained by full-batch GD on the MSE for 5,000
iterations with a cosine-decayed step (the largest of 1e-3 ... 0.1 that does
not diverge). FGD f_{k+1} = f_k - eta_k K (2/N)(f_k - y) from the same f_0 and
with the same steps is run with three kernels: K_T (the empirical NTK at the
end of PGD: the paper's "canonical kernel"), K_0 (the NTK at initialisation)
and an RBF control on the concatenated Fourier inputs (median-heuristic
bandwidth, scaled to trace(K_T)). D(k) = ||f_PGD(k) - f_FGD(k)|| /
||f_PGD(0) - y||; only the first 20 % of training counts (k <= 1000), since
both methods end at y. Claim supported if max D with K_T <= 0.10 and <= 1/3
of the RBF value. Circularity: K_T is taken from the end of the PGD run.
"""
from __future__ import annotations

import sys

import numpy as np

from _common import out_dir, parser, save_figure, write_json

FULL = dict(n=200, hidden=128, n_freq=64, steps=5000, ntk_every=500)
QUICK = dict(n=60, hidden=32, n_freq=16, steps=600, ntk_every=60)
RATES = (0.1, 3e-2, 1e-2, 3e-3, 1e-3)  # tried largest first
SNAP_FRACTIONS = (0.0, 0.02, 0.1, 0.2, 1.0)  # the paper's k = 0, 100, 500, 1000, 5000 of 5000
WINDOW = 0.2  # D(k) is maximised over k <= WINDOW * steps
SEED = 0



def _model(n_in, hidden, seed):
    import torch

    # small models: a second torch thread only spin-waits against numba or
    # another process on these 2-core machines (measured 40x slower in tests)
    torch.set_num_threads(1)

    class ElmanRegressor(torch.nn.Module):
        """tanh RNN reading (N, T, n_in), linear read-out of the last state."""

        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.RNN(n_in, hidden, nonlinearity="tanh", batch_first=True)
            self.out = torch.nn.Linear(hidden, 1)

        def forward(self, x):
            h, _ = self.rnn(x)
            return self.out(h[:, -1])[:, 0]

    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return ElmanRegressor().double()


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    import torch

    from rntk.dynamics import ar2_windows, cosine_schedule, fourier_features, functional_gd, train_pgd

    cfg = QUICK if args.quick else FULL
    n, steps = cfg["n"], cfg["steps"]
    Xw, y = ar2_windows(n, seed=SEED)
    F, _ = fourier_features(Xw, n_freq=cfg["n_freq"], sigma=1.0, seed=SEED + 1)
    x = torch.tensor(F)
    record = np.arange(0, steps + 1, max(1, steps // 500))
    ntk_at = sorted(set(range(0, steps + 1, cfg["ntk_every"])) | {steps})
    Z = F.reshape(n, -1)
    d2 = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    Krbf_unit = np.exp(-d2 / (2 * np.median(d2[np.triu_indices(n, 1)])))
    tried = []
    for lr in RATES:
        model = _model(F.shape[2], cfg["hidden"], SEED + 2)
        rates = cosine_schedule(lr, steps)
        try:
            res = train_pgd(model, x, y, rates, record=record, ntk_at=ntk_at, progress=True)
        except FloatingPointError as e:
            tried.append({"lr": lr, "outcome": str(e)})
            continue
        if not res.loss[-1] < res.loss[0]:
            tried.append({"lr": lr, "outcome": f"PGD loss rose from {res.loss[0]:.3g} to {res.loss[-1]:.3g}"})
            continue
        K0, KT = res.ntk[0], res.ntk[-1]
        kernels = {"KT": KT, "K0": K0, "RBF": Krbf_unit * (np.trace(KT) / np.trace(Krbf_unit))}
        # FGD's first step is stable iff eta_0 (2/N) lambda_max < 2; a kernel
        # whose FGD diverges has no meaningful D(k), so the headline step size
        # is the largest at which all three are stable; the D of every stable
        # kernel at the larger step sizes is recorded too
        stab = {k: float(lr * 2 / n * np.linalg.eigvalsh(K)[-1]) for k, K in kernels.items()}
        f0 = res.train[0]
        scale = np.linalg.norm(f0 - y)
        early = res.steps <= WINDOW * steps
        fgd = {k: functional_gd(K, y, rates, f0=f0, record=record).train for k, K in kernels.items() if stab[k] < 2}
        D = {k: np.linalg.norm(res.train - f, axis=1) / scale for k, f in fgd.items()}
        maxD = {k: float(d[early].max()) for k, d in D.items()}
        ok = len(fgd) == len(kernels)
        tried.append({"lr": lr, "outcome": "ok" if ok else "FGD unstable for "
                      + ", ".join(k for k in kernels if k not in fgd),
                      "eta0_2lmax_over_N": stab, "max_D_stable_kernels": maxD})
        if ok:
            break
    else:
        sys.exit("no step size gave a converging PGD run and stable FGD runs")
    movement = [float(np.linalg.norm(K - KT) / np.linalg.norm(KT)) for K in res.ntk]
    supported = maxD["KT"] <= 0.10 and maxD["KT"] <= maxD["RBF"] / 3
    lazy = maxD["K0"] <= 0.10
    result = {
        "experiment": "R-3 (ReNT Fig. 3): PGD of a tanh RNN vs FGD with K_T, K_0, RBF",
        "mode": "quick" if args.quick else "full",
        "config": {**cfg, "seed": SEED, "rates_tried": tried, "lr": lr, "window_fraction": WINDOW},
        "max_D_KT": maxD["KT"],
        "max_D_K0": maxD["K0"],
        "max_D_RBF": maxD["RBF"],
        "ratio_KT_over_RBF": maxD["KT"] / maxD["RBF"],
        "kernel_movement_initial": movement[0],
        "final_train_mse": float(np.mean((res.train[-1] - y) ** 2)),
        "initial_train_mse": float(np.mean((f0 - y) ** 2)),
        "verdict": "supported" if supported else "not supported",
        "lazy_regime": bool(lazy),
        "note": "K_T comes from the end of the PGD run (the paper's protocol), so agreement is partly built in;"
        " the RBF control says whether any kernel descent would look as consistent.",
        "curves": {
            "steps": res.steps.tolist(),
            "D": {k: v.tolist() for k, v in D.items()},
            "ntk_steps": res.ntk_steps.tolist(),
            "kernel_movement": movement,
            "pgd_loss": res.loss[:: max(1, steps // 500)].tolist(),
        },
    }
    out = out_dir(args)
    write_json(out / "rent_fig3_pgd_fgd.json", result)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(16, 4.2))
    t = np.arange(n)
    ax[0].plot(t, y, "k.", ms=3, label="target $x_t$")
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(SNAP_FRACTIONS)))
    for frac, c in zip(SNAP_FRACTIONS, colors):
        k = int(round(frac * steps))
        i = int(np.argmin(np.abs(res.steps - k)))
        ax[0].plot(t, res.train[i], "-", color=c, lw=1.2, label=f"PGD k={res.steps[i]}")
        ax[0].plot(t, fgd["KT"][i], "--", color=c, lw=1.2)
    ax[0].set(xlabel="window index t", ylabel="f(window)", title="PGD (solid) vs FGD with $K_T$ (dashed)")
    ax[0].legend(fontsize=7, ncol=2)
    for name, style in (("KT", "-"), ("K0", "--"), ("RBF", ":")):
        ax[1].plot(res.steps, D[name], style, label=f"{name}: max over k<={int(WINDOW * steps)} = {maxD[name]:.3f}")
    ax[1].axvline(WINDOW * steps, color="grey", lw=0.8)
    ax[1].axhline(0.10, color="r", lw=0.8, ls="--")
    ax[1].set(xlabel="iteration k", ylabel="D(k)", yscale="log", title=f"D(k); verdict: {result['verdict']}")
    ax[1].legend(fontsize=8)
    ax[2].plot(res.ntk_steps, movement, "o-")
    ax[2].set(xlabel="iteration k", ylabel=r"$\|K_k - K_T\|_F / \|K_T\|_F$", title="kernel movement")
    fig.suptitle(f"ReNT Fig. 3 protocol (N={n}, hidden={cfg['hidden']}, lr={lr}, {steps} iterations)")
    save_figure(fig, out / "rent_fig3_pgd_fgd.png")
    print(f"lr={lr}  max D: K_T {maxD['KT']:.4f}  K_0 {maxD['K0']:.4f}  RBF {maxD['RBF']:.4f}  -> {result['verdict']}"
          f"  (lazy regime: {lazy}); kernel movement from init {movement[0]:.3f}")


if __name__ == "__main__":
    main()
