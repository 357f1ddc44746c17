"""RNTK(frozen_layers=..., direction=...) on every backend, against the literal variant references."""
import numpy as np
import pytest
import torch

from rntk import RNTK
from rntk.empirical import RNN
from rntk.kernels._reference_variants import (
    pair_bidirectional,
    pair_frozen,
    pair_mean,
    pair_per_step,
    pair_reversed,
    per_step,
)
from rntk.testing import KernelContractTests, TOLERANCES, assert_close_matrices

TOL = TOLERANCES["float64"].rtol

CASES = [
    dict(n_layers=2, frozen_layers=1, sigma_b=0.2, sigma_h=0.4),
    dict(n_layers=3, frozen_layers=2, activation="erf", sigma_w=[1.2, 1.0, 0.9], sigma_h=0.3),
    dict(n_layers=2, direction="reversed", sigma_b=0.1, sigma_h=0.3),
    dict(n_layers=2, direction="bidirectional", activation="erf", sigma_h=0.3),
    dict(n_layers=2, frozen_layers=1, direction="bidirectional", sigma_b=0.3),
    dict(readout="per-step", sigma_h=0.3),
    dict(n_layers=2, readout="per-step", activation="erf", sigma_b=0.2, direction="reversed"),
    dict(n_layers=2, readout="per-step", frozen_layers=1, sigma_h=0.2),
    dict(readout="mean", sigma_b=0.2, sigma_h=0.3),
    dict(n_layers=2, readout="mean", activation="erf", frozen_layers=1, sigma_h=0.3),
    dict(n_layers=2, readout="mean", direction="bidirectional", sigma_b=0.1, sigma_h=0.2),
]


def _literal(k, x, y, same):
    """The variant's literal per-pair form, composed from the references of each part."""
    import dataclasses
    import math

    p0 = dataclasses.replace(k, direction="forward", readout="last", frozen_layers=0)

    def one(u, v, p, same=False, M=math):
        return pair_frozen(u, v, p, frozen_layers=k.frozen_layers, same=same, M=M)

    def base(u, v):
        if k.readout == "mean":
            return pair_mean(u, v, p0, k.frozen_layers, same)
        return per_step(one, u, v, p0, same=same) if k.readout == "per-step" else one(u, v, p0, same)

    if k.direction == "forward":
        return base(x, y)
    if not k.frozen_layers and k.readout == "last":  # the references written for the directions
        f = pair_reversed if k.direction == "reversed" else pair_bidirectional
        return f(x, y, p0, same=same)
    r = base(x[::-1], y[::-1])
    return r if k.direction == "reversed" else tuple(a + b for a, b in zip(r, base(x, y)))


def _want(k, X, Y):
    sym = Y is None
    Y = X if sym else Y
    out = np.array([[_literal(k, x.tolist(), y.tolist(), sym and i == j) for j, y in enumerate(Y)]
                    for i, x in enumerate(X)])
    return out[..., 0], out[..., 1]


def _data(rng):
    return [rng.normal(size=(t, 2)) for t in (3, 6, 4, 1)], [rng.normal(size=(t, 2)) for t in (2, 5)]


@pytest.mark.parametrize("kw", CASES)
def test_every_backend_matches_the_literal_variant(kw, rng):
    k = RNTK(**kw)
    X, Y = _data(rng)
    backends = ["cpu-vectorized", "reference", "cpu-fused"]
    for A, B in ((X, None), (X, Y)):
        ntk, nngp = _want(k, A, B)
        for be in backends:
            got = k.gram(A, B, backend=be)
            assert_close_matrices(got.ntk, ntk, TOL, f"{be} ntk")
            assert_close_matrices(got.nngp, nngp, TOL, f"{be} nngp")
    np.testing.assert_allclose(k.diag(X).ntk, np.diag(k.gram(X).ntk), rtol=1e-13)


