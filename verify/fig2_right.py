"""RNTK paper, Figure 2 (right): a wide finite RNN's empirical NTK converges to
the analytic RNTK as the width n grows, with tied and with untied weights.

50 Gaussian sequences of length 5 (m = 1; the paper does not state it), one-layer ReLU RNN,
sigma_w = sqrt(2), sigma_u = 1, sigma_b = sigma_h = 0, sigma_v = 1. For every
width, several independent networks; the error of one network is the relative
Frobenius error ||Theta_hat - Theta||_F / ||Theta||_F of its empirical Gram
(factored path) against the analytic Gram. Theorem 1 (tied) and Theorem 3
(untied) predict convergence; the central-limit rate is n^(-1/2), so the fitted
log-log slope of the mean error against n should be close to -0.5 (written to
the JSON as ``slope_tied`` and ``slope_untied``).
"""
from __future__ import annotations

import sys

import numpy as np

from _common import out_dir, parser, save_figure, write_json

N_SEQ, T = 50, 5  # the paper's 50 Gaussian signals of length 5
WIDTHS_FULL = (64, 128, 256, 512, 1024, 2048, 4096)
WIDTHS_QUICK = (64, 128, 256, 512)
NETS_FULL, NETS_QUICK = 16, 2  # independent networks per width
SEED = 2021


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    from tqdm.auto import tqdm

    from rntk import RNTK
    from rntk.empirical import RNN, empirical_ntk
    from rntk.testing import rel_frobenius

    kernel = RNTK(activation="relu", sigma_w=2**0.5, sigma_u=1.0, sigma_b=0.0, sigma_h=0.0, sigma_v=1.0)
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((N_SEQ, T))
    Theta = kernel.gram(X).ntk
    widths = WIDTHS_QUICK if args.quick else WIDTHS_FULL
    n_nets = NETS_QUICK if args.quick else NETS_FULL
    seeds = np.random.SeedSequence(SEED)
    errors = {"tied": {}, "untied": {}}
    for tied in (True, False):
        key = "tied" if tied else "untied"
        for w in tqdm(widths, desc=f"{key} widths"):
            errs = []
            for s in seeds.spawn(n_nets):
                net = RNN(kernel, w, 1, tied=tied, max_len=None if tied else T,
                          generator=int(s.generate_state(1)[0]))
                K = empirical_ntk(net, X)[0].detach().numpy()
                errs.append(rel_frobenius(K, Theta))
            errors[key][w] = errs
    slopes = {}
    for key in errors:
        n = np.array(widths, dtype=float)
        e = np.array([np.mean(errors[key][w]) for w in widths])
        slopes[key] = float(np.polyfit(np.log(n), np.log(e), 1)[0])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 4))
    for k_, key in enumerate(errors):
        n = np.array(widths, dtype=float)
        m = np.array([np.mean(errors[key][w]) for w in widths])
        sd = np.array([np.std(errors[key][w], ddof=1) for w in widths])
        ax.errorbar(n * (1.04 if k_ else 0.96), m, yerr=sd, fmt="o-", capsize=3,
                    label=f"{key} weights (slope {slopes[key]:.2f})")
    ref = np.array(widths, dtype=float)
    ax.plot(ref, np.mean(errors['tied'][widths[0]]) * (ref / ref[0]) ** -0.5, "k--", lw=0.8, label="n^(-1/2)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width n")
    ax.set_ylabel("||Θ̂ − Θ||_F / ||Θ||_F")
    ax.set_title(f"Empirical vs analytic RNTK, {N_SEQ} sequences, T = {T}\n(mean ± s.d. over {n_nets} networks)")
    ax.legend(frameon=False)
    d = out_dir(args)
    save_figure(fig, d / "fig2_right.png")
    write_json(d / "fig2_right.json", {
        "widths": list(widths),
        "errors": {k: {str(w): v for w, v in errors[k].items()} for k in errors},
        "slope_tied": slopes["tied"],
        "slope_untied": slopes["untied"],
        "n_nets": n_nets,
        "quick": bool(args.quick),
    })
    print(f"fig2_right: slope_tied = {slopes['tied']:.3f}, slope_untied = {slopes['untied']:.3f}; "
          f"error at n = {widths[-1]}: tied {np.mean(errors['tied'][widths[-1]]):.3f}, "
          f"untied {np.mean(errors['untied'][widths[-1]]):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
