"""Infinite-width training dynamics: wide RNNs trained by GD vs the RNTK flow.

In the infinite-width limit (NTK parametrisation) gradient descent on the
MSE moves the network's outputs like kernel gradient flow with the analytic
RNTK Theta: f(tau) - y = exp(-(2/N) Theta tau)(f_0 - y) on the training set and
the matching closed form on test inputs (rntk.dynamics.KernelFlow), tau the
integrated step. A one-layer ReLU RNN (sigma_w = sqrt(2), sigma_u = 1,
sigma_b = 0.1, sigma_v = 1) is trained by full-batch GD on 16 Gaussian
sequences of length 6 with target sin(x_T + 0.5 x_{T-1}); 8 further sequences
are the test set. Every width uses the same step eta = 0.2 N / (2
lambda_max(Theta)) and starts the flow from the network's own f_0. Error at
step k: ||f_net(k) - f_flow(k eta)|| divided by the distance the flow moves,
||f_flow(final) - f_0|| (train and test separately); the theory predicts
O(n^(-1/2)). The Euler gap (discrete FGD with Theta vs the flow) is reported
beside it so that it is not mistaken for a width effect.
"""
from __future__ import annotations

import sys

import numpy as np

from _common import out_dir, parser, save_figure, write_json

N_TRAIN, N_TEST, T = 16, 8, 6
WIDTHS_FULL, WIDTHS_QUICK = (128, 512, 2048), (64, 256)
SEEDS_FULL, SEEDS_QUICK = 3, 1
STEPS_FULL, STEPS_QUICK = 400, 80
STEP_FACTOR = 0.2  # eta (2/N) lambda_max(Theta)
SEED = 11


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--replot", action="store_true", help="redraw the figure from the existing JSON")
    args = p.parse_args(argv)
    if args.replot:
        import json

        out = out_dir(args)
        _plot(json.load(open(out / "rntk_dynamics.json")), out)
        return 0
    import torch

    # small models: a second torch thread only spin-waits against numba or
    # another process on these 2-core machines (measured 40x slower in tests)
    torch.set_num_threads(1)
    from tqdm.auto import tqdm

    from rntk import RNTK
    from rntk.dynamics import KernelFlow, constant_schedule, functional_gd, train_pgd
    from rntk.empirical import RNN, as_batch

    kernel = RNTK(activation="relu", sigma_w=2**0.5, sigma_u=1.0, sigma_b=0.1, sigma_h=0.0, sigma_v=1.0)
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((N_TRAIN + N_TEST, T))
    target = np.sin(X[:, -1] + 0.5 * X[:, -2])
    Xtr, Xte, y = X[:N_TRAIN], X[N_TRAIN:], target[:N_TRAIN]
    Theta = kernel.gram(Xtr).ntk
    Theta_te = kernel.gram(Xte, Xtr).ntk
    eta = STEP_FACTOR * N_TRAIN / (2 * np.linalg.eigvalsh(Theta)[-1])
    widths = WIDTHS_QUICK if args.quick else WIDTHS_FULL
    n_seeds = SEEDS_QUICK if args.quick else SEEDS_FULL
    steps = STEPS_QUICK if args.quick else STEPS_FULL
    rates = constant_schedule(eta, steps)
    tau = eta * np.arange(steps + 1)
    xtr, _ = as_batch(Xtr)
    xte, _ = as_batch(Xte)

    class Wrapped(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x)

    runs = {}
    for w in tqdm(widths, desc="widths"):
        runs[w] = []
        for s in range(n_seeds):
            net = Wrapped(RNN(kernel, w, 1, generator=7919 * w + s))
            res = train_pgd(net, xtr, y, rates, X_test=xte)
            flow = KernelFlow(Theta, y, f0=res.train[0], K_test=Theta_te, f0_test=res.test[0])
            ftr, fte = flow.predict(tau)
            move_tr = np.linalg.norm(ftr[-1] - ftr[0])
            move_te = np.linalg.norm(fte[-1] - fte[0])
            err_tr = np.linalg.norm(res.train - ftr, axis=1) / move_tr
            err_te = np.linalg.norm(res.test - fte, axis=1) / move_te
            disc = functional_gd(Theta, y, rates, f0=res.train[0], K_test=Theta_te, f0_test=res.test[0])
            euler = max(np.abs(disc.train - ftr).max() / move_tr, np.abs(disc.test - fte).max() / move_te)
            runs[w].append({
                "err_train": err_tr.tolist(), "err_test": err_te.tolist(),
                "max_err_train": float(err_tr.max()), "max_err_test": float(err_te.max()),
                "euler_gap": float(euler), "final_loss": float(res.loss[-1]), "initial_loss": float(res.loss[0]),
            })
    mean_tr = np.array([np.mean([r["max_err_train"] for r in runs[w]]) for w in widths])
    mean_te = np.array([np.mean([r["max_err_test"] for r in runs[w]]) for w in widths])
    slope_tr = float(np.polyfit(np.log(widths), np.log(mean_tr), 1)[0])
    slope_te = float(np.polyfit(np.log(widths), np.log(mean_te), 1)[0])
    shrinks = bool(np.all(np.diff(mean_tr) < 0) and np.all(np.diff(mean_te) < 0))
    result = {
        "experiment": "wide RNN GD vs closed-form RNTK gradient flow",
        "mode": "quick" if args.quick else "full",
        "config": {"n_train": N_TRAIN, "n_test": N_TEST, "T": T, "widths": list(widths), "seeds": n_seeds,
                   "steps": steps, "eta": float(eta), "step_factor": STEP_FACTOR, "seed": SEED},
        "max_rel_err_train": dict(zip(map(str, widths), mean_tr.tolist())),
        "max_rel_err_test": dict(zip(map(str, widths), mean_te.tolist())),
        "slope_train": slope_tr,
        "slope_test": slope_te,
        "max_euler_gap": max(r["euler_gap"] for w in widths for r in runs[w]),
        "verdict": "supported" if shrinks else "not supported",
        "claim": "the error between the finite network and the RNTK dynamics shrinks as the width grows",
        "runs": {str(w): runs[w] for w in widths},
    }
    out = out_dir(args)
    write_json(out / "rntk_dynamics.json", result)
    _plot(result, out)
    print(f"rntk_dynamics: max rel err train {np.round(mean_tr, 4).tolist()} test {np.round(mean_te, 4).tolist()} "
          f"at widths {list(widths)}; slopes {slope_tr:.2f} / {slope_te:.2f}; Euler gap "
          f"{result['max_euler_gap']:.2g}; verdict {result['verdict']}")
    return 0


