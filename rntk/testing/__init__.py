"""Test helpers shared by rntk's own tests and by users who add kernels.

Matrices are compared by relative Frobenius error (element-wise tolerances on
kernels either flake or check nothing), or entry by entry on the kernel's own
scale (:func:`scaled_max_error`). Every threshold is in :data:`TOLERANCES`.

:class:`KernelContractTests` is the contract every rntk kernel meets, as a
pytest base class: subclass it in a test file, give it the kernel and some
inputs, and pytest runs each check that the kernel's ``capabilities`` call
for. :func:`check_kernel_contract` runs the core checks on one input, outside
pytest.

Examples
--------
In a test file (a class whose name starts with ``Test``)::

    import numpy as np
    from rntk.kernels import Capabilities, KernelResult
    from rntk.testing import KernelContractTests

    class CosineKernel:
        capabilities = Capabilities(variable_length=False, diag=False, dtypes=("float64",))

        def gram(self, X, Y=None):
            unit = lambda A: A / np.linalg.norm(A, axis=1, keepdims=True)
            X = unit(np.asarray(X, dtype=np.float64))
            K = X @ (X if Y is None else unit(np.asarray(Y, dtype=np.float64))).T
            if Y is None:
                K = (K + K.T) / 2  # a BLAS product need not be exactly symmetric
            return KernelResult(K, K)

    class TestCosineKernel(KernelContractTests):
        kernel = CosineKernel()

        def make_inputs(self, rng):
            return rng.normal(size=(8, 5)), rng.normal(size=(3, 5))
"""
from ._checks import check_kernel_contract
from ._compare import RTOL_ILL_CONDITIONED, TOLERANCES, Tolerance, assert_close_matrices, rel_frobenius, scaled_max_error, tolerance
from ._contract import KernelContractTests

__all__ = [
    "Tolerance",
    "TOLERANCES",
    "RTOL_ILL_CONDITIONED",
    "tolerance",
    "rel_frobenius",
    "scaled_max_error",
    "assert_close_matrices",
    "check_kernel_contract",
    "KernelContractTests",
]