@pytest.mark.parametrize("kw", CASES)
def test_torch_matches_numpy_and_is_differentiable(kw, rng):
    k = RNTK(**kw)
    lengths = np.array([3, 6, 4, 1])
    Xn = rng.normal(size=(4, 6, 2))
    seqs = [Xn[i, 6 - lengths[i]:] for i in range(4)]
    X = torch.tensor(Xn, requires_grad=True)
    got = k.gram_torch(X, lengths_x=lengths)
    assert_close_matrices(got.ntk.detach().numpy(), k.gram(seqs, backend="cpu-vectorized").ntk, TOL)
    got.ntk.sum().backward()
    assert torch.isfinite(X.grad).all()
    Xs = torch.tensor(rng.normal(size=(2, 3, 1)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda A: k.gram_torch(A).ntk, (Xs,))


def test_per_step_matches_its_own_reference_and_the_prefix_mean(rng):
    """Independent of the composition above: pair_per_step, and (1/T) sum_t of the prefix kernels."""
    k = RNTK(n_layers=2, readout="per-step", sigma_b=0.1)
    X, Y = _data(rng)
    want = np.array([[pair_per_step(x.tolist(), y.tolist(), k)[0] for y in Y] for x in X])
    assert_close_matrices(k.gram(X, Y).ntk, want, TOL)
    Z = rng.normal(size=(4, 6))  # equal lengths: the mean over t of the kernels of x_{1:t}
    mean = sum(RNTK(n_layers=2, sigma_b=0.1).gram(Z[:, :t]).ntk for t in range(1, 7)) / 6
    assert_close_matrices(k.gram(Z).ntk, mean, TOL)


@pytest.mark.parametrize("activation", ["relu", "erf"])
def test_mean_readout_without_recurrence_is_the_mean_of_step_kernels(activation, rng):
    """sigma_w = 0, one layer: every step is an independent one-layer MLP of x_t, so the
    mean read-out's kernel is (T T')^-1 sum_{t,t'} of the MLP kernel of (x_t, y_t'),
    all step pairs (the aligned ones alone would miss most of it). Independent of the
    grid recursion: the dual activation applied to the inputs directly."""
    sv, su, sb = 1.3, 0.9, 0.4
    k = RNTK(readout="mean", activation=activation, sigma_w=0.0, sigma_u=su, sigma_b=sb, sigma_v=sv)
    X, Y = _data(rng)
    dual = k.dual

    def mlp(x, y):
        kxy = su**2 * (x @ y.T) / x.shape[1] + sb**2  # (T, T')
        kx = su**2 * np.sum(x * x, 1) / x.shape[1] + sb**2
        ky = su**2 * np.sum(y * y, 1) / y.shape[1] + sb**2
        v, d = dual.pair(kx[:, None] + 0 * kxy, ky[None, :] + 0 * kxy, kxy)
        return sv**2 * np.mean(v + d * kxy), sv**2 * np.mean(v)

    want = np.array([[mlp(x, y) for y in Y] for x in X])
    got = k.gram(X, Y)
    assert_close_matrices(got.ntk, want[..., 0], TOL)
    assert_close_matrices(got.nngp, want[..., 1], TOL)


def test_mean_readout_of_length_one_sequences_is_the_plain_kernel(rng):
    X = [rng.normal(size=(1, 2)) for _ in range(4)]
    kw = dict(n_layers=2, sigma_b=0.2, sigma_h=0.4)
    assert_close_matrices(RNTK(readout="mean", **kw).gram(X).ntk, RNTK(**kw).gram(X).ntk, TOL)


def test_mean_readout_is_refused_by_the_cuda_kernel(rng):
    X, _ = _data(rng)
    with pytest.raises(ValueError, match="gpu-fused.*readout='mean'.*gpu-vectorized"):
        RNTK(readout="mean").gram(X, backend="gpu-fused")


@pytest.mark.parametrize("readout", ["last", "per-step", "mean"])
def test_all_layers_frozen_is_the_nngp(readout, rng):
    X, _ = _data(rng)
    for backend in ("cpu-fused", "cpu-vectorized"):
        res = RNTK(n_layers=2, frozen_layers=2, sigma_b=0.2, readout=readout).gram(X, backend=backend)
        np.testing.assert_array_equal(res.ntk, res.nngp)


def test_reversed_meets_sequences_start_aligned(rng):
    """Reversing pairs step j of one sequence with step j of the other (from the start)."""
    x, y = rng.normal(size=(3, 1)), rng.normal(size=(5, 1))
    k = RNTK(direction="reversed")
    want = RNTK().gram([x[::-1]], [y[::-1]]).ntk
    assert_close_matrices(k.gram([x], [y]).ntk, want, 1e-15)
    y_tail_changed = y.copy()
    y_tail_changed[3:] += 1.0  # steps after x's length: they still enter (they come first when reversed)
    assert not np.allclose(k.gram([x], [y_tail_changed]).ntk, k.gram([x], [y]).ntk)


def test_auto_runs_frozen_layers_on_the_fused_kernel(rng):
    k = RNTK(n_layers=2, frozen_layers=1)
    X, _ = _data(rng)
    np.testing.assert_array_equal(k.gram(X).ntk, k.gram(X, backend="cpu-fused").ntk)
    assert_close_matrices(k.gram(X).ntk, k.gram(X, backend="cpu-vectorized").ntk, TOL)


@pytest.mark.parametrize("kw, match", [
    (dict(n_layers=2, frozen_layers=3), "frozen_layers must be an integer in"),
    (dict(frozen_layers=-1), "frozen_layers must be an integer in"),
    (dict(frozen_layers=True), "frozen_layers must be an integer in"),
    (dict(direction="backward"), "direction must be one of"),
    (dict(readout="first"), "readout must be one of"),
])
def test_bad_variant_arguments_are_named(kw, match):
    with pytest.raises(ValueError, match=match):
        RNTK(**kw)


@pytest.mark.parametrize("kw", [dict(direction="bidirectional"), dict(readout="mean"), dict(n_layers=2, frozen_layers=1)])
def test_finite_network_refuses_a_variant_it_does_not_build(kw):
    with pytest.raises(ValueError, match="plain network.*use rntk.empirical.VariantRNN"):
        RNN(RNTK(**kw), width=8, input_dim=1)


class TestFrozenContract(KernelContractTests):
    kernel = RNTK(n_layers=2, frozen_layers=1, sigma_b=0.2, sigma_h=0.4)

    def make_inputs(self, rng):
        return [rng.normal(size=(t, 2)) for t in (5, 3, 7, 4, 6)], [rng.normal(size=(t, 2)) for t in (2, 6, 4)]


class TestPerStepContract(KernelContractTests):
    kernel = RNTK(n_layers=2, readout="per-step", sigma_b=0.2, sigma_h=0.3)

    def make_inputs(self, rng):
        return [rng.normal(size=(t, 2)) for t in (5, 3, 7, 4, 6)], [rng.normal(size=(t, 2)) for t in (2, 6, 4)]


class TestBidirectionalContract(KernelContractTests):
    kernel = RNTK(n_layers=2, direction="bidirectional", sigma_h=0.3)

    def make_inputs(self, rng):
        return [rng.normal(size=(t, 2)) for t in (5, 3, 7, 4, 6)], [rng.normal(size=(t, 2)) for t in (2, 6, 4)]
