"""The ReNT training loop: a strategy chooses the samples, the loop trains on them.

Every method of :data:`METHODS` runs in this one loop. The method's strategy
(``_methods``) chooses each epoch's subset and may look at each batch; the
loop batches, trains, times, counts and validates, and after every epoch
writes the history and a checkpoint.

Every random choice of epoch e (partition, random draw, batch order) comes
from numpy's generator seeded by (seed, e, purpose), so a run resumed from its
checkpoint after epoch e continues exactly as an uninterrupted one, and the
checkpoint needs no RNG state.
"""
from __future__ import annotations

import copy
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ._batching import SCAN_CHUNK, Batcher, outputs
from ._checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    differences,
    fingerprint,
    from_plain,
    load_checkpoint,
    to_plain,
)
# called through this module's name, so that a test can make the disk fail
from ._checkpoint import write_atomic as _write_atomic
from ._config import METHODS, RentConfig, ratios_budget
from ._data import SequenceData
from ._history import EpochRecord, TrainHistory
from ._losses import loss, metrics, primary
from ._losses import per_sample_loss as _per_sample_loss  # noqa: F401 - a private name tests reach here
from ._methods import Run, Strategy, make_strategy
from ._methods._baselines import obs_draw as _obs_draw  # noqa: F401 - a private name tests reach here

__all__ = ["RentConfig", "SequenceData", "train", "CheckpointError", "METHODS", "ratios_budget"]

_LOOP_STATE = ("epoch", "best", "best_state")  # the loop's part of a checkpoint's state; the rest is the strategy's


def train(model, train_data: SequenceData, val_data: SequenceData, cfg: RentConfig, *, test_data=None,
          out_dir=None, resume=True, progress=False, device=None, stop_after=None) -> TrainHistory:
    """Train ``model`` with the example selection of ``cfg``.

    Parameters
    ----------
    model : torch.nn.Module
        A :class:`SequenceModel`, or any module called as ``model(x, lengths)``;
        its ``level`` attribute ("sequence" by default) says whether targets are per step.
    train_data, val_data : SequenceData
    cfg : RentConfig
    test_data : SequenceData, optional
        Evaluated once the run has ended, with the last model and the best epoch's.
    out_dir : path, optional
        Where ``history.json`` and ``checkpoint.pt`` are written, atomically,
        after every epoch.
    resume : bool
        Continue the checkpoint in ``out_dir`` if there is one. ``epochs`` may
        differ from the checkpointed run's where the epochs already trained do
        not depend on it.
    progress : bool
        Show a progress bar (tqdm).
    device : str or torch.device, optional
        CUDA when available, by default.
    stop_after : int, optional
        Stop after that many epochs of this call (to test interruption).

    Returns
    -------
    TrainHistory
        Also readable as the dict of ``history.json`` (``hist["epochs"]``,
        ``hist.get("test")``), for code written against that layout.

    Raises
    ------
    CheckpointError
        When the checkpoint cannot be read, or its data, model or
        configuration differ from this call's.
    FloatingPointError
        When the training loss becomes NaN or infinite.
    """
    if not isinstance(cfg, RentConfig):
        raise ValueError("cfg must be a RentConfig")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model.to(device)
    element = getattr(model, "level", "sequence") == "element"
    classification = cfg.task == "classification"
    labels = np.asarray(train_data.y) if classification and not element else None
    if cfg.stratified and labels is None:
        raise ValueError("stratified selection needs sequence-level class labels")
    vb = Batcher(val_data, device, classification, element)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    out_dir = None if out_dir is None else Path(out_dir)
    hist, state, fp = _start(model, opt, train_data, val_data, vb, cfg, out_dir, resume, device)
    run = Run(cfg, model, train_data, Batcher(train_data, device, classification, element), hist, labels,
              classification, element)
    strategy = make_strategy(run)
    strategy.load_state_dict(state)
    loop = {k: state[k] for k in _LOOP_STATE}
    ratios = cfg.ratios()
    # a run stopped at its plateau stays stopped when resumed
    epochs = range(loop["epoch"], loop["epoch"] if hist.plateau_epoch is not None else cfg.epochs)
    if progress:
        from tqdm.auto import tqdm

        epochs = tqdm(epochs, desc=cfg.method, leave=False)
    done_now = 0
    for e in epochs:
        rec = _run_epoch(run, strategy, opt, vb, val_data, e, float(ratios[e]), device)
        hist.epochs.append(rec)
        score = primary(cfg, rec.val)
        if loop["best"] is None or score > loop["best"]:
            loop["best"] = score
            loop["best_state"] = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            hist.best_epoch = e
        loop["epoch"] = e + 1
        if cfg.plateau_patience is not None and e - hist.best_epoch >= cfg.plateau_patience:
            hist.plateau_epoch = e
        if out_dir is not None:
            text = hist.to_json()
            _write_atomic(out_dir / "history.json", lambda p: Path(p).write_text(text))
            payload = {"format": CHECKPOINT_FORMAT, "fingerprint": fp, "model": model.state_dict(),
                       "optimizer": opt.state_dict(), "history": text,
                       "state": to_plain({**loop, **strategy.state_dict()})}
            _write_atomic(out_dir / "checkpoint.pt", lambda p: torch.save(payload, p))
        done_now += 1
        if hist.plateau_epoch is not None:
            break
        if stop_after is not None and done_now >= stop_after and loop["epoch"] < cfg.epochs:
            return hist
    if test_data is not None and hist.test is None:
        hist.test = _test_metrics(model, cfg, test_data, Batcher(test_data, device, classification, element),
                                  loop["best_state"])
        if out_dir is not None:
            text = hist.to_json()
            _write_atomic(out_dir / "history.json", lambda p: Path(p).write_text(text))
    return hist


