"""RNTK paper, Theorem 2: the empirical NTK of a wide RNN stays close to its
initial value during gradient-descent training, and the closer the wider.

A one-layer ReLU RNN (sigma_w = sqrt(2), sigma_u = 1, sigma_b = 0.1,
sigma_h = 0, NTK parametrisation) is trained by full-batch gradient descent
on a small regression task (16 Gaussian sequences of length 6, target
sin(x_T + 0.5 x_{T-1})), with the same step eta = 1 / lambda_max(Theta) for
every width (Theta the analytic training Gram, so function-space dynamics are
width-independent). The kernel drift is ||Theta_hat_s - Theta_hat_0||_F /
||Theta_hat_0||_F after s steps; the theory predicts O(n^(-1/2)), so the fitted
log-log slope of the final drift against the width, ``drift_slope`` in the
JSON, should be close to -0.5.
"""
from __future__ import annotations

import sys

import numpy as np

from _common import out_dir, parser, save_figure, write_json

N_TRAIN, T = 16, 6  # small regression task
WIDTHS_FULL = (64, 128, 256, 512, 1024, 2048)
WIDTHS_QUICK = (64, 128, 256)
SEEDS_FULL, SEEDS_QUICK = 3, 1  # independent networks per width
STEPS_FULL, STEPS_QUICK = 300, 60  # gradient-descent steps
CHECK_EVERY = 20  # steps between kernel measurements
WIDE = 256  # widths from here on enter the second, "wide only" slope fit
SEED = 7


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    import torch
    from tqdm.auto import tqdm

    from rntk import RNTK
    from rntk.empirical import RNN, as_batch, empirical_ntk

    kernel = RNTK(activation="relu", sigma_w=2**0.5, sigma_u=1.0, sigma_b=0.1, sigma_h=0.0, sigma_v=1.0)
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((N_TRAIN, T))
    y = torch.tensor(np.sin(X[:, -1] + 0.5 * X[:, -2]))
    Theta = kernel.gram(X).ntk
    eta = 1.0 / np.linalg.eigvalsh(Theta).max()
    x, lx = as_batch(X)
    widths = WIDTHS_QUICK if args.quick else WIDTHS_FULL
    n_seeds = SEEDS_QUICK if args.quick else SEEDS_FULL
    steps = STEPS_QUICK if args.quick else STEPS_FULL
    runs = {}
    for w in tqdm(widths, desc="widths"):
        runs[w] = []
        for s in range(n_seeds):
            net = RNN(kernel, w, 1, generator=1000 * w + s)
            K0 = empirical_ntk(net, X)[0].detach()
            curve, losses = [], []
            for step in range(steps + 1):
                if step % CHECK_EVERY == 0 or step == steps:
                    K = empirical_ntk(net, X)[0].detach()
                    curve.append((step, float(torch.linalg.norm(K - K0) / torch.linalg.norm(K0))))
                if step == steps:
                    break
                net.zero_grad()
                loss = 0.5 * ((net(x, lx) - y) ** 2).sum()
                loss.backward()
                losses.append(loss.item())
                with torch.no_grad():
                    for p in net.parameters():
                        p -= eta * p.grad
            runs[w].append({"drift": curve, "loss": losses})
    final = np.array([np.mean([r["drift"][-1][1] for r in runs[w]]) for w in widths])
    slope = float(np.polyfit(np.log(widths), np.log(final), 1)[0])
    # the narrowest nets leave the lazy regime (drift of tens of per cent), which
    # steepens the fit; the slope over the widths >= WIDE is reported beside it
    wide = np.array(widths) >= WIDE
    slope_wide = float(np.polyfit(np.log(np.array(widths)[wide]), np.log(final[wide]), 1)[0]) if wide.sum() >= 2 else None

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for k_, w in enumerate(widths):
        st = [p[0] for p in runs[w][0]["drift"]]
        dr = np.mean([[p[1] for p in r["drift"]] for r in runs[w]], axis=0)
        a1.plot(st, dr, color=plt.cm.viridis(k_ / max(1, len(widths) - 1)), label=f"n = {w}")
    a1.set_xlabel("gradient-descent step")
    a1.set_ylabel("||Θ̂_s − Θ̂_0||_F / ||Θ̂_0||_F")
    a1.set_yscale("log")
    a1.set_title("kernel drift during training")
    a1.legend(frameon=False, fontsize=8)
    sd = np.array([np.std([r["drift"][-1][1] for r in runs[w]]) for w in widths])
    a2.errorbar(widths, final, yerr=sd, fmt="o-", capsize=3, label=f"after {steps} steps (slope {slope:.2f})")
    a2.plot(widths, final[0] * (np.array(widths) / widths[0]) ** -0.5, "k--", lw=0.8, label="n^(-1/2)")
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("width n")
    a2.set_ylabel("final relative kernel change")
    a2.set_title("Theorem 2: drift vs width")
    a2.legend(frameon=False)
    d = out_dir(args)
    save_figure(fig, d / "thm2_drift.png")
    write_json(d / "thm2_drift.json", {
        "widths": list(widths),
        "final_drift": final.tolist(),
        "drift_slope": slope,
        "drift_slope_wide": slope_wide,
        "wide_from": WIDE,
        "eta": float(eta),
        "steps": steps,
        "final_loss": {str(w): [r["loss"][-1] for r in runs[w]] for w in widths},
        "initial_loss": {str(w): [r["loss"][0] for r in runs[w]] for w in widths},
        "runs": {str(w): runs[w] for w in widths},
        "quick": bool(args.quick),
    })
    print(f"thm2_drift: drift_slope = {slope:.3f} (n >= {WIDE}: {slope_wide}); "
          f"final drift {dict(zip(widths, np.round(final, 4).tolist()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
