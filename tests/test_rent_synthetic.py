import itertools

import numpy as np
import pytest
from scipy.stats import norm

from rntk.rent._synthetic import REGIMES, narma10, regime_filter, switching_ar2


def test_narma10_follows_its_recursion():
    u, y = narma10(3, 60, seed=0)
    assert u.shape == (3, 60, 1) and y.shape == (3, 60)
    assert (u >= 0).all() and (u <= 0.5).all() and np.abs(y).max() <= 1
    t = 30
    i = 1
    expected = 0.3 * y[i, t] + 0.05 * y[i, t] * y[i, t - 9 : t + 1].sum() + 1.5 * u[i, t - 9, 0] * u[i, t, 0] + 0.1
    assert y[i, t + 1] == pytest.approx(expected, rel=1e-14)


def test_switching_ar2_statistics():
    X, Z = switching_ar2(40, 200, seed=1)
    switches = (np.diff(Z, axis=1) != 0).mean()
    # stay 0.98: a switch per step with probability 0.02 (SE ~ 0.0016 over 7,960 steps)
    assert abs(switches - 0.02) < 0.008
    # within regime 0, the residual of its own AR(2) law has std 0.5
    x = X[..., 0]
    r = []
    for i in range(40):
        for t in range(2, 200):
            if Z[i, t] == 0:
                r.append(x[i, t] - 1.4 * x[i, t - 1] + 0.6 * x[i, t - 2])
    assert abs(np.std(r) - 0.5) < 0.03


def test_filter_equals_brute_force_posterior():
    """For T = 5 the filter's P(z_t | x_0..x_t) equals the sum over all 3^(t+1)
    regime paths of prior x likelihood, computed independently."""
    X, _ = switching_ar2(2, 5, seed=2)
    post = regime_filter(X)
    k, stay = 3, 0.98
    A = np.full((k, k), 0.01)
    np.fill_diagonal(A, stay)
    x = X[..., 0]
    for i in range(2):
        for t in range(5):
            w = np.zeros(k)
            for path in itertools.product(range(k), repeat=t + 1):
                p = 1.0 / k
                for s in range(1, t + 1):
                    p *= A[path[s - 1], path[s]]
                for s in range(t + 1):
                    a1, a2 = REGIMES[path[s]]
                    x1 = x[i, s - 1] if s >= 1 else 0.0
                    x2 = x[i, s - 2] if s >= 2 else 0.0
                    p *= norm.pdf(x[i, s], a1 * x1 + a2 * x2, 0.5)
                w[path[-1]] += p
            np.testing.assert_allclose(post[i, t], w / w.sum(), rtol=1e-10)


def test_bayes_ceiling_beats_chance():
    X, Z = switching_ar2(20, 200, seed=3)
    acc = (regime_filter(X).argmax(-1) == Z).mean()
    assert 0.6 < acc < 1.0


def test_errors():
    with pytest.raises(ValueError, match="length"):
        narma10(2, 5, seed=0)
    with pytest.raises(ValueError, match="stay"):
        switching_ar2(2, 5, seed=0, stay=1.0)
