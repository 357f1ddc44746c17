"""The ReNT trainer: greedy example selection around an ordinary training loop.

One loop serves every method of rent-theory-spec §1.3/§1.10 that the
benchmark compares: "full", "budget-full", "rent-b", "rent-s", "global"
(Algorithm 1 literally) and the random twins "random-b", "random-s". What is
kept between triggers, how it is batched, what is timed and counted, and
where the history and checkpoints go are all here; the selection rules
themselves live in ``_selection`` and are tested exactly (R-1).

Reproducibility: every random choice of epoch e (partition, selection twin,
batch order) uses numpy's generator seeded by (seed, e, purpose), so a run
resumed from its checkpoint after epoch e continues exactly as an
uninterrupted one (tested); the checkpoint therefore needs no RNG state.

Checkpoints hold plain data only (tensors, dict/list/tuple/str/int/float/
bool/None; numpy arrays are stored as tensors) and are read with
``torch.load(weights_only=True)``, so a tampered file cannot run code. They
record fingerprints of the training and validation data and of the model
architecture, and resuming refuses a run whose data, model or configuration
differ.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import pickle
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import torch

from .._validation import check_positive_int
from ._schedules import ratio_schedule, trigger_epochs
from ._scores import classification_scores, element_scores, regression_scores
from ._selection import (
    n_selected,
    partition,
    quotas,
    random_batches,
    random_sequences,
    select_batches,
    select_global,
    select_sequences,
)

__all__ = ["RentConfig", "SequenceData", "train", "CheckpointError"]

METHODS = ("full", "budget-full", "rent-b", "rent-s", "global", "random-b", "random-s", "selective-backprop", "obs", "rho-loss")
SB_HISTORY = 1024  # losses remembered by Selective-Backprop's percentile
_PURPOSE = {"partition": 0, "twin": 1, "order": 2, "amplification": 3}
# methods whose subset is re-selected at trigger epochs only
_TRIGGERED = ("rent-b", "rent-s", "global", "random-b", "random-s")
CHECKPOINT_FORMAT = 2  # plain data read with weights_only=True; earlier checkpoints were pickles


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: unreadable, not plain data, or from another run."""


