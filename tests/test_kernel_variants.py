"""Reference implementations of the kernel variants (frozen layers, reversed and
bidirectional RNNs, per-step read-outs; docs/kernel.md, "Kernel variants"):
exact special cases, and Monte Carlo z-tests against wide finite networks
(rntk.empirical.VariantRNN, whose NTK is taken by full Jacobians)."""
import math
from dataclasses import replace

import numpy as np
import pytest

from rntk import RNTK
from rntk.empirical import variant_ntk
from rntk.kernels._reference import pair_aligned, pair_general
from rntk.kernels._reference_variants import (
    pair_bidirectional,
    pair_frozen,
    pair_frozen_forward,
    pair_mean,
    pair_per_step,
    pair_per_step_pi,
    pair_reversed,
)

# the thresholds of tests/test_empirical.py (their derivation is there)
Z_MAX = 4.5
Z_MAX_NNGP = 6.0

KERNELS = [
    RNTK(n_layers=1, sigma_b=0.3, sigma_h=0.4),
    RNTK(n_layers=2, activation="erf", sigma_w=[1.1, 0.8], sigma_u=[0.9, 1.2], sigma_b=0.2, sigma_h=[0.3, 0.6]),
    RNTK(n_layers=3, sigma_w=[1.4, 1.0, 1.2], sigma_b=0.1, sigma_h=0.5),
]


def _seqs(rng, lengths, m=1):
    return [rng.normal(size=(t, m)).tolist() for t in lengths]


def _gram(pair, X, Y=None, **kw):
    """Gram of a per-pair function; Y=None: the training Gram (same sample on the diagonal)."""
    if Y is None:
        return np.array([[pair(a, b, same=(i == j), **kw) for j, b in enumerate(X)] for i, a in enumerate(X)])
    return np.array([[pair(a, b, same=False, **kw) for b in Y] for a in X])


def _close(a, b, tol=1e-12):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert np.abs(a - b).max() <= tol * max(1.0, np.abs(b).max()), (a, b)


# ---------------------------------------------------------------- exact special cases


@pytest.mark.parametrize("p", KERNELS)
def test_frozen_layers_special_cases(rng, p):
    X, Y = _seqs(rng, (4, 1, 3), m=2), _seqs(rng, (2, 5), m=2)
    L = p.n_layers
    for A, B in [(X, None), (X, Y)]:
        plain = _gram(lambda a, b, same: pair_aligned(a, b, p, same), A, B)
        _close(_gram(lambda a, b, same: pair_frozen(a, b, p, 0, same), A, B), plain)
        top = _gram(lambda a, b, same: pair_frozen(a, b, p, L, same), A, B)
        _close(top[..., 0], plain[..., 1])  # k = L: only the read-out, ntk = nngp
        _close(top[..., 1], plain[..., 1])
        prev = None
        for k in range(L + 1):
            pi = _gram(lambda a, b, same, k=k: pair_frozen(a, b, p, k, same), A, B)
            _close(_gram(lambda a, b, same, k=k: pair_frozen_forward(a, b, p, k, same), A, B), pi)
            _close(pi[..., 1], plain[..., 1])  # freezing never changes the NNGP
            if prev is not None and B is None:  # each frozen layer removes a PSD Gram
                assert np.linalg.eigvalsh(prev[..., 0] - pi[..., 0]).min() > -1e-10
            prev = pi
    with pytest.raises(ValueError, match="frozen_layers"):
        pair_frozen(X[0], X[0], p, L + 1)


def test_frozen_layers_is_the_per_layer_split_of_the_general_form(rng):
    """The layer-l term of the all-(t, t') form is the layer-l term of pair_frozen."""
    p = KERNELS[2]
    x, y = _seqs(rng, (3, 5), m=2)
    terms = [pair_frozen(x, y, p, k)[0] - pair_frozen(x, y, p, k + 1)[0] for k in range(3)]
    assert all(t > 0 for t in terms)
    _close(sum(terms) + pair_frozen(x, y, p, 3)[0], pair_general(x, y, p)[0])


@pytest.mark.parametrize("p", KERNELS)
def test_direction_special_cases(rng, p):
    X, Y = _seqs(rng, (4, 1, 3), m=2), _seqs(rng, (2, 5, 3), m=2)
    rev = lambda S: [s[::-1] for s in S]
    for A, B in [(X, None), (X, Y)]:
        fwd = _gram(lambda a, b, same: pair_aligned(a, b, p, same), A, B)
        twice = _gram(lambda a, b, same: pair_reversed(a, b, p, same), rev(A), None if B is None else rev(B))
        _close(twice, fwd)  # reversed twice = forward
        r = _gram(lambda a, b, same: pair_reversed(a, b, p, same), A, B)
        _close(_gram(lambda a, b, same: pair_bidirectional(a, b, p, same), A, B), fwd + r)
    # palindromes: bidirectional = 2 x forward, for every pair of palindromes
    P = [s + s[-2::-1] for s in _seqs(rng, (1, 2, 3), m=2)]  # lengths 1, 3, 5
    for A, B in [(P, None), (P, P[::-1])]:
        _close(_gram(lambda a, b, same: pair_bidirectional(a, b, p, same), A, B),
               2 * _gram(lambda a, b, same: pair_aligned(a, b, p, same), A, B))
    # not for a non-palindrome
    assert abs(pair_reversed(X[0], Y[1], p)[0] - pair_aligned(X[0], Y[1], p)[0]) > 1e-6


