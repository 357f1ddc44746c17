"""scikit-learn estimators on rntk kernels, a Gram-reusing grid search, and the
paper's multi-dataset metrics. Imports scikit-learn (``import rntk`` does not)."""
from ._estimators import KernelRidgeRegressor, KernelSVC, gram_block
from ._metrics import friedman_rank, mean_accuracy, p_within, pma, summarize
from ._search import GridSearchResult, kernel_grid_search

__all__ = [
    "KernelSVC",
    "KernelRidgeRegressor",
    "gram_block",
    "kernel_grid_search",
    "GridSearchResult",
    "mean_accuracy",
    "p_within",
    "pma",
    "friedman_rank",
    "summarize",
]
