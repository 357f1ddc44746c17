"""Gated kernels: wide finite GRUs and LSTMs against rntk.GRUNTK / rntk.LSTMNTK (docs/gated.md).

Four measurements, each cached unit by unit in ``<out>/gated_kernel_cache/``
(an interrupted run resumes where it stopped):

1. width sweep, untied weights: the relative Frobenius error
   ||Theta_hat - Theta||_F / ||Theta||_F of one network's empirical NTK Gram
   (factored exact form, ``rntk.empirical.gated_ntk``) against the analytic
   Gram, ``NETS`` networks per width; the log-log slope of the mean error
   against n (``slope_gru``, ``slope_lstm``, ``slope_lstm_identity``) should
   be close to -1/2;
2. Monte Carlo z-scores at width ``Z_WIDTH`` (>= 512 in full mode):
   z = (mean of ``Z_NETS`` networks - analytic) / standard error, per Gram
   entry, NTK and NNGP (the NNGP estimate of one network is
   sigma_v^2 h_T . h'_T / n, i.e. f f' with the read-out integrated out);
3. tied weights: the same sweep for tied networks against the *untied*
   kernel, and the gap ||mean tied Theta_hat - Theta_untied||_F / ||Theta_untied||_F
   at the widest width (``tied_gap_gru``, ``tied_gap_lstm``) with its noise level;
4. the Gauss-Hermite rule's accuracy against adaptive quadrature (scipy
   dblquad), and the LSTM path Monte Carlo's own error (two seeds).

Data: 10 Gaussian sequences of lengths 3..5 (m = 2), fixed seed; sigma_w =
1.5, sigma_u = 1, sigma_b = 0.3, sigma_h = 0.5, sigma_c = 0.4, sigma_v = 1.
"""
from __future__ import annotations

import sys
import time

import numpy as np
from _common import out_dir, parser, save_figure, write_json

SEED = 2027
N_SEQ, M = 10, 2
LENGTHS = (3, 4, 5)
HYP = {"sigma_w": 1.5, "sigma_u": 1.0, "sigma_b": 0.3, "sigma_h": 0.5, "sigma_v": 1.0}
CELLS = {  # JSON key -> (class name, extra arguments)
    "gru": ("GRUNTK", {}),
    "lstm": ("LSTMNTK", {"sigma_c": 0.4, "cell_activation": "tanh"}),
    "lstm_identity": ("LSTMNTK", {"sigma_c": 0.4, "cell_activation": "identity"}),
}
# a gate bias with a mean (the GRU's update gate, the LSTM's forget gate): z-scores only, each
# network also scored against the centred kernel of its cell (the check's power)
BIAS_CELLS = {
    "gru_update_bias": ("GRUNTK", {"update_bias": 2.0}, "gru"),
    "lstm_forget_bias": ("LSTMNTK", {"sigma_c": 0.4, "cell_activation": "tanh", "forget_bias": 1.5}, "lstm"),
    "lstm_identity_forget_bias": ("LSTMNTK", {"sigma_c": 0.4, "cell_activation": "identity", "forget_bias": 1.5},
                                  "lstm_identity"),
}
ALL_CELLS = {**CELLS, **{c: v[:2] for c, v in BIAS_CELLS.items()}}
WIDTHS_FULL, WIDTHS_QUICK = (64, 128, 256, 512, 1024, 2048), (32, 64, 128)
NETS_FULL, NETS_QUICK = 8, 3  # networks per width in the sweeps
Z_WIDTH_FULL, Z_WIDTH_QUICK = 512, 64
Z_NETS_FULL, Z_NETS_QUICK = 48, 6
PATHS_FULL, PATHS_QUICK = 2**18, 2**12  # paths of the tanh LSTM's kernel
QUAD_NODES = (32, 64, 128)
QUAD_KMAX = (1.0, 3.0, 10.0)


def _data():
    rng = np.random.default_rng(SEED)
    return [rng.standard_normal((LENGTHS[i % len(LENGTHS)], M)) for i in range(N_SEQ)]