@dataclass(frozen=True)
class RentConfig:
    """Every choice of the method (spec §1.8's defaults for regression)."""

    method: str = "rent-b"
    task: str = "regression"  # or "classification"
    epochs: int = 30
    batch_size: int = 32
    lr: float = 1e-3  # Adam, constant (A12)
    ratio: str = "step"  # "step", "r-step", "constant"
    r0: float = 0.1
    r_min: float = 0.4
    n_stages: int = 10
    trigger: str = "incremental"  # "incremental", "constant", "every"
    every: int = 5
    warmup: float = 0.25
    stratified: bool = False  # class-balanced selection (classification)
    length_norm: str = "mean"  # element-level score normalisation
    clip_norm: float | None = None
    budget: int | None = None  # budget-full: backward samples (default: sum_e r_e N of the schedule)
    measure_amplification: bool = False  # gradient norm of the selection vs random subsets
    fused: bool = False  # rent-s: score each batch from its training forward, backprop its top quota (spec §1.9)
    plateau_patience: int | None = None  # stop once the validation metric has not improved for this many epochs
    obs_refresh: int = 5  # OBS: epochs between full passes that refresh the stale losses
    obs_pressure: tuple = (100.0, 1.0)  # OBS: selection pressure s_e, first and last epoch (geometric)
    rho_holdout: float = 0.1  # RHO-LOSS: fraction of train held out for the irreducible-loss model
    rho_il_epochs: int = 10  # RHO-LOSS: epochs of the irreducible-loss model (its time counts)
    rho_candidates: int = 10  # RHO-LOSS: candidates per kept sample (n_B = 10 b)
    seed: int = 0

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression' or 'classification', got {self.task!r}")
        if self.stratified and self.task != "classification":
            raise ValueError("stratified selection needs class labels (task='classification')")
        if self.stratified and self.method in ("rent-b", "random-b"):
            raise ValueError("stratified selection applies to sequence-level selection (rent-s, random-s, global)")
        if self.fused and self.method != "rent-s":
            raise ValueError("fused scoring fills per-batch quotas from the training forward: it applies to "
                             f"method='rent-s' only, not {self.method!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        check_positive_int(self.obs_refresh, "obs_refresh")
        if self.plateau_patience is not None:
            check_positive_int(self.plateau_patience, "plateau_patience")
        if len(self.obs_pressure) != 2 or min(self.obs_pressure) <= 0:
            raise ValueError(f"obs_pressure must be two selection pressures > 0, got {self.obs_pressure!r}")
        if not 0 < self.rho_holdout < 1:
            raise ValueError(f"rho_holdout must be a fraction in (0, 1), got {self.rho_holdout!r}")
        for name in ("rho_il_epochs", "rho_candidates"):
            check_positive_int(getattr(self, name), name)
        # schedules validate their own arguments
        self.ratios()
        self.triggers()

    def ratios(self) -> np.ndarray:
        if self.method == "full":
            return np.ones(self.epochs)
        return ratio_schedule(self.ratio, self.epochs, self.r0, n_stages=self.n_stages, r_min=self.r_min)

    def triggers(self) -> np.ndarray:
        return trigger_epochs(self.trigger, self.epochs, every=self.every, warmup=self.warmup)


@dataclass(frozen=True)
class SequenceData:
    """A labelled set of sequences.

    X : (N, T, m) float (left-aligned, padded after each length) or (N, T)
    integer token ids; lengths : (N,) in [1, T]; y : (N,) class ids or
    (N,) / (N, H) regression targets (sequence level), (N, T) class ids or
    (N, T) / (N, T, H) targets (element level).
    """

    X: np.ndarray
    lengths: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        X, lengths, y = np.asarray(self.X), np.asarray(self.lengths), np.asarray(self.y)
        if X.ndim not in (2, 3) or X.shape[0] == 0:
            raise ValueError(f"X must be (N, T, m) values or (N, T) token ids, got shape {X.shape}")
        N, T = X.shape[:2]
        if lengths.shape != (N,) or lengths.min() < 1 or lengths.max() > T:
            raise ValueError(f"lengths must be (N,) = ({N},) integers in [1, {T}]")
        if y.shape[0] != N:
            raise ValueError(f"y has {y.shape[0]} rows but X has {N} sequences")
        if np.issubdtype(X.dtype, np.floating):
            valid = np.arange(T)[None, :] < lengths[:, None]
            if not np.isfinite(X[valid]).all():
                raise ValueError("X contains NaN or infinite values inside a sequence")
        if np.issubdtype(y.dtype, np.floating) and not np.isfinite(y).all():
            raise ValueError("y contains NaN or infinite values")

    def __len__(self):
        return len(self.lengths)


def _rng(seed, epoch, purpose):
    return np.random.default_rng([seed, epoch, _PURPOSE[purpose]])


def _write_atomic(path: Path, write):
    # a temporary file in the same folder renamed over the target: a crash
    # leaves either the old file or the new one, never a partial one; the
    # fsync keeps the rename from reaching the disk before the data do
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _to_plain(obj):
    """``obj`` with numpy arrays as tagged tensors and numpy scalars as Python
    numbers: what ``torch.load(weights_only=True)`` accepts, bit for bit."""
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: _to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_plain(v) for v in obj)
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return obj
    # fail when writing: a checkpoint with other objects could not be read back
    raise TypeError(f"cannot store a {type(obj).__name__} in a plain-data checkpoint")


def _from_plain(obj):
    if isinstance(obj, dict):
        if obj.keys() == {"__ndarray__"}:
            return obj["__ndarray__"].cpu().numpy()
        return {k: _from_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_from_plain(v) for v in obj)
    return obj


def _data_fingerprint(data: SequenceData) -> dict:
    h = hashlib.blake2b(digest_size=16)
    for a in (data.X, data.lengths, data.y):
        a = np.ascontiguousarray(np.asarray(a))
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.reshape(-1).view(np.uint8))
    return {"n": len(data), "blake2b": h.hexdigest()}


def _model_fingerprint(model) -> dict:
    # the nonlinearity changes the function without changing any shape
    return {"class": type(model).__qualname__, "cell": getattr(model, "cell", None),
            "level": getattr(model, "level", None),
            "nonlinearity": getattr(getattr(model, "rnn", None), "nonlinearity", None),
            "parameters": [[k, list(v.shape), str(v.dtype).replace("torch.", "")]
                           for k, v in model.state_dict().items()]}


def _load_checkpoint(ckpt: Path, device) -> dict:
    again = f"delete {ckpt} to redo this run from the start, or use another out_dir"
    try:
        saved = torch.load(ckpt, map_location=device, weights_only=True)
    except PermissionError:
        raise  # the OS message names the file, and the file may be intact
    except pickle.UnpicklingError as e:
        if "weights only" in str(e).lower():
            # from None: torch's message suggests loading with weights_only=False
            raise CheckpointError(f"{ckpt} is not a plain-data checkpoint (written by an older rntk version, "
                                  f"or altered), so it is not loaded; {again}") from None
        raise CheckpointError(f"{ckpt} cannot be read ({_reason(e)}); it is damaged, e.g. truncated; {again}") from e
    except Exception as e:  # noqa: BLE001 - torch reports a damaged zip as RuntimeError, EOFError, OSError, ...
        raise CheckpointError(f"{ckpt} cannot be read ({_reason(e)}); it is damaged, e.g. truncated; {again}") from e
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{ckpt} is not a checkpoint of this rntk version (format "
                              f"{saved.get('format') if isinstance(saved, dict) else None!r}, expected "
                              f"{CHECKPOINT_FORMAT}); {again}")
    missing = [k for k in ("fingerprint", "model", "optimizer", "history", "state") if k not in saved]
    if missing:
        raise CheckpointError(f"{ckpt} lacks {', '.join(missing)}, so it is damaged or altered; {again}")
    return saved


