"""Verdicts for the theory checks (Cayci & Eryilmaz; Livi), computed from thresholds.

A claim is "supported" when every pass condition holds, "not supported" when
one fails, and "inconclusive" when a condition could not be evaluated (a
measurement outside the sampled range, too few points for a fit).
"""
from __future__ import annotations

import math


def verdict(*conditions) -> str:
    """Each condition is True, False, or None (could not be evaluated)."""
    if any(c is False for c in conditions):
        return "not supported"
    if any(c is None for c in conditions):
        return "inconclusive"
    return "supported"


def finite(x) -> bool:
    return x is not None and isinstance(x, (int, float)) and math.isfinite(x)


def jsonable(x):
    """NaN/inf -> None and numpy scalars -> Python ones, so that the JSON is standard."""
    if hasattr(x, "item") and getattr(x, "ndim", None) == 0:
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    return x
