"""RNTK paper, Figure 2 (left): the analytic kernel Theta(x, x'(a)) of two
sequences of different lengths, x = (1, -1, 1), x'(a) = (cos a, sin a).

ReLU, sigma_w = sqrt(2), sigma_u = 1, sigma_b = sigma_h = 0, sigma_v = 1 (the
paper's setting). The curve has kinks where a step of x' is 0 (a = pi/2,
3pi/2: a zero-variance pre-activation) and is negative near 3pi/2.
Empirical points: the mean empirical NTK of independent finite RNNs of
width n = 1000, 2000, 4000 (NTK parametrisation, the same declaration), with
error bars of two standard errors of the mean. The analytic curve is also
checked against the literal float64 reference recursion.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from _common import out_dir, parser, save_figure, write_json

N_ALPHA_FULL = 721  # analytic grid on [0, 2 pi]: 0.5 degree steps
N_ALPHA_QUICK = 73  # 5 degree steps
N_EMP_FULL, N_EMP_QUICK = 25, 9  # angles with empirical points
WIDTHS = (1000, 2000, 4000)  # the paper's widths
NETS_FULL, NETS_QUICK = 40, 4  # independent networks per width
X = np.array([1.0, -1.0, 1.0])


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    from rntk import RNTK

    kernel = RNTK(activation="relu", sigma_w=2**0.5, sigma_u=1.0, sigma_b=0.0, sigma_h=0.0, sigma_v=1.0)
    alpha = np.linspace(0, 2 * math.pi, N_ALPHA_QUICK if args.quick else N_ALPHA_FULL)
    Y = [np.array([math.cos(a), math.sin(a)]) for a in alpha]
    res = kernel.gram([X], Y)
    ref = kernel.gram([X], Y, backend="reference")
    max_rel = float(np.max(np.abs(res.ntk - ref.ntk)) / np.max(np.abs(ref.ntk)))
    theta = res.ntk[0]

    from rntk.empirical import monte_carlo_ntk

    a_emp = np.linspace(0, 2 * math.pi, N_EMP_QUICK if args.quick else N_EMP_FULL)
    Y_emp = [np.array([math.cos(a), math.sin(a)]) for a in a_emp]
    n_nets = NETS_QUICK if args.quick else NETS_FULL
    emp = {}
    for w in WIDTHS:
        mc = monte_carlo_ntk(kernel, [X], Y_emp, width=w, n_nets=n_nets, seed=w, progress=True)
        emp[w] = (mc.ntk[0], mc.ntk_sem[0])
    analytic_at_emp = kernel.gram([X], Y_emp).ntk[0]
    z = {w: ((m - analytic_at_emp) / s).tolist() for w, (m, s) in emp.items()}

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(alpha, theta, color="C0", lw=2, label="analytic RNTK")
    ax.plot(alpha, res.nngp[0], color="C1", lw=1.2, ls="--", label="NNGP (output covariance)")
    for k_, (w, (m, sem)) in enumerate(emp.items()):
        shift = (k_ - 1) * 0.03  # side by side, so the error bars stay readable
        ax.errorbar(a_emp + shift, m, yerr=2 * sem, fmt="o", ms=3.5, capsize=2,
                    color=f"C{k_ + 2}", label=f"empirical, n = {w} (mean ± 2 s.e., {n_nets} nets)")
    for a in (math.pi / 2, 3 * math.pi / 2):
        ax.axvline(a, color="0.6", lw=0.8, ls=":")
    ax.axhline(0, color="0.3", lw=0.6)
    ax.set_xticks([0, math.pi / 2, math.pi, 3 * math.pi / 2, 2 * math.pi])
    ax.set_xticklabels(["0", "π/2", "π", "3π/2", "2π"])
    ax.set_xlabel("α  (x' = (cos α, sin α))")
    ax.set_ylabel("Θ(x, x')")
    ax.set_title("RNTK of x = (1, −1, 1) and x'(α); ReLU, σw=√2, σu=1")
    ax.legend(frameon=False, fontsize=7.5)
    d = out_dir(args)
    save_figure(fig, d / "fig2_left.png")
    i32 = int(np.argmin(np.abs(alpha - 3 * math.pi / 2)))
    write_json(
        d / "fig2_left.json",
        {
            "alpha": alpha.tolist(),
            "ntk": theta.tolist(),
            "nngp": res.nngp[0].tolist(),
            "ntk_at_3pi_over_2": float(theta[i32]),
            "min_ntk": float(theta.min()),
            "max_rel_err_vs_reference": max_rel,
            "empirical_alpha": a_emp.tolist(),
            "empirical": {str(w): {"mean": m.tolist(), "sem": s_.tolist()} for w, (m, s_) in emp.items()},
            "z_scores": {str(w): v for w, v in z.items()},
            "max_abs_z": {str(w): float(np.max(np.abs(v))) for w, v in z.items()},
            "n_nets": n_nets,
            "quick": bool(args.quick),
        },
    )
    print(f"fig2_left: Theta(3pi/2) = {theta[i32]:.4f}, max rel err vs reference {max_rel:.1e}")
    for w, v in z.items():
        print(f"  n = {w}: max |z| (empirical mean vs analytic) = {np.max(np.abs(v)):.2f}")
    return 0 if max_rel < 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
