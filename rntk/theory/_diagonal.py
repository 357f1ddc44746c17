"""The diagonal Elman RNN of Cayci & Eryilmaz, in numpy: the model and its kernels.

    H_t^(i) = sigma(W_ii H_{t-1}^(i) + U_i . X_{t-1}),  H_0 = 0,
    F_t     = m^(-1/2) sum_i c_i H_t^(i),

with sigma(z) = tanh(gain * z) (sigma_0 = 1, sigma_1 = gain). Only
(diag W, U) are trained; c is fixed. Inputs are arrays of shape
(n, T, d): X[:, s] is the paper's X_s, s = 0 .. T-1, and F_t reads X_0 .. X_{t-1}.

Per-neuron sensitivities follow the chain rule (the paper's eq. 7):
    dH_t/dW_ii = (H_{t-1} + W_ii dH_{t-1}/dW_ii) I_{t-1},
    dH_t/dU_i  = (X_{t-1} + W_ii dH_{t-1}/dU_i) I_{t-1},
with I_{t-1} = sigma'(W_ii H_{t-1} + U_i . X_{t-1}). They give the empirical
NTK, the gradient of the risk, and (over random draws of one neuron) the
limiting kernel kappa_t of Proposition 2.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import as_generator as _rng

__all__ = [
    "DiagonalRNN",
    "empirical_ntk_diagonal",
    "limiting_kernel",
    "mu0",
    "mu1",
    "sensitivities",
    "symmetric_init",
]



def _check_inputs(X, d=None, name="X") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 3:
        raise ValueError(f"{name} must have shape (n, T, d); got shape {X.shape}")
    if X.shape[0] < 1 or X.shape[1] < 1 or X.shape[2] < 1:
        raise ValueError(f"{name} must be non-empty; got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if d is not None and X.shape[2] != d:
        raise ValueError(f"{name} has {X.shape[2]} features; the network expects {d}")
    return X


def _check_positive(value, name, allow_zero=False):
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite; got {value!r}")
    return v


@dataclass(frozen=True)
class DiagonalRNN:
    """Parameters of a diagonal Elman RNN.

    Attributes
    ----------
    w : ndarray of shape (m,)
        Diagonal of the recurrent matrix W.
    U : ndarray of shape (m, d)
        Input weights (row i is U_i).
    c : ndarray of shape (m,)
        Fixed read-out weights.
    w0, U0 : ndarrays of shapes (m,), (m, d)
        The initial values (centres of the projection balls).
    gain : float
        sigma(z) = tanh(gain * z).
    """

    w: np.ndarray
    U: np.ndarray
    c: np.ndarray
    w0: np.ndarray
    U0: np.ndarray
    gain: float = 1.0

    @property
    def m(self) -> int:
        return self.w.shape[0]

    @property
    def d(self) -> int:
        return self.U.shape[1]

    def outputs(self, X) -> np.ndarray:
        """F_t for t = 1 .. T: ndarray of shape (n, T)."""
        X = _check_inputs(X, self.d)
        H = _states(self.w, self.U, X, self.gain)
        return (H[1:] @ self.c / np.sqrt(self.m)).T

    def __post_init__(self):
        m = self.w.shape[0]
        if self.w.shape != (m,) or self.c.shape != (m,) or self.U.ndim != 2 or self.U.shape[0] != m:
            raise ValueError("w, c must have shape (m,) and U shape (m, d)")


def symmetric_init(m: int, d: int, alpha: float, seed=None, *, gain: float = 1.0) -> DiagonalRNN:
    """Symmetric random initialisation (the paper's Definition 1).

    c_i ~ Rad_1, W_ii ~ Rad_alpha (+-alpha), U_i ~ N(0, I_d) for the first m/2
    neurons; the second half copies W and U and negates c, so that
    F_t(X; Theta(0)) = 0 for every input.

    Parameters
    ----------
    m : int, even, >= 2
    d : int, >= 1
    alpha : float, > 0
    seed : int, None or numpy Generator
    gain : float, > 0 (sigma = tanh(gain z))
    """
    if int(m) != m or m < 2 or m % 2:
        raise ValueError(f"m must be an even integer >= 2; got {m!r}")
    if int(d) != d or d < 1:
        raise ValueError(f"d must be a positive integer; got {d!r}")
    alpha = _check_positive(alpha, "alpha")
    gain = _check_positive(gain, "gain")
    rng = _rng(seed)
    h = m // 2
    c = rng.choice([-1.0, 1.0], size=h)
    w = alpha * rng.choice([-1.0, 1.0], size=h)
    U = rng.standard_normal((h, d))
    w, U, c = np.concatenate([w, w]), np.concatenate([U, U]), np.concatenate([c, -c])
    return DiagonalRNN(w=w, U=U, c=c, w0=w.copy(), U0=U.copy(), gain=gain)


def _project(X, U):
    """U_i . X_t for every step, input and neuron: ndarray of shape (T, n, m).

    (A matmul: numpy's einsum takes a slow non-BLAS path here.)"""
    return np.ascontiguousarray(X.transpose(1, 0, 2)) @ U.T


def _states(w, U, X, gain):
    """Hidden states H_0 .. H_T: ndarray of shape (T+1, n, m)."""
    n, T, _ = X.shape
    H = np.zeros((T + 1, n, w.shape[0]))
    proj = _project(X, U)
    for t in range(1, T + 1):
        H[t] = np.tanh(gain * (w * H[t - 1] + proj[t - 1]))
    return H


def sensitivities(w, U, X, gain: float = 1.0, *, every_t: bool = True):
    """Per-neuron derivatives of H_t^(i) w.r.t. (W_ii, U_i), by the forward recursion.

    Parameters
    ----------
    w : ndarray of shape (m,)
    U : ndarray of shape (m, d)
    X : ndarray of shape (n, T, d)
    every_t : bool
        Return every t = 1 .. T (leading axis T) or only t = T.

    Returns
    -------
    H : ndarray of shape (T+1, n, m)
    SW : ndarray of shape (T, n, m) or (n, m)
    SU : ndarray of shape (T, n, m, d) or (n, m, d)
    """
    w = np.asarray(w, dtype=float)
    U = np.asarray(U, dtype=float)
    X = _check_inputs(X, U.shape[1])
    n, T, d = X.shape
    m = w.shape[0]
    H = np.zeros((T + 1, n, m))
    proj = _project(X, U)
    sw = np.zeros((n, m))
    su = np.zeros((n, m, d))
    SW = np.empty((T, n, m)) if every_t else None
    SU = np.empty((T, n, m, d)) if every_t else None
    for t in range(1, T + 1):
        a = gain * (w * H[t - 1] + proj[t - 1])
        H[t] = np.tanh(a)
        deriv = gain * (1.0 - H[t] ** 2)  # I_{t-1}
        sw = (H[t - 1] + w * sw) * deriv
        su = (X[:, t - 1, None, :] + w[None, :, None] * su) * deriv[..., None]
        if every_t:
            SW[t - 1], SU[t - 1] = sw, su
    return (H, SW, SU) if every_t else (H, sw, su)


def empirical_ntk_diagonal(model: DiagonalRNN, X, Y=None) -> np.ndarray:
    """Finite-width NTK of F_T: sum_i <d F_T(X)/d Theta_i, d F_T(Y)/d Theta_i>.

    Returns ndarray of shape (n_X, n_Y).
    """
    X = _check_inputs(X, model.d)
    Y = X if Y is None else _check_inputs(Y, model.d, "Y")
    _, swx, sux = sensitivities(model.w, model.U, X, model.gain, every_t=False)
    if Y is X:
        swy, suy = swx, sux
    else:
        _, swy, suy = sensitivities(model.w, model.U, Y, model.gain, every_t=False)
    c2 = model.c**2 / model.m
    return np.einsum("am,bm,m->ab", swx, swy, c2) + np.einsum("amd,bmd,m->ab", sux, suy, c2)


def _closed_form_features(w0, u0, X, gain, start):
    """A = sum_{k>=start}^{t-1} w^k X_{t-k-1} P_k and B = same with h_{t-k-1}, t = T.

    P_k = prod_{s=0}^{k} I_{t-s-1}. The explicit double sum of Proposition 2
    factorises as <A, A'> + B B'. Shapes: A (M, n, d), B (M, n). ``start`` may
    be a tuple of starts; then a list of (A, B) pairs is returned, one per start.
    """
    starts = tuple(start) if isinstance(start, (tuple, list)) else (start,)
    n, T, d = X.shape
    M = w0.shape[0]
    proj = _project(X, u0)  # (T, n, M)
    H = np.zeros((T + 1, n, M))
    Ider = np.empty((T, n, M))  # I_s = sigma'(pre-activation that makes H_{s+1})
    for s_ in range(T):
        H[s_ + 1] = np.tanh(gain * (w0 * H[s_] + proj[s_]))
        Ider[s_] = gain * (1.0 - H[s_ + 1] ** 2)
    t = T
    out = {st: (np.zeros((M, n, d)), np.zeros((M, n))) for st in starts}
    P = np.ones((n, M))
    for k in range(t):
        P = P * Ider[t - k - 1]  # now prod_{s=0}^{k} I_{t-s-1}
        termA = termB = None
        for st, (A, B) in out.items():
            if k < st:
                continue
            if termA is None:
                wkP = (w0**k * P).T  # (M, n)
                termA = wkP[:, :, None] * X[None, :, t - k - 1, :]
                termB = wkP * H[t - k - 1].T
            A += termA
            B += termB
    res = [out[st] for st in starts]
    return res if isinstance(start, (tuple, list)) else res[0]


def limiting_kernel(X, Y=None, *, alpha: float, n_draws: int = 2**16, seed=None, start: int = 0,
                    gain: float = 1.0, chunk: int = 2**14, return_variance: bool = False):
    """Monte Carlo estimate of the limiting NTK kappa_T(X, Y) of Proposition 2.

    kappa_T = E[ sum_{k,l=start}^{T-1} w0^(k+l) (X_{T-k-1}.Y_{T-l-1} + h_{T-k-1}(X) h_{T-l-1}(Y))
                 prod_{s=0}^{k} I_{T-s-1}(X) prod_{s=0}^{l} I_{T-s-1}(Y) ]
    over w0 ~ Rad_alpha, u0 ~ N(0, I_d). ``start=0`` is what Proposition 1
    implies (the limit of the finite-width NTK); ``start=1`` is the printed
    index range of Proposition 2.

    Parameters
    ----------
    X : ndarray of shape (n, T, d); Y likewise (n_Y, T, d) or None.
    n_draws : int
        Number of (w0, u0) draws.
    start : 0, 1 or a tuple of them
        First index of the double sum; a tuple gives one kernel per start from
        the same draws (stacked along a new first axis).
    return_variance : bool
        Also return the per-draw variance of each entry (for the Monte Carlo
        error of a width-m network: var / (m / 2)).

    Returns
    -------
    K : ndarray of shape (n, n_Y), and with ``return_variance`` the variance
    array of the same shape.
    """
    X = _check_inputs(X)
    Y = X if Y is None else _check_inputs(Y, X.shape[2], "Y")
    if Y.shape[1] != X.shape[1]:
        raise ValueError("X and Y must have the same number of time steps")
    alpha = _check_positive(alpha, "alpha")
    if int(n_draws) != n_draws or n_draws < 2:
        raise ValueError(f"n_draws must be an integer >= 2; got {n_draws!r}")
    starts = tuple(start) if isinstance(start, (tuple, list)) else (start,)
    if not starts or any(st not in (0, 1) for st in starts):
        raise ValueError(f"start must be 0 or 1 (or a tuple of them); got {start!r}")
    rng = _rng(seed)
    d = X.shape[2]
    s1 = np.zeros((len(starts), X.shape[0], Y.shape[0]))
    s2 = np.zeros_like(s1)
    done = 0
    while done < n_draws:
        c = min(chunk, n_draws - done)
        w0 = alpha * rng.choice([-1.0, 1.0], size=c)
        u0 = rng.standard_normal((c, d))
        fx = _closed_form_features(w0, u0, X, gain, starts)
        fy = fx if Y is X else _closed_form_features(w0, u0, Y, gain, starts)
        for j, ((Ax, Bx), (Ay, By)) in enumerate(zip(fx, fy)):
            prod = Ax @ Ay.transpose(0, 2, 1) + Bx[:, :, None] * By[:, None, :]  # per draw, (n, n_Y)
            s1[j] += prod.sum(0)
            s2[j] += (prod**2).sum(0)
        done += c
    K = s1 / n_draws
    var = (s2 / n_draws - K**2) * n_draws / (n_draws - 1)
    if not isinstance(start, (tuple, list)):
        K, var = K[0], var[0]
    return (K, var) if return_variance else K


def mu0(z, t):
    """mu_{0,t}(z) = sum_{k=0}^{t-1} z^k (eq. 10)."""
    return float(sum(float(z) ** k for k in range(int(t))))


def mu1(z, t):
    """mu_{1,t}(z) = sum_{k=0}^{t-1} (k+1) z^k (eq. 10)."""
    return float(sum((k + 1) * float(z) ** k for k in range(int(t))))