def _start(model, opt, train_data, val_data, val_batcher, cfg, out_dir, resume, device):
    """(history, state, fingerprint) of the checkpoint in ``out_dir``, with the
    model and optimiser restored; or of a fresh run."""
    fp = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        fp = fingerprint(train_data, val_data, model)
    ckpt = None if out_dir is None else out_dir / "checkpoint.pt"
    if resume and ckpt is not None and ckpt.exists():
        saved = load_checkpoint(ckpt, device)
        hist = TrainHistory.from_json(saved["history"])
        kinds, details = differences(saved, hist.config, fp, cfg)
        if kinds:
            raise CheckpointError(f"{ckpt} belongs to a run with {' and '.join(kinds)} ({'; '.join(details)}); "
                                  f"to start afresh delete {out_dir} or use another out_dir")
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        # JSON has no tuples; the checks above allowed epochs to change, and
        # measure_amplification stays as the run started
        hist.config = {**asdict(cfg), "measure_amplification": hist.config.get("measure_amplification", False)}
        # a damaged or stale history.json is replaced now, even if no epoch is left to train
        text = hist.to_json()
        _write_atomic(out_dir / "history.json", lambda p: Path(p).write_text(text))
        return hist, from_plain(saved["state"]), fp
    hist = TrainHistory(config=asdict(cfg), n_train=len(train_data))
    # the untimed starting point of the curves
    hist.initial_val = metrics(cfg, outputs(model, val_batcher, np.arange(len(val_data)), SCAN_CHUNK), val_data)
    return hist, {"epoch": 0, "best": None, "best_state": None}, fp


def _sync(device):
    # CUDA runs asynchronously: without waiting, its work would be timed in a later phase
    if device.type == "cuda":
        torch.cuda.synchronize()


def _run_epoch(run: Run, strategy: Strategy, opt, val_batcher, val_data, epoch: int, ratio: float,
               device) -> EpochRecord:
    """Select, train and validate one epoch: its record, with the run's totals after it."""
    tot = run.history.totals
    rec = EpochRecord(epoch=epoch, ratio=ratio)
    t0 = time.perf_counter()
    strategy.select(epoch, ratio, rec)
    tm = time.perf_counter()
    strategy.measure(epoch, ratio, rec)
    t0 += time.perf_counter() - tm  # a measurement, not part of the method: kept out of the timers
    _sync(device)
    t1 = time.perf_counter()
    n_back, hook_s = _train_batches(run, strategy, opt, epoch)
    strategy.end_epoch(epoch, rec)
    _sync(device)
    t2 = time.perf_counter()
    vm = metrics(run.cfg, outputs(run.model, val_batcher, np.arange(len(val_data)), SCAN_CHUNK), val_data)
    t3 = time.perf_counter()
    tot.select_s += t1 - t0 + hook_s
    tot.train_s += t2 - t1 - hook_s
    tot.val_s += t3 - t2
    rec.trained_samples, rec.val = n_back, vm
    rec.select_s, rec.train_s, rec.val_s = tot.select_s, tot.train_s, tot.val_s
    rec.forward_samples, rec.backward_samples = tot.forward_samples, tot.backward_samples
    return rec


def _train_batches(run: Run, strategy: Strategy, opt, epoch: int) -> tuple[int, float]:
    """One pass over the strategy's batches: (samples backpropagated, seconds spent in its selection hooks)."""
    model, tot = run.model, run.history.totals
    model.train()
    n_back, hook_s = 0, 0.0
    for group in opt.param_groups:
        group["lr"] = run.cfg.epoch_lr(epoch)
    for ids in strategy.batches(epoch):
        if strategy.filter_batch is not None:
            ts = time.perf_counter()
            ids = strategy.filter_batch(ids)
            hook_s += time.perf_counter() - ts
        x, lengths, y = run.batcher.get(ids)
        opt.zero_grad(set_to_none=True)
        out = model(x, lengths)
        tot.forward_samples += len(ids)
        if strategy.keep_from_forward is not None:
            ts = time.perf_counter()
            keep = strategy.keep_from_forward(ids, out, y, lengths)
            if keep is not None:
                tk = torch.as_tensor(keep, device=out.device)
                out, y, lengths, ids = out[tk], y[tk], lengths[torch.as_tensor(keep)], ids[keep]
            hook_s += time.perf_counter() - ts
        if strategy.observe is not None:
            strategy.observe(ids, out.detach(), y, lengths)
        batch_loss = loss(out, y, lengths, run.classification, run.element)
        if not torch.isfinite(batch_loss):
            raise FloatingPointError(f"the training loss became {batch_loss.item()} at epoch {epoch}")
        batch_loss.backward()
        if run.cfg.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), run.cfg.clip_norm)
        opt.step()
        n_back += len(ids)
        tot.backward_samples += len(ids)
    return n_back, hook_s


def _test_metrics(model, cfg, test_data, batcher, best_state) -> dict:
    """Test metrics of the model as trained ("final") and of the best validation epoch's ("best_val")."""
    final = metrics(cfg, outputs(model, batcher, np.arange(len(test_data)), SCAN_CHUNK), test_data)
    live = copy.deepcopy(model.state_dict())
    model.load_state_dict(best_state)
    best = metrics(cfg, outputs(model, batcher, np.arange(len(test_data)), SCAN_CHUNK), test_data)
    model.load_state_dict(live)
    return {"final": final, "best_val": best}
