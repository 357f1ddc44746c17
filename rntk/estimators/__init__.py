"""scikit-learn estimators on rntk kernels, a Gram-reusing grid search, and the
paper's multi-dataset metrics. Imports scikit-learn (``import rntk`` does not).
The finite RNN baselines (``fit_rnn_baseline``, ``rnn_grid_search``) import
torch on first use; the practitioner baselines (``minirocket_ridge``,
``nn1_dtw``, ``dtw_matrix``) import sktime or dtaidistance (the ``baselines``
extra) on first use."""
from ._baselines import DTW_WINDOWS, dtw_matrix, minirocket_ridge, nn1_dtw
from ._estimators import KernelRidgeRegressor, KernelSVC, gram_block
from ._metrics import friedman_rank, mean_accuracy, p_within, pma, summarize
from ._nystroem import Nystroem
from ._scaling import SeriesScaler
from ._search import C_GRID, GridSearchResult, kernel_grid_search

__all__ = [
    "KernelSVC",
    "KernelRidgeRegressor",
    "gram_block",
    "Nystroem",
    "kernel_grid_search",
    "GridSearchResult",
    "C_GRID",
    "SeriesScaler",
    "mean_accuracy",
    "p_within",
    "pma",
    "friedman_rank",
    "summarize",
    "minirocket_ridge",
    "nn1_dtw",
    "dtw_matrix",
    "DTW_WINDOWS",
    "fit_rnn_baseline",
    "rnn_grid_search",
    "RNNBaselineResult",
]

_LAZY = {"fit_rnn_baseline", "rnn_grid_search", "RNNBaselineResult", "RNN_INITS"}


def __getattr__(name):
    if name in _LAZY:  # torch is imported only when a finite RNN baseline is asked for
        from . import _rnn_baselines

        return getattr(_rnn_baselines, name)
    raise AttributeError(f"module 'rntk.estimators' has no attribute {name!r}")
