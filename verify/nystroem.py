"""Nyström features of the RNTK against the exact Gram: error and accuracy vs landmark count.

Claim checked (issue 20): a Nyström feature map (``rntk.estimators.Nystroem``)
approximates the RNTK Gram well enough at k << N landmarks that a linear model
on its features reaches the exact kernel machine's accuracy, at a fraction of
the exact Gram's time.

Protocol:

* Data: two UCR sets whose exact Gram is affordable here, ElectricDevices
  (8,926 training series of length 96, 7 classes; the issue's N ~ 10k) and
  Crop (7,200 of length 46, 24 classes); every series scaled to unit norm
  (the RNTK paper's rule). ``--quick``: the shipped Trace and SynthCBF.
* Kernel: ``RNTK(sigma_b=0.1)`` (one layer, ReLU, sigma_w = sqrt 2, sigma_u = 1,
  sigma_h = 0, so the training Gram is gram(X, X), which the map approximates).
* Exact model: kernel ridge classification, one-vs-rest +-1 targets, no
  intercept, on the exact training Gram; the ridge alpha (grid ``ALPHAS``
  times the Gram's mean diagonal) is chosen on a stratified 20 % hold-out of
  the training set, then refit on all of it and scored on the test set.
* Nyström: for each landmark rule (uniform, kernel k-means++, ridge leverage)
  and k in ``KS``, features Phi of the training and test series, the same
  ridge (the same alpha) on Phi: at k = N that is exactly the kernel model.
  Reported: the relative Frobenius error ||K - Phi Phi^T||_F / ||K||_F on the
  training Gram, the test accuracy, and the feature time (fit + transform of
  train and test) next to the exact Grams' time (train + test-by-train).
* One landmark draw (seed 0) per setting; the spread over draws is not
  measured.

Resumable: each dataset's result is cached in ``<out>/nystroem_cache/`` under a
key of the settings. Output: ``nystroem.json`` and ``nystroem.png``.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import numpy as np
from _common import out_dir, parser, save_figure, write_json

KERNEL = {"sigma_b": 0.1}  # RNTK hyperparameters (the rest default)
RULES = ("uniform", "kmeans++", "leverage")
ALPHAS = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)  # ridge, times the mean diagonal of the training Gram
HOLDOUT = 0.2  # share of the training set that chooses alpha
SEED = 0
FULL = {"datasets": ("ElectricDevices", "Crop"), "ks": (50, 100, 200, 400, 800, 1600)}
QUICK = {"datasets": ("Trace", "SynthCBF"), "ks": (5, 10, 20, 40)}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def onehot(y, classes):
    return np.where(y[:, None] == classes[None, :], 1.0, -1.0)


def krr_fit(K, Y, alpha):
    """Kernel ridge coefficients (K + alpha I)^-1 Y by Cholesky."""
    from scipy.linalg import cho_factor, cho_solve

    A = K.copy()
    A[np.diag_indices_from(A)] += alpha
    return cho_solve(cho_factor(A, lower=True, overwrite_a=True), Y)


def choose_alpha(K, y, classes, rng):
    """The alpha of ALPHAS x mean diag(K) with the best hold-out accuracy (ties: the largest)."""
    val = np.zeros(len(y), dtype=bool)
    for c in classes:  # stratified hold-out
        members = np.flatnonzero(y == c)
        val[rng.choice(members, size=round(HOLDOUT * len(members)), replace=False)] = True
    tr = ~val
    scale = float(np.mean(np.diag(K)))
    accs = []
    for a in ALPHAS:
        coef = krr_fit(K[np.ix_(tr, tr)], onehot(y[tr], classes), a * scale)
        accs.append(float(np.mean(classes[np.argmax(K[np.ix_(val, tr)] @ coef, axis=1)] == y[val])))
    best = max(range(len(ALPHAS)), key=lambda i: (accs[i], ALPHAS[i]))
    return ALPHAS[best] * scale, dict(zip(map(str, ALPHAS), accs))


def rel_fro(K, F, block=2048):
    """||K - F F^T||_F / ||K||_F, in row blocks (no second N x N matrix)."""
    num = 0.0
    for s in range(0, len(K), block):
        num += float(np.sum((K[s : s + block] - F[s : s + block] @ F.T) ** 2))
    return float(np.sqrt(num) / np.linalg.norm(K))


def run_dataset(name, ks):
    from rntk import RNTK
    from rntk.datasets import load_ucr
    from rntk.estimators import Nystroem, SeriesScaler

    X, y = load_ucr(name, "train")
    Xt, yt = load_ucr(name, "test")
    scaler = SeriesScaler("unit").fit(X)
    X, Xt = scaler.transform(X), scaler.transform(Xt)
    classes = np.unique(y)
    kernel = RNTK(**KERNEL)
    load = [list(os.getloadavg())]  # the machine is shared: the times mean little under load
    log(f"{name}: N = {len(X)}, N_test = {len(Xt)}, T = {X.shape[1]}: exact Grams")
    kernel.gram(X[:16])  # compile (or load) the fused kernel before anything is timed
    kernel.gram(X[:16], X[:8])
    t0 = time.perf_counter()
    K = kernel.gram(X).ntk
    Kt = kernel.gram(Xt, X).ntk
    gram_s = time.perf_counter() - t0
    alpha, holdout = choose_alpha(K, y, classes, np.random.default_rng(SEED))
    t0 = time.perf_counter()
    exact_acc = float(np.mean(classes[np.argmax(Kt @ krr_fit(K, onehot(y, classes), alpha), axis=1)] == yt))
    exact_fit_s = time.perf_counter() - t0
    del Kt
    log(f"{name}: exact accuracy {exact_acc:.4f} (alpha {alpha:.3g}), Grams {gram_s:.1f} s")
    rows = []
    for rule in RULES:
        for k in ks:
            if k > len(X):
                continue
            t0 = time.perf_counter()
            ny = Nystroem(kernel, n_components=k, landmarks=rule, random_state=SEED).fit(X)
            F, Ft = ny.transform(X), ny.transform(Xt)
            feat_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            w = np.linalg.solve(F.T @ F + alpha * np.eye(k), F.T @ onehot(y, classes))
            fit_s = time.perf_counter() - t0
            acc = float(np.mean(classes[np.argmax(Ft @ w, axis=1)] == yt))
            err = rel_fro(K, F)
            rows.append({"rule": rule, "k": k, "rel_fro": err, "test_acc": acc, "feature_s": feat_s,
                         "ridge_s": fit_s})
            log(f"{name} {rule:9s} k={k:5d}: rel. Frobenius {err:.2e}, accuracy {acc:.4f}, "
                f"features {feat_s:.1f} s")
    load.append(list(os.getloadavg()))
    return {"n_train": len(X), "n_test": len(Xt), "T": int(X.shape[1]), "n_classes": len(classes),
            "loadavg_start_end": load,
            "exact": {"test_acc": exact_acc, "alpha": alpha, "holdout_acc": holdout, "gram_s": gram_s,
                      "ridge_s": exact_fit_s},
            "nystroem": rows}


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    fig, axes = plt.subplots(2, len(names), figsize=(5 * len(names), 7.5), squeeze=False)
    for j, name in enumerate(names):
        r = results[name]
        for rule in RULES:
            rows = [x for x in r["nystroem"] if x["rule"] == rule]
            ks = [x["k"] for x in rows]
            axes[0, j].loglog(ks, [x["rel_fro"] for x in rows], "o-", label=rule)
            axes[1, j].semilogx(ks, [x["test_acc"] for x in rows], "o-", label=rule)
        axes[1, j].axhline(r["exact"]["test_acc"], color="k", ls="--", label="exact Gram")
        axes[0, j].set_title(f"{name} (N = {r['n_train']}, T = {r['T']})")
        axes[0, j].set_ylabel("relative Frobenius error of the training Gram")
        axes[1, j].set_ylabel("test accuracy (ridge classifier)")
        axes[1, j].set_xlabel("landmarks k")
        axes[1, j].legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--datasets", nargs="+", default=None, help="UCR names (default: by mode)")
    args = p.parse_args(argv)
    mode = QUICK if args.quick else FULL
    out = out_dir(args)
    cache = out / "nystroem_cache"
    cache.mkdir(exist_ok=True)
    settings = {"kernel": KERNEL, "rules": RULES, "alphas": ALPHAS, "holdout": HOLDOUT, "seed": SEED,
                "ks": mode["ks"], "scale": "unit"}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
    from rntk.experiments import load_cached

    results = {}
    for name in args.datasets or mode["datasets"]:
        path = cache / f"{name}.json"
        doc = load_cached(path, accept=lambda d: d["key"] == key)
        if doc is None:
            doc = {"key": key, "result": run_dataset(name, mode["ks"])}
            write_json(path, doc)
        results[name] = doc["result"]
    write_json(out / "nystroem.json", {"quick": bool(args.quick), "settings": settings, "results": results})
    plot(results, out / "nystroem.png")
    for name, r in results.items():
        best = {rule: max((x for x in r["nystroem"] if x["rule"] == rule), key=lambda x: x["k"]) for rule in RULES}
        print(f"{name}: exact {r['exact']['test_acc']:.4f} in {r['exact']['gram_s']:.1f} s of Grams; "
              + "; ".join(f"{rule} k={b['k']}: {b['test_acc']:.4f}, err {b['rel_fro']:.2e}, "
                          f"{b['feature_s']:.1f} s" for rule, b in best.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
