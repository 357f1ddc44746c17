"""Checkpoints of ReNT runs: atomic writes, plain-data payloads, and the checks before resuming.

A checkpoint holds plain data only (tensors, dict/list/tuple/str/int/float/
bool/None; numpy arrays are stored as tagged tensors) and is read with
``torch.load(weights_only=True)``, so a tampered file cannot run code. It
records fingerprints of the training and validation data and of the model
architecture, and resuming refuses a run whose data, model or configuration
differ, naming what differs.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ._config import TRIGGERED_METHODS, RentConfig, backward_budget
from ._data import SequenceData

__all__ = ["CHECKPOINT_FORMAT", "CheckpointError", "write_atomic", "to_plain", "from_plain", "fingerprint",
           "load_checkpoint", "differences"]

CHECKPOINT_FORMAT = 2  # plain data read with weights_only=True; format 1 was a pickle


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed: unreadable, not plain data, or from another run."""


def write_atomic(path: Path, write):
    """Call ``write(tmp)`` on a temporary file next to ``path``, then rename it over ``path``.

    A crash leaves either the old file or the new one, never a partial one.
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        # without the fsync the rename could reach the disk before the data
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def to_plain(obj):
    """``obj`` with numpy arrays as tagged tensors and numpy scalars as Python
    numbers: what ``torch.load(weights_only=True)`` accepts, bit for bit."""
    if isinstance(obj, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(obj).copy())}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_plain(v) for v in obj)
    if obj is None or isinstance(obj, (bool, int, float, str, torch.Tensor)):
        return obj
    # fail when writing: a checkpoint with other objects could not be read back
    raise TypeError(f"cannot store a {type(obj).__name__} in a plain-data checkpoint")


def from_plain(obj):
    """The inverse of :func:`to_plain`."""
    if isinstance(obj, dict):
        if obj.keys() == {"__ndarray__"}:
            return obj["__ndarray__"].cpu().numpy()
        return {k: from_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(from_plain(v) for v in obj)
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


def fingerprint(train_data: SequenceData, val_data: SequenceData, model) -> dict:
    """What a resumed run must share with the checkpointed one: its data and model architecture."""
    return {"train": _data_fingerprint(train_data), "val": _data_fingerprint(val_data),
            "model": _model_fingerprint(model)}


def _reason(e: BaseException) -> str:
    line = (str(e).strip().splitlines() or [""])[0]
    line = line if len(line) <= 80 else line[:77] + "..."
    return f"{type(e).__name__}: {line}" if line else type(e).__name__


def load_checkpoint(ckpt: Path, device) -> dict:
    """The checkpoint at ``ckpt``; :class:`CheckpointError` (one line, naming the
    file and the way out) when it is damaged, not plain data, or of another format."""
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


def _same(a, b) -> bool:
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731 - tuples come back as lists from JSON
    return norm(a) == norm(b)


def _epochs_change(old: RentConfig, new: RentConfig, done: int, n: int) -> str | None:
    """Why the ``done`` epochs trained under ``old`` would not have been trained
    the same under ``new`` (they differ in ``epochs`` only); None when they would."""
    m = new.method
    if [old.epoch_lr(e) for e in range(done)] != [new.epoch_lr(e) for e in range(done)]:
        return f"the learning rates of the {done} epochs trained depend on it"
    if m not in ("full", "budget-full") and not np.array_equal(old.ratios()[:done], new.ratios()[:done]):
        return f"the ratio schedule of the {done} epochs trained depends on it"
    if m in TRIGGERED_METHODS:
        t_old, t_new = old.triggers(), new.triggers()
        if not np.array_equal(t_old[t_old < done], t_new[t_new < done]):
            return f"the trigger epochs among the {done} epochs trained depend on it"
    if m == "obs" and old.obs_pressure[0] != old.obs_pressure[1] and done > 1:
        return f"the selection pressure of the {done} epochs trained depends on it"
    if m == "budget-full" and min(done * n, backward_budget(old, n)) != min(done * n, backward_budget(new, n)):
        return "the backward budget depends on it"
    return None


def _config_differences(saved_cfg: dict, cfg: RentConfig, done: int, n: int) -> list:
    # a field added after the checkpoint was written must hold its default
    defaults = asdict(RentConfig())
    diff = []
    for k, v in asdict(cfg).items():
        if k in ("measure_amplification", "epochs"):  # a measurement; training longer is checked below
            continue
        want = saved_cfg.get(k, defaults[k])
        if not _same(want, v):
            diff.append(f"config field {k}: {want!r} in checkpoint vs {v!r} now")
    if not diff and saved_cfg["epochs"] != cfg.epochs:
        if cfg.epochs < done:
            diff.append(f"config field epochs: {done} epochs already trained, more than the {cfg.epochs} now asked")
        else:
            why = _epochs_change(replace(cfg, epochs=saved_cfg["epochs"]), cfg, done, n)
            if why:
                diff.append(f"config field epochs: {saved_cfg['epochs']} in checkpoint vs {cfg.epochs} now, "
                            f"and {why}")
    return diff


def _model_differences(old_m: dict, new_m: dict) -> list:
    diff = [f"model {k}: {old_m[k]!r} in checkpoint vs {new_m[k]!r} now"
            for k in ("class", "cell", "level", "nonlinearity") if old_m[k] != new_m[k]]
    if not diff and old_m["parameters"] != new_m["parameters"]:
        a = {name: (shape, dt) for name, shape, dt in old_m["parameters"]}
        b = {name: (shape, dt) for name, shape, dt in new_m["parameters"]}
        name = next(k for k in [*a, *b] if a.get(k) != b.get(k))
        desc = lambda v: "absent" if v is None else f"{v[0]} {v[1]}"  # noqa: E731
        diff.append(f"model parameter shapes differ ({name}: {desc(a.get(name))} in checkpoint vs "
                    f"{desc(b.get(name))} now)")
    return diff


def differences(saved: dict, saved_cfg: dict, fp: dict, cfg: RentConfig) -> tuple[list, list]:
    """(kinds, details) of what separates the checkpointed run from this call.

    ``saved``: the checkpoint; ``saved_cfg``: its run's configuration (from its
    history); ``fp``: the :func:`fingerprint` of this call. Both lists are empty
    when the run can be resumed.
    """
    kinds, details = [], []
    cfg_diff = _config_differences(saved_cfg, cfg, saved["state"]["epoch"], fp["train"]["n"])
    if cfg_diff:
        kinds.append("another configuration")
        details += cfg_diff
    m_diff = _model_differences(saved["fingerprint"]["model"], fp["model"])
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
