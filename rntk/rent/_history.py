"""The history of a ReNT run: what :func:`rntk.rent.train` returns and writes as ``history.json``.

Plain dataclasses (no torch). ``to_dict``/``from_dict`` map them to the JSON
layout key for key and in the same order, so a history written earlier loads,
and one written now reads like those before it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

__all__ = ["EpochRecord", "Totals", "TrainHistory"]


def _known(cls):
    return [f.name for f in fields(cls) if f.name != "extra"]


def _split(cls, d: dict):
    """The keyword arguments of ``cls`` in ``d``, and the other keys kept in ``extra``."""
    names = set(_known(cls))
    return {k: v for k, v in d.items() if k in names}, {k: v for k, v in d.items() if k not in names}


def _emit(obj, optional) -> dict:
    """Fields in declaration order, optional ones only when set, then the extra keys."""
    out = {}
    for name in _known(type(obj)):
        v = getattr(obj, name)
        if v is not None or name not in optional:
            out[name] = v
    out.update(obj.extra)
    return out


@dataclass
class EpochRecord:
    """One epoch of a run.

    Attributes
    ----------
    epoch : int
    ratio : float
        The schedule's selection ratio r(e).
    triggered : bool
        Whether the subset was chosen anew at this epoch.
    scored, n_selected, class_mix_tv : bool, int, float or None
        Set at triggers (and every epoch of OBS and RHO-LOSS for ``n_selected``):
        whether the rule read scores, the subset's size, and the total-variation
        distance between its class mix and the training set's (classification).
    grad_amplification, grad_norm_selected, grad_norm_random : float, float, list or None
        Set where ``measure_amplification`` applies.
    trained_samples : int
        Samples backpropagated this epoch.
    val : dict
        Validation metrics after the epoch.
    select_s, train_s, val_s, forward_samples, backward_samples : float or int
        The run's totals at the end of the epoch.
    extra : dict
        Keys of a record that this version does not know, kept as read.
    """

    epoch: int
    ratio: float
    triggered: bool = False
    scored: bool | None = None
    n_selected: int | None = None
    class_mix_tv: float | None = None
    grad_amplification: float | None = None
    grad_norm_selected: float | None = None
    grad_norm_random: list | None = None
    trained_samples: int = 0
    val: dict = field(default_factory=dict)
    select_s: float = 0.0
    train_s: float = 0.0
    val_s: float = 0.0
    forward_samples: int = 0
    backward_samples: int = 0
    extra: dict = field(default_factory=dict)

    _OPTIONAL = frozenset({"scored", "n_selected", "class_mix_tv", "grad_amplification", "grad_norm_selected",
                           "grad_norm_random"})

    def to_dict(self) -> dict:
        """The JSON layout: optional fields only where set."""
        return _emit(self, self._OPTIONAL)

    @classmethod
    def from_dict(cls, d: dict) -> EpochRecord:
        """The record of a JSON-layout dict."""
        kw, extra = _split(cls, d)
        return cls(**kw, extra=extra)


@dataclass
class Totals:
    """Running totals of a run: seconds selecting, training and validating, and
    samples forwarded and backpropagated (the irreducible-loss model of
    RHO-LOSS and the scoring passes included)."""

    select_s: float = 0.0
    train_s: float = 0.0
    val_s: float = 0.0
    forward_samples: int = 0
    backward_samples: int = 0
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The JSON layout."""
        return _emit(self, ())

    @classmethod
    def from_dict(cls, d: dict) -> Totals:
        """The totals of a JSON-layout dict."""
        kw, extra = _split(cls, d)
        return cls(**kw, extra=extra)


@dataclass
class TrainHistory:
    """What a run did, epoch by epoch.

    Attributes
    ----------
    config : dict
        The :class:`RentConfig` fields the run was trained with.
    n_train : int
        Training sequences.
    epochs : list of EpochRecord
    selections : dict
        Epoch (as a string) -> sorted ids of the subset chosen then.
    initial_val : dict or None
        Validation metrics before training.
    totals : Totals
    best_epoch : int or None
        The epoch of the best validation metric.
    plateau_epoch : int or None
        The epoch at which ``plateau_patience`` stopped the run.
    test : dict or None
        Test metrics when the run ended with test data: ``{"final": ...,
        "best_val": ...}``, of the last model and of the best epoch's.
    extra : dict
        Keys of a history that this version does not know, kept as read.

    Notes
    -----
    ``history["epochs"]``, ``history.get("test")`` and ``"test" in history``
    read the JSON layout of :meth:`to_dict` (records as dicts, absent keys
    absent): they keep code written for the dict this class replaces working.
    """

    config: dict
    n_train: int
    epochs: list = field(default_factory=list)
    selections: dict = field(default_factory=dict)
    initial_val: dict | None = None
    totals: Totals = field(default_factory=Totals)
    best_epoch: int | None = None
    plateau_epoch: int | None = None
    test: dict | None = None
    extra: dict = field(default_factory=dict)

    _OPTIONAL = frozenset({"initial_val", "best_epoch", "plateau_epoch", "test"})

    def to_dict(self) -> dict:
        """The layout of ``history.json``."""
        out = _emit(self, self._OPTIONAL)
        out["epochs"] = [r.to_dict() for r in self.epochs]
        out["totals"] = self.totals.to_dict()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> TrainHistory:
        """The history of a dict in the layout of ``history.json``."""
        kw, extra = _split(cls, d)
        kw["epochs"] = [EpochRecord.from_dict(r) for r in kw.get("epochs", [])]
        if "totals" in kw:
            kw["totals"] = Totals.from_dict(kw["totals"])
        return cls(**kw, extra=extra)

    def to_json(self) -> str:
        """The text of ``history.json``."""
        return json.dumps(self.to_dict(), indent=1)

    @classmethod
    def from_json(cls, text: str) -> TrainHistory:
        """The history of the text of a ``history.json``."""
        return cls.from_dict(json.loads(text))

    def __getitem__(self, key: str):
        return self.to_dict()[key]

    def get(self, key: str, default=None):
        """``self[key]``, or ``default`` where the JSON layout has no such key."""
        return self.to_dict().get(key, default)

    def __contains__(self, key: str) -> bool:
        return key in self.to_dict()
