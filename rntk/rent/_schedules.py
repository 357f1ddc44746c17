"""Ratio schedules and selection triggers of ReNT.

A "step" of a schedule is an epoch (the paper leaves this open). Every default
below is the benchmark protocol's choice; each is a parameter.
"""
from __future__ import annotations

import math

import numpy as np

from .._validation import check_positive_int as _pos_int

__all__ = ["ratio_schedule", "trigger_epochs"]


def _ratio(v, name):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.floating, np.integer)) or not 0 < v <= 1:
        raise ValueError(f"{name} must be a ratio in (0, 1], got {v!r}")
    return float(v)


def ratio_schedule(kind: str, n_epochs: int, r0: float, *, n_stages: int = 10, r_min: float = 0.4) -> np.ndarray:
    """r(e) for e = 0 .. n_epochs - 1.

    kind : "step"  r0 rising to exactly 1.0 in n_stages equal stages
           (stage k = floor(e n_stages / E), r = r0 + (1 - r0) k / (n_stages - 1));
           "r-step" r0 falling to exactly r_min the same way;
           "constant" r0 at every epoch; "full" 1.0 at every epoch.
    """
    E = _pos_int(n_epochs, "n_epochs")
    r0 = _ratio(r0, "r0")
    if kind in ("step", "r-step"):
        ns = _pos_int(n_stages, "n_stages")
        if ns < 2:
            raise ValueError("n_stages must be >= 2 (one stage cannot both start at r0 and reach its end)")
        k = (np.arange(E) * ns) // E
        end = 1.0
        if kind == "r-step":
            end = _ratio(r_min, "r_min")
            if end > r0:
                raise ValueError(f"r-step falls from r0 to r_min: r_min ({end}) must be <= r0 ({r0})")
        # the last stage is the end value exactly (r0 + (1 - r0) = 0.9999... in floating point)
        return np.where(k == ns - 1, end, r0 + (end - r0) * k / (ns - 1))
    if kind == "constant":
        return np.full(E, r0)
    if kind == "full":
        return np.ones(E)
    raise ValueError(f"unknown ratio schedule {kind!r}; use 'step', 'r-step', 'constant' or 'full'")


def trigger_epochs(kind: str, n_epochs: int, *, every: int = 5, warmup: float = 0.25, n_phases: int = 5,
                   max_gap: int | None = None) -> np.ndarray:
    """Epochs at which the subset is re-selected (sorted, always starting at 0).

    kind : "constant"     0, every, 2 every, ...;
           "incremental"  every epoch for e < floor(warmup E); the remaining
           epochs split into n_phases near-equal phases (earlier ones longer
           by one where needed); phase j triggers every
           g_j = 1 + floor(j (max_gap - 1) / (n_phases - 1) + 1/2) epochs from its
           start, max_gap = max(2, round(E / 10)) by default (E = 100: a
           25-epoch warm-up, then gaps 1, 3, 6, 8, 10);
           "every"        every epoch.
    """
    E = _pos_int(n_epochs, "n_epochs")
    if kind == "every":
        return np.arange(E)
    if kind == "constant":
        return np.arange(0, E, _pos_int(every, "every"))
    if kind != "incremental":
        raise ValueError(f"unknown trigger schedule {kind!r}; use 'constant', 'incremental' or 'every'")
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a fraction in [0, 1), got {warmup!r}")
    nph = _pos_int(n_phases, "n_phases")
    gmax = max(2, int(round(E / 10))) if max_gap is None else _pos_int(max_gap, "max_gap")
    w = int(math.floor(warmup * E))
    out = list(range(w))
    rest = E - w
    sizes = [rest // nph + (1 if j < rest % nph else 0) for j in range(nph)]
    start = w
    for j, size in enumerate(sizes):
        gap = 1 + (int(math.floor(j * (gmax - 1) / (nph - 1) + 0.5)) if nph > 1 else 0)
        out.extend(range(start, start + size, gap))
        start += size
    out = sorted(set(out) | {0})
    return np.array(out, dtype=np.int64)
