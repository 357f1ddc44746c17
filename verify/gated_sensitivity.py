"""Sensitivity s(t) of the gated kernels (RNTK paper, Figure 3, for GRUNTK / LSTMNTK).

s(t) = |d Theta(x, x') / d x_t| for a pair of independent sequences with
x_t, x'_t ~ N(0, 1) (m = 1), as in ``verify/fig3_sensitivity.py``, but by
central finite differences of the numpy kernels (step ``FD_STEP``; all
2T perturbed copies of x in one ``gram`` call), since the gated kernels have
no torch path. Curves: mean over pairs of s(t), divided by its maximum over
t. The question: do gates let the kernel reach the early time steps? Summary
per kernel: ``reach`` = mean s(1) / mean s(T) (the first step's weight against
the last step's).

Kernels: the RNTK at the paper's S_ReLU = (sqrt 2, 1, 0, 0) for reference;
GRUNTK and LSTMNTK with h = o·c (closed recursion) at sigma_u = 1, sigma_b =
0, sigma_h = 0 and sigma_w in ``SIGMA_W``; and at sigma_w = 1 with the bias mean
of the gate that keeps the state (``update_bias`` / ``forget_bias``) in ``BIAS_MEANS``. (The tanh LSTM's path Monte Carlo
would need ~2T x 0.3 s a pair.) Resumable: one cached unit per kernel.
"""
from __future__ import annotations

import sys

import numpy as np
from _common import out_dir, parser, save_figure, write_json

SEED = 0
T_FULL, T_QUICK = 50, 8
PAIRS_FULL, PAIRS_QUICK = 24, 3
FD_STEP = 1e-5  # central differences: truncation ~h^2, rounding ~1e-16 / h
SIGMA_W = (1.0, 2.0, 4.0)
BIAS_MEANS = (2.0, 4.0)  # of the gate that keeps the state (GRU update gate, LSTM forget gate), at sigma_w = 1


def _kernels():
    from rntk import GRUNTK, LSTMNTK, RNTK

    out = {"rntk_relu": RNTK(sigma_w=2**0.5, sigma_u=1.0, sigma_b=0.0, sigma_h=0.0)}
    for sw in SIGMA_W:
        out[f"gru_sw{sw:g}"] = GRUNTK(sigma_w=sw, sigma_u=1.0)
        out[f"lstm_identity_sw{sw:g}"] = LSTMNTK(sigma_w=sw, sigma_u=1.0, cell_activation="identity")
    for mu in BIAS_MEANS:
        out[f"gru_sw1_mu{mu:g}"] = GRUNTK(sigma_w=1.0, sigma_u=1.0, update_bias=mu)
        out[f"lstm_identity_sw1_mu{mu:g}"] = LSTMNTK(sigma_w=1.0, sigma_u=1.0, cell_activation="identity",
                                                     forget_bias=mu)
    return out


def _unit(name, T, n_pairs):
    kernel = _kernels()[name]
    rng = np.random.default_rng(SEED)
    S = []
    for _ in range(n_pairs):
        x, y = rng.standard_normal((T, 1)), rng.standard_normal((T, 1))
        plus, minus = [], []
        for t in range(T):
            e = np.zeros((T, 1))
            e[t] = FD_STEP
            plus.append(x + e)
            minus.append(x - e)
        K = kernel.gram(plus + minus, [y]).ntk[:, 0]
        S.append(np.abs(K[:T] - K[T:]) / (2 * FD_STEP))
    return {"name": name, "T": T, "n_pairs": n_pairs, "s": np.array(S).tolist()}


def main(argv=None):
    p = parser(__doc__)
    args = p.parse_args(argv)
    from rntk.experiments import load_cached

    q = args.quick
    T, n_pairs = (T_QUICK, PAIRS_QUICK) if q else (T_FULL, PAIRS_FULL)
    d = out_dir(args)
    cache = d / "gated_sensitivity_cache"
    cache.mkdir(exist_ok=True)
    curves, reach = {}, {}
    for name in _kernels():
        path = cache / f"{name}.json"
        doc = load_cached(path, lambda doc: doc["T"] == T and doc["n_pairs"] == n_pairs)
        if doc is None:
            doc = _unit(name, T, n_pairs)
            write_json(path, doc)
            print(f"gated_sensitivity: {name} done", flush=True)
        m = np.array(doc["s"]).mean(0)
        curves[name] = (m / m.max()).tolist()
        reach[name] = float(m[0] / m[-1])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True)
    t = np.arange(1, T + 1)
    axes[0].plot(t, curves["rntk_relu"], "k-", label="RNTK, ReLU, S_ReLU")
    axes[1].plot(t, curves["rntk_relu"], "k-", label="RNTK, ReLU, S_ReLU")
    for i, sw in enumerate(SIGMA_W):
        axes[0].plot(t, curves[f"gru_sw{sw:g}"], color=f"C{i}", label=f"GRU, σw = {sw:g}")
        axes[1].plot(t, curves[f"lstm_identity_sw{sw:g}"], color=f"C{i}", label=f"LSTM h = o·c, σw = {sw:g}")
    for i, mu in enumerate(BIAS_MEANS):
        c = f"C{len(SIGMA_W) + i}"
        axes[0].plot(t, curves[f"gru_sw1_mu{mu:g}"], "--", color=c, label=f"GRU, σw = 1, update bias {mu:g}")
        axes[1].plot(t, curves[f"lstm_identity_sw1_mu{mu:g}"], "--", color=c,
                     label=f"LSTM h = o·c, σw = 1, forget bias {mu:g}")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("time step t")
        ax.legend(frameon=False, fontsize=7)
    axes[0].set_ylabel("mean s(t) / max")
    fig.suptitle(f"Sensitivity of the NTK to x_t (T = {T}, {n_pairs} pairs, σu = 1, σb = σh = 0)", fontsize=9)
    save_figure(fig, d / "gated_sensitivity.png")
    write_json(d / "gated_sensitivity.json", {"T": T, "n_pairs": n_pairs, "fd_step": FD_STEP,
                                              "curves": curves, "reach": reach, "quick": bool(q)})
    print("gated_sensitivity: reach s(1)/s(T): " + ", ".join(f"{k} {v:.3g}" for k, v in reach.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