def _reason(e: BaseException) -> str:
    line = (str(e).strip().splitlines() or [""])[0]
    line = line if len(line) <= 80 else line[:77] + "..."
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


def _same(a, b) -> bool:
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731 - tuples come back as lists from JSON
    return norm(a) == norm(b)


def _budget(cfg, n):
    return cfg.budget if cfg.budget is not None else int(round(ratios_budget(cfg) * n))


def _epochs_change(old: RentConfig, new: RentConfig, done: int, n: int) -> str | None:
    """Why the ``done`` epochs trained under ``old`` would not have been trained
    the same under ``new`` (they differ in ``epochs`` only); None when they would."""
    m = new.method
    if m not in ("full", "budget-full") and not np.array_equal(old.ratios()[:done], new.ratios()[:done]):
        return f"the ratio schedule of the {done} epochs trained depends on it"
    if m in _TRIGGERED:
        t_old, t_new = old.triggers(), new.triggers()
        if not np.array_equal(t_old[t_old < done], t_new[t_new < done]):
            return f"the trigger epochs among the {done} epochs trained depend on it"
    if m == "obs" and old.obs_pressure[0] != old.obs_pressure[1] and done > 1:
        return f"the selection pressure of the {done} epochs trained depends on it"
    if m == "budget-full" and min(done * n, _budget(old, n)) != min(done * n, _budget(new, n)):
        return "the backward budget depends on it"
    return None


def _differences(saved: dict, saved_cfg: dict, fp: dict, cfg: RentConfig) -> tuple[list, list]:
    """(kinds, details) of what separates the checkpointed run from this call."""
    kinds, details = [], []
    # a field added after the checkpoint was written must hold its default
    defaults = asdict(RentConfig())
    cur = asdict(cfg)
    cfg_diff = []
    for k, v in cur.items():
        if k in ("measure_amplification", "epochs"):  # a measurement; training longer is checked below
            continue
        want = saved_cfg.get(k, defaults[k])
        if not _same(want, v):
            cfg_diff.append(f"config field {k}: {want!r} in checkpoint vs {v!r} now")
    done = saved["state"]["epoch"]
    if not cfg_diff and saved_cfg["epochs"] != cfg.epochs:
        if cfg.epochs < done:
            cfg_diff.append(f"config field epochs: {done} epochs already trained, more than the {cfg.epochs} now asked")
        else:
            why = _epochs_change(replace(cfg, epochs=saved_cfg["epochs"]), cfg, done, fp["train"]["n"])
            if why:
                cfg_diff.append(f"config field epochs: {saved_cfg['epochs']} in checkpoint vs {cfg.epochs} now, "
                                f"and {why}")
    if cfg_diff:
        kinds.append("another configuration")
        details += cfg_diff
    old_m, new_m = saved["fingerprint"]["model"], fp["model"]
    m_diff = [f"model {k}: {old_m[k]!r} in checkpoint vs {new_m[k]!r} now"
              for k in ("class", "cell", "level", "nonlinearity") if old_m[k] != new_m[k]]
    if not m_diff and old_m["parameters"] != new_m["parameters"]:
        a = {name: (shape, dt) for name, shape, dt in old_m["parameters"]}
        b = {name: (shape, dt) for name, shape, dt in new_m["parameters"]}
        name = next(k for k in [*a, *b] if a.get(k) != b.get(k))
        desc = lambda v: "absent" if v is None else f"{v[0]} {v[1]}"  # noqa: E731
        m_diff.append(f"model parameter shapes differ ({name}: {desc(a.get(name))} in checkpoint vs "
                      f"{desc(b.get(name))} now)")
    if m_diff:
        kinds.append("another model")
        details += m_diff
    for split, word in (("train", "training"), ("val", "validation")):
        old_d, new_d = saved["fingerprint"][split], fp[split]
        if old_d != new_d:
            if "other data" not in kinds:
                kinds.append("other data")
            size = (f"{old_d['n']} sequences in checkpoint vs {new_d['n']} now" if old_d["n"] != new_d["n"]
                    else f"same size {new_d['n']}, other contents")
            details.append(f"{word} data differ ({size})")
    return kinds, details