@pytest.mark.parametrize("p", KERNELS)
def test_per_step_special_cases(rng, p):
    X, Y = _seqs(rng, (4, 1, 3), m=2), _seqs(rng, (2, 5, 1), m=2)
    for A, B in [(X, None), (X, Y)]:
        lit = _gram(lambda a, b, same: pair_per_step(a, b, p, same), A, B)
        _close(_gram(lambda a, b, same: pair_per_step_pi(a, b, p, same), A, B), lit)
    # T = 1 (both sequences): the plain kernel
    one = _seqs(rng, (1, 1, 1), m=2)
    _close(_gram(lambda a, b, same: pair_per_step(a, b, p, same), one),
           _gram(lambda a, b, same: pair_aligned(a, b, p, same), one))
    # a length-1 sequence against a longer one: only the last steps meet, scaled by 1/sqrt(T')
    x, y = Y[2], X[0]
    _close(pair_per_step(x, y, p), np.array(pair_aligned(x, y, p)) / 2.0)
    # equal lengths: (1/T) sum_t Theta(x_{1:t}, y_{1:t})
    x, y = X[0], Y[1][:4]
    want = sum(np.array(pair_aligned(x[:t], y[:t], p)) for t in range(1, 5)) / 4
    _close(pair_per_step(x, y, p), want)


# ------------------------------------------------------- finite networks, Monte Carlo


def _monte_carlo(p, X, n_nets, seed):
    """Mean and standard error over independent VariantRNNs (width WIDTH) of the NTK and of f f^T."""
    Ks, Fs = [], []
    for k in range(n_nets):
        K, f = variant_ntk(p, X, WIDTH, generator=seed * 1000 + k)
        Ks.append(K)
        Fs.append(np.outer(f, f))
    Ks, Fs = np.array(Ks), np.array(Fs)
    sem = lambda A: A.std(0, ddof=1) / math.sqrt(n_nets)  # noqa: E731
    return Ks.mean(0), sem(Ks), Fs.mean(0), sem(Fs)


def _check(mc, want, wrong):
    mean, sem, fmean, fsem = mc
    z = (mean - want[..., 0]) / sem
    zg = (fmean - want[..., 1]) / fsem
    print("max |z| ntk", np.abs(z).max(), "nngp", np.abs(zg).max())
    assert np.abs(z).max() < Z_MAX, z
    assert np.abs(zg).max() < Z_MAX_NNGP, zg
    for name, w in wrong.items():  # power: a plausible wrong variant is rejected
        zw = np.abs((mean - w[..., 0]) / sem).max()
        print(f"wrong {name}: max |z| {zw:.1f}")
        assert zw > Z_MAX, name


WIDTH, N_NETS = 512, 40


def test_frozen_layers_monte_carlo(rng):
    p = RNTK(n_layers=2, sigma_w=[1.2, 1.3], sigma_b=0.2, sigma_h=0.4)
    X = _seqs(rng, (4, 2, 5, 3))
    mc = _monte_carlo(replace(p, frozen_layers=1), X, N_NETS, seed=1)
    want = _gram(lambda a, b, same: pair_frozen(a, b, p, 1, same), X)
    wrong = {"all layers trained": _gram(lambda a, b, same: pair_aligned(a, b, p, same), X)}
    _check(mc, want, wrong)


def test_bidirectional_monte_carlo(rng):
    p = RNTK(n_layers=2, activation="erf", sigma_w=1.1, sigma_b=0.2, sigma_h=[0.4, 0.6])
    X = _seqs(rng, (4, 2, 5, 3))
    mc = _monte_carlo(replace(p, direction="bidirectional"), X, N_NETS, seed=2)
    want = _gram(lambda a, b, same: pair_bidirectional(a, b, p, same), X)
    fwd = _gram(lambda a, b, same: pair_aligned(a, b, p, same), X)
    wrong = {"2 x forward": 2 * fwd, "concatenated read-out over 2n": want / 2}
    _check(mc, want, wrong)


def test_per_step_readout_monte_carlo(rng):
    p = RNTK(n_layers=2, sigma_w=[1.3, 1.1], sigma_b=0.2, sigma_h=0.4)
    X = _seqs(rng, (4, 2, 5, 3))
    mc = _monte_carlo(replace(p, readout="per-step"), X, N_NETS, seed=3)
    want = _gram(lambda a, b, same: pair_per_step(a, b, p, same), X)

    def start_aligned(a, b, same):  # v_t indexed from the start: prefixes of equal length
        r = sum(np.array(pair_aligned(a[:t], b[:t], p, same)) for t in range(1, min(len(a), len(b)) + 1))
        return r / math.sqrt(len(a) * len(b))

    wrong = {"read-outs indexed from the start": _gram(start_aligned, X)}
    _check(mc, want, wrong)


def test_mean_readout_monte_carlo(rng):
    p = RNTK(n_layers=2, sigma_w=[1.3, 1.1], sigma_b=0.2, sigma_h=0.4)
    X = _seqs(rng, (4, 2, 5, 3))
    mc = _monte_carlo(replace(p, readout="mean"), X, N_NETS, seed=4)
    want = _gram(lambda a, b, same: pair_mean(a, b, p, 0, same), X)

    def aligned_only(a, b, same):  # the cross-time terms dropped: the per-step kernel, rescaled
        return np.array(pair_per_step(a, b, p, same)) / math.sqrt(len(a) * len(b))

    wrong = {"aligned steps only": _gram(aligned_only, X)}
    _check(mc, want, wrong)
