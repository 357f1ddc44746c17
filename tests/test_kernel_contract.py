"""Every kernel against the shared contract (rntk.testing.KernelContractTests),
and a broken toy kernel per check to show that each check can fail."""
from __future__ import annotations

from importlib.util import find_spec

import numpy as np
import pytest

from rntk import MLPNTK, RNTK, GAKKernel, PolynomialKernel, RBFKernel
from rntk._validation import check_pair, check_sequences
from rntk.kernels import Capabilities, KernelResult
from rntk.testing import KernelContractTests, check_kernel_contract


def _sequences(rng, lengths, m=2, scale=1.0):
    return [scale * rng.normal(size=(t, m)) for t in lengths]


def _nan_padded(seqs):
    out = np.full((len(seqs), max(len(s) for s in seqs), seqs[0].shape[1]), np.nan)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


# -- the kernels of the package ------------------------------------------------------
class TestRNTKRelu(KernelContractTests):
    # per-layer sequences for every sigma, and an initial hidden state, whose
    # term sits on the training Gram's diagonal only
    kernel = RNTK(
        1, "relu", sigma_w=[1.3], sigma_u=[0.9], sigma_b=[0.2], sigma_h=[0.6], sigma_v=1.1
    )

    def make_inputs(self, rng):
        # trailing NaN: sequences of 3 to 12 steps in one array
        return (
            _nan_padded(_sequences(rng, (12, 9, 5, 12, 3, 7, 10, 8))),
            _sequences(rng, (6, 12, 4, 9)),
        )


class TestRNTKErfDeep(KernelContractTests):
    kernel = RNTK(
        2, "erf", sigma_w=[1.1, 0.9], sigma_u=[1.0, 1.3], sigma_b=[0.1, 0.3], sigma_h=[0.2, 0.4]
    )

    def make_inputs(self, rng):
        return _sequences(rng, (15, 4, 9, 11, 1, 13, 6)), _sequences(rng, (8, 15, 2))


class TestRNTKMeanReadout(KernelContractTests):
    # the cross-time (T x T') recursion, with a frozen layer and sigma_h
    kernel = RNTK(2, "relu", sigma_w=[1.2, 1.0], sigma_b=0.2, sigma_h=0.5, readout="mean", frozen_layers=1)

    def make_inputs(self, rng):
        return _sequences(rng, (10, 4, 7, 1, 9, 6)), _sequences(rng, (5, 10, 3))


class TestRNTKTanhQuadrature(KernelContractTests):
    # a callable: its dual by Gauss-Hermite quadrature, refused by the fused backends
    kernel = RNTK(2, np.tanh, sigma_w=[1.0, 0.8], sigma_u=[0.9, 1.1], sigma_b=0.2, sigma_h=0.3)

    def make_inputs(self, rng):
        return _sequences(rng, (6, 3, 8, 5, 7), scale=0.7), _sequences(rng, (4, 8, 2), scale=0.7)


class TestMLPNTK(KernelContractTests):
    kernel = MLPNTK(2, "relu", sigma_w=[1.2, 1.5], sigma_b=[0.1, 0.3], sigma_v=0.9)

    def make_inputs(self, rng):
        return rng.normal(size=(11, 3, 2)), rng.normal(size=(4, 3, 2))  # flattened to d = 6


class TestMLPNTKErfDeep(KernelContractTests):
    kernel = MLPNTK(3, "erf", sigma_b=0.2)

    def make_inputs(self, rng):
        return rng.normal(size=(10, 5)), rng.normal(size=(5, 5))


class TestRBFKernel(KernelContractTests):
    kernel = RBFKernel(gamma=0.3)

    def make_inputs(self, rng):
        return rng.normal(size=(12, 4)), rng.normal(size=(5, 4))


class TestPolynomialKernel(KernelContractTests):
    kernel = PolynomialKernel(degree=3, coef0=0.5)

    def make_inputs(self, rng):
        return rng.normal(size=(12, 4)), rng.normal(size=(5, 4))


