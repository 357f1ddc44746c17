"""Infinite-width NTK and NNGP of single-layer GRU and LSTM networks with untied weights.

The networks, the derivation and what does and does not close are in
``docs/gated.md``; ``rntk.empirical.GatedRNN`` is the finite network these are
the limits of. Two kernels:

* :class:`GRUNTK`: exact recursion in E[h h'] with 2-D Gaussian expectations
  of sigmoid and tanh;
* :class:`LSTMNTK`: ``cell_activation="identity"`` (h = o * c) closes in
  E[c c'] and is computed the same way; the standard cell h = o * tanh(c) does
  not close in any finite set of moments (E[tanh c tanh c'] needs the law of
  the non-Gaussian cell pair), and its limit is computed by a sequential Monte
  Carlo over one unit's cell path (``n_paths`` paths, seeded), the statistical
  error of which is stated in the docs.

The 2-D expectations are computed two independent ways: Mehler's Hermite
series from per-sequence coefficients ("cpu-series", the default: O(terms) a
pair and step) and the tensor Gauss-Hermite rule of :class:`QuadratureDual`
("cpu-vectorized", and "reference", the per-pair loops of
:mod:`._gated_reference`). Accuracy tables are in the docs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from .._validation import check_finite_result, check_pair, check_positive_int, check_sequences, check_sigma
from ._activations import QuadratureDual
from ._batching import batched_gram, pairwise
from ._declaration import Capabilities, KernelResult, check_dtype

__all__ = ["GRUNTK", "LSTMNTK", "GATED_BACKENDS"]

#: The backends of the gated kernels.
GATED_BACKENDS = {
    "auto": "cpu-fused",
    "cpu-fused": "numba: each pair's recursion in one compiled loop, pairs in parallel, gate expectations "
                 "by Mehler's series from the same tables as cpu-series (equal to it up to rounding; the fast path)",
    "cpu-series": "the recursion vectorised over pairs, gate expectations by Mehler's Hermite series "
                  "(O(SERIES_TERMS) a pair and step after an O(N T SERIES_TERMS^2) table)",
    "cpu-vectorized": "the recursion vectorised over pairs, gate expectations by 2-D Gauss-Hermite "
                      "(O(n_nodes^2) a pair and step)",
    "reference": "the literal per-pair recursion in Python floats, 2-D Gauss-Hermite (slow; for checking)",
}
CELL_ACTIVATIONS = ("tanh", "identity")


def _expit(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # = 1 / (1 + exp(-z)), without overflow


def _dexpit(z):
    s = _expit(z)
    return s * (1.0 - s)


def _dtanh(z):
    return 1.0 - np.tanh(z) ** 2


#: Points of the 1-D rules (numpy's Gauss-Hermite weights underflow beyond ~300 points).
_MAX_1D = 256
#: Terms of Mehler's series (the fast path); 2 * SERIES_TERMS points for their coefficients.
SERIES_TERMS = 128


class _GateDual:
    """V = E[f(u) f(v)] and V' = E[f'(u) f'(v)] of one gate function f.

    Pairs by the n_nodes^2 tensor Gauss-Hermite rule (:class:`QuadratureDual`);
    the diagonal (u = v, a 1-D integral) by a min(4 n_nodes, 256)-point rule, which
    costs nothing and keeps the self variances, which every pair uses, far
    more accurate than the pairs.
    """

    def __init__(self, fn, dfn, n_nodes):
        self._pair = QuadratureDual(fn, dfn, n_nodes=n_nodes)
        self._diag = QuadratureDual(fn, dfn, n_nodes=min(4 * n_nodes, _MAX_1D))
        self.name = self._pair.name

    def pair(self, k1, k2, k3, xp=np):
        return self._pair.pair(k1, k2, k3, xp)

    def scalar(self, k1, k2, k3, M=math):
        return self._pair.scalar(k1, k2, k3, M)

    def diag(self, k, xp=np):
        return self._diag.diag(k, xp)

    def scalar_diag(self, k, M=math):
        return self._diag.scalar_diag(k, M)


@lru_cache(maxsize=8)
def _duals(n_nodes: int):
    """(sigmoid, tanh) gate duals of an n_nodes rule."""
    return _GateDual(_expit, _dexpit, n_nodes), _GateDual(np.tanh, _dtanh, n_nodes)


class _ShiftedSigmoid:
    """u -> sigmoid(u + mu), or its derivative: a gate whose bias has mean mu."""

    def __init__(self, mu: float, derivative: bool = False):
        self.mu, self.derivative = mu, derivative
        self.__name__ = f"{'d' if derivative else ''}sigmoid(u + {mu:g})"

    def __call__(self, u):
        return (_dexpit if self.derivative else _expit)(np.asarray(u) + self.mu)


@lru_cache(maxsize=16)
def _gate_duals(n_nodes: int, mu: float):
    """(sigmoid, tanh, sigmoid(. + mu)) gate duals of an n_nodes rule (the last is the first when mu = 0)."""
    sig, tnh = _duals(n_nodes)
    return sig, tnh, (sig if mu == 0 else _GateDual(_ShiftedSigmoid(mu), _ShiftedSigmoid(mu, True), n_nodes))


@lru_cache(maxsize=16)
def _mean_rule(n_points: int):
    z, w = np.polynomial.hermite_e.hermegauss(n_points)
    return z, w / math.sqrt(2 * math.pi)


def gate_mean(variance, mu: float, n_points: int = _MAX_1D):
    """E[sigmoid(u + mu)], u ~ N(0, variance): a 1-D Gauss-Hermite rule (exactly 1/2 for mu = 0)."""
    variance = np.asarray(variance, dtype=np.float64)
    if mu == 0:
        return np.full(variance.shape, 0.5)
    z, w = _mean_rule(n_points)
    return np.sum(w * _expit(np.sqrt(variance)[..., None] * z + mu), axis=-1)


@lru_cache(maxsize=8)
def _hermite_basis(n_terms: int, n_points: int):
    """Nodes z (n_points,) and weighted normalised Hermite polynomials w_i He_k(z_i)/sqrt(k!) (n_terms, n_points)."""
    z, w = np.polynomial.hermite_e.hermegauss(n_points)
    H = np.empty((n_terms, n_points))
    H[0] = 1.0
    if n_terms > 1:
        H[1] = z
    for k in range(1, n_terms - 1):
        H[k + 1] = (z * H[k] - math.sqrt(k) * H[k - 1]) / math.sqrt(k + 1)
    HW = H * (w / math.sqrt(2 * math.pi))
    HW[np.abs(HW) < 1e-250] = 0.0  # subnormal products slow the matrix product ~100x; their sum is < 1e-240
    return z, HW


def hermite_coefficients(fn, variance, n_terms: int):
    """alpha_k = E[fn(sqrt(variance) z) He_k(z)] / sqrt(k!), k < n_terms; shape variance.shape + (n_terms,).

    Mehler's formula: for (u, v) centred Gaussian with variances K1, K2 and
    correlation c, E[f(u) g(v)] = sum_k c^k alpha_k(f, K1) alpha_k(g, K2). The
    coefficients come from a 1-D Gauss-Hermite rule of 2 * n_terms points.
    """
    z, HW = _hermite_basis(n_terms, 2 * n_terms)
    variance = np.asarray(variance, dtype=np.float64)
    F = fn(np.sqrt(variance).reshape(-1, 1) * z)
    # einsum, not BLAS: a GEMM's rounding of a row depends on the matrix's size, and the Gram must not
    # depend on which other sequences share its tile
    return np.einsum("ni,ki->nk", F, HW).reshape(variance.shape + (n_terms,))


def _powers(c, n_terms):
    """c^k, k < n_terms, shape (P, n_terms) (a running product: ~20x faster than np.power)."""
    out = np.empty((len(c), n_terms))
    out[:, 0] = 1.0
    if n_terms > 1:
        out[:, 1:] = c[:, None]
        np.cumprod(out[:, 1:], axis=1, out=out[:, 1:])
    return out


def _horner(a, b, c, powers=None):
    """sum_k c^k a[:, k] b[:, k]."""
    powers = _powers(c, a.shape[1]) if powers is None else powers
    return np.einsum("pk,pk,pk->p", a, b, powers)


def _correlation(k1, k2, k3):
    s = np.sqrt(k1) * np.sqrt(k2)
    return np.clip(np.divide(k3, s, out=np.zeros_like(s), where=s > 0), -1.0, 1.0)


class _Quadrature:
    """Gate expectations of all pairs by the 2-D Gauss-Hermite rule: ``ev(which, column, K1, K2, K3)``,
    ``which``: 0 sigmoid, 1 tanh, 2 the sigmoid gate with the bias mean (``duals``: ``_gate_duals()``)."""

    def __init__(self, duals):
        self.duals = duals

    def __call__(self, which, col, k1, k2, k3):
        return self.duals[which].pair(k1, k2, k3)


class _Diag:
    """Gate expectations of a sample with itself (K1 = K2 = K3): the 1-D rule."""

    def __init__(self, duals):
        self.duals = duals

    def __call__(self, which, col, k1, k2, k3):
        return self.duals[which].diag(k1)


class _Series:
    """Gate expectations of all pairs by Mehler's series, from per-sequence coefficient tables.

    ``CX``, ``CY``: (N, W, 6, n_terms) coefficients of (f_0, f_0', f_1, f_1', f_2, f_2')
    at each sequence's self variance before each column; ``ip``, ``jp`` the
    pairs' rows in them. Exactly symmetric in the two sequences.
    """

    def __init__(self, CX, CY, ip, jp):
        self.CX, self.CY, self.ip, self.jp = CX, CY, ip, jp

    def __call__(self, which, col, k1, k2, k3):
        c = _correlation(k1, k2, k3)
        A, B = self.CX[self.ip, col, 2 * which : 2 * which + 2], self.CY[self.jp, col, 2 * which : 2 * which + 2]
        pw = _powers(c, A.shape[2])
        return _horner(A[:, 0], B[:, 0], c, pw), _horner(A[:, 1], B[:, 1], c, pw)


@dataclass(frozen=True)
class _GatedDeclaration:
    """Hyperparameters shared by the gated kernels (validated once, here)."""

    sigma_w: float = 1.0
    sigma_u: float = 1.0
    sigma_b: float = 0.0
    sigma_h: float = 0.0
    sigma_v: float = 1.0
    n_nodes: int = 64

    capabilities: ClassVar[Capabilities] = Capabilities(
        variable_length=True, diag=True, backends=tuple(GATED_BACKENDS), dtypes=("float64",), batch_size=True,
    )

    def __post_init__(self):
        for name in ("sigma_w", "sigma_u", "sigma_b", "sigma_h", "sigma_v") + self._extra_sigmas:
            object.__setattr__(self, name, check_sigma(getattr(self, name), name, None))
        n = check_positive_int(self.n_nodes, "n_nodes")
        if n < 8:
            raise ValueError(f"n_nodes must be >= 8 (Gauss-Hermite nodes per dimension), got {n}")
        object.__setattr__(self, "n_nodes", n)

    _extra_sigmas: ClassVar[tuple] = ()
    _bias_field: ClassVar[str] = ""  # the gate bias-mean field of the subclass

    @property
    def _mu(self) -> float:
        return getattr(self, self._bias_field)

    def _check_bias_mean(self):
        v = getattr(self, self._bias_field)
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not np.isfinite(v):
            raise ValueError(f"{self._bias_field} must be a finite real number, got {v!r}")
        object.__setattr__(self, self._bias_field, float(v))

    def duals(self):
        """The (sigmoid, tanh) dual activations of this kernel's quadrature rule."""
        return _duals(self.n_nodes)

    def _gate_duals(self):
        """(sigmoid, tanh, sigmoid(. + bias mean)) duals: the last is the gate with the bias mean."""
        return _gate_duals(self.n_nodes, self._mu)

    def gate_expectations(self, k1, k2, k3, method: str = "series") -> dict:
        """The 2-D Gaussian integrals the recursions use, as this kernel computes them.

        For (u, v) centred Gaussian with Var u = k1, Var v = k2, Cov = k3 (arrays
        of one shape): ``{"sigmoid": (V, V'), "tanh": (V, V')}`` with V = E[f(u) f(v)],
        V' = E[f'(u) f'(v)]; ``method`` "series" (Mehler, the "cpu-series"
        backend) or "quadrature" (2-D Gauss-Hermite, the other backends).
        ``"sigmoid_shifted"`` is the same for sigmoid(. + mu), mu the gate bias
        mean (``update_bias`` / ``forget_bias``).
        """
        k1, k2, k3 = (np.asarray(a, dtype=np.float64) for a in (k1, k2, k3))
        if method == "quadrature":
            sig, tnh, sh = self._gate_duals()
            return {"sigmoid": sig.pair(k1, k2, k3), "tanh": tnh.pair(k1, k2, k3),
                    "sigmoid_shifted": sh.pair(k1, k2, k3)}
        if method != "series":
            raise ValueError(f"method must be 'series' or 'quadrature', got {method!r}")
        c = _correlation(k1.ravel(), k2.ravel(), k3.ravel())
        out = {}
        mu = self._mu
        for name, f, df in (("sigmoid", _expit, _dexpit), ("tanh", np.tanh, _dtanh),
                            ("sigmoid_shifted", _ShiftedSigmoid(mu), _ShiftedSigmoid(mu, True))):
            a = [hermite_coefficients(g, k, SERIES_TERMS) for g in (f, df) for k in (k1.ravel(), k2.ravel())]
            out[name] = (_horner(a[0], a[1], c).reshape(k1.shape), _horner(a[2], a[3], c).reshape(k1.shape))
        return out

    # -- public API -------------------------------------------------------------------
    def gram(self, X: Any, Y: Any = None, backend: str = "auto", dtype="float64",
             batch_size: int | None = None, progress: bool = False) -> KernelResult:
        """Gram matrices Theta(X, Y) and the NNGP kernel.

        Parameters
        ----------
        X : list of arrays of shape (T_i, m), or array of shape (N, T, m) or (N, T)
            Sequences; trailing NaN time steps mark a shorter sequence. Pairs of
            different lengths are end-aligned (the network reads both up to
            their last step; see ``docs/gated.md``).
        Y : same layout as X, optional
            None: the training Gram of X, exactly symmetric, with sigma_h (and
            sigma_c) in the diagonal's cross moments (a sample meets its own
            initial state); ``gram(X, X)`` never adds them.
        backend : {"auto", "cpu-fused", "cpu-series", "cpu-vectorized", "reference"}
            "auto" is "cpu-fused" (``rntk.kernels.GATED_BACKENDS`` says what each is).
            The tanh LSTM's path Monte Carlo runs pair by pair on any of them.
        dtype : {"float64"}
        batch_size : int, optional
            Tiles of at most ``batch_size`` sequences a side (same values).
        progress : bool
            A progress bar over tiles.

        Returns
        -------
        KernelResult
            ``ntk`` and ``nngp`` of shape (len(X), len(Y or X)).
        """
        dt = check_dtype(dtype)
        if dt != np.float64:
            raise ValueError(f"the gated kernels compute in float64 only, got dtype={dt.name}")
        if backend not in GATED_BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; choose one of {tuple(GATED_BACKENDS)}")
        backend = GATED_BACKENDS["auto"] if backend == "auto" else backend
        bx, by = check_pair(X, Y)
        if batch_size is not None:
            check_positive_int(batch_size, "batch_size")
        selfx = self._self_runs(bx, backend)
        selfy = selfx if by is None else self._self_runs(by, backend)

        def tile(ix, iy):
            sym = iy is None
            sx = bx.subset(ix)
            sy = None if sym else (bx if by is None else by).subset(iy)
            tx = [selfx[i] for i in ix]
            ty = tx if sym else [selfy[j] for j in iy]
            if backend == "reference":
                return self._gram_reference(sx, sy, tx, ty)
            if backend == "cpu-fused" and self._closed:
                return self._gram_fused(sx, sy, tx, ty)
            return self._gram_vectorized(sx, sy, tx, ty, series=backend != "cpu-vectorized")

        ntk, nngp = batched_gram(tile, len(bx), None if by is None else len(by), batch_size, dt, progress)
        check_finite_result(ntk, nngp, dt)
        return KernelResult(ntk, nngp)

    def diag(self, X: Any, dtype="float64") -> KernelResult:
        """Diagonal of ``gram(X)`` (sigma_h included), shape (N,)."""
        dt = check_dtype(dtype)
        if dt != np.float64:
            raise ValueError(f"the gated kernels compute in float64 only, got dtype={dt.name}")
        bx = check_sequences(X, "X")
        runs = self._self_runs(bx, "auto")
        return KernelResult(np.array([r[0] for r in runs]), np.array([r[1] for r in runs]))

    # -- implementation ---------------------------------------------------------------
    def _seqs(self, b):
        return [b.data[i, : b.lengths[i]] for i in range(len(b))]

    def _self_runs(self, b, backend="auto"):
        """Per sequence: (ntk, nngp, self series) of the same-sample pair.

        The reference backend runs the per-pair loop on each sequence; the others
        run the same recursion for all sequences at once (1-D rule, column by column).
        """
        if backend == "reference" or not self._closed:
            return [self._same(s) for s in self._seqs(b)]
        W = int(b.lengths.max())
        XR, start = b.right_aligned(W), W - b.lengths
        Q = self._self_series(XR, start)
        aux = self._aux(XR, Q)
        ntk, nngp = self._pairs(XR, start, Q, XR, start, Q, _Diag(self._gate_duals()), same=True, aux=(aux, aux))
        return [(ntk[i], nngp[i], Q[i, start[i]:]) for i in range(len(b))]

    _closed = True  # the recursion closes (not the tanh LSTM's path Monte Carlo)

    def _gram_reference(self, bx, by, tx, ty):
        sym = by is None
        xs = [s.tolist() for s in self._seqs(bx)]
        ys = xs if sym else [s.tolist() for s in self._seqs(by)]
        return pairwise(len(xs), len(ys), sym, lambda i, j: (
            tx[i][:2] if sym and i == j else self._pair_reference(xs[i], ys[j])))

    def _tile(self, bx, by, tx, ty):
        """A tile's right-aligned inputs, first columns, self series and pairs (all of them, or the
        upper triangle of a training tile)."""
        sym = by is None
        by_ = bx if sym else by
        nx, ny = len(bx), len(by_)
        W = int(max(bx.lengths.max(), by_.lengths.max()))
        XR, YR = bx.right_aligned(W), by_.right_aligned(W)
        sx, sy = (W - bx.lengths).astype(np.int64), (W - by_.lengths).astype(np.int64)
        Qx = np.stack([self._padded_series(t[2], W) for t in tx])
        Qy = Qx if sym else np.stack([self._padded_series(t[2], W) for t in ty])
        if sym:
            ip, jp = np.triu_indices(nx, 1)
        else:
            ip, jp = (a.ravel() for a in np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij"))
        return sym, XR, YR, sx, sy, Qx, Qy, ip.astype(np.int64), jp.astype(np.int64)

    @staticmethod
    def _assemble(sym, shape, ip, jp, t, g, tx):
        """The tile's Gram from its pairs' values (mirrored when ``sym``) and its diagonal's."""
        ntk = np.zeros(shape)
        nngp = np.zeros(shape)
        ntk[ip, jp], nngp[ip, jp] = t, g
        if sym:
            ntk[jp, ip], nngp[jp, ip] = t, g
            idx = np.arange(shape[0])
            ntk[idx, idx] = [v[0] for v in tx]
            nngp[idx, idx] = [v[1] for v in tx]
        return ntk, nngp

    def _gram_vectorized(self, bx, by, tx, ty, series=True):
        sym, XR, YR, sx, sy, Qx, Qy, ip, jp = self._tile(bx, by, tx, ty)
        t = g = np.zeros(0)
        if len(ip):
            if series:
                CX = self._series_table(XR, Qx)
                ev = _Series(CX, CX if sym else self._series_table(YR, Qy), ip, jp)
            else:
                ev = _Quadrature(self._gate_duals())
            ax = self._aux(XR, Qx)
            ay = ax if sym else self._aux(YR, Qy)
            t, g = self._pairs(XR[ip], sx[ip], Qx[ip], YR[jp], sy[jp], Qy[jp], ev,
                               aux=None if ax is None else (ax[ip], ay[jp]))
        return self._assemble(sym, (len(XR), len(YR)), ip, jp, t, g, tx)

    def _gram_fused(self, bx, by, tx, ty):
        """The closed kernels' pairs by the compiled loop of :mod:`._gated_fused`."""
        from ._gated_fused import gated_pairs

        sym, XR, YR, sx, sy, Qx, Qy, ip, jp = self._tile(bx, by, tx, ty)
        t, g = np.empty(len(ip)), np.empty(len(ip))
        if len(ip):
            CX = self._series_table(XR, Qx)
            CY = CX if sym else self._series_table(YR, Qy)
            sw2, su2m, sb2, sv2 = self.sigma_w**2, self.sigma_u**2 / XR.shape[2], self.sigma_b**2, self.sigma_v**2
            qx, qy = np.ascontiguousarray(Qx[..., 0]), np.ascontiguousarray(Qy[..., 0])
            gru = isinstance(self, GRUNTK)
            rx = self._aux(XR, Qx) if gru else np.zeros((0, 0, 2))  # the LSTM reads no E[r^2], E[z]
            ry = rx if sym or not gru else self._aux(YR, Qy)
            gated_pairs(gru, XR, sx, qx, CX, rx, YR, sy, qy, CY, ry, ip, jp, sw2, su2m, sb2, sv2, t, g)
        return self._assemble(sym, (len(XR), len(YR)), ip, jp, t, g, tx)

    def _padded_series(self, series, W):
        """Self moments before each of W right-aligned columns, and after the last: shape (W + 1, k)."""
        series = np.asarray(series, dtype=np.float64).reshape(len(series), -1)
        T = len(series) - 1
        return np.concatenate([np.repeat(series[:1], W - T, axis=0), series], axis=0)

    def _pre(self, q, xy, m):
        return self.sigma_w**2 * q + self.sigma_u**2 / m * xy + self.sigma_b**2

    def _series_table(self, XR, Q):
        """Mehler coefficients (N, W, 6, SERIES_TERMS) of each sequence's gates before each column:
        sigmoid, sigmoid', tanh, tanh', and sigmoid, sigmoid' of the gate with the bias mean."""
        sig, _ = self.duals()
        m = XR.shape[2]
        xx = np.einsum("nwk,nwk->nw", XR, XR)
        a = self._pre(Q[:, :-1, 0], xx, m)
        b = self._candidate_variance(a, Q[:, :-1, 0], xx, m, sig)
        K = SERIES_TERMS
        rows = [hermite_coefficients(_expit, a, K), hermite_coefficients(_dexpit, a, K),
                hermite_coefficients(np.tanh, b, K), hermite_coefficients(_dtanh, b, K)]
        mu = self._mu
        rows += rows[:2] if mu == 0 else [hermite_coefficients(_ShiftedSigmoid(mu), a, K),
                                          hermite_coefficients(_ShiftedSigmoid(mu, True), a, K)]
        return np.stack(rows, axis=2)

    def _candidate_variance(self, a, q, xx, m, sig):
        return a  # LSTM: every gate has the same pre-activation variance

    def _aux(self, XR, Q):
        """Per-sequence quantities the pairs reuse (None: nothing)."""
        return None


@dataclass(frozen=True)
class GRUNTK(_GatedDeclaration):
    """Infinite-width NTK and NNGP of a single-layer GRU with untied weights.

    The network (NTK parametrisation, raw parameters i.i.d. N(0, 1), an
    independent W, U, b per gate and per time step counted from the end)::

        r_t = sigmoid(g^r_t),  z_t = sigmoid(g^z_t)
        g^a_t = sigma_w/sqrt(n) W^a_t h_{t-1} + sigma_u/sqrt(m) U^a_t x_t + sigma_b b^a_t   (a = r, z)
        n_t = tanh(sigma_w/sqrt(n) W^n_t (r_t * h_{t-1}) + sigma_u/sqrt(m) U^n_t x_t + sigma_b b^n_t)
        h_t = (1 - z_t) * n_t + z_t * h_{t-1},   h_0 ~ N(0, sigma_h^2 I),  f = sigma_v/sqrt(n) v^T h_T

    (the reset gate multiplies the state before W^n, as in Cho et al. 2014;
    PyTorch's ``nn.GRU`` multiplies after, which is another network). The
    recursion (``docs/gated.md``) is exact in the limit and needs only 2-D
    Gaussian expectations of sigmoid and tanh, by an ``n_nodes``^2-point
    Gauss-Hermite rule (accuracy in the docs).

    With ``update_bias = mu`` the update gate is z_t = sigmoid(g^z_t + mu): a
    fixed bias mean (the GRU's "forget bias"; mu > 0 keeps more of h_{t-1}).

    Parameters
    ----------
    sigma_w, sigma_u, sigma_b, sigma_h, sigma_v : float
        Standard deviations (>= 0) of the recurrent weights, input weights,
        biases, initial state and read-out, shared by the gates.
    update_bias : float
        Mean mu of the update gate's bias (default 0: centred, as every other gate).
    n_nodes : int, >= 8
        Gauss-Hermite nodes per dimension.

    Examples
    --------
    >>> import numpy as np
    >>> from rntk import GRUNTK
    >>> res = GRUNTK(sigma_b=0.1).gram([np.array([[1.0], [-1.0]]), np.array([[0.5]])])
    >>> res.ntk.shape, bool((res.ntk == res.ntk.T).all())
    ((2, 2), True)
    """

    update_bias: float = 0.0

    _bias_field: ClassVar[str] = "update_bias"

    def __post_init__(self):
        super().__post_init__()
        self._check_bias_mean()

    def _same(self, x):
        """(ntk, nngp, q series) of the sample paired with itself."""
        from ._gated_reference import gru_pair, gru_self

        xs = x.tolist()
        ntk, nngp = gru_pair(xs, xs, self, same=True)
        return ntk, nngp, gru_self(xs, self)

    def _pair_reference(self, x, y):
        from ._gated_reference import gru_pair

        return gru_pair(x, y, self)

    def _candidate_variance(self, a, q, xx, m, sig):
        return self._pre(sig.diag(a)[0] * q, xx, m)  # the input of W^n is r * h

    def _aux(self, XR, Q):
        """E[r^2] and E[z] of every sequence at each column, (N, W, 2): computed once, not once a pair."""
        xx = np.einsum("nwk,nwk->nw", XR, XR)
        a = self._pre(Q[:, :-1, 0], xx, XR.shape[2])
        return np.stack([self.duals()[0].diag(a)[0], gate_mean(a, self._mu)], axis=2)

    def _self_series(self, XR, start):
        """E[h^2] of every sequence before each of W right-aligned columns and after the last: (N, W+1, 1)."""
        sig, tnh, sz = self._gate_duals()
        N, W, m = XR.shape
        Q = np.empty((N, W + 1, 1))
        q = np.full(N, self.sigma_h**2)
        Q[:, 0, 0] = q
        for c in range(W):
            xx = np.einsum("nk,nk->n", XR[:, c], XR[:, c])
            a = self._pre(q, xx, m)
            rho_r, rho_z = sig.diag(a)[0], sz.diag(a)[0]
            zbar = 1.0 - 2.0 * gate_mean(a, self._mu) + rho_z  # E[(1 - z)^2]
            nu = tnh.diag(self._pre(rho_r * q, xx, m))[0]
            q = np.where(c >= start, zbar * nu + rho_z * q, q)
            Q[:, c + 1, 0] = q
        return Q

    def _pairs(self, XA, sA, QA, XB, sB, QB, ev, same=False, aux=None):
        """All pairs (XA[k], XB[k]) at once; Q*: (P, W+1, 1) self E[h h'] before each column;
        ``ev(which, column, K1, K2, K3)``: (V, V') of sigmoid (which = 0) or tanh (1);
        ``same``: every pair is a sample with itself (its initial state shared);
        ``aux``: the two sides' (E[r^2], E[z]) tables (:meth:`_aux`), (P, W, 2) each.

        With the update gate's bias mean, E[(1 - z)(1 - z')] = 1 - E[z] - E[z'] + E[z z']
        (``zbar``) replaces E[z z'] where the state's new part enters; with mu = 0 they are equal."""
        sw2, sv2 = self.sigma_w**2, self.sigma_v**2
        P, W, m = XA.shape
        QA, QB = QA[..., 0], QB[..., 0]
        qc = np.full(P, self.sigma_h**2 if same else 0.0)
        start = np.maximum(sA, sB)
        steps = []
        for c in range(W):
            act = c >= start
            xa = np.einsum("pk,pk->p", XA[:, c], XA[:, c])
            xb = np.einsum("pk,pk->p", XB[:, c], XB[:, c])
            xy = np.einsum("pk,pk->p", XA[:, c], XB[:, c])
            a1, a2, a3 = self._pre(QA[:, c], xa, m), self._pre(QB[:, c], xb, m), self._pre(qc, xy, m)
            rho_r, drho_r = ev(0, c, a1, a2, a3)
            rho_z, drho_z = ev(2, c, a1, a2, a3)
            zbar = 1.0 - aux[0][:, c, 1] - aux[1][:, c, 1] + rho_z
            n1 = self._pre(aux[0][:, c, 0] * QA[:, c], xa, m)
            n2 = self._pre(aux[1][:, c, 0] * QB[:, c], xb, m)
            n3 = self._pre(rho_r * qc, xy, m)
            nu, dnu = ev(1, c, n1, n2, n3)
            steps.append((act, a3, n3, rho_r, drho_r, rho_z, drho_z, zbar, nu, dnu, qc))
            qc = np.where(act, zbar * nu + rho_z * qc, qc)
        nngp = sv2 * qc
        ntk, Ph = nngp.copy(), np.full(P, sv2)
        for act, a3, n3, rho_r, drho_r, rho_z, drho_z, zbar, nu, dnu, q_prev in reversed(steps):
            Pn = Ph * zbar * dnu
            Pz = Ph * drho_z * (q_prev + nu)
            Pr = sw2 * Pn * q_prev * drho_r
            ntk += np.where(act, a3 * (Pr + Pz) + n3 * Pn, 0.0)
            Ph = rho_z * Ph + sw2 * (rho_r * Pn + Pz + Pr)
        return ntk, nngp


@dataclass(frozen=True)
class LSTMNTK(_GatedDeclaration):
    """Infinite-width NTK and NNGP of a single-layer LSTM with untied weights.

    The network (NTK parametrisation as :class:`GRUNTK`; gates a = i, f, o, c)::

        g^a_t = sigma_w/sqrt(n) W^a_t h_{t-1} + sigma_u/sqrt(m) U^a_t x_t + sigma_b b^a_t
        i, f, o = sigmoid(g^i, g^f, g^o),  c~ = tanh(g^c)
        c_t = f_t * c_{t-1} + i_t * c~_t,  h_t = o_t * act(c_t)
        h_0 ~ N(0, sigma_h^2 I), c_0 ~ N(0, sigma_c^2 I),  f = sigma_v/sqrt(n) v^T h_T

    Parameters
    ----------
    sigma_w, sigma_u, sigma_b, sigma_h, sigma_v : float
        As for :class:`GRUNTK`.
    sigma_c : float
        Standard deviation of the initial cell state.
    forget_bias : float
        Mean mu of the forget gate's bias: f_t = sigmoid(g^f_t + mu) (default
        0, centred; the "forget bias" of Jozefowicz et al. 2015 is mu = 1).
    cell_activation : {"tanh", "identity"}
        ``act`` above. "identity" (h = o * c) closes in E[c c'] and is exact up
        to quadrature. "tanh" (the standard LSTM) does not close: its limit is
        computed by a sequential Monte Carlo over one unit's cell path (the
        law of the pair (c_t(x), c_t(x')) is not Gaussian); ``n_paths`` paths
        give a statistical error ~ n_paths^(-1/2) (see ``docs/gated.md``).
    n_paths : int
        Paths of the tanh cell's Monte Carlo (even; antithetic pairs).
    seed : int
        Seed of those paths (the kernel is a deterministic function of it).
    n_nodes : int
        Gauss-Hermite nodes per dimension.
    """

    sigma_c: float = 0.0
    cell_activation: str = "tanh"
    n_paths: int = 2**16
    seed: int = 0
    forget_bias: float = 0.0

    _extra_sigmas: ClassVar[tuple] = ("sigma_c",)
    _bias_field: ClassVar[str] = "forget_bias"

    def __post_init__(self):
        super().__post_init__()
        self._check_bias_mean()
        if self.cell_activation not in CELL_ACTIVATIONS:
            raise ValueError(f"cell_activation must be one of {CELL_ACTIVATIONS}, got {self.cell_activation!r}")
        n = check_positive_int(self.n_paths, "n_paths")
        if n % 2:
            raise ValueError(f"n_paths must be even (paths come in swapped pairs), got {n}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    def _same(self, x):
        if self.cell_activation == "identity":
            from ._gated_reference import lstm_pair, lstm_self

            xs = x.tolist()
            ntk, nngp = lstm_pair(xs, xs, self, same=True)
            q, k = lstm_self(xs, self)
            return ntk, nngp, np.stack([q, k], axis=1)
        return lstm_paths(x, x, None, None, self, same=True)

    def _pair_reference(self, x, y):
        if self.cell_activation == "identity":
            from ._gated_reference import lstm_pair

            return lstm_pair(x, y, self)
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        (x, y) = (x, y) if len(x) <= len(y) else (y, x)
        return lstm_paths(x, y, self._same(x)[2], self._same(y)[2], self)[:2]

    def _gram_vectorized(self, bx, by, tx, ty, series=True):
        if self.cell_activation == "identity":
            return super()._gram_vectorized(bx, by, tx, ty, series)
        # the path Monte Carlo is vectorised over paths, one pair at a time
        sym = by is None
        xs = self._seqs(bx)
        ys = xs if sym else self._seqs(by)

        def value(i, j):
            if sym and i == j:
                return tx[i][:2]
            (a, qa), (b, qb) = ((xs[i], tx[i][2]), (ys[j], ty[j][2]))
            if len(a) > len(b):
                (a, qa), (b, qb) = (b, qb), (a, qa)
            return lstm_paths(a, b, qa, qb, self)[:2]

        return pairwise(len(xs), len(ys), sym, value)

    @property
    def _closed(self):
        return self.cell_activation == "identity"

    def _self_series(self, XR, start):
        """Identity cell: (E[h^2], E[c^2]) of every sequence before each column and after the last: (N, W+1, 2)."""
        sig, tnh, sf = self._gate_duals()
        N, W, m = XR.shape
        Q = np.empty((N, W + 1, 2))
        q, k = np.full(N, self.sigma_h**2), np.full(N, self.sigma_c**2)
        Q[:, 0] = np.stack([q, k], 1)
        for c in range(W):
            a = self._pre(q, np.einsum("nk,nk->n", XR[:, c], XR[:, c]), m)
            rho, nu, rho_f = sig.diag(a)[0], tnh.diag(a)[0], sf.diag(a)[0]
            k = np.where(c >= start, rho_f * k + rho * nu, k)
            q = np.where(c >= start, rho * k, q)
            Q[:, c + 1] = np.stack([q, k], 1)
        return Q

    def _pairs(self, XA, sA, QA, XB, sB, QB, ev, same=False, aux=None):
        """Identity cell, all pairs at once; Q*: (P, W+1, 2) self (E[h h'], E[c c'])."""
        sw2, sv2 = self.sigma_w**2, self.sigma_v**2
        P, W, m = XA.shape
        qc, kc = np.full(P, self.sigma_h**2 if same else 0.0), np.full(P, self.sigma_c**2 if same else 0.0)
        start = np.maximum(sA, sB)
        steps = []
        for c in range(W):
            act = c >= start
            a1 = self._pre(QA[:, c, 0], np.einsum("pk,pk->p", XA[:, c], XA[:, c]), m)
            a2 = self._pre(QB[:, c, 0], np.einsum("pk,pk->p", XB[:, c], XB[:, c]), m)
            a3 = self._pre(qc, np.einsum("pk,pk->p", XA[:, c], XB[:, c]), m)
            rho, drho = ev(0, c, a1, a2, a3)  # i and o
            rho_f, drho_f = ev(2, c, a1, a2, a3)  # f, with the forget bias mean
            nu, dnu = ev(1, c, a1, a2, a3)
            k_prev = kc
            kc = np.where(act, rho_f * kc + rho * nu, kc)
            qc = np.where(act, rho * kc, qc)
            steps.append((act, a3, rho, drho, rho_f, drho_f, nu, dnu, k_prev, kc))
        nngp = sv2 * qc
        ntk, Ph, Pc, f_next = nngp.copy(), np.full(P, sv2), np.zeros(P), np.zeros(P)
        for act, a3, rho, drho, rho_f, drho_f, nu, dnu, k_prev, k_now in reversed(steps):
            Pc = Ph * rho + f_next * Pc
            S = Ph * drho * k_now + Pc * drho_f * k_prev + Pc * drho * nu + Pc * rho * dnu  # o, f, i, c~
            ntk += np.where(act, a3 * S, 0.0)
            Ph, f_next = sw2 * S, rho_f
        return ntk, nngp


# -- the tanh cell: sequential Monte Carlo over one unit's cell path ------------------------------
@lru_cache(maxsize=64)
def _normals(seed: int, n_paths: int, step: int) -> np.ndarray:
    """Standard normals of one step (counted from the sequence's end; -1: the initial cell).

    Shape (3, n_paths, 2): gates (i, f, c~), paths, the two sequences of a
    pair. The second half of the paths is the first with the two sequences
    swapped, so a pair's estimate does not depend on which sequence is first.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, step + 1]))
    half = rng.standard_normal((3, n_paths // 2, 2))
    out = np.concatenate([half, half[..., ::-1]], axis=1)
    out.setflags(write=False)
    return out


def _mix(a1, a2, a3, z):
    """(u, v) with Var u = a1, Var v = a2, Cov = a3 from i.i.d. z[..., 0], z[..., 1], symmetric under swap."""
    s = math.sqrt(a1 * a2)
    c = min(max(a3 / s, -1.0), 1.0) if s > 0 else 0.0
    al, be = (math.sqrt(1 + c) + math.sqrt(1 - c)) / 2, (math.sqrt(1 + c) - math.sqrt(1 - c)) / 2
    return math.sqrt(a1) * (al * z[..., 0] + be * z[..., 1]), math.sqrt(a2) * (be * z[..., 0] + al * z[..., 1])


def lstm_paths(x, y, qx, qy, p, same=False):
    """Kernel of one pair of the LSTM by Monte Carlo over the unit's (c_t(x), c_t(y)) path.

    ``x`` (T, m) is the shorter sequence, ``y`` (T', m); ``qx``, ``qy`` their
    self series (E[h^2] before and after every step, from ``same=True``
    runs). Gates that enter as independent factors (o) are integrated by
    quadrature; the path carries the cell pair and the i, f, c~ pre-activations
    of every step. Returns ``(ntk, nngp, series)``; ``series`` (same only) is
    the self E[h_t^2], t = 0..T, shape (T + 1, 1).
    """
    sig, _ = p.duals()
    act, dact = (np.tanh, _dtanh) if p.cell_activation == "tanh" else (lambda c: c, lambda c: np.ones_like(c))
    sw2, sv2, mu = p.sigma_w**2, p.sigma_v**2, p.forget_bias
    M, T, Tp, m = p.n_paths, len(x), len(y), x.shape[1]
    tau = Tp - T
    z0 = _normals(p.seed, M, -1)[0]
    cx = p.sigma_c * z0[:, 0]
    cy = cx if same else p.sigma_c * z0[:, 1]
    for j in range(tau):  # the longer sequence's first steps, alone (its own h and c)
        a = p._pre(qy[j, 0], y[j] @ y[j], m)
        Z = math.sqrt(a) * _normals(p.seed, M, Tp - 1 - j)[..., 1]
        cy = _expit(Z[1] + mu) * cy + _expit(Z[0]) * np.tanh(Z[2])
    qc = p.sigma_h**2 if same else 0.0
    series, steps = [qc], []
    for s in range(T):
        xs, ys = x[s], y[s + tau]
        a3 = p._pre(qc, xs @ ys, m)
        a1, a2 = (a3, a3) if same else (p._pre(qx[s, 0], xs @ xs, m), p._pre(qy[s + tau, 0], ys @ ys, m))
        Z = _normals(p.seed, M, T - 1 - s)
        if same:
            u = v = math.sqrt(a3) * Z[..., 0]
            rho, drho = sig.scalar_diag(a3)
        else:
            u, v = _mix(a1, a2, a3, Z)
            rho, drho = sig.scalar(a1, a2, a3)
        fx, fy, ix, iy = _expit(u[1] + mu), _expit(v[1] + mu), _expit(u[0]), _expit(v[0])
        kx, ky = np.tanh(u[2]), np.tanh(v[2])
        cx_prev, cy_prev = cx, cy
        cx = fx * cx + ix * kx
        cy = cx if same else fy * cy + iy * ky
        qc = rho * float(np.mean(act(cx) * act(cy)))
        series.append(qc)
        steps.append((a3, rho, drho, u, v, fx, fy, ix, iy, kx, ky, cx_prev, cy_prev, cx, cy))
    nngp = sv2 * qc
    ntk, Ph, psi, f_next = nngp, sv2, None, None
    for a3, rho, drho, u, v, fx, fy, ix, iy, kx, ky, cx_prev, cy_prev, cx, cy in reversed(steps):
        # psi = E[delta c_t delta c_t' | path]: delta c_t = delta h_t o_t act'(c_t) + f_{t+1} delta c_{t+1}
        psi_new = Ph * rho * dact(cx) * dact(cy)
        psi = psi_new if psi is None else psi_new + f_next * psi
        Po = Ph * drho * float(np.mean(act(cx) * act(cy)))
        Pf = float(np.mean(psi * cx_prev * cy_prev * _dexpit(u[1] + mu) * _dexpit(v[1] + mu)))
        Pi = float(np.mean(psi * kx * ky * _dexpit(u[0]) * _dexpit(v[0])))
        Pk = float(np.mean(psi * ix * iy * _dtanh(u[2]) * _dtanh(v[2])))
        S = Po + Pf + Pi + Pk
        ntk += a3 * S
        Ph, f_next = sw2 * S, fx * fy
    return ntk, nngp, np.asarray(series)[:, None]
