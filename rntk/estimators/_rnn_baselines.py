"""Finite RNN classifiers of the RNTK paper (Appendix A.1, "Finite-width RNN settings").

Three models on :class:`rntk.rent.SequenceModel` (variable lengths by packing):

* ``"gaussian"``: ReLU Elman RNN with the NTK initialisation of the analytic
  kernel, in standard parametrisation: recurrent weights N(0, sigma_w^2 / n),
  input weights N(0, sigma_u^2 / m), read-out N(0, sigma_v^2 / n), biases 0,
  with the paper's sigma_w = sigma_v = sqrt(2), sigma_u = 1, sigma_b = 0.
* ``"identity"``: the IRNN of Le, Jaitly & Hinton (2015): ReLU Elman RNN,
  recurrent weights the identity, biases 0, input weights N(0, 0.001^2)
  (their choice), read-out left at torch's default.
* ``"gru"``: a GRU with torch's uniform initialisation U(-1/sqrt(n), 1/sqrt(n)).

Training (the paper's): RMSProp on the cross-entropy, at most 200 epochs,
early stopping once the validation accuracy has not improved for 5
consecutive epochs; the weights of the best validation epoch are kept. The
validation set is a stratified hold-out of the training set (``val_fraction``);
the paper's 5-fold CV over layers {1, 2}, widths {50, 100, 200, 500} and
learning rates {1e-2 ... 1e-5} is :func:`rnn_grid_search` with a grid the
caller chooses, scored on the same hold-out (not 5-fold, to stay cheap).

Imports torch (``import rntk`` and ``import rntk.estimators`` do not).
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from .._validation import as_generator, check_positive_int

__all__ = ["RNN_INITS", "RNNBaselineResult", "fit_rnn_baseline", "rnn_grid_search"]

RNN_INITS = ("gaussian", "identity", "gru")


@dataclass(frozen=True)
class RNNBaselineResult:
    """Outcome of :func:`fit_rnn_baseline` (or the selected fit of :func:`rnn_grid_search`).

    predict_test : ndarray (n_test,) of class labels, or None without a test set
    test_acc : float or None
    val_acc : float, best validation accuracy
    best_epoch, epochs_run : int
    params : dict, the init, hidden, n_layers, lr used
    """

    predict_test: np.ndarray | None
    test_acc: float | None
    val_acc: float
    best_epoch: int
    epochs_run: int
    params: dict


def _as_padded(X):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_series, T) with trailing NaN padding, got shape {X.shape}")
    fin = np.isfinite(X)
    lengths = fin.sum(axis=1)
    if (lengths == 0).any():
        raise ValueError("a series has no finite value")
    # trailing-NaN convention: the finite values must come first
    if not all(fin[i, :lengths[i]].all() for i in range(len(X))):
        raise ValueError("NaN inside a series: only trailing NaN (shorter series) is supported")
    return np.nan_to_num(X, nan=0.0)[:, :, None], lengths


def _init(model, init: str, gen):
    import torch

    n = model.rnn.hidden_size
    with torch.no_grad():
        if init == "gru":
            return  # torch's default: U(-1/sqrt(n), 1/sqrt(n)) for every GRU weight and bias
        for name, p in model.rnn.named_parameters():
            if name.startswith("bias"):
                p.zero_()
            elif name.startswith("weight_hh"):
                if init == "identity":
                    p.copy_(torch.eye(n))
                else:
                    p.normal_(0.0, (2.0 / n) ** 0.5, generator=gen)  # sigma_w = sqrt 2
            elif name.startswith("weight_ih"):
                fan_in = p.shape[1]
                std = 1e-3 if init == "identity" else (1.0 / fan_in) ** 0.5  # sigma_u = 1
                p.normal_(0.0, std, generator=gen)
        if init == "gaussian":
            model.head.weight.normal_(0.0, (2.0 / n) ** 0.5, generator=gen)  # sigma_v = sqrt 2
            model.head.bias.zero_()


def _split(y, val_fraction, rng):
    val = []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = int(round(val_fraction * len(idx)))
        if len(idx) > 1:
            val.extend(idx[:max(1, min(k, len(idx) - 1))])
    val = np.sort(np.asarray(val, dtype=np.int64))
    tr = np.setdiff1d(np.arange(len(y)), val)
    return tr, val


def fit_rnn_baseline(X, y, X_test=None, y_test=None, *, init="gaussian", hidden=50, n_layers=1, lr=1e-3,
                     max_epochs=200, patience=5, batch_size=32, val_fraction=0.2,
                     seed: int | np.random.Generator = 0, split=None) -> RNNBaselineResult:
    """Train one finite RNN classifier with RMSProp and early stopping.

    Parameters
    ----------
    X : array (n, T), trailing NaN marks a shorter series; y : labels (n,)
    X_test, y_test : optional test set (y_test optional: then test_acc is None)
    init : {"gaussian", "identity", "gru"}
    hidden, n_layers : width and depth; lr : RMSProp learning rate
    max_epochs, patience : at most ``max_epochs``; stop after ``patience``
        epochs without a better validation accuracy
    val_fraction : stratified hold-out of the training set for early stopping
    seed : int or numpy Generator (split, initialisation and batch order)
    split : optional (train_idx, val_idx) to use instead of a new hold-out
    """
    import torch

    from rntk.rent import SequenceModel

    if init not in RNN_INITS:
        raise ValueError(f"init must be one of {RNN_INITS}, got {init!r}")
    for name, v in (("hidden", hidden), ("n_layers", n_layers), ("max_epochs", max_epochs),
                    ("patience", patience), ("batch_size", batch_size)):
        check_positive_int(v, name)
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be > 0, got {lr}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    Xp, L = _as_padded(X)
    y = np.asarray(y)
    if len(y) != len(Xp):
        raise ValueError(f"X has {len(Xp)} series but y has {len(y)}")
    classes, yi = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError("y needs at least two classes")
    rng = as_generator(seed)
    tr, va = split if split is not None else _split(y, val_fraction, rng)
    if len(va) == 0 or len(tr) == 0:
        raise ValueError("the training set is too small for a validation hold-out")
    gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
    torch.manual_seed(int(rng.integers(2**31)))  # torch's default init (GRU) uses the global generator
    cell = "gru" if init == "gru" else "elman"
    model = SequenceModel(cell, 1, int(hidden), int(n_layers), len(classes), nonlinearity="relu").double()
    _init(model, init, gen)
    opt = torch.optim.RMSprop(model.parameters(), lr=float(lr))
    Xt_, Lt_ = torch.from_numpy(Xp), torch.from_numpy(L)
    yt_ = torch.from_numpy(yi.astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def accuracy(idx):
        with torch.no_grad():
            pred = model(Xt_[idx], Lt_[idx]).argmax(1).numpy()
        return float(np.mean(pred == yi[idx]))

    best_acc, best_epoch, best_state, stale, epoch = -1.0, 0, None, 0, 0
    for epoch in range(1, max_epochs + 1):
        model.train()
        order = tr[rng.permutation(len(tr))]
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            opt.zero_grad()
            out = model(Xt_[idx], Lt_[idx])
            loss = loss_fn(out, yt_[idx])
            if not torch.isfinite(loss):
                break  # diverged: stop this epoch; the best state so far is kept
            loss.backward()
            opt.step()
        model.eval()
        acc = accuracy(va)
        if acc > best_acc:
            best_acc, best_epoch, stale = acc, epoch, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
            if stale >= patience:
                break
    model.load_state_dict(best_state)
    pred = test_acc = None
    if X_test is not None:
        Xq, Lq = _as_padded(X_test)
        if Xq.shape[1] < Xp.shape[1]:
            Xq = np.pad(Xq, ((0, 0), (0, Xp.shape[1] - Xq.shape[1]), (0, 0)))
        with torch.no_grad():
            pred = classes[model(torch.from_numpy(Xq), torch.from_numpy(Lq)).argmax(1).numpy()]
        if y_test is not None:
            test_acc = float(np.mean(pred == np.asarray(y_test)))
    params = dict(init=init, hidden=int(hidden), n_layers=int(n_layers), lr=float(lr))
    return RNNBaselineResult(pred, test_acc, best_acc, best_epoch, epoch, params)


def rnn_grid_search(X, y, X_test=None, y_test=None, *, init="gaussian", hidden=(50,), n_layers=(1,),
                    lr=(1e-2, 1e-3), seed: int = 0, **kw) -> RNNBaselineResult:
    """Fit every (hidden, n_layers, lr) on one stratified hold-out and keep the
    best validation accuracy (ties: the first in grid order). Returns that fit."""
    rng = np.random.default_rng(seed)
    split = _split(np.asarray(y), kw.pop("val_fraction", 0.2), rng)
    best = None
    for i, (h, nl, eta) in enumerate(product(hidden, n_layers, lr)):
        r = fit_rnn_baseline(X, y, X_test, y_test, init=init, hidden=h, n_layers=nl, lr=eta,
                             seed=np.random.default_rng([seed, i]), split=split, **kw)
        if best is None or r.val_acc > best.val_acc:
            best = r
    return best
