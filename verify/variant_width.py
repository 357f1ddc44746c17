"""Kernel variants: the empirical NTK of wide finite networks converges to RNTK(...)'s variants.

For each variant, the network it is the infinite-width kernel of
(``rntk.empirical.VariantRNN``: per-step read-outs, one read-out of the mean
state, the lowest layer frozen, two RNNs reading in opposite directions) at
growing width n, several independent networks per width. The error of one
network is the relative Frobenius error ||Theta_hat - Theta||_F / ||Theta||_F of
its empirical NTK Gram (full Jacobians) against the analytic Gram
(``RNTK(...).gram``). The central-limit rate is n^(-1/2), so the fitted log-log
slope of the mean error against n should be close to -0.5 (keys ``slope_<variant>``).

Data: 10 Gaussian sequences of lengths 2..6 (m = 2), fixed seed; ReLU,
sigma_w = 1.2, sigma_u = 1, sigma_b = 0.2, sigma_h = 0.3, sigma_v = 1 (two
layers for the frozen-layer variant, one otherwise). Resumable: each
(variant, width) unit is saved in ``<out>/variant_width_cache/`` as it ends.
"""
from __future__ import annotations

import sys

import numpy as np
from _common import out_dir, parser, save_figure, write_json

SEED = 2026
N_SEQ, M = 10, 2
LENGTHS = (2, 3, 4, 5, 6)
WIDTHS_FULL = (64, 128, 256, 512, 1024, 2048)
WIDTHS_QUICK = (16, 32)
NETS_FULL, NETS_QUICK = 8, 1
BASE = {"activation": "relu", "sigma_w": 1.2, "sigma_u": 1.0, "sigma_b": 0.2, "sigma_h": 0.3, "sigma_v": 1.0}
VARIANTS = {  # JSON key suffix -> the variant's declaration on top of BASE
    "readout_per_step": {"readout": "per-step"},
    "readout_mean": {"readout": "mean"},
    "frozen_layers": {"n_layers": 2, "frozen_layers": 1},
    "bidirectional": {"direction": "bidirectional"},
}


def _data():
    rng = np.random.default_rng(SEED)
    return [rng.standard_normal((LENGTHS[i % len(LENGTHS)], M)) for i in range(N_SEQ)]


def _unit(name, width, n_nets):
    """Relative Frobenius errors of ``n_nets`` independent networks of one variant at one width."""
    import torch

    from rntk import RNTK
    from rntk.empirical import variant_ntk
    from rntk.testing import rel_frobenius

    torch.set_num_threads(1)
    kernel = RNTK(**{**BASE, **VARIANTS[name]})
    X = _data()
    theta = kernel.gram(X).ntk
    streams = np.random.SeedSequence([SEED, width, list(VARIANTS).index(name)]).spawn(n_nets)
    errs = []
    for s in streams:
        K, _ = variant_ntk(kernel, X, width, generator=int(s.generate_state(1)[0]))
        errs.append(rel_frobenius(K, theta))
    return {"variant": name, "width": width, "n_nets": n_nets, "errors": errs}


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--jobs", type=int, default=1, help="units run at once (default 1)")
    args = p.parse_args(argv)
    from tqdm.auto import tqdm

    from rntk.experiments import exit_status, load_cached, run_units

    widths = WIDTHS_QUICK if args.quick else WIDTHS_FULL
    n_nets = NETS_QUICK if args.quick else NETS_FULL
    d = out_dir(args)
    cache = d / "variant_width_cache"
    cache.mkdir(exist_ok=True)
    path = lambda name, w: cache / f"{name}__{w}.json"  # noqa: E731
    results = {}
    todo = []
    for name in VARIANTS:
        for w in widths:
            doc = load_cached(path(name, w), lambda doc: doc["n_nets"] == n_nets and len(doc["errors"]) == n_nets)
            if doc is None:
                todo.append((name, w, n_nets))
            else:
                results[name, w] = doc["errors"]
    bar = tqdm(total=len(todo), desc="variant x width units", unit="unit")

    def save(unit, res):
        write_json(path(unit[0], unit[1]), res)
        results[unit[0], unit[1]] = res["errors"]
        bar.update()

    # the widest units first: they take longest
    todo.sort(key=lambda u: -u[1])
    try:
        run_units(_unit, todo, n_jobs=args.jobs, on_result=save)
    except KeyboardInterrupt as e:
        print(f"variant_width: stopped; {len(results)} units saved in {cache}, rerun to resume", file=sys.stderr)
        return exit_status(e)
    finally:
        bar.close()

    n = np.array(widths, dtype=float)
    mean = {k: np.array([np.mean(results[k, w]) for w in widths]) for k in VARIANTS}
    slopes = {k: float(np.polyfit(np.log(n), np.log(mean[k]), 1)[0]) for k in VARIANTS}

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for i, k in enumerate(VARIANTS):
        sd = np.array([np.std(results[k, w], ddof=1) for w in widths])
        ax.errorbar(n * (1 + 0.03 * (i - 1.5)), mean[k], yerr=sd, fmt="o-", capsize=3,
                    label=f"{k.replace('_', ' ')} (slope {slopes[k]:.2f})")
    first = np.mean([mean[k][0] for k in VARIANTS])
    ax.plot(n, first * (n / n[0]) ** -0.5, "k--", lw=0.8, label="n^(-1/2)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width n")
    ax.set_ylabel("||Θ̂ − Θ||_F / ||Θ||_F")
    ax.set_title(f"Kernel variants: empirical vs analytic NTK, {N_SEQ} sequences\n"
                 f"(mean ± s.d. over {n_nets} networks per width)")
    ax.legend(frameon=False, fontsize=8)
    save_figure(fig, d / "variant_width.png")
    write_json(d / "variant_width.json", {
        "widths": list(widths),
        "n_nets": n_nets,
        "variants": {k: {**BASE, **v} for k, v in VARIANTS.items()},
        "errors": {k: {str(w): results[k, w] for w in widths} for k in VARIANTS},
        **{f"slope_{k}": slopes[k] for k in VARIANTS},
        "quick": bool(args.quick),
    })
    print("variant_width: " + ", ".join(f"slope_{k} = {slopes[k]:.3f}" for k in VARIANTS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