@pytest.mark.skipif(find_spec("tslearn") is None, reason="GAKKernel needs tslearn (rntk[bench])")
class TestGAKKernel(KernelContractTests):
    kernel = GAKKernel(sigma=1.5)

    def make_inputs(self, rng):
        return _sequences(rng, (10, 4, 7, 10, 2, 6)), _sequences(rng, (5, 9, 3))


def test_declared_capabilities():
    """What the estimators read: variable lengths for the sequence kernels only."""
    for k in (RNTK(), GAKKernel()):
        assert k.capabilities.variable_length and k.capabilities.diag
    for k in (MLPNTK(), RBFKernel(), PolynomialKernel()):
        assert not k.capabilities.variable_length and k.capabilities.diag
        assert k.capabilities.backends == ()
    assert MLPNTK.capabilities.batch_size and RNTK.capabilities.batch_size
    assert not (
        RBFKernel.capabilities.batch_size
        or PolynomialKernel.capabilities.batch_size
        or GAKKernel.capabilities.batch_size
    )


# -- a toy kernel, healthy or with one defect ------------------------------------------
class Toy:
    """k(x, y) = 1 + <s(x), s(y)>, s the sum of a sequence's steps (nngp: half of it).

    Exactly symmetric, PSD, independent of tiling, order and the other
    sequences' lengths; ``defect`` breaks one property at a time.
    """

    capabilities = Capabilities(
        variable_length=True,
        diag=True,
        batch_size=True,
        backends=("auto", "reference", "cpu-vectorized", "cpu-fused", "gpu-fused"),
    )

    def __init__(self, defect=None):
        self.defect = defect

    def _sums(self, b):
        s = b.data.sum(axis=1)  # steps past a sequence's end are 0
        if self.defect == "length":  # leaks the longest sequence of the batch
            s = s + 1e-3 * b.data.shape[1]
        return s

    def _kernel(self, sx, sy):
        # elementwise products summed in one order: exactly symmetric
        return 1.0 + (sx[:, None, :] * sy[None, :, :]).sum(axis=-1)

    def gram(self, X, Y=None, backend="auto", dtype="float64", batch_size=None):
        dt = np.dtype(dtype)
        if backend == "cpu-fused":
            raise ValueError("backend 'cpu-fused' is not implemented by the toy")
        bx, by = check_pair(X, Y)
        sx = self._sums(bx)
        sy = sx if by is None else self._sums(by)
        K = self._kernel(sx, sy)
        d = self.defect
        if d == "asymmetric" and by is None:
            K[0, 1] *= 1 + 1e-9
        if d == "not_psd" and by is None:
            K = 3 * K - 2 * np.diag(np.diag(K))
        if d == "training_only" and by is None:  # an off-diagonal term gram(X, X) lacks
            K[0, 1] += 0.1
            K[1, 0] += 0.1
        if d == "swap" and by is not None:
            K = K + 1e-6 * sx.sum(axis=1)[:, None]
        if d == "position":  # weights by index: symmetric, PSD, but not equivariant
            K = (
                K
                * (1 + 0.01 * np.arange(len(sx)))[:, None]
                * (1 + 0.01 * np.arange(len(sy)))[None, :]
            )
        if d == "batch" and batch_size is not None:
            K = K * (1 + 2.0**-50)
        if d == "float32" and dt == np.float32:
            K = K * (1 + 1e-3)
        if d == "backend" and backend == "cpu-vectorized":
            K = K * (1 + 1e-8)
        K = K.astype(dt)
        return KernelResult(K, (K / 2).astype(dt))

    def diag(self, X, dtype="float64"):
        dt = np.dtype(dtype)
        s = self._sums(check_sequences(X))
        d = (1.0 + (s * s).sum(axis=1)) * (1 + 1e-6 if self.defect == "diag" else 1.0)
        return KernelResult(d.astype(dt), (d / 2).astype(dt))