def _kernel(cell, n_paths, seed=0):
    import rntk

    name, extra = ALL_CELLS[cell]
    extra = {**extra, "n_paths": n_paths, "seed": seed} if name == "LSTMNTK" else extra
    return getattr(rntk, name)(**HYP, **extra)


def _analytic(cell, n_paths, seed=0):
    k = _kernel(cell, n_paths, seed).gram(_data())
    return {"ntk": k.ntk.tolist(), "nngp": k.nngp.tolist()}


def _sweep(cell, tied, width, n_nets, n_paths, theta):
    """Errors of n_nets networks, and their mean empirical NTK."""
    import torch

    from rntk.empirical import gated_monte_carlo
    from rntk.testing import rel_frobenius

    torch.set_num_threads(1)
    kernel, X, theta = _kernel(cell, n_paths), _data(), np.array(theta)
    seed = [SEED, width, list(CELLS).index(cell), int(tied)]
    mc = gated_monte_carlo(kernel, X, width=width, n_nets=n_nets, seed=seed, tied=tied, keep=True)
    errs = [rel_frobenius(K, theta) for K in mc.ntk_all]
    return {"errors": errs, "mean_ntk": mc.ntk.tolist(), "mean_nngp": mc.nngp.tolist(), "n_nets": n_nets}


def _zscores(cell, width, n_nets, n_paths, analytic, wrong=None):
    """z-scores of the networks' mean kernels against ``analytic``; with ``wrong`` (another
    kernel's analytic values), also the largest |z| of the NTK against it."""
    import torch

    from rntk.empirical import gated_monte_carlo

    torch.set_num_threads(1)
    mc = gated_monte_carlo(_kernel(cell, n_paths), _data(), width=width, n_nets=n_nets,
                           seed=SEED + list(ALL_CELLS).index(cell))
    K, G = np.array(analytic["ntk"]), np.array(analytic["nngp"])
    z = (mc.ntk - K) / mc.ntk_sem
    zg = (mc.nngp - G) / mc.nngp_sem
    iu = np.triu_indices(len(K))
    row = lambda a: {"max_abs": float(np.abs(a[iu]).max()), "mean": float(a[iu].mean()),  # noqa: E731
                     "rms": float(np.sqrt((a[iu] ** 2).mean())), "n_entries": int(len(iu[0]))}
    out = {"width": width, "n_nets": n_nets, "ntk": row(z), "nngp": row(zg), "z_ntk": z.tolist()}
    if wrong is not None:
        out["max_abs_z_ntk_vs_centred_kernel"] = float(np.abs(((mc.ntk - np.array(wrong["ntk"])) / mc.ntk_sem)[iu]).max())
    return out


def _quadrature(quick):
    """Max abs error of the gate expectations (V, V' of sigmoid and tanh) against scipy's dblquad:
    the 2-D Gauss-Hermite rule at several node counts and Mehler's series (the default path)."""
    from scipy import integrate
    from scipy.special import expit

    from rntk import GRUNTK

    fns = {"sigmoid": (expit, lambda z: expit(z) * (1 - expit(z))),
           "tanh": (np.tanh, lambda z: 1 / np.cosh(z) ** 2)}
    phi = lambda z: np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # noqa: E731

    def exact(f, k1, k2, k3):
        a, b, s = np.sqrt(k1), k3 / np.sqrt(k1), np.sqrt(max(k2 - k3**2 / k1, 0.0))
        return integrate.dblquad(lambda z2, z1: phi(z1) * phi(z2) * f(a * z1) * f(b * z1 + s * z2),
                                 -12, 12, -12, 12, epsabs=1e-13, epsrel=1e-12)[0]

    kmaxes = QUAD_KMAX[:2] if quick else QUAD_KMAX
    cors = (-0.9, 0.5) if quick else (-0.9, 0.0, 0.5, 0.99)
    ref = {}
    for kmax in kmaxes:
        for c in cors:
            k = (kmax / 3, kmax, c * kmax / np.sqrt(3))
            for name, (f, df) in fns.items():
                ref[kmax, c, name] = (exact(f, *k), exact(df, *k), k)
    table = {}
    for method, nodes in (("quadrature", QUAD_NODES), ("series", (64,))):
        for n in nodes:
            kernel = GRUNTK(n_nodes=n)
            for kmax in kmaxes:
                err = 0.0
                for (km, c, name), (v, d, k) in ref.items():
                    if km == kmax:
                        gv, gd = kernel.gate_expectations(*k, method=method)[name]
                        err = max(err, abs(float(gv) - v), abs(float(gd) - d))
                table[f"{n if method == 'quadrature' else 'series'}:{kmax:g}"] = err
    return {"max_abs_error": table, "variances": "K1 = kmax/3, K2 = kmax, correlations " + str(list(cors))}


