"""Issue 23, part 4: Bayesian optimisation over variable-length sequences with
BoTorch's ``SingleTaskGP`` and the RNTK kernel (``rntk.gp.RNTKKernel``).

Black box (offline, ours): the scalar output of a fixed random tanh RNN
(width 16, seeded) reading a sequence of 2..6 values in [-1, 1], minus 0.1 per
step; the optimum's length and values are unknown to the optimiser. Each
candidate is a row ``[T, x_1, ..., x_6]`` (``rntk.gp.encode_sequences``).

BO: a ``SingleTaskGP`` whose covariance is ``ScaleKernel(RNTKKernel())``,
outcome standardised, hyperparameters fit by ``fit_gpytorch_mll`` after every
evaluation; ``LogExpectedImprovement`` maximised by ``optimize_acqf_mixed``
with the length column held at each of 2..6 in turn (the values past the
length are ignored by the kernel and get no gradient). Baseline: uniform random
search (uniform length, uniform values) with the same number of evaluations.
Both start from the same random initial design; ``SEEDS`` repetitions.

What BoTorch's conventions made awkward, and what we did: BoTorch rejects NaN
in ``train_X`` (so no NaN padding: a length column instead); the length is a
discrete input (``optimize_acqf_mixed`` over fixed lengths, not a continuous
bound); an input transform such as ``Normalize`` would rescale the length
column (none is used: the values already lie in [-1, 1]).

Output: ``bo_sequences.json`` and ``bo_sequences.png`` (best value so far vs
evaluations, mean over seeds).
"""
from __future__ import annotations

import sys
import time
import warnings

import numpy as np
from _common import out_dir, parser, save_figure, write_json

T_MAX = 6  # longest candidate sequence
LENGTHS = range(2, T_MAX + 1)  # candidate lengths
STEP_COST = 0.1  # subtracted per step: the optimum's length is a trade-off
WIDTH = 16  # teacher RNN width
FULL = {"seeds": 3, "n_init": 6, "n_iter": 20, "restarts": 4, "raw": 64}
QUICK = {"seeds": 1, "n_init": 4, "n_iter": 3, "restarts": 2, "raw": 16}