class _Batcher:
    """Moves index batches of a SequenceData to tensors on the device."""

    def __init__(self, data: SequenceData, device, classification, element):
        X = np.asarray(data.X)
        self.X = torch.as_tensor(X if not np.issubdtype(X.dtype, np.floating) else X.astype(np.float32))
        self.lengths = torch.as_tensor(np.asarray(data.lengths), dtype=torch.int64)
        y = np.asarray(data.y)
        self.y = torch.as_tensor(y.astype(np.int64) if classification else y.astype(np.float32))
        self.device, self.element = device, element
        self.T = self.X.shape[1]

    def get(self, ids):
        ids = torch.as_tensor(np.asarray(ids), dtype=torch.int64)
        lengths = self.lengths[ids]
        T = int(lengths.max())
        x = self.X[ids, :T].to(self.device)
        y = self.y[ids]
        if self.element:
            y = y[:, :T]
        return x, lengths, y.to(self.device)


def _loss(out, y, lengths, classification, element):
    if not element:
        if classification:
            return torch.nn.functional.cross_entropy(out, y)
        return torch.nn.functional.mse_loss(out.reshape(y.shape), y)
    mask = (torch.arange(out.shape[1], device=out.device)[None, :] < lengths.to(out.device)[:, None])
    if classification:
        return torch.nn.functional.cross_entropy(out[mask], y[mask])
    return torch.nn.functional.mse_loss(out[mask].reshape(y[mask].shape), y[mask])


def _per_sample_loss(out, y, lengths, classification, element):
    """The training loss of every sample of a batch (element level: mean over its valid steps)."""
    F = torch.nn.functional
    if not element:
        if classification:
            return F.cross_entropy(out, y, reduction="none")
        return ((out.reshape(y.shape) - y) ** 2).reshape(len(y), -1).mean(dim=1)
    mask = (torch.arange(out.shape[1], device=out.device)[None, :] < lengths.to(out.device)[:, None])
    if classification:
        tok = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1), reduction="none").reshape(y.shape)
    else:
        tok = ((out.reshape(y.shape) - y) ** 2).reshape(y.shape[0], y.shape[1], -1).mean(dim=2)
    return (tok * mask).sum(dim=1) / mask.sum(dim=1)


def _outputs(model, batcher, ids, batch_size):
    """Model outputs (numpy) on the given ids, eval mode, no grad; with the lengths."""
    outs = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(ids), batch_size):
            x, lengths, _ = batcher.get(ids[i : i + batch_size])
            o = model(x, lengths).float().cpu().numpy()
            if batcher.element and o.shape[1] < batcher.T:
                o = np.concatenate([o, np.zeros((o.shape[0], batcher.T - o.shape[1], o.shape[2]), o.dtype)], 1)
            outs.append(o)
    model.train()
    return np.concatenate(outs)


def _scores(cfg, out, data):
    y = np.asarray(data.y)
    if out.ndim == 3:
        return element_scores(out, y, np.asarray(data.lengths), cfg.length_norm,
                              probabilities=cfg.task == "classification")
    if cfg.task == "classification":
        return classification_scores(out, y)
    return regression_scores(out.reshape(y.shape), y)


def _metrics(cfg, out, data):
    y = np.asarray(data.y)
    lengths = np.asarray(data.lengths)
    if out.ndim == 3:
        valid = np.arange(out.shape[1])[None, :] < lengths[:, None]
        if cfg.task == "classification":
            return {"accuracy": float((out.argmax(-1) == y)[valid].mean())}
        d = out[valid].reshape(y[valid].shape) - y[valid]
        return {"mse": float(np.mean(d**2)), "mae": float(np.mean(np.abs(d)))}
    if cfg.task == "classification":
        return {"accuracy": float((out.argmax(-1) == y).mean())}
    d = out.reshape(y.shape) - y
    return {"mse": float(np.mean(d**2)), "mae": float(np.mean(np.abs(d)))}


def _primary(cfg, metrics):
    """Larger is better."""
    return metrics["accuracy"] if cfg.task == "classification" else -metrics["mse"]


def _tv_drift(labels, ids):
    """Total-variation distance between the class mix of ``ids`` and of the whole set."""
    classes, full = np.unique(labels, return_counts=True)
    sub = np.array([(labels[ids] == c).sum() for c in classes])
    return float(0.5 * np.abs(sub / max(1, sub.sum()) - full / full.sum()).sum())


def _partition(cfg, epoch, n, labels):
    parts = partition(n, cfg.batch_size, _rng(cfg.seed, epoch, "partition"))
    if cfg.stratified:
        # refine each batch by class, groups ordered class by class: the
        # error-diffused quotas then give every class within 1 of its share
        parts = [b[labels[b] == c] for c in np.unique(labels) for b in parts if (labels[b] == c).any()]
    return parts


