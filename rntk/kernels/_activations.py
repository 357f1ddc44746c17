"""Dual activations V_phi and V_phi'.

For a 2x2 covariance K = [[K1, K3], [K3, K2]] of a centred Gaussian pair (u, v),
V_phi[K] = E[phi(u) phi(v)] and V_phi'[K] = E[phi'(u) phi'(v)].

Three forms share one interface:

* ``pair(k1, k2, k3, xp)`` on arrays of any array namespace ``xp`` (numpy now,
  CuPy later);
* ``diag(k, xp)``, the exact c = 1 case of a sequence paired with itself
  (a naive c can land one ulp below 1);
* ``scalar(k1, k2, k3, M)`` on scalars of the math namespace ``M`` (``math``
  for float64, ``mpmath`` for the 50-digit reference).

ReLU and erf use their closed forms (the erf form with the printed erratum
fixed). Any other vectorised callable is integrated by a tensor-product
Gauss-Hermite rule (see :class:`QuadratureDual` for its accuracy).
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["get_dual", "ReluDual", "ErfDual", "QuadratureDual"]


def relu_snap(dtype=np.float64) -> float:
    """Distance from +-1 within which a ReLU correlation c is taken as exactly +-1.

    arccos is ill-conditioned at c = 1: a c that is exactly 1 in exact
    arithmetic (identical or proportional inputs, sigma_u = 0, bias-only
    kernels) lands a few ulps below 1 after rounding and moves arccos by
    ~sqrt(2 * ulps) ~ 1e-8, i.e. ~1e-9 in the kernel. Rounding of c is a few
    ulps (fused path: ~6), so a true c this close to +-1 cannot be resolved
    anyway, and snapping costs no accuracy (the c = 1 rule generalised): 16 ulps.
    """
    return 16 * float(np.finfo(dtype).epsneg)


_SNAP64 = relu_snap(np.float64)


class ReluDual:
    name = "relu"
    fused = True

    @staticmethod
    def pair(k1, k2, k3, xp=np):
        # not sqrt(k1 * k2): the product overflows at half the exponent range
        # (float32: variances of 2e19), far inside the range the Gram is checked for
        s = xp.sqrt(k1) * xp.sqrt(k2)
        # zero variance: V' is undefined; by convention it takes the c = 0 value 1/4.
        safe = xp.where(s > 0, s, 1.0)
        c = xp.where(s > 0, k3 / safe, 0.0)
        snap = relu_snap(c.dtype) if c.dtype in (np.float32, np.float64) else _SNAP64
        c = xp.where(c > 1.0 - snap, 1.0, xp.where(c < snap - 1.0, -1.0, c))
        theta = xp.arccos(c)
        v = (c * (math.pi - theta) + xp.sqrt(1.0 - c * c)) * s / (2 * math.pi)
        d = (math.pi - theta) / (2 * math.pi)
        return v, d

    @staticmethod
    def diag(k, xp=np):
        return k / 2.0, xp.where(k > 0, 0.5, 0.25)

    @staticmethod
    def scalar(k1, k2, k3, M=math):
        s = M.sqrt(k1) * M.sqrt(k2)  # see pair
        c = k3 / s if s > 0 else 0 * s
        if M is math:  # float64 only; many-digit arithmetic needs no snapping
            c = 1.0 if c > 1.0 - _SNAP64 else (-1.0 if c < _SNAP64 - 1.0 else c)
        c = min(max(c, -1), 1)
        theta = M.acos(c)
        return (c * (M.pi - theta) + M.sqrt(1 - c * c)) * s / (2 * M.pi), (M.pi - theta) / (2 * M.pi)

    @staticmethod
    def scalar_diag(k, M=math):
        return k / 2, (k * 0 + 1) / (2 if k > 0 else 4)


class ErfDual:
    name = "erf"
    fused = True

    @staticmethod
    def pair(k1, k2, k3, xp=np):
        a = (1.0 + 2.0 * k1) * (1.0 + 2.0 * k2)
        r = xp.clip(2.0 * k3 / xp.sqrt(a), -1.0, 1.0)
        return 2.0 / math.pi * xp.arcsin(r), 4.0 / (math.pi * xp.sqrt(a - 4.0 * k3 * k3))

    @staticmethod
    def diag(k, xp=np):
        return 2.0 / math.pi * xp.arcsin(2.0 * k / (1.0 + 2.0 * k)), 4.0 / (
            math.pi * xp.sqrt(1.0 + 4.0 * k)
        )

    @staticmethod
    def scalar(k1, k2, k3, M=math):
        a = (1 + 2 * k1) * (1 + 2 * k2)
        r = min(max(2 * k3 / M.sqrt(a), -1), 1)
        return 2 / M.pi * M.asin(r), 4 / (M.pi * M.sqrt(a - 4 * k3 * k3))

    @staticmethod
    def scalar_diag(k, M=math):
        return 2 / M.pi * M.asin(2 * k / (1 + 2 * k)), 4 / (M.pi * M.sqrt(1 + 4 * k))


def _check_vectorised(fn: Callable, what: str) -> None:
    """Raise ValueError unless ``fn`` maps a float64 array to finite real floats of its shape.

    The quadrature evaluates ``fn`` on whole (pairs, nodes, nodes) arrays: a
    scalar function, a reduction or a slice would broadcast into a wrong but
    finite kernel, and a NaN spreads through the whole Gram. The probe is
    three-dimensional, like those arrays, and covers |z| <= 6, the bulk of a
    unit Gaussian.
    """
    probe = np.linspace(-6.0, 6.0, 24).reshape(2, 3, 4)
    try:
        with np.errstate(all="ignore"):  # a NaN or inf is reported below, as an error
            out = fn(probe.copy())
    except Exception as e:  # noqa: BLE001 - any failure on an array means not vectorised
        raise ValueError(
            f"{what} {_name(fn)} failed on a float64 array of shape {probe.shape} "
            f"({type(e).__name__}: {e}); it must be a vectorised (elementwise, numpy) function"
        ) from e
    out = np.asarray(out)
    if out.shape != probe.shape:
        raise ValueError(
            f"{what} {_name(fn)} returned shape {out.shape} for an input of shape {probe.shape}; "
            "it must act elementwise and keep its input's shape"
        )
    if not np.issubdtype(out.dtype, np.floating):
        raise ValueError(
            f"{what} {_name(fn)} returned dtype {out.dtype}; it must return real floating-point "
            "values (e.g. multiply a boolean step by 1.0)"
        )
    if not np.isfinite(out).all():
        k = int(np.argmax(~np.isfinite(out).ravel()))
        raise ValueError(
            f"{what} {_name(fn)} returned {out.ravel()[k]} at z = {probe.ravel()[k]:.3g}; "
            "it must return finite values for finite inputs"
        )


def _name(fn) -> str:
    return getattr(fn, "__name__", None) or repr(fn)


def _central_difference(fn: Callable, h: float = 1e-3) -> Callable:
    """Five-point derivative: error O(h^4 phi^(5)) + O(eps/h), ~1e-12 for smooth phi."""

    def dfn(z):
        return (fn(z - 2 * h) - 8 * fn(z - h) + 8 * fn(z + h) - fn(z + 2 * h)) / (12 * h)

    return dfn


class QuadratureDual:
    """Dual of an arbitrary vectorised activation by Gauss-Hermite quadrature.

    V[K] = E[phi(u) phi(v)] with u = sqrt(K1) z1, v = sqrt(K2)(c z1 + sqrt(1-c^2) z2),
    z1, z2 i.i.d. N(0, 1), integrated by the ``n_nodes``-point probabilists'
    Gauss-Hermite rule in each variable.

    Accuracy: the rule integrates phi(sqrt(K) z) exactly only when it is close
    to a polynomial over the nodes' range, so it degrades as the variances grow
    and phi saturates sharply. Measured max abs error for erf over K1, K2 in
    [0.01, Kmax], all correlations (``tests/test_activations.py`` checks the
    first two rows):

    ========  ========  ========  =========
    n_nodes   Kmax = 1  Kmax = 3  Kmax = 10
    ========  ========  ========  =========
    64        5e-12     3e-5      2e-2
    128       4e-16     2e-9      8e-4
    ========  ========  ========  =========

    Kinked activations converge only algebraically (ReLU: ~1e-4 at 64 nodes).
    Prefer a closed form ("relu", "erf") where one exists. Without
    ``derivative``, phi' is a five-point central difference with h = 1e-3
    (error ~1e-12 for smooth phi, O(h) near a kink).

    The rule above is not symmetric in (K1, K2): swapping them integrates
    along other directions, with a different quadrature error (tanh: ~1e-4
    apart). The pair is therefore always evaluated with the smaller variance
    as K1, so that V[K] and V'[K] are exactly symmetric (a kernel's ``gram(Y,
    X)`` is exactly ``gram(X, Y).T``). Either orientation has the same error
    (the table above holds for both).

    ``fn`` and ``derivative`` are checked on a probe array at construction:
    they must keep its shape and return finite real floats.
    """

    fused = False

    def __init__(self, fn: Callable, derivative: Callable | None = None, n_nodes: int = 64):
        _check_vectorised(fn, "activation")
        if derivative is not None:
            _check_vectorised(derivative, "activation_derivative")
        self.fn = fn
        self.dfn = derivative if derivative is not None else _central_difference(fn)
        self.name = _name(fn)
        z, w = np.polynomial.hermite_e.hermegauss(n_nodes)
        self.z = z
        self.w = w / math.sqrt(2 * math.pi)

    def pair(self, k1, k2, k3, xp=np):
        # the rule runs in float64; the result has the inputs' dtype, so that a float32
        # recursion stays float32 throughout (a float64 state would make a pair's
        # rounding depend on which other pairs share its tile)
        out = np.result_type(k1, k2, k3)
        k1, k2, k3 = (np.asarray(a, dtype=np.float64) for a in (k1, k2, k3))
        shape = np.broadcast(k1, k2, k3).shape
        k1, k2, k3 = (np.broadcast_to(a, shape).ravel() for a in (k1, k2, k3))
        k1, k2 = np.minimum(k1, k2), np.maximum(k1, k2)  # symmetry: see the class docstring
        v = np.empty(k1.shape)
        d = np.empty(k1.shape)
        s = np.sqrt(k1 * k2)
        c = np.clip(np.divide(k3, s, out=np.zeros_like(s), where=s > 0), -1.0, 1.0)
        z1, z2 = self.z[:, None], self.z[None, :]
        ww = self.w[:, None] * self.w[None, :]
        chunk = max(1, 2**20 // z1.size**2)
        for a in range(0, len(v), chunk):
            sl = slice(a, a + chunk)
            r1 = np.sqrt(k1[sl])[:, None, None]
            r2 = np.sqrt(k2[sl])[:, None, None]
            cc = c[sl][:, None, None]
            u = r1 * z1
            w_ = r2 * (cc * z1 + np.sqrt(1 - cc * cc) * z2)
            v[sl] = np.sum(ww * self.fn(u) * self.fn(w_), axis=(1, 2))
            d[sl] = np.sum(ww * self.dfn(u) * self.dfn(w_), axis=(1, 2))
        return xp.asarray(v.reshape(shape).astype(out, copy=False)), xp.asarray(d.reshape(shape).astype(out, copy=False))

    def diag(self, k, xp=np):
        out = np.result_type(k)
        k = np.asarray(k, dtype=np.float64)
        u = np.sqrt(k)[..., None] * self.z
        v = np.sum(self.w * self.fn(u) ** 2, axis=-1)
        d = np.sum(self.w * self.dfn(u) ** 2, axis=-1)
        return xp.asarray(v.astype(out, copy=False)), xp.asarray(d.astype(out, copy=False))

    def scalar(self, k1, k2, k3, M=math):
        v, d = self.pair(np.float64(k1), np.float64(k2), np.float64(k3))
        return float(v), float(d)

    def scalar_diag(self, k, M=math):
        v, d = self.diag(np.float64(k))
        return float(v), float(d)


_NAMED = {"relu": ReluDual(), "erf": ErfDual()}


def get_dual(activation, derivative=None):
    """Return the dual object for ``activation`` ("relu", "erf" or a callable)."""
    if isinstance(activation, str):
        try:
            return _NAMED[activation.lower()]
        except KeyError:
            raise ValueError(
                f"unknown activation {activation!r}; use 'relu', 'erf' or a "
                "vectorised callable"
            ) from None
    if callable(activation):
        return QuadratureDual(activation, derivative)
    raise ValueError(
        f"activation must be 'relu', 'erf' or a vectorised callable, got {activation!r}"
    )
