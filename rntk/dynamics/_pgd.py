"""Parameter gradient descent (PGD) of a torch model, recorded in function space."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ._fgd import check_rates, iterations

__all__ = ["train_pgd", "PGDResult"]


@dataclass(frozen=True)
class PGDResult:
    """What :func:`train_pgd` recorded.

    Attributes
    ----------
    steps : ndarray (R,)
        Iterations (updates done) at which function values were recorded.
    train, test : ndarray (R, N), (R, M) or None
        Model outputs on the training and test inputs.
    loss : ndarray (n_steps,)
        Training MSE before each update.
    ntk_steps : ndarray (Q,)
        Iterations at which the empirical NTK was taken.
    ntk : ndarray (Q, N, N)
        Empirical NTK J J^T on the training inputs at those iterations.
    """

    steps: np.ndarray
    train: np.ndarray
    test: np.ndarray | None
    loss: np.ndarray
    ntk_steps: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ntk: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 0)))


def _outputs(model, X):
    out = model(X)
    if out.ndim == 2 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 1:
        raise ValueError(f"the model must return one scalar per sample, got output shape {tuple(out.shape)}")
    return out


def empirical_ntk_of(model, X):
    """J J^T of the model's scalar outputs on X w.r.t. all trainable parameters."""
    from torch.func import functional_call

    from ..empirical import jacobian_ntk

    params = {k: v for k, v in model.named_parameters() if v.requires_grad}

    def fn(p, inputs):
        return _outputs(lambda x: functional_call(model, p, (x,)), inputs)

    return jacobian_ntk(fn, params, X)


def train_pgd(model, X, y, rates, *, X_test=None, record=None, ntk_at=(), progress=False) -> PGDResult:
    """Full-batch GD on the MSE (1/N) sum (f(x_i) - y_i)^2: theta -= eta_k grad.

    Parameters
    ----------
    model : torch.nn.Module mapping a batch X to outputs (N,) or (N, 1).
        Trained in place.
    X, y : training inputs (tensor) and targets (N,).
    rates : (n_steps,) step sizes (e.g. :func:`rntk.dynamics.cosine_schedule`).
    X_test : optional test inputs.
    record : iterations in [0, n_steps] to record outputs at (default all).
    ntk_at : iterations at which to compute the empirical NTK on X.
    progress : show a progress bar.
    """
    rates = check_rates(rates)
    n_steps = rates.size
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters")
    dtype = params[0].dtype
    X = torch.as_tensor(X, dtype=dtype)
    y = torch.as_tensor(y, dtype=dtype)
    if y.ndim != 1 or y.shape[0] != X.shape[0] or y.shape[0] == 0:
        raise ValueError(f"y must have shape ({X.shape[0]},), got {tuple(y.shape)}")
    if not (torch.isfinite(X).all() and torch.isfinite(y).all()):
        raise ValueError("X or y contains NaN or infinite values")
    Xt = None if X_test is None else torch.as_tensor(X_test, dtype=dtype)
    rec = np.arange(n_steps + 1) if record is None else iterations(record, n_steps, "record")
    ntk_steps = iterations(ntk_at, n_steps, "ntk_at")
    rec_set, ntk_set = set(rec.tolist()), set(ntk_steps.tolist())
    train, test, losses, ntks = [], [], [], []
    it = range(n_steps + 1)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="PGD", leave=False)
    for k in it:
        if k in rec_set:
            with torch.no_grad():
                train.append(_outputs(model, X).numpy().copy())
                if Xt is not None:
                    test.append(_outputs(model, Xt).numpy().copy())
        if k in ntk_set:
            ntks.append(empirical_ntk_of(model, X).detach().numpy())
        if k == n_steps:
            break
        model.zero_grad(set_to_none=True)
        loss = ((_outputs(model, X) - y) ** 2).mean()
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the loss became {loss.item()} at iteration {k}: the step size diverges")
        loss.backward()
        losses.append(loss.item())
        with torch.no_grad():
            for p in params:
                p -= float(rates[k]) * p.grad
    n = X.shape[0]
    return PGDResult(
        steps=rec,
        train=np.array(train),
        test=np.array(test) if Xt is not None else None,
        loss=np.array(losses),
        ntk_steps=ntk_steps,
        ntk=np.array(ntks) if ntks else np.zeros((0, n, n)),
    )