def black_box(seqs, seed: int = 0) -> np.ndarray:
    """Scalar response of a fixed random tanh RNN to each sequence, minus STEP_COST per step."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(WIDTH, WIDTH)) * 1.2 / np.sqrt(WIDTH)
    u, b, v = rng.normal(size=WIDTH) * 1.5, rng.normal(size=WIDTH) * 0.3, rng.normal(size=WIDTH)
    out = []
    for s in seqs:
        h = np.zeros(WIDTH)
        for x in np.asarray(s, dtype=float).reshape(-1):
            h = np.tanh(W @ h + u * x + b)
        out.append(float(v @ h) / np.sqrt(WIDTH) - STEP_COST * len(s))
    return np.array(out)


def random_sequences(n, rng):
    return [rng.uniform(-1, 1, size=int(rng.integers(LENGTHS[0], T_MAX + 1))) for _ in range(n)]


def run_bo(seqs0, n_iter, restarts, raw):
    """BO from the initial design ``seqs0``: the objective of every evaluation, and the
    number of model fits that failed (their hyperparameters then stay those of the last fit)."""
    import gpytorch
    import torch
    from botorch.acquisition import LogExpectedImprovement
    from botorch.exceptions import ModelFittingError
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.models.transforms import Standardize
    from botorch.optim import optimize_acqf_mixed
    from gpytorch.mlls import ExactMarginalLogLikelihood

    from rntk.gp import RNTKKernel, decode_sequences, encode_sequences

    X = encode_sequences(seqs0, max_length=T_MAX)
    Y = torch.tensor(black_box(seqs0))[:, None]
    bounds = torch.tensor([[LENGTHS[0]] + [-1.0] * T_MAX, [T_MAX] + [1.0] * T_MAX], dtype=torch.float64)
    prev, failed = None, 0
    for _ in range(n_iter):
        kern = gpytorch.kernels.ScaleKernel(RNTKKernel(n_features=1, sigma_b=0.3, sigma_h=0.3))
        model = SingleTaskGP(X, Y, covar_module=kern, outcome_transform=Standardize(m=1))
        if prev is not None:  # warm start from the last fit (kernel and noise only)
            model.covar_module.load_state_dict(prev[0])
            model.likelihood.load_state_dict(prev[1])
        start = ({k: v.clone() for k, v in model.covar_module.state_dict().items()},
                 {k: v.clone() for k, v in model.likelihood.state_dict().items()})
        try:
            fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        except ModelFittingError:
            # L-BFGS-B's line search can fail at the kink of the ReLU kernel at
            # sigma_b = sigma_h = 0 (docs/gp.md); keep the warm start then
            failed += 1
            model.covar_module.load_state_dict(start[0])
            model.likelihood.load_state_dict(start[1])
        prev = (model.covar_module.state_dict(), model.likelihood.state_dict())
        acq = LogExpectedImprovement(model, best_f=model.outcome_transform(Y)[0].max())
        cand, _ = optimize_acqf_mixed(acq, bounds, q=1, num_restarts=restarts, raw_samples=raw,
                                      fixed_features_list=[{0: float(t)} for t in LENGTHS])
        seq = decode_sequences(cand, 1)[0]
        X = torch.cat([X, cand])
        Y = torch.cat([Y, torch.tensor(black_box([seq]))[:, None]])
    return Y[:, 0].numpy(), failed


def main(argv=None):
    import torch

    args = parser(__doc__).parse_args(argv)
    cfg = QUICK if args.quick else FULL
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    n = cfg["n_init"] + cfg["n_iter"]
    best = {"bo": [], "random": []}
    walls = {"bo": [], "random": []}
    fit_failures = []
    for seed in range(cfg["seeds"]):
        rng = np.random.default_rng([23, seed])
        init = random_sequences(cfg["n_init"], rng)
        t0 = time.perf_counter()
        y, failed = run_bo(init, cfg["n_iter"], cfg["restarts"], cfg["raw"])
        fit_failures.append(failed)
        walls["bo"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        yr = black_box(init + random_sequences(cfg["n_iter"], rng))
        walls["random"].append(time.perf_counter() - t0)
        best["bo"].append(np.maximum.accumulate(y).tolist())
        best["random"].append(np.maximum.accumulate(yr).tolist())
    # a reference optimum: the best of 20000 random sequences (seeded), not seen by either method
    ref = float(black_box(random_sequences(20000 if not args.quick else 2000,
                                           np.random.default_rng(99))).max())
    summary = {k: {"final_best_mean": float(np.mean([b[-1] for b in v])),
                   "final_best_per_seed": [b[-1] for b in v], "wall_s_mean": float(np.mean(walls[k]))}
               for k, v in best.items()}
    d = out_dir(args)
    write_json(d / "bo_sequences.json", {
        "quick": bool(args.quick), "config": cfg, "lengths": list(LENGTHS), "step_cost": STEP_COST,
        "best_so_far": best, "summary": summary, "reference_best_of_random": ref,
        "reference_n": 20000 if not args.quick else 2000, "bo_fit_failures_per_seed": fit_failures,
    })

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    xs = np.arange(1, n + 1)
    for (k, v), c in zip(best.items(), ("C1", "C0")):
        a = np.array(v)
        ax.plot(xs, a.mean(0), color=c, label={"bo": "BoTorch + RNTK kernel", "random": "random search"}[k])
        ax.fill_between(xs, a.min(0), a.max(0), color=c, alpha=0.2)
    ax.axhline(ref, color="0.5", ls="--", lw=0.8, label="best of many random draws")
    ax.axvline(cfg["n_init"] + 0.5, color="0.8", lw=0.8)
    ax.set_xlabel("evaluations")
    ax.set_ylabel("best objective so far")
    ax.set_title(f"BO over sequences of length {LENGTHS[0]}-{T_MAX} ({cfg['seeds']} seeds)", fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save_figure(fig, d / "bo_sequences.png")
    for k, s in summary.items():
        print(f"{k}: final best {s['final_best_mean']:.3f} (per seed {np.round(s['final_best_per_seed'], 3)}), "
              f"{s['wall_s_mean']:.1f} s")
    print(f"reference (best of many random draws): {ref:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
