"""Kernel variants: rntk against the RNTK authors' own formulas (RNTK_UCI), the parity table.

Their Gram (``verify/_authors_rntk.py``: a float64 restatement of their
recursion and data handling) for every avg in {0, 1} x Lf in {0, 1, L} x Flip in
{0, 1, 2}, L in {1, 2}, three (sw, su, sb, sh) settings, on 6 series of length
7 scaled by the data set's largest norm (their ``normalizeData``), against:

* avg = 0: ``RNTK(n_layers=L, frozen_layers=Lf, direction=...)`` (the NNGP
  for Lf = L, whose output has no tangent part);
* avg = 1: the same with ``readout="per-step"`` plus the last-state kernel / T:
  their "average" output counts the last step twice (an erratum); the
  column ``erratum_size`` is its distance from our per-step kernel alone.

Every entry is a relative Frobenius error. Writes ``authors_parity.json``
(rendered as a table in docs/kernel.md) and ``authors_parity.png`` (every
setting's errors on a log scale next to the erratum's size). Same data and
settings in ``--quick`` (it takes seconds).
"""
from __future__ import annotations

import sys

import numpy as np
from _authors_rntk import DIRECTION, authors
from _common import out_dir, parser, save_figure, write_json

N, T = 6, 7
SEED = 20210
SIGMAS = [(1.41, 0.1, 0.0, 0.0), (1.2, 0.8, 0.3, 0.5), (1.0, 1.0, 0.1, 1.0)]
GRID = [(L, Lf) for L in (1, 2) for Lf in sorted({0, 1, L}) if Lf <= L]


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    from rntk import RNTK
    from rntk.estimators import SeriesScaler
    from rntk.testing import rel_frobenius

    X = SeriesScaler("dataset-max").fit_transform(np.random.default_rng(SEED).normal(size=(N, T)))
    rows = []
    for L, Lf in GRID:
        for flip in (0, 1, 2):
            for sigmas in SIGMAS:
                sw, su, sb, sh = sigmas

                def ours(readout):
                    res = RNTK(n_layers=L, sigma_w=sw, sigma_u=su, sigma_b=sb, sigma_h=sh, frozen_layers=Lf,
                               direction=DIRECTION[flip], readout=readout).gram(X)
                    return res.nngp if Lf == L else res.ntk

                last, per_step = ours("last"), ours("per-step")
                avg = authors(X, *sigmas, L, Lf, flip, avg=1)
                rows.append({
                    "L": L, "Lf": Lf, "flip": flip, "direction": DIRECTION[flip], "sigmas": list(sigmas),
                    "last": rel_frobenius(authors(X, *sigmas, L, Lf, flip, avg=0), last),
                    "avg_vs_per_step_plus_last_over_T": rel_frobenius(avg, per_step + last / T),
                    "erratum_size": rel_frobenius(avg, per_step),
                })
    worst = max(max(r["last"], r["avg_vs_per_step_plus_last_over_T"]) for r in rows)
    write_json(out_dir(args) / "authors_parity.json", {
        "n_series": N, "length": T, "rows": rows, "worst_rel_error": worst, "quick": bool(args.quick),
    })
    plot(rows, out_dir(args) / "authors_parity.png")
    sizes = [r["erratum_size"] for r in rows]
    print(f"authors_parity: {len(rows)} settings, worst relative error {worst:.1e}; "
          f"double-counted last step moves the average kernel by {min(sizes):.1%}-{max(sizes):.1%}")
    return 0


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(len(rows))
    floor = 1e-17  # exact agreement (0.0) drawn at the bottom of the log axis
    fig, ax = plt.subplots(figsize=(9, 3.8))
    for key, label, marker in (("last", "last state (avg = 0)", "o"),
                               ("avg_vs_per_step_plus_last_over_T", "avg = 1 vs per-step + last / T", "s"),
                               ("erratum_size", "avg = 1 vs per-step alone (the erratum)", "^")):
        ax.semilogy(x, [max(r[key], floor) for r in rows], marker, label=label, ms=5)
    ax.axhline(1e-10, color="k", ls="--", lw=0.8, label="1e-10")
    ax.set_xticks(x[::3], [f"L{r['L']} Lf{r['Lf']} F{r['flip']}" for r in rows[::3]], rotation=60, fontsize=7)
    ax.set_ylabel("relative Frobenius error")
    ax.set_title(f"rntk vs the RNTK authors' formulas ({len(rows)} settings; 3 sigma settings per tick)")
    ax.legend(fontsize=7, loc="center right")
    save_figure(fig, path)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
