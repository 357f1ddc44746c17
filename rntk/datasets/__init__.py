"""Offline data: UCR time-series classification (:mod:`rntk.datasets._ucr`) and shipped real series."""
from ._series import load_co2
from ._ucr import UCRDataset, UCRNotFoundError, fill_gaps, list_ucr, load_ucr

__all__ = ["load_ucr", "list_ucr", "fill_gaps", "UCRDataset", "UCRNotFoundError", "load_co2"]