def _toy_inputs(self, rng):
    return _nan_padded(_sequences(rng, (5, 2, 4, 5, 3, 1))), _sequences(rng, (3, 5, 2))


class TestToyKernel(KernelContractTests):
    """The healthy toy passes every check (with two backends skipped: no GPU,
    and one the toy refuses)."""

    kernel = Toy()
    make_inputs = _toy_inputs


def _contract_for(kernel):
    cls = type(
        "ToyContract", (KernelContractTests,), {"kernel": kernel, "make_inputs": _toy_inputs}
    )
    return cls()


@pytest.mark.parametrize(
    "defect, check, args",
    [
        ("asymmetric", "test_gram_exactly_symmetric", ("float64",)),
        ("not_psd", "test_gram_psd", ("float64",)),
        ("training_only", "test_cross_gram_matches_training_gram_off_diagonal", ("float64",)),
        ("swap", "test_swapped_arguments_transpose", ("float64",)),
        ("position", "test_permutation_equivariance", ("float64",)),
        ("diag", "test_diag_matches_gram", ("float64",)),
        ("batch", "test_batched_equals_unbatched", ("float64",)),
        ("float32", "test_lower_precision_matches_float64", ("float32",)),
        ("length", "test_variable_length_inputs", ()),
        ("backend", "test_backend_matches_reference", ("cpu-vectorized", "float64")),
    ],
)
def test_each_check_catches_its_defect(defect, check, args):
    getattr(_contract_for(Toy()), check)(*args)  # the healthy toy passes it
    with pytest.raises(AssertionError):
        getattr(_contract_for(Toy(defect)), check)(*args)


@pytest.mark.parametrize("defect", ["asymmetric", "not_psd", "training_only", "swap"])
def test_check_kernel_contract_catches_defects(defect, rng):
    X = _nan_padded(_sequences(rng, (5, 2, 4, 5, 3, 1)))
    check_kernel_contract(Toy(), X)
    with pytest.raises(AssertionError):
        check_kernel_contract(Toy(defect), X)


def test_kernel_without_capabilities_gets_the_core_checks_only():
    class Bare:
        def gram(self, X, Y=None):
            return Toy().gram(X, Y)

    case = _contract_for(Bare())
    assert case.capabilities == Capabilities(variable_length=False, diag=False, dtypes=("float64",))
    case.test_gram_exactly_symmetric("float64")
    case.test_swapped_arguments_transpose("float64")
    with pytest.raises(pytest.skip.Exception):
        case.test_diag_matches_gram("float64")
    with pytest.raises(pytest.skip.Exception):
        case.test_variable_length_inputs()


def test_estimators_read_capabilities_not_types(rng):
    """A kernel of any type that declares variable lengths gets ragged lists and
    trailing NaN; one that declares nothing is told how to declare it."""
    from rntk.estimators import KernelSVC

    class Bare:
        def gram(self, X, Y=None):
            return Toy().gram(X, Y)

    xs = _sequences(rng, (5, 2, 4, 5, 3, 1))
    y = [0, 1, 0, 1, 0, 1]
    m = KernelSVC(Toy(), C=1.0).fit(xs, y)
    np.testing.assert_array_equal(
        m.predict(xs), KernelSVC(Toy(), C=1.0).fit(_nan_padded(xs), y).predict(xs)
    )
    with pytest.raises(
        ValueError, match=r"capabilities = rntk\.kernels\.Capabilities\(variable_length=True"
    ):
        KernelSVC(Bare()).fit(xs, y)
    with pytest.raises(ValueError, match=r"NaN.*capabilities = rntk\.kernels\.Capabilities"):
        KernelSVC(Bare()).fit(_nan_padded(xs), y)
    with pytest.raises(ValueError, match="pad_sequences"):
        KernelSVC(RBFKernel()).fit(xs, y)