def _select(cfg, epoch, r, scores_fn, n, labels):
    """The kept subset after a trigger: ("batches", list of id arrays) or ("ids", ids)."""
    m = cfg.method
    if r >= 1.0:  # everything, scoring skipped
        if m in ("rent-b", "random-b"):
            return ("batches", partition(n, cfg.batch_size, _rng(cfg.seed, epoch, "partition"))), False
        return ("ids", np.arange(n)), False
    parts = _partition(cfg, epoch, n, labels)
    if m == "rent-b":
        kept = select_batches(scores_fn(), parts, r)
        return ("batches", [parts[i] for i in kept]), True
    if m == "random-b":
        return ("batches", [parts[i] for i in random_batches(parts, r, _rng(cfg.seed, epoch, "twin"))]), False
    if m == "rent-s":
        return ("ids", select_sequences(scores_fn(), parts, r)), True
    if m == "random-s":
        return ("ids", random_sequences(parts, r, _rng(cfg.seed, epoch, "twin"))), False
    if m == "global":
        if cfg.stratified:
            s = scores_fn()
            # per-class top quota over the whole pool (classes merged across batches)
            cls = [np.flatnonzero(labels == c) for c in np.unique(labels)]
            qc = quotas([len(c) for c in cls], r)
            keep = [c[np.argsort(-s[c], kind="stable")[:k]] for c, k in zip(cls, qc)]
            return ("ids", np.sort(np.concatenate(keep))), True
        return ("ids", select_global(scores_fn(), r)), True
    raise AssertionError(m)  # pragma: no cover - full methods never select


def _mean_grad_norm(model, batcher, ids, cfg, classification, element):
    """||grad of the mean training loss over ``ids``|| (chunks weighted by size)."""
    model.zero_grad(set_to_none=True)
    for i in range(0, len(ids), max(256, cfg.batch_size)):
        chunk = ids[i : i + max(256, cfg.batch_size)]
        x, lengths, y = batcher.get(chunk)
        (_loss(model(x, lengths), y, lengths, classification, element) * (len(chunk) / len(ids))).backward()
    sq = sum(float((p.grad.double() ** 2).sum()) for p in model.parameters() if p.grad is not None)
    model.zero_grad(set_to_none=True)
    return sq**0.5


def _amplification(cfg, epoch, r, subset, model, batcher, n, labels, classification, element, n_random=5):
    """R-5: ||mean grad over the selection|| / mean of the same for random subsets
    of equal size drawn from the same partition (the random twin's rule)."""
    kind, val = subset
    sel = np.sort(np.concatenate(val)) if kind == "batches" else val
    parts = _partition(cfg, epoch, n, labels)
    rng = _rng(cfg.seed, epoch, "amplification")
    g_sel = _mean_grad_norm(model, batcher, sel, cfg, classification, element)
    rand = []
    for _ in range(n_random):
        if kind == "batches":
            ids = np.sort(np.concatenate([parts[i] for i in random_batches(parts, r, rng)]))
        else:
            ids = random_sequences(parts, r, rng)
        rand.append(_mean_grad_norm(model, batcher, ids, cfg, classification, element))
    return g_sel / float(np.mean(rand)), g_sel, rand


def _rho_setup(cfg, model, data, batcher, device, classification, element, tot):
    """RHO-LOSS's irreducible-loss (IL) model: a fresh copy of the architecture
    trained on a held-out ``rho_holdout`` of the training set; returns the
    training pool (the rest) and the IL loss of every training sample."""
    n = len(data)
    rng = _rng(cfg.seed, 0, "twin")
    perm = rng.permutation(n)
    n_hold = max(1, int(round(cfg.rho_holdout * n)))
    hold, pool = np.sort(perm[:n_hold]), np.sort(perm[n_hold:])
    il = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed + 7919)
        for mod in il.modules():
            if mod is not il and hasattr(mod, "reset_parameters"):
                mod.reset_parameters()
    opt = torch.optim.Adam(il.parameters(), lr=cfg.lr)
    il.train()
    for ep in range(cfg.rho_il_epochs):
        order = _rng(cfg.seed, ep, "order").permutation(hold)
        for i in range(0, len(order), cfg.batch_size):
            ids = order[i : i + cfg.batch_size]
            x, lengths, y = batcher.get(ids)
            opt.zero_grad(set_to_none=True)
            _loss(il(x, lengths), y, lengths, classification, element).backward()
            opt.step()
            tot["forward_samples"] += len(ids)
            tot["backward_samples"] += len(ids)
    il.eval()
    losses = []
    with torch.no_grad():
        for i in range(0, n, max(256, cfg.batch_size)):
            ids = np.arange(i, min(n, i + max(256, cfg.batch_size)))
            x, lengths, y = batcher.get(ids)
            losses.append(_per_sample_loss(il(x, lengths), y, lengths, classification, element).cpu().numpy())
    tot["forward_samples"] += n
    return pool, np.concatenate(losses)


