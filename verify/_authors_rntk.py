"""The RNTK authors' own kernel code (github.com/moonlightlane/RNTK_UCI), restated as an oracle.

``authors_kernel`` restates, in float64 numpy and in our own words, the
recursion that their ``RNTK_avg.RNTK.RNTK_function`` evaluates (JAX/symjax,
float32, one input feature, equal lengths, sigma_v = 1), together with the
data handling of ``RNTK_UCI_hyperparam.py`` / ``tools.py``: every series is
divided by the largest row norm of the data set (``normalizeData``; here
``SeriesScaler("dataset-max")``), and ``Flip`` = 0 reverses time, 1 keeps
it, 2 adds the Grams of both (``Augdata``). Their function returns two Grams:
``RNTK_last`` (avg = 0) and ``RNTK_avg`` (avg = 1).

The recursion, over the N x N Gram of the whole data set, for layers
l = 0..L-1 (0-based) and steps t = 1..T:

    Sigma(l, 1)  = sh^2 sw^2 I + su^2 [input or V(Sigma(l-1, 1))] + sb^2
    Sigma(l, t)  = sw^2 V(Sigma(l, t-1)) + su^2 [input or V(Sigma(l-1, t))] + sb^2
    Q(l, t)      = Sigma(l, t) + [l >= Lf] sw^2 Q(l, t-1) V'(Sigma(l, t-1))
                               + [l-1 >= Lf] su^2 Q(l-1, t) V'(Sigma(l-1, t))
    Theta_t      = V(Sigma(L-1, t)) + [Lf < L] Q(L-1, t) V'(Sigma(L-1, t))
    RNTK_last    = Theta_T
    RNTK_avg     = (sum_{t=1..T} Theta_t + Theta_T) / T

(V, V': the ReLU arc-cosine duals, products elementwise). Findings (asserted in
tests/test_authors_parity.py, tabulated by verify/authors_parity.py):

* sigma_h: their ``sh^2 sw^2 * eye(N)`` puts the initial-state term on the
  diagonal of the one Gram only, i.e. keyed on "same row" -- rntk's
  ``gram(X)`` convention (a sample meets its own initial state), not
  ``gram(X, X)``, which never adds it.
* Lf = 0: rntk's NTK; Lf = L: rntk's NNGP (their Theta_t has no Q term).
* 0 < Lf < L: the kernel of the network whose lowest Lf layers are frozen,
  i.e. rntk's ``frozen_layers=Lf`` (a frozen layer's Q is computed but never
  propagated upwards, and the first trained layer restarts from its own
  Sigma). It equals ``RNTK(frozen_layers=Lf)`` to rounding and differs from
  the full NTK by 20-40 % here; no 7-16 % discrepancy with the frozen kernel
  exists.
* avg = 1: the running output sum ``rntk_old[L]`` accumulates Theta_t, the
  kernel of the prefixes x_{1:t} (equal lengths, so start and end alignment
  coincide), and ``RNTK_output`` adds the last one once more. So RNTK_avg =
  (sum_t Theta_t + Theta_T)/T = per-step read-out kernel + Theta_T / T, where
  the per-step read-out kernel (``pair_per_step``: an independent read-out
  at every step, 1/sqrt(T) scaling) is (1/T) sum_t Theta_t. It is not the
  kernel of an averaged read-out with one shared vector (that would carry
  cross-time terms); it is the kernel of the per-step read-out network with a
  second independent read-out on the last state.

Numerics: their code takes arccos of the clipped correlation also on the
diagonal, where it is 1 only up to rounding (float32 there); arccos(1 - e)
~ sqrt(2 e) turns that into a ~1e-8 error in V'. Here the diagonal
correlation is set to exactly 1, as rntk does for a sample with itself, so
the comparison can be at 1e-10 (1e-9 for sb = sh = 0: every first-step correlation
is then +-1, where arccos amplifies rounding).
"""
from __future__ import annotations

import numpy as np

__all__ = ["authors", "authors_kernel", "DIRECTION"]

#: their Flip values as rntk directions
DIRECTION = {0: "reversed", 1: "forward", 2: "bidirectional"}


def _relu_duals(S):
    """(V, V') of the ReLU for a Gram S of pre-activation covariances."""
    scale = np.sqrt(np.diag(S))
    C = np.outer(scale, scale)
    rho = np.clip(S / C, -1.0, 1.0)
    np.fill_diagonal(rho, 1.0)  # exact for a sample with itself (see module docstring)
    angle = np.pi - np.arccos(rho)
    V = C * (rho * angle + np.sqrt(1.0 - rho**2)) / (2 * np.pi)
    return V, angle / (2 * np.pi)


def authors_kernel(X, sw, su, sb, sh, L, Lf, avg):
    """Their Gram over the rows of X (N, T), one feature, sigma_v = 1; see the module docstring."""
    n_samples, n_steps = X.shape
    eye = np.eye(n_samples)
    sigma, q = [None] * L, [None] * L
    theta_sum = 0.0
    for t in range(n_steps):
        inp = np.outer(X[:, t], X[:, t])
        new_sigma, new_q = [None] * L, [None] * L
        for l in range(L):
            if t == 0:
                recurrent = sh**2 * sw**2 * eye  # the initial state: same row only
            else:
                v_prev, d_prev = _relu_duals(sigma[l])
                recurrent = sw**2 * v_prev
            if l == 0:
                below = inp
            else:
                v_below, d_below = _relu_duals(new_sigma[l - 1])
                below = v_below
            new_sigma[l] = recurrent + su**2 * below + sb**2
            acc = new_sigma[l].copy()
            if t > 0 and l >= Lf:
                acc += sw**2 * q[l] * d_prev
            if l > 0 and l - 1 >= Lf:
                acc += su**2 * new_q[l - 1] * d_below
            new_q[l] = acc
        sigma, q = new_sigma, new_q
        v_top, d_top = _relu_duals(sigma[L - 1])
        theta = v_top + (Lf != L) * q[L - 1] * d_top
        theta_sum = theta_sum + theta
    return (theta_sum + theta) / n_steps if avg else theta


def authors(X, sw, su, sb, sh, L, Lf, flip, avg):
    """Their Flip handling (Augdata): 0 reversed time, 1 as is, 2 the sum of both Grams."""
    views = {0: [X[:, ::-1]], 1: [X], 2: [X[:, ::-1], X]}[flip]
    return sum(authors_kernel(np.ascontiguousarray(v), sw, su, sb, sh, L, Lf, avg) for v in views)