def _fit(widths, errs):
    n = np.array(widths, dtype=float)
    return float(np.polyfit(np.log(n), np.log([np.mean(e) for e in errs]), 1)[0])


def main(argv=None):
    p = parser(__doc__)
    args = p.parse_args(argv)
    from rntk.experiments import load_cached
    from rntk.testing import rel_frobenius

    q = args.quick
    widths = WIDTHS_QUICK if q else WIDTHS_FULL
    nets, zw, zn = (NETS_QUICK, Z_WIDTH_QUICK, Z_NETS_QUICK) if q else (NETS_FULL, Z_WIDTH_FULL, Z_NETS_FULL)
    paths = PATHS_QUICK if q else PATHS_FULL
    d = out_dir(args)
    cache = d / "gated_kernel_cache"
    cache.mkdir(exist_ok=True)

    def unit(name, make, accept=lambda doc: True):
        path = cache / f"{name}.json"
        doc = load_cached(path, accept)
        if doc is None:
            t0 = time.time()
            doc = make()
            doc["seconds"] = time.time() - t0
            write_json(path, doc)
            print(f"gated_kernel: {name} done in {doc['seconds']:.1f} s", flush=True)
        return doc

    tag = f"p{paths}_v2"  # v2: Mehler's series is the default path
    analytic = {c: unit(f"analytic_{c}_{tag}", lambda c=c: _analytic(c, paths)) for c in CELLS}
    seed1 = unit(f"analytic_lstm_{tag}_seed1", lambda: _analytic("lstm", paths, seed=1))
    path_mc_error = rel_frobenius(np.array(seed1["ntk"]), np.array(analytic["lstm"]["ntk"]))
    quad = unit("quadrature_v2" + ("_quick" if q else ""), lambda: _quadrature(q))
    zs = {c: unit(f"zv_{c}_{zw}_{zn}_{tag}", lambda c=c: _zscores(c, zw, zn, paths, analytic[c])) for c in CELLS}
    for c, (_, extra, centred) in BIAS_CELLS.items():
        analytic[c] = unit(f"analytic_{c}_{tag}", lambda c=c: _analytic(c, paths))
        zs[c] = unit(f"zv_{c}_{zw}_{zn}_{tag}", lambda c=c, centred=centred: _zscores(
            c, zw, zn, paths, analytic[c], wrong=analytic[centred]))
    sweeps = {}
    for tied in (False, True):
        for c in (("gru", "lstm", "lstm_identity") if not tied else ("gru", "lstm")):
            for w in sorted(widths, reverse=True):
                sweeps[c, tied, w] = unit(
                    f"sweep_{c}_{'tied' if tied else 'untied'}_{w}_{tag}",
                    lambda c=c, tied=tied, w=w: _sweep(c, tied, w, nets, paths, analytic[c]["ntk"]),
                    lambda doc: doc["n_nets"] == nets and "mean_nngp" in doc)

    errs = lambda c, tied: [sweeps[c, tied, w]["errors"] for w in widths]  # noqa: E731
    slopes = {c: _fit(widths, errs(c, False)) for c in CELLS}
    tied_slopes = {c: _fit(widths, errs(c, True)) for c in ("gru", "lstm")}
    wmax = max(widths)
    tied_gap, untied_gap, tied_gap_nngp, untied_gap_nngp = {}, {}, {}, {}
    for c in ("gru", "lstm"):
        theta, nngp = np.array(analytic[c]["ntk"]), np.array(analytic[c]["nngp"])
        tied_gap[c] = rel_frobenius(np.array(sweeps[c, True, wmax]["mean_ntk"]), theta)
        untied_gap[c] = rel_frobenius(np.array(sweeps[c, False, wmax]["mean_ntk"]), theta)
        tied_gap_nngp[c] = rel_frobenius(np.array(sweeps[c, True, wmax]["mean_nngp"]), nngp)
        untied_gap_nngp[c] = rel_frobenius(np.array(sweeps[c, False, wmax]["mean_nngp"]), nngp)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = np.array(widths, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    labels = {"gru": "GRU", "lstm": "LSTM", "lstm_identity": "LSTM, h = o·c"}
    for i, c in enumerate(CELLS):
        e = errs(c, False)
        ax.errorbar(n * (1 + 0.03 * (i - 1)), [np.mean(v) for v in e], yerr=[np.std(v, ddof=1) for v in e],
                    fmt="o-", capsize=3, color=f"C{i}", label=f"{labels[c]} untied (slope {slopes[c]:.2f})")
    for i, c in enumerate(("gru", "lstm")):
        e = errs(c, True)
        ax.plot(n, [np.mean(v) for v in e], "s--", color=f"C{i}", alpha=0.6,
                label=f"{labels[c]} tied vs untied kernel")
    first = np.mean([np.mean(errs(c, False)[0]) for c in CELLS])
    ax.plot(n, first * (n / n[0]) ** -0.5, "k:", lw=0.8, label="n^(-1/2)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width n")
    ax.set_ylabel("||Θ̂ − Θ||_F / ||Θ||_F")
    ax.set_title(f"Gated RNNs: empirical vs analytic NTK, {N_SEQ} sequences\n"
                 f"(mean ± s.d. over {nets} networks per width)")
    ax.legend(frameon=False, fontsize=7)
    save_figure(fig, d / "gated_kernel.png")

    write_json(d / "gated_kernel.json", {
        "widths": list(widths),
        "n_nets": nets,
        "hyperparameters": HYP,
        "cells": {c: {"class": v[0], **v[1]} for c, v in CELLS.items()},
        "data": {"n_sequences": N_SEQ, "lengths": list(LENGTHS), "m": M, "seed": SEED},
        "errors_untied": {c: {str(w): sweeps[c, False, w]["errors"] for w in widths} for c in CELLS},
        "errors_tied": {c: {str(w): sweeps[c, True, w]["errors"] for w in widths} for c in ("gru", "lstm")},
        **{f"slope_{c}": slopes[c] for c in CELLS},
        **{f"slope_tied_{c}": tied_slopes[c] for c in ("gru", "lstm")},
        **{f"tied_gap_{c}": tied_gap[c] for c in ("gru", "lstm")},
        **{f"untied_mean_gap_{c}": untied_gap[c] for c in ("gru", "lstm")},
        **{f"tied_gap_nngp_{c}": tied_gap_nngp[c] for c in ("gru", "lstm")},
        **{f"untied_mean_gap_nngp_{c}": untied_gap_nngp[c] for c in ("gru", "lstm")},
        "gap_width": wmax,
        "zscores": {c: {k: v for k, v in zs[c].items() if k != "z_ntk"} for c in ALL_CELLS},
        "bias_cells": {c: {"class": v[0], **v[1], "centred_cell": v[2]} for c, v in BIAS_CELLS.items()},
        "lstm_n_paths": paths,
        "lstm_path_mc_rel_error_two_seeds": path_mc_error,
        "quadrature": quad,
        "quick": bool(q),
    })
    print("gated_kernel: " + ", ".join(f"slope_{c} = {slopes[c]:.3f}" for c in CELLS)
          + ", " + ", ".join(f"tied_gap_{c} = {tied_gap[c]:.3f}" for c in tied_gap)
          + ", " + ", ".join(f"max|z| {c} = {zs[c]['ntk']['max_abs']:.2f}" for c in ALL_CELLS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