def _rho_draw(cfg, epoch, r, state, model, batcher, classification, element, tot):
    """This epoch's ceil(r |pool|) samples: from each candidate group of
    rho_candidates x batch_size pool samples (passes over the shuffled pool),
    the batch_size with the largest reducible loss (current training loss -
    IL loss), until the budget is reached."""
    pool, il = state["rho_pool"], state["rho_il"]
    budget = n_selected(r, len(pool))
    rng = _rng(cfg.seed, epoch, "twin")
    group = min(cfg.rho_candidates * cfg.batch_size, len(pool))
    keep, kept, order = [], 0, np.zeros(0, dtype=np.int64)
    model.eval()
    with torch.no_grad():
        while kept < budget:
            if len(order) < group:  # a fresh pass over the pool (a sample may be kept twice in an epoch)
                order = np.concatenate([order, rng.permutation(pool)])
            cand, order = order[:group], order[group:]
            x, lengths, y = batcher.get(cand)
            cur = _per_sample_loss(model(x, lengths), y, lengths, classification, element).cpu().numpy()
            tot["forward_samples"] += len(cand)
            take = min(cfg.batch_size, budget - kept)
            keep.append(cand[np.argsort(-(cur - il[cand]), kind="stable")[:take]])
            kept += take
    model.train()
    return ("ids", np.sort(np.concatenate(keep)))


def _obs_draw(cfg, epoch, r, state, model, batcher, n, classification, element, tot):
    """Online Batch Selection (Loshchilov & Hutter 2015): this epoch's ceil(r N) samples.

    Samples are ranked by their latest known loss (a full no-grad pass every
    ``obs_refresh`` epochs, otherwise the loss seen when last trained on) and
    drawn without replacement with probability proportional to
    exp(-log(s_e) rank / N), s_e falling geometrically from obs_pressure[0]
    to obs_pressure[1]; the budget ceil(r_e N) matches ReNT's backward count.
    """
    if "obs_loss" not in state or epoch % cfg.obs_refresh == 0:
        losses = []
        model.eval()
        with torch.no_grad():
            for i in range(0, n, max(256, cfg.batch_size)):
                ids = np.arange(i, min(n, i + max(256, cfg.batch_size)))
                x, lengths, y = batcher.get(ids)
                losses.append(_per_sample_loss(model(x, lengths), y, lengths, classification, element).cpu().numpy())
        model.train()
        state["obs_loss"] = np.concatenate(losses)
        tot["forward_samples"] += n
    s0, s1 = cfg.obs_pressure
    frac = epoch / max(1, cfg.epochs - 1)
    s_e = s0 * (s1 / s0) ** frac
    rank = np.empty(n)
    rank[np.argsort(-state["obs_loss"], kind="stable")] = np.arange(n)
    w = np.exp(-np.log(s_e) * rank / n)
    k = n_selected(r, n)
    ids = _rng(cfg.seed, epoch, "twin").choice(n, size=k, replace=False, p=w / w.sum())
    return ("ids", np.sort(ids))


def _epoch_batches(cfg, epoch, subset):
    rng = _rng(cfg.seed, epoch, "order")
    kind, val = subset
    if kind == "batches":
        return [val[i] for i in rng.permutation(len(val))]
    if kind == "fused":  # (batch ids sorted, its quota): whole partition batches
        parts, q = val
        return [(np.sort(parts[i]), int(q[i])) for i in rng.permutation(len(parts))]
    ids = rng.permutation(val)
    return [ids[i : i + cfg.batch_size] for i in range(0, len(ids), cfg.batch_size)]


