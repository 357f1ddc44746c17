"""Livi, the effective-learning-rate envelope (experiment L-2): in
real torch GRU/LSTM cells, is the first-order transport D_{t,l} = prod diag(lambda)
(lambda = GRU update gate z, LSTM forget gate f) an accurate stand-in for the
true Jacobian product J_{t,l}, and does f(l) = sum_i D_ii decay as the gate
spectrum predicts?

nn.GRU / nn.LSTM, hidden 64, input 1, inputs N(0, 1), T = 120, 64 sequences,
averaged over end times t in {70, 95, 120}. Controlled mode: gate weights
zeroed and gate biases set so that lambda_i follows (a) a single time scale,
lambda = 0.9; (b) a uniform spectrum on (0, 0.999); (c) chrono, tau uniform on
[2, 100], lambda = 1 - 1/tau (both as evenly spaced quantiles); candidate
weights scaled by s in {0, 0.1, 0.3, 1}. Uncontrolled mode: PyTorch's default
initialisation (reported only). J from autograd (torch.func.jacrev of the
cell step, checked against nn.GRU/nn.LSTM outputs in the tests).

Pass (spec L-2), on f_meas(l) = sum_i |J_ii| for l <= 50:
 (i) s <= 0.1: |f_meas / f_pred - 1| <= 0.10 at every l;
 (ii) spectrum (a), s = 0.1: semi-log fit R^2 >= 0.99 and slope ln 0.9 +- 5 %;
 (iii) spectrum (b), s = 0.1: log-log slope over l in [5, 50] of -1 +- 0.1;
 (iv) ordering of f(50)/f(1) at s = 0.1: (b) > (c) > (a).
The first-order prediction's own ordering is reported beside (iv).
"""
from __future__ import annotations

import sys

import numpy as np

from _common import out_dir, parser, save_figure, write_json
from _verdicts import jsonable, verdict

HIDDEN = 64
CELLS = ("gru", "lstm")
SPECTRA = ("a", "b", "c")
SCALES_FULL, SCALES_QUICK = (0.0, 0.1, 0.3, 1.0), (0.0, 0.1)  # candidate-weight scale s
B_FULL, B_QUICK = 64, 8  # sequences
T_FULL, T_QUICK = 120, 50
ENDS_FULL, ENDS_QUICK = (70, 95, 120), (35, 50)
LAG_FULL, LAG_QUICK = 50, 30  # largest lag l
RATIO_TOL = 0.10  # (i)
R2_MIN, SLOPE_A_TOL = 0.99, 0.05  # (ii)
SLOPE_B, SLOPE_B_TOL, FIT_B_FROM = -1.0, 0.1, 5  # (iii)
S_TEST = 0.1  # scale at which (ii)-(iv) are evaluated
SEED = 20