def _plot(result, out):
    """Draw the figure from the JSON alone (``--replot`` redraws a finished run)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    widths = result["config"]["widths"]
    runs = {int(k): v for k, v in result["runs"].items()}
    mean_tr = np.array([result["max_rel_err_train"][str(w)] for w in widths])
    mean_te = np.array([result["max_rel_err_test"][str(w)] for w in widths])
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for i, w in enumerate(widths):
        c = plt.cm.viridis(i / max(1, len(widths) - 1))
        # step 0 is exact by construction (the flow starts from the network's f_0)
        k = np.arange(1, len(runs[w][0]["err_train"]))
        ax[0].plot(k, np.mean([r["err_train"][1:] for r in runs[w]], axis=0), color=c, label=f"n = {w}")
        ax[0].plot(k, np.mean([r["err_test"][1:] for r in runs[w]], axis=0), "--", color=c)
    ax[0].set(xlabel="GD step k", ylabel="relative error vs RNTK flow", yscale="log",
              title="train (solid), test (dashed)")
    ax[0].legend(fontsize=8)
    ax[1].plot(widths, mean_tr, "o-", label=f"train, slope {result['slope_train']:.2f}")
    ax[1].plot(widths, mean_te, "s-", label=f"test, slope {result['slope_test']:.2f}")
    ax[1].plot(widths, mean_tr[0] * (np.array(widths) / widths[0]) ** -0.5, "k:", label="n^(-1/2)")
    ax[1].set(xscale="log", yscale="log", xlabel="width n", ylabel="max over k of relative error",
              title=f"verdict: {result['verdict']}")
    ax[1].set_xticks(widths, [str(w) for w in widths])
    ax[1].xaxis.set_minor_formatter(NullFormatter())
    ax[1].legend(fontsize=8)
    w = widths[-1]
    k = np.arange(1, len(runs[w][0]["err_test"]))
    ax[2].plot(k, runs[w][0]["err_test"][1:], label=f"n = {w}, seed 0")
    ax[2].axhline(result["max_euler_gap"], color="grey", ls=":", label="Euler gap (discrete vs flow)")
    ax[2].set(xlabel="GD step k", ylabel="relative test error", yscale="log", title="widest network")
    ax[2].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "rntk_dynamics.png")


if __name__ == "__main__":
    sys.exit(main())