def train(model, train_data: SequenceData, val_data: SequenceData, cfg: RentConfig, *, test_data=None,
          out_dir=None, resume=True, progress=False, device=None, stop_after=None):
    """Train ``model`` (a :class:`SequenceModel` or any module ``model(x, lengths)``).

    Writes ``history.json`` (after every epoch) and ``checkpoint.pt`` into
    ``out_dir`` when given, atomically; with ``resume`` a checkpoint there is
    continued, and :class:`CheckpointError` is raised when it cannot be read or
    its data, model or configuration differ (``epochs`` may change where the
    epochs already trained do not depend on it). ``stop_after``: stop after
    that many epochs of this call (to test interruption). Returns the history dict.
    """
    if not isinstance(cfg, RentConfig):
        raise ValueError("cfg must be a RentConfig")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)
    element = getattr(model, "level", "sequence") == "element"
    classification = cfg.task == "classification"
    n = len(train_data)
    labels = np.asarray(train_data.y) if classification and not element else None
    if cfg.stratified and labels is None:
        raise ValueError("stratified selection needs sequence-level class labels")
    tb = _Batcher(train_data, device, classification, element)
    vb = _Batcher(val_data, device, classification, element)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    ratios, triggers = cfg.ratios(), set(cfg.triggers().tolist())
    budget = _budget(cfg, n) if cfg.method == "budget-full" else None
    out_dir = None if out_dir is None else Path(out_dir)
    ckpt = None if out_dir is None else out_dir / "checkpoint.pt"
    state = {"epoch": 0, "subset": None, "best": None, "best_state": None}
    hist = {"config": asdict(cfg), "n_train": n, "epochs": [], "selections": {}}
    fp = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        fp = {"train": _data_fingerprint(train_data), "val": _data_fingerprint(val_data),
              "model": _model_fingerprint(model)}
    if resume and ckpt is not None and ckpt.exists():
        saved = _load_checkpoint(ckpt, device)
        hist = json.loads(saved["history"])
        kinds, details = _differences(saved, hist["config"], fp, cfg)
        if kinds:
            raise CheckpointError(f"{ckpt} belongs to a run with {' and '.join(kinds)} ({'; '.join(details)}); "
                                  f"to start afresh delete {out_dir} or use another out_dir")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        state = _from_plain(saved["state"])
        # JSON has no tuples; the checks above allowed epochs to change and
        # measure_amplification, which is kept as the run started
        hist["config"] = {**asdict(cfg), "measure_amplification": hist["config"].get("measure_amplification", False)}
        # a damaged or stale history.json is replaced now, even if no epoch is left to train
        _write_atomic(out_dir / "history.json", lambda p: Path(p).write_text(json.dumps(hist, indent=1)))
    else:
        # untimed starting point of the curves
        m0 = _metrics(cfg, _outputs(model, vb, np.arange(len(val_data)), 256), val_data)
        hist["initial_val"] = m0
        hist["totals"] = {"select_s": 0.0, "train_s": 0.0, "val_s": 0.0, "forward_samples": 0,
                          "backward_samples": 0}
    tot = hist["totals"]
    done_now = 0
    # a run stopped at its plateau stays stopped when resumed
    epochs = range(state["epoch"], state["epoch"] if "plateau_epoch" in hist else cfg.epochs)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=cfg.method, leave=False)
    for e in epochs:
        r = float(ratios[e])
        rec = {"epoch": e, "ratio": r, "triggered": False}
        t0 = time.perf_counter()
        if cfg.method in ("full", "budget-full", "selective-backprop"):
            state["subset"] = ("ids", np.arange(n))
        elif cfg.method == "rho-loss":
            if "rho_il" not in state:
                state["rho_pool"], state["rho_il"] = _rho_setup(cfg, model, train_data, tb, device, classification,
                                                                element, tot)
            state["subset"] = _rho_draw(cfg, e, r, state, model, tb, classification, element, tot)
            rec.update(n_selected=int(len(state["subset"][1])))
        elif cfg.method == "obs":
            state["subset"] = _obs_draw(cfg, e, r, state, model, tb, n, classification, element, tot)
            rec.update(n_selected=int(len(state["subset"][1])))
        elif cfg.fused and (e in triggers or state["subset"] is None) and r < 1.0:
            # the partition and quotas now; scores come from the epoch's own forwards
            parts = _partition(cfg, e, n, labels)
            state["subset"] = ("fused", (parts, quotas([len(b) for b in parts], r)))
            rec.update(triggered=True, scored=True)
        elif e in triggers or state["subset"] is None:
            def score_all():
                out = _outputs(model, tb, np.arange(n), max(256, cfg.batch_size))
                tot["forward_samples"] += n
                return _scores(cfg, out, train_data)

            state["subset"], scored = _select(cfg, e, r, score_all, n, labels)
            kind, val = state["subset"]
            ids = np.sort(np.concatenate(val)) if kind == "batches" else val
            hist["selections"][str(e)] = ids.tolist()
            rec.update(triggered=True, scored=bool(scored), n_selected=int(len(ids)))
            if labels is not None:
                rec["class_mix_tv"] = _tv_drift(labels, ids)
            if cfg.measure_amplification and scored and cfg.method in ("rent-b", "rent-s"):
                # a measurement, not part of the method: kept out of the timers
                tm = time.perf_counter()
                ratio, g_sel, g_rand = _amplification(cfg, e, r, state["subset"], model, tb, n, labels,
                                                      classification, element)
                rec.update(grad_amplification=ratio, grad_norm_selected=g_sel, grad_norm_random=g_rand)
                t0 += time.perf_counter() - tm
        if device.type == "cuda":
            torch.cuda.synchronize()
        t1 = time.perf_counter()
        model.train()
        n_back = 0
        sb_select = 0.0
        fused_kept = []
        for ids in _epoch_batches(cfg, e, state["subset"]):
            if budget is not None:
                left = budget - tot["backward_samples"]
                if left <= 0:
                    break
                ids = ids[:left]
            if cfg.method == "selective-backprop":
                # Jiang et al. 2019: forward the batch, backpropagate the samples
                # whose loss percentile (against recent losses) is in the top r(e)
                ts = time.perf_counter()
                x, lengths, y = tb.get(ids)
                model.eval()
                with torch.no_grad():
                    per = _per_sample_loss(model(x, lengths), y, lengths, classification, element).cpu().numpy()
                model.train()
                hist_l = state.setdefault("sb_losses", [])
                ref = np.array(hist_l + per.tolist())
                pct = np.searchsorted(np.sort(ref), per, side="right") / len(ref)
                keep = pct >= 1.0 - r
                if not keep.any():
                    keep[np.argmax(per)] = True
                state["sb_losses"] = (hist_l + per.tolist())[-SB_HISTORY:]
                tot["forward_samples"] += len(ids)
                ids = ids[keep]
                sb_select += time.perf_counter() - ts
            quota = None
            if state["subset"][0] == "fused":
                ids, quota = ids
            x, lengths, y = tb.get(ids)
            opt.zero_grad(set_to_none=True)
            out = model(x, lengths)
            if quota is not None:
                # score the batch from this forward, keep its top quota (ties: lowest id)
                ts = time.perf_counter()
                o = out.detach().float().cpu().numpy()
                sc = _scores(cfg, o, SimpleNamespace(y=y.cpu().numpy(), lengths=lengths.numpy()))
                keep = np.sort(np.argsort(-sc, kind="stable")[:quota])
                fused_kept.append(ids[keep])
                tot["forward_samples"] += len(ids)
                tk = torch.as_tensor(keep, device=out.device)
                out, y, lengths, ids = out[tk], y[tk], lengths[torch.as_tensor(keep)], ids[keep]
                sb_select += time.perf_counter() - ts
            if cfg.method == "obs":
                state["obs_loss"][np.asarray(ids)] = _per_sample_loss(out.detach(), y, lengths, classification,
                                                                      element).cpu().numpy()
            loss = _loss(out, y, lengths, classification, element)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"the training loss became {loss.item()} at epoch {e}")
            loss.backward()
            if cfg.clip_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            opt.step()
            n_back += len(ids)
            tot["backward_samples"] += len(ids)
            if quota is None:  # a fused batch's forward is counted whole above
                tot["forward_samples"] += len(ids)
        if state["subset"][0] == "fused":  # the epoch's picks are the subset until the next trigger
            kept = np.sort(np.concatenate(fused_kept))
            state["subset"] = ("ids", kept)
            hist["selections"][str(e)] = kept.tolist()
            rec["n_selected"] = int(len(kept))
            if labels is not None:
                rec["class_mix_tv"] = _tv_drift(labels, kept)
        if device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        vm = _metrics(cfg, _outputs(model, vb, np.arange(len(val_data)), 256), val_data)
        t3 = time.perf_counter()
        tot["select_s"] += t1 - t0 + sb_select
        tot["train_s"] += t2 - t1 - sb_select
        tot["val_s"] += t3 - t2
        rec.update(trained_samples=n_back, val=vm, select_s=tot["select_s"], train_s=tot["train_s"],
                   val_s=tot["val_s"], forward_samples=tot["forward_samples"],
                   backward_samples=tot["backward_samples"])
        hist["epochs"].append(rec)
        score = _primary(cfg, vm)
        if state["best"] is None or score > state["best"]:
            state["best"] = score
            state["best_state"] = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            hist["best_epoch"] = e
        state["epoch"] = e + 1
        if cfg.plateau_patience is not None and e - hist["best_epoch"] >= cfg.plateau_patience:
            hist["plateau_epoch"] = e
        if out_dir is not None:
            text = json.dumps(hist, indent=1)
            _write_atomic(out_dir / "history.json", lambda p: Path(p).write_text(text))
            payload = {"format": CHECKPOINT_FORMAT, "fingerprint": fp, "model": model.state_dict(),
                       "optimizer": opt.state_dict(), "history": text, "state": _to_plain(state)}
            _write_atomic(ckpt, lambda p: torch.save(payload, p))
        done_now += 1
        if "plateau_epoch" in hist:
            break
        if stop_after is not None and done_now >= stop_after and state["epoch"] < cfg.epochs:
            return hist
    if test_data is not None and "test" not in hist:
        tb_test = _Batcher(test_data, device, classification, element)
        final = _metrics(cfg, _outputs(model, tb_test, np.arange(len(test_data)), 256), test_data)
        live = copy.deepcopy(model.state_dict())
        model.load_state_dict(state["best_state"])
        best = _metrics(cfg, _outputs(model, tb_test, np.arange(len(test_data)), 256), test_data)
        model.load_state_dict(live)
        hist["test"] = {"final": final, "best_val": best}
        if out_dir is not None:
            _write_atomic(out_dir / "history.json", lambda p: Path(p).write_text(json.dumps(hist, indent=1)))
    return hist


def ratios_budget(cfg: RentConfig) -> float:
    """sum_e r_e in units of the training-set size (what ReNT trains, for budget-full).

    Computed with the ratio schedule of ``cfg`` as if it were a selection run.
    """
    sched = ratio_schedule(cfg.ratio, cfg.epochs, cfg.r0, n_stages=cfg.n_stages, r_min=cfg.r_min)
    return float(sched.sum())
