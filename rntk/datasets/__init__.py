"""Offline data: UCR time-series classification (:mod:`rntk.datasets._ucr`) and shipped real series."""
from ._series import load_co2
from ._ucr import UCRDataset, UCRNotFoundError, list_ucr, load_ucr

__all__ = ["load_ucr", "list_ucr", "UCRDataset", "UCRNotFoundError", "load_co2"]
