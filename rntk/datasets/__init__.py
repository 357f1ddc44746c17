"""UCR time-series classification data, offline (see :mod:`rntk.datasets._ucr`)."""
from ._ucr import UCRDataset, list_ucr, load_ucr

__all__ = ["load_ucr", "list_ucr", "UCRDataset"]