def spectrum(name, H=HIDDEN):
    q = (np.arange(H) + 0.5) / H
    if name == "a":
        return np.full(H, 0.9)
    if name == "b":
        return 0.999 * q
    return 1.0 - 1.0 / (2.0 + 98.0 * q)


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from rntk.theory import controlled_cell, gate_transport

    q = args.quick
    scales = SCALES_QUICK if q else SCALES_FULL
    B, T, ends, L = (B_QUICK, T_QUICK, ENDS_QUICK, LAG_QUICK) if q else (B_FULL, T_FULL, ENDS_FULL, LAG_FULL)
    x = np.random.default_rng(SEED).standard_normal((B, T))
    lags = np.arange(1, L + 1)
    res = {}
    for cell in CELLS:
        for sp in SPECTRA:
            for s in scales:
                net = controlled_cell(cell, HIDDEN, spectrum(sp), s, seed=SEED)
                res[(cell, sp, s)] = gate_transport(net, x, ends, L)
        res[(cell, "default", None)] = gate_transport(controlled_cell(cell, HIDDEN, None, seed=SEED), x, ends, L)
        print(f"{cell}: done")

    def fit_semilog(f):
        p = np.polyfit(lags, np.log(f), 1)
        pred = np.polyval(p, lags)
        y = np.log(f)
        return float(p[0]), float(1 - ((y - pred) ** 2).sum() / ((y - y.mean()) ** 2).sum())

    def fit_loglog(f):
        k = lags >= FIT_B_FROM
        return float(np.polyfit(np.log(lags[k]), np.log(f[k]), 1)[0])

    summary, cond = {}, {"i": [], "ii": [], "iii": [], "iv": []}
    for cell in CELLS:
        worst = max(float(np.max(np.abs(res[(cell, sp, s)]["ratio"] - 1))) for sp in SPECTRA for s in scales
                    if s <= S_TEST)
        slope_a, r2_a = fit_semilog(res[(cell, "a", S_TEST)]["f_meas"])
        slope_b = fit_loglog(res[(cell, "b", S_TEST)]["f_meas"])
        decay = {sp: float(res[(cell, sp, S_TEST)]["f_meas"][-1] / res[(cell, sp, S_TEST)]["f_meas"][0])
                 for sp in SPECTRA}
        decay_pred = {sp: float(res[(cell, sp, S_TEST)]["f_pred"][-1] / res[(cell, sp, S_TEST)]["f_pred"][0])
                      for sp in SPECTRA}
        ok_i = worst <= RATIO_TOL
        ok_ii = r2_a >= R2_MIN and abs(slope_a / np.log(0.9) - 1) <= SLOPE_A_TOL
        ok_iii = abs(slope_b - SLOPE_B) <= SLOPE_B_TOL
        ok_iv = decay["b"] > decay["c"] > decay["a"]
        for k_, v in zip(("i", "ii", "iii", "iv"), (ok_i, ok_ii, ok_iii, ok_iv)):
            cond[k_].append(v)
        summary[cell] = {
            "max_abs_ratio_minus_1_s_le_0.1": worst, "semilog_slope_a": slope_a, "semilog_r2_a": r2_a,
            "target_slope_a": float(np.log(0.9)), "loglog_slope_b": slope_b,
            "f_L_over_f_1_meas": decay, "f_L_over_f_1_pred": decay_pred,
            "pred_order_b_gt_c_gt_a": decay_pred["b"] > decay_pred["c"] > decay_pred["a"],
            "max_abs_ratio_minus_1_by_scale": {str(s): max(float(np.max(np.abs(res[(cell, sp, s)]["ratio"] - 1)))
                                                            for sp in SPECTRA) for s in scales},
            "default_init": {k: res[(cell, "default", None)][k].tolist() for k in ("f_meas", "f_pred", "rel_err")},
            "conditions": {"i": ok_i, "ii": ok_ii, "iii": ok_iii, "iv": ok_iv},
        }
        print(f"{cell}: max|ratio-1| (s<=0.1) {worst:.4f}; (a) slope {slope_a:.4f} (ln0.9={np.log(0.9):.4f}) "
              f"R2 {r2_a:.5f}; (b) loglog slope {slope_b:.3f}; f(L)/f(1) meas {decay} pred {decay_pred}")
    claims = {
        "first_order_transport_accurate_small_s": verdict(*cond["i"]),
        "single_scale_exponential_decay": verdict(*cond["ii"]),
        "uniform_spectrum_power_law_minus_1": verdict(*cond["iii"]),
        "ordering_b_gt_c_gt_a": verdict(*cond["iv"]),
    }

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(14, 7.5))
    for r, cell in enumerate(CELLS):
        for k, sp in enumerate(SPECTRA):
            for j, s in enumerate(scales):
                rr = res[(cell, sp, s)]
                axes[r, 0].plot(lags, rr["f_meas"], color=f"C{k}", alpha=0.35 + 0.65 * (j + 1) / len(scales),
                                label=f"({sp}) s={s}" if r == 0 else None)
                axes[r, 2].plot(lags, rr["rel_err"], color=f"C{k}", alpha=0.35 + 0.65 * (j + 1) / len(scales))
            axes[r, 0].plot(lags, res[(cell, sp, 0.0)]["f_pred"], "k:", lw=0.8)
            axes[r, 1].plot(lags, res[(cell, sp, S_TEST)]["ratio"], color=f"C{k}", label=f"({sp}) s={S_TEST}")
        d_ = res[(cell, "default", None)]
        axes[r, 0].plot(lags, d_["f_meas"], color="C3", lw=2, label="default init" if r == 0 else None)
        axes[r, 1].plot(lags, d_["ratio"], color="C3", lw=2, label="default init")
        axes[r, 2].plot(lags, d_["rel_err"], color="C3", lw=2)
        axes[r, 0].set_xscale("log")
        axes[r, 0].set_yscale("log")
        axes[r, 0].set_ylabel(f"{cell.upper()}: f(l)")
        axes[r, 1].axhspan(1 - RATIO_TOL, 1 + RATIO_TOL, color="0.9")
        axes[r, 1].set_ylabel("f_meas / f_pred")
        axes[r, 1].set_yscale("log")
        axes[r, 2].set_ylabel("‖J − D‖_F / ‖J‖_F")
        axes[r, 1].legend(frameon=False, fontsize=7)
        for c in range(3):
            axes[r, c].set_xlabel("lag l")
    axes[0, 0].legend(frameon=False, fontsize=6, ncol=2)
    axes[0, 0].set_title("f_meas = Σ|J_ii| (dotted: f_pred)")
    axes[0, 1].set_title("first-order accuracy")
    axes[0, 2].set_title("relative error of D")
    d = out_dir(args)
    save_figure(fig, d / "l2_gate_envelope.png")
    write_json(d / "l2_gate_envelope.json", jsonable({
        "claims": claims, "per_cell": summary,
        "curves": {f"{c}/{sp}/{s}": {k: v.tolist() for k, v in res[(c, sp, s)].items()} for c, sp, s in res},
        "thresholds": {"ratio_tol": RATIO_TOL, "r2_min": R2_MIN, "slope_a_rel_tol": SLOPE_A_TOL,
                       "slope_b": SLOPE_B, "slope_b_tol": SLOPE_B_TOL, "fit_b_from": FIT_B_FROM, "s_test": S_TEST},
        "setup": {"hidden": HIDDEN, "sequences": B, "T": T, "ends": list(ends), "max_lag": L, "seed": SEED},
        "quick": bool(q),
    }))
    print("verdicts:", claims)
    return 0


if __name__ == "__main__":
    sys.exit(main())
