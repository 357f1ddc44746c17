"""Real series shipped with the package (no network, no optional dependency)."""
from __future__ import annotations

from importlib import resources

import numpy as np

__all__ = ["load_co2"]


def load_co2(interpolate: bool = True) -> np.ndarray:
    """Mauna Loa weekly CO2 in ppm, 1958-03-29 .. 2001-12-29 (2,284 weeks).

    Keeling & Whorf (SIO), public domain, as statsmodels ships it
    (``scripts/make_co2_data.py`` writes the CSV). 59 weeks are missing:
    NaN, or linearly interpolated with ``interpolate=True`` (the first value
    is present, so no gap is at an end).
    """
    text = resources.files("rntk.datasets").joinpath("data/co2/co2_weekly.csv").read_text()
    rows = [line.split(",") for line in text.splitlines() if line and not line.startswith(("#", "week_ending"))]
    y = np.array([float(v) if v else np.nan for _, v in rows])
    if interpolate:
        gap = np.isnan(y)
        idx = np.arange(len(y))
        y[gap] = np.interp(idx[gap], idx[~gap], y[~gap])
    return y
