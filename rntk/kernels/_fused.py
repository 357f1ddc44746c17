"""Fused CPU RNTK Gram kernel (numba, parallel).

Per square tile of pairs the kernel runs all time steps and layers with the
pair state (V, V', Q of the forward form, SPEC §2) in a small per-tile buffer (V and V'Q per layer);
the innermost loop runs over the pairs of one tile row, branch-free, so LLVM
vectorises it. Sequences are end-aligned (right-aligned columns), so the
aligned time steps of every pair share a column; a pair joins the recursion at
the column where its shorter sequence starts (before that its state is held
at exactly zero). Samples are sorted by length so a tile's pairs start at
nearly the same column (little wasted work).

arcsin is evaluated by one rational function (``scripts/fit_asin.py``, max
error 2.2e-16 on [0, 1/sqrt(2)]) and the identity asin|x| = pi/2 - asin sqrt(1-x^2),
because numba's libm calls do not vectorise; the sqrt(1 - c^2) that the dual
needs anyway is the argument of the second branch, so one sqrt serves both.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from ._activations import relu_snap

__all__ = ["fused_cross", "constants", "RELU", "ERF"]

# asin(x) = x + x z P(z)/Q(z), z = x^2, 0 <= x <= 1/sqrt(2): a (5, 5) rational
# fit, max error 2.2e-16 (scripts/fit_asin.py); one division (its own unit)
# is cheaper than the 19 multiply-adds of the equally accurate polynomial.
_ASIN_P = (
    0.16666666666666707, -0.4063714081933447, 0.3468456207413236,
    -0.1200681984782919, 0.013885665021324892, -0.00010719235499366665,
)
_ASIN_Q = (
    1.0, -2.8882284491592145, 3.112919383662108, -1.529881958710975,
    0.3302101890525921, -0.023328250056279448,
)
# layout of the constants vector K (typed like the data: float32 stays float32)
_PI, _HALF_PI, _INV_2PI, _ZERO, _ONE, _TWO, _2_PI, _4_PI, _SQRT_HALF, _SNAP = range(10)
_P0 = 10
_Q0 = _P0 + len(_ASIN_P)
_NK = _Q0 + len(_ASIN_Q)
# FMA contraction only: no reassociation, no NaN/inf assumptions
_FLAGS = {"contract"}


def constants(dtype) -> np.ndarray:
    """Return the constants vector ``K`` in ``dtype``."""
    head = [np.pi, np.pi / 2, 1 / (2 * np.pi), 0.0, 1.0, 2.0, 2 / np.pi, 4 / np.pi, 0.5**0.5,
            1.0 - relu_snap(dtype)]
    return np.array(head + list(_ASIN_P) + list(_ASIN_Q), dtype=dtype)


@njit(inline="always", fastmath=_FLAGS, error_model="numpy")
def _asin_sqrt(x, K):
    """(asin(x), sqrt(1 - x^2)) for x in [-1, 1], one sqrt, no libm call.

    |x| <= 1/sqrt(2): asin(|x|) by the polynomial; otherwise asin(|x|) =
    pi/2 - asin(sqrt(1 - x^2)), whose argument is again <= 1/sqrt(2).
    """
    s = np.sqrt((K[_ONE] - x) * (K[_ONE] + x))
    a = -x if x < K[_ZERO] else x
    small = a <= K[_SQRT_HALF]
    u = a if small else s
    z = u * u
    p = K[_P0 + 5]
    p = p * z + K[_P0 + 4]
    p = p * z + K[_P0 + 3]
    p = p * z + K[_P0 + 2]
    p = p * z + K[_P0 + 1]
    p = p * z + K[_P0]
    q = K[_Q0 + 5]
    q = q * z + K[_Q0 + 4]
    q = q * z + K[_Q0 + 3]
    q = q * z + K[_Q0 + 2]
    q = q * z + K[_Q0 + 1]
    q = q * z + K[_Q0]
    p = p / q
    r = u + u * z * p
    r = r if small else K[_HALF_PI] - r
    return (-r if x < K[_ZERO] else r), s


@njit(inline="always", fastmath=_FLAGS, error_model="numpy")
def _dual_relu(sig, a1, a2, b1, b2, K):
    """ReLU (V, V') of one pair; a1 = 1/sqrt(Sigma_xx) (0 if 0), a2 = sqrt(Sigma_xx).

    Products a * b are formed first so a pair gives the same bits whichever
    sample plays x (tiled and untiled Grams are then identical).
    """
    c = sig * (a1 * b1)
    c = K[_ONE] if c > K[_SNAP] else c
    c = -K[_ONE] if c < -K[_SNAP] else c
    asn, s = _asin_sqrt(c, K)
    pmt = K[_HALF_PI] + asn  # pi - arccos(c)
    return (c * pmt + s) * (a2 * b2) * K[_INV_2PI], pmt * K[_INV_2PI]


@njit(inline="always", fastmath=_FLAGS, error_model="numpy")
def _dual_erf(sig, a1, a2, b1, b2, K):
    """erf (V, V') of one pair; a1 = 1/sqrt(1 + 2 Sigma_xx), a2 unused."""
    r = K[_TWO] * sig * (a1 * b1)
    r = K[_ONE] if r > K[_ONE] else r
    r = -K[_ONE] if r < -K[_ONE] else r
    asn, s = _asin_sqrt(r, K)
    return K[_2_PI] * asn, K[_4_PI] * (a1 * b1) / s


# The activation is chosen at compile time by the dtype of an empty marker
# array: a runtime flag is if-converted by LLVM into computing both duals for
# every pair, and closures over the dual defeat numba's on-disk cache.
RELU = np.zeros(0, dtype=np.uint8)
ERF = np.zeros(0, dtype=np.uint16)


def _dual(kind, sig, a1, a2, b1, b2, K):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_dual, fastmath=_FLAGS)
def _dual_overload(kind, sig, a1, a2, b1, b2, K):
    if kind.dtype == types.uint16:
        return lambda kind, sig, a1, a2, b1, b2, K: _dual_erf(sig, a1, a2, b1, b2, K)
    return lambda kind, sig, a1, a2, b1, b2, K: _dual_relu(sig, a1, a2, b1, b2, K)


@njit(inline="always", fastmath=_FLAGS, error_model="numpy")
def _row(nn, vp, pp, vl, pl, inp, first, masked, c, si, st, w2, u2, bb,
         a1, a2, b1, b2, kind, K):
    """One time column of one tile row at one layer: the SIMD loop.

    The state of a pair is (V, P) with P = V' Q: the forward form needs Q only
    through V' Q, so two arrays carry it (less memory traffic than three).
    (vp, pp) of this layer at the previous column are replaced by their values
    at column ``c``; (vl, pl) are the layer below at column ``c`` (already
    updated); ``first``: layer 1, whose input is ``inp``. ``masked``: some
    pairs have not started yet; their state stays exactly 0.
    """
    zero = K[_ZERO]
    for jj in range(nn):
        if first:
            sig = w2 * vp[jj] + u2 * inp[jj] + bb
            q = sig + w2 * pp[jj]
        else:
            sig = w2 * vp[jj] + u2 * vl[jj] + bb
            q = sig + w2 * pp[jj] + u2 * pl[jj]
        v, d = _dual(kind, sig, a1, a2, b1[jj], b2[jj], K)
        p = d * q
        if masked:
            act = c >= max(si, st[jj])
            v = v if act else zero
            p = p if act else zero
        vp[jj] = v
        pp[jj] = p


@njit(parallel=True, cache=True, fastmath=_FLAGS, error_model="numpy")
def fused_cross(xT, startx, A1, A2, yT, starty, B1, B2, tiles, bounds, symmetric, kind,
                sw2, su2, sb2, sv2, K, ntk, nngp):
    """Fill ``ntk``/``nngp`` for every pair of every tile.

    xT : (W, m, Nx) right-aligned values, time-major; startx : (Nx,) first
    column of each sequence; A1, A2 : (L, W, Nx) per-sample factors (relu:
    1/sqrt(Sigma_xx) or 0, sqrt(Sigma_xx); erf: 1/sqrt(1 + 2 Sigma_xx), unused);
    same for y. tiles : (n_tiles, 4) rows [i0, i1) x columns [j0, j1). With
    ``symmetric`` (x is y), only pairs j > i are computed (the pair (i, i) is
    computed exactly elsewhere) and results are mirrored. Worker ``w`` runs
    tiles[bounds[w]:bounds[w + 1]] (a static, cost-balanced split).
    sw2, su2, sb2 : (L,) squared sigmas, su2[0] already divided by m.
    """
    # constants as a tuple of scalars (registers): loads from the array K inside
    # the pair loop would need alias checks against every store and block SIMD
    Kt = (K[0], K[1], K[2], K[3], K[4], K[5], K[6], K[7], K[8], K[9], K[10],
          K[11], K[12], K[13], K[14], K[15], K[16], K[17], K[18], K[19], K[20],
          K[21])
    for w in prange(bounds.shape[0] - 1):
        for k in range(bounds[w], bounds[w + 1]):
            _tile(xT, startx, A1, A2, yT, starty, B1, B2, tiles[k], symmetric, kind,
                  sw2, su2, sb2, sv2, Kt, ntk, nngp)


@njit(fastmath=_FLAGS, error_model="numpy")
def _tile(xT, startx, A1, A2, yT, starty, B1, B2, tile, symmetric, kind,
          sw2, su2, sb2, sv2, Kt, ntk, nngp):
    L = A1.shape[0]
    W = xT.shape[0]
    m = xT.shape[1]
    i0 = tile[0]
    i1 = tile[1]
    j0 = tile[2]
    j1 = tile[3]
    ni = i1 - i0
    nj = j1 - j0
    Vp = np.zeros((L, ni, nj), dtype=xT.dtype)
    Pp = np.zeros((L, ni, nj), dtype=xT.dtype)
    inp = np.empty(nj, dtype=xT.dtype)
    below_v = np.empty(nj, dtype=xT.dtype)
    below_p = np.empty(nj, dtype=xT.dtype)
    c0 = max(startx[i0:i1].min(), starty[j0:j1].min())
    for c in range(c0, W):
        for ii in range(ni):
            i = i0 + ii
            jlo = min(max(0, i + 1 - j0), nj) if symmetric else 0
            nn = nj - jlo
            if nn == 0:
                continue
            si = startx[i]
            # 1-D views indexed by a loop counter from 0 alone: numba's
            # negative-index wrap-around check would otherwise block SIMD
            st = starty[j0 + jlo:j1]
            # columns are sorted by start, so the row's last pair starts last
            masked = c < max(si, st[nn - 1])
            # layer-1 input term su^2/m <x_t, y_t'> = u1 * inp[jj]
            if m == 1:  # no extra pass: inp is y's column, x's value goes in u1
                inp1 = yT[c, 0, j0 + jlo:j1]
                u1 = su2[0] * xT[c, 0, i]
            else:
                inp1 = inp[:nn]
                u1 = su2[0]
                yv = yT[c, 0, j0 + jlo:j1]
                xv = xT[c, 0, i]
                for jj in range(nn):
                    inp1[jj] = xv * yv[jj]
                for f in range(1, m):
                    yv = yT[c, f, j0 + jlo:j1]
                    xv = xT[c, f, i]
                    for jj in range(nn):
                        inp1[jj] += xv * yv[jj]
            for l in range(L):
                vp, pp = Vp[l, ii, jlo:], Pp[l, ii, jlo:]
                a1, a2 = A1[l, c, i], A2[l, c, i]
                b1, b2 = B1[l, c, j0 + jlo:j1], B2[l, c, j0 + jlo:j1]
                w2, bb = sw2[l], sb2[l]
                # literal flags, one call site each: LLVM then compiles four
                # branch-free loops instead of one loop that if-converts them
                # (layer 1 passes inp1 as the unused layer below: aliasing vl
                # with vp would fail the vectoriser's overlap check)
                if l == 0:
                    if masked:
                        _row(nn, vp, pp, inp1, inp1, inp1, True, True, c, si, st,
                             w2, u1, bb, a1, a2, b1, b2, kind, Kt)
                    else:
                        _row(nn, vp, pp, inp1, inp1, inp1, True, False, c, si, st,
                             w2, u1, bb, a1, a2, b1, b2, kind, Kt)
                else:
                    vl, pl = below_v[:nn], below_p[:nn]
                    vl[:] = Vp[l - 1, ii, jlo:]
                    pl[:] = Pp[l - 1, ii, jlo:]
                    if masked:
                        _row(nn, vp, pp, vl, pl, inp1, False, True, c, si, st,
                             w2, su2[l], bb, a1, a2, b1, b2, kind, Kt)
                    else:
                        _row(nn, vp, pp, vl, pl, inp1, False, False, c, si, st,
                             w2, su2[l], bb, a1, a2, b1, b2, kind, Kt)
    for ii in range(ni):
        jlo = min(max(0, i0 + ii + 1 - j0), nj) if symmetric else 0
        for jj in range(jlo, nj):
            v = Vp[L - 1, ii, jj]
            t = sv2 * v + sv2 * Pp[L - 1, ii, jj]
            g = sv2 * v
            ntk[i0 + ii, j0 + jj] = t
            nngp[i0 + ii, j0 + jj] = g
            if symmetric:
                ntk[j0 + jj, i0 + ii] = t
                nngp[j0 + jj, i0 + ii] = g
