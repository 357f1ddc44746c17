"""Fused CPU RNTK Gram kernel (numba, parallel).

Per tile of pairs (TILE_I = 4 rows by a few hundred columns) the kernel runs
all time steps and layers with the pair state of the forward form of the recursion
in a small per-tile buffer: V and P = 2 pi V' Q per layer. The innermost
loop runs over the tile's columns and steps the pairs of all its rows,
branch-free, so LLVM vectorises it. Sequences are
end-aligned (right-aligned columns), so the aligned time steps of every pair
share a column; a pair joins the recursion at the column where its shorter
sequence starts (before that its state is held at exactly zero). Samples
arrive sorted by length (``_fused_prep.sample_tables``) so a tile's pairs
start at nearly the same column; results are written straight to the
caller's order.

arcsin is evaluated by one rational function (``scripts/fit_asin.py``, max
error 2.2e-16 on [0, 1/sqrt(2)]) and the identity asin(a) = pi/2 - asin(sqrt(1-a^2)),
because numba's libm calls do not vectorise; the sqrt(1 - c^2) that the dual
needs anyway is the argument of the second branch, so one sqrt serves both.
The duals work on |c| and restore the sign by copysign (see ``_dual_relu``).
"""
from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic, overload

from ._activations import relu_snap

__all__ = ["ALIGN", "ERF", "FROZEN", "PLAIN", "RELU", "TILE_I", "constants", "fused_cross"]

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
_PI, _HALF_PI, _INV_2PI, _ZERO, _ONE, _TWO, _2_PI, _EIGHT, _SQRT_HALF, _SNAP = range(10)
_P0 = 10
_Q0 = _P0 + len(_ASIN_P)
_NK = _Q0 + len(_ASIN_Q)
assert _NK == 22, "register_constants lists 22 constants"
# FMA contraction only: no reassociation, no NaN/inf assumptions
_FLAGS = {"contract"}


def constants(dtype) -> np.ndarray:
    """Return the constants vector ``K`` in ``dtype``."""
    head = [np.pi, np.pi / 2, 1 / (2 * np.pi), 0.0, 1.0, 2.0, 2 / np.pi, 8.0, 0.5**0.5,
            1.0 - relu_snap(dtype)]
    return np.array(head + list(_ASIN_P) + list(_ASIN_Q), dtype=dtype)


@njit(inline="always")
def register_constants(K):
    """``K`` as a tuple of scalars (registers).

    Loads from the array K inside a pair loop would need alias checks against
    every store and block SIMD.
    """
    return (K[0], K[1], K[2], K[3], K[4], K[5], K[6], K[7], K[8], K[9], K[10], K[11],
            K[12], K[13], K[14], K[15], K[16], K[17], K[18], K[19], K[20], K[21])


@intrinsic
def _fma(typingctx, x, y, z):
    """x * y + z rounded once (llvm.fma: one instruction where the CPU has
    FMA, exact emulation elsewhere; fastmath contraction alone is not a promise)."""
    if not (x == y == z and isinstance(x, types.Float)):
        return None

    def codegen(context, builder, signature, args):
        t = args[0].type
        fn = builder.module.declare_intrinsic("llvm.fma", [t], ir.FunctionType(t, [t, t, t]))
        return builder.call(fn, args)

    return x(x, y, z), codegen


@njit(inline="always", fastmath=_FLAGS, error_model="numpy")
def _one_minus_square(a, K):
    """1 - a^2 rounded once: accurate as a -> 1, where the naive 1 - a * a
    cancels (sqrt(1 - a^2) ~ 1e-5 there would carry ~1e-7 relative error)."""
    return _fma(-a, a, K[_ONE])


@njit(inline="always", fastmath=_FLAGS, error_model="numpy")
def _asin_abs(a, x, s, K):
    """asin(a) for 0 <= a <= 1, given x = 1 - a^2 and s = sqrt(x); no libm call.

    a <= 1/sqrt(2): the rational function of a; otherwise asin(a) =
    pi/2 - asin(s), whose argument s is again <= 1/sqrt(2). There z = s^2 is
    taken as x, not s * s: the rational function then does not wait for the
    square root (the pair loop is bound by latency as much as by throughput:
    this alone is ~10 % of the Gram's time).
    """
    small = a <= K[_SQRT_HALF]
    u = a if small else s
    z = a * a if small else x
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
    r = u + (u * z) * (p / q)
    return r if small else K[_HALF_PI] - r


@njit(inline="always", fastmath=_FLAGS, error_model="numpy")
def _dual_relu(sig, a1, a2, b1, b2, K):
    """ReLU (V, 2 pi V') of one pair; a1 = 1/sqrt(Sigma_xx) (0 if 0), a2 = sqrt(Sigma_xx / (2 pi)).

    With r = asin|c| the dual is evaluated through its even and odd parts:
    c (pi - arccos c) = c pi/2 + |c| r and pi - arccos c = pi/2 + sign(c) r,
    so the sign of c enters by copysign, not by branches; |c| is snapped to 1
    (where arccos is ill-conditioned). Products a * b are formed first so a pair gives the
    same bits whichever sample plays x (tiled and untiled Grams are then
    identical).
    """
    c = sig * (a1 * b1)
    a = abs(c)
    a = K[_ONE] if a > K[_SNAP] else a
    x = _one_minus_square(a, K)
    s = np.sqrt(x)
    r = _asin_abs(a, x, s, K)
    # the snapped c in the linear term too: at c = -1 the dual cancels to
    # exactly 0 (proportional inputs of opposite sign), which the unsnapped
    # c would miss by ~1e-16 relative to the pair's scale
    v = (math.copysign(a, c) * K[_HALF_PI] + (a * r + s)) * (a2 * b2)
    d = K[_HALF_PI] + math.copysign(r, c)  # exactly 0 at c = -1
    return v, d


@njit(inline="always", fastmath=_FLAGS, error_model="numpy")
def _dual_erf(sig, a1, a2, b1, b2, K):
    """erf (V, 2 pi V') of one pair; a1 = 1/sqrt(1 + 2 Sigma_xx), a2 unused."""
    ab = a1 * b1
    r = K[_TWO] * sig * ab
    a = abs(r)
    a = K[_ONE] if a > K[_ONE] else a  # noqa: FURB136 - min() differs on NaN, and in the SIMD code
    x = _one_minus_square(a, K)
    s = np.sqrt(x)
    asn = _asin_abs(a, x, s, K)
    return K[_2_PI] * math.copysign(asn, r), K[_EIGHT] * ab / s


# y's sample count is padded to a multiple of ALIGN and the symmetric rows
# start at a multiple of it, so tile rows are whole SIMD vectors (8 float32
# or, with AVX-512, float64) and the scalar remainder loop never runs
ALIGN = 8

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


# rows of a tile: the pair loop steps all of them together (``_rows``); the
# per-row tuples in ``_tile`` are written out for exactly 4
TILE_I = 4


@njit(fastmath=_FLAGS, error_model="numpy")
def _rows(St, l, jlo, n, jb, below, src, Y, uc, ra, rb, starty, c,
          first, yin, masked, own, w2, bb, wp, up, u2t, a1t, a2t, sit, kind, K):
    """One time column of one tile at one layer: the SIMD loop.

    The state of a pair is (V, P) with P = 2 pi V' Q: the forward form needs Q
    only through V' Q, and the factor 2 pi, taken out of the dual's V' and
    put into the weights of P (``wp`` = w2 / (2 pi), ``up`` = u2 / (2 pi);
    ``u2 * input + bias`` is added first), saves two of the ~27 floating-point
    operations of a pair step. ``St[l, 0]`` holds V and ``St[l, 1]`` P. The
    loop runs over the tile's columns jlo + jj (jj < n; y samples jb + jj,
    whose dual factors are ``Y[uc, ra]`` and ``Y[uc, rb]``, see
    ``fused_cross``) and steps the pairs of all TILE_I rows from the previous
    column to column ``c`` (``uc`` as an index); row ii's factors are
    ``a1t[ii]``, ``a2t[ii]``, its input weight ``u2t[ii]``, its first column
    ``sit[ii]``. ``first``: layer 1, whose input term is
    ``u2t[ii] * src[uc, 0, jb + jj]`` (``yin``, m = 1: y's values) or
    ``u2t[ii] * src[ii, 0, jlo + jj]`` (m > 1: the rows' inner products);
    deeper layers read the layer below at column c from ``below[0 or 1, ii]``.
    ``masked``: some pairs have not started yet; their state stays exactly 0.
    ``own``: the layer is trained; a frozen one (the lowest ``frozen_layers``)
    adds no Sigma to Q, and as every layer below it is frozen too its Q is
    exactly 0: only V is stepped and P stays at its initial 0.

    The rows share one loop and its loads of y's factors: a call per row
    cost ~100 ns in reference counts, overlap checks and constant broadcasts
    (one loop for the four rows measured ~5 % faster at N = 500). Every index is
    unsigned: numba then emits no negative-index wrap-around, which on an
    offset index (base + jj) blocks SIMD.
    """
    zero = K[_ZERO]
    z = np.uint64(0)
    o = np.uint64(1)
    for jj in range(n):
        s = jlo + jj
        j = jb + jj
        b1 = Y[uc, ra, j]
        b2 = Y[uc, rb, j]
        for ii in range(TILE_I):  # a constant trip count: LLVM unrolls it
            r = np.uint64(ii)
            if first:
                sig = w2 * St[l, z, r, s] + (u2t[ii] * (src[uc, z, j] if yin else src[r, z, s]) + bb)
                q = sig + wp * St[l, o, r, s]
            else:
                sig = w2 * St[l, z, r, s] + (u2t[ii] * below[z, r, s] + bb)
                q = sig + wp * St[l, o, r, s] + up * below[o, r, s]
            v, d = _dual(kind, sig, a1t[ii], a2t[ii], b1, b2, K)
            p = d * q
            if masked:
                act = c >= max(sit[ii], starty[j])
                v = v if act else zero
                p = p if act else zero
            St[l, z, r, s] = v
            if own:  # a literal: the frozen variant has no P arithmetic at all (dead code)
                St[l, o, r, s] = p


# Frozen layers are compiled only into the kernel that has them, chosen (as
# the activation is) by the dtype of an empty marker array: their call sites
# double _rows' specialisations, and the plain kernel's compile time stays.
PLAIN = np.zeros(0, dtype=np.uint8)
FROZEN = np.zeros(0, dtype=np.uint16)


def _frozen_rows(variant, St, l, jlo, n, jb, below, inp, Y, uc, ra, rb, starty, c, m,
                 masked, w2, bb, u2t, a1t, a2t, sit, kind, K):  # pragma: no cover - replaced by the overload
    raise NotImplementedError


@overload(_frozen_rows, fastmath=_FLAGS)
def _frozen_rows_overload(variant, St, l, jlo, n, jb, below, inp, Y, uc, ra, rb, starty, c, m,
                          masked, w2, bb, u2t, a1t, a2t, sit, kind, K):
    """``_rows`` of a frozen layer (V only; w2 stands in for the unused wp, up) with
    ``FROZEN``; with ``PLAIN`` a stub, never called."""
    if variant.dtype != types.uint16:
        def stub(variant, St, l, jlo, n, jb, below, inp, Y, uc, ra, rb, starty, c, m,
                 masked, w2, bb, u2t, a1t, a2t, sit, kind, K):
            return None

        return stub

    def impl(variant, St, l, jlo, n, jb, below, inp, Y, uc, ra, rb, starty, c, m,
             masked, w2, bb, u2t, a1t, a2t, sit, kind, K):
        if l == 0 and m == 1:
            if masked:
                _rows(St, l, jlo, n, jb, below, Y, Y, uc, ra, rb, starty, c,
                      True, True, True, False, w2, bb, w2, w2, u2t, a1t, a2t, sit, kind, K)
            else:
                _rows(St, l, jlo, n, jb, below, Y, Y, uc, ra, rb, starty, c,
                      True, True, False, False, w2, bb, w2, w2, u2t, a1t, a2t, sit, kind, K)
        elif l == 0:
            if masked:
                _rows(St, l, jlo, n, jb, below, inp, Y, uc, ra, rb, starty, c,
                      True, False, True, False, w2, bb, w2, w2, u2t, a1t, a2t, sit, kind, K)
            else:
                _rows(St, l, jlo, n, jb, below, inp, Y, uc, ra, rb, starty, c,
                      True, False, False, False, w2, bb, w2, w2, u2t, a1t, a2t, sit, kind, K)
        elif masked:
            _rows(St, l, jlo, n, jb, below, inp, Y, uc, ra, rb, starty, c,
                  False, False, True, False, w2, bb, w2, w2, u2t, a1t, a2t, sit, kind, K)
        else:
            _rows(St, l, jlo, n, jb, below, inp, Y, uc, ra, rb, starty, c,
                  False, False, False, False, w2, bb, w2, w2, u2t, a1t, a2t, sit, kind, K)

    return impl


@njit(parallel=True, cache=True, fastmath=_FLAGS, error_model="numpy")
def fused_cross(X, startx, Y, starty, m, tiles, bounds, symmetric, kind,
                sw2, su2, sb2, sv2, variant, frozen, per_step, K, rowid, colid, out):
    """Fill ``out`` = (ntk, nngp) for every pair of every tile.

    X : (W, m + 2L, Nx) per-sample table of x, time-major and right-aligned
    (``_fused_prep.sample_tables``): rows [0, m) the values times
    sigma_u / sqrt(m) (``_fused_driver._side``; su2[0] is then 1), m + l and
    m + L + l the dual factors of layer l (relu: 1/sqrt(Sigma_xx) or 0 and
    sqrt(Sigma_xx / (2 pi)); erf: 1/sqrt(1 + 2 Sigma_xx) and unused).
    startx : (Nx,) first column of each sequence. Y, starty : the same for y,
    whose sample count may be padded to a multiple of ``ALIGN`` (padding:
    zeros, starting with the last real sample). tiles :
    (n_tiles, 4) rows [i0, i1) x columns [j0, j1). With ``symmetric`` (x is
    y), only pairs j > i are computed (the pair (i, i) is computed exactly
    elsewhere) and results are mirrored. Worker ``w`` runs
    tiles[bounds[w]:bounds[w + 1]] (a static, cost-balanced split).
    sw2, su2, sb2 : (L,) squared sigmas, su2[0] already divided by m.
    variant, frozen : ``FROZEN`` and how many of the lowest layers are
    frozen, or ``PLAIN`` and 0 (all trained).
    per_step : read out at every aligned step: the plain read-out summed over
    the columns, times (T T')^(-1/2), T = W - start (``_recursion.cross_pairs``).
    rowid, colid : where sorted sample i of x (j of y) goes in ``out``
    (the inputs are sorted by length; the outputs are in the caller's order);
    len(colid) is y's real sample count.
    """
    Kt = register_constants(K)
    for w in prange(bounds.shape[0] - 1):
        for k in range(bounds[w], bounds[w + 1]):
            _tile(X, startx, Y, starty, m, tiles[k], symmetric, kind,
                  sw2, su2, sb2, sv2, variant, frozen, per_step, Kt, rowid, colid, out)


@njit(inline="always")
def _put(out, r, col, t, g, symmetric):
    out[0, r, col] = t
    out[1, r, col] = g
    if symmetric:
        out[0, col, r] = t
        out[1, col, r] = g


@njit(fastmath=_FLAGS, error_model="numpy")
def _tile(X, startx, Y, starty, m, tile, symmetric, kind,
          sw2, su2, sb2, sv2, variant, frozen, per_step, Kt, rowid, colid, out):
    U = np.uint64
    L = sw2.shape[0]
    W = X.shape[0]
    i0 = tile[0]
    i1 = tile[1]  # rows past i1 (at most TILE_I - 1, the table's zero padding) are computed, not written
    j0 = tile[2]
    j1 = tile[3]
    nj = j1 - j0
    St = np.zeros((L, 2, TILE_I, nj), dtype=X.dtype)
    inp = np.empty((TILE_I, 1, nj), dtype=X.dtype)  # layer-1 inner products when m > 1
    below = np.empty((2, TILE_I, nj), dtype=X.dtype)
    # per-step read-out: the top layer's V and P summed over the columns (a
    # pair's state is exactly 0 before it starts, so summing from c0 is exact)
    Acc = np.zeros((2, TILE_I, nj if per_step else 0), dtype=X.dtype)
    # the first row's pairs start first; rows share its first column block
    # (pairs j <= i this adds are computed, not written)
    jlo = min(max(0, i0 + 1 - j0), nj) if symmetric else 0
    jlo -= jlo % ALIGN  # whole SIMD blocks
    n = U(nj - jlo)
    if n == U(0):
        return
    ujlo, jb = U(jlo), U(j0 + jlo)
    sit = (startx[i0], startx[i0 + 1], startx[i0 + 2], startx[i0 + 3])
    c0 = max(min(sit), starty[j0:j1].min())
    z = U(0)
    um = U(m)
    for c in range(c0, W):
        uc = U(c)
        # rows and columns are sorted by start: the tile's last pair starts last
        masked = c < max(sit[TILE_I - 1], starty[j1 - 1])
        if m > 1:  # layer-1 inner products <x_t, y_t>, one pass per feature
            for ii in range(TILE_I):
                uii = U(ii)
                xv = X[c, 0, i0 + ii]
                for jj in range(n):
                    inp[uii, z, ujlo + jj] = xv * Y[uc, z, jb + jj]
                for f in range(1, m):
                    xv = X[c, f, i0 + ii]
                    uf = U(f)
                    for jj in range(n):
                        inp[uii, z, ujlo + jj] += xv * Y[uc, uf, jb + jj]
        for l in range(L):
            ul = U(l)
            ra, rb = um + ul, um + U(L) + ul
            a1t = (X[c, ra, i0], X[c, ra, i0 + 1], X[c, ra, i0 + 2], X[c, ra, i0 + 3])
            a2t = (X[c, rb, i0], X[c, rb, i0 + 1], X[c, rb, i0 + 2], X[c, rb, i0 + 3])
            w2, bb, su = sw2[l], sb2[l], su2[l]
            wp, up = w2 * Kt[_INV_2PI], su * Kt[_INV_2PI]  # weights of P = 2 pi V' Q
            if l == 0 and m == 1:  # x's value goes in the input weight
                u2t = (su * X[c, 0, i0], su * X[c, 0, i0 + 1], su * X[c, 0, i0 + 2], su * X[c, 0, i0 + 3])
            else:
                u2t = (su, su, su, su)
            # literal flags, one call site each: numba compiles a branch-free
            # loop per combination (a runtime flag is if-converted by LLVM
            # into computing both branches); the input array is passed at the
            # call site, never held in a variable (an array variable costs
            # reference counts: folding the masked / unmasked pairs into an
            # inlined helper added 18 of them and measured ~3 % slower)
            if l < frozen:  # only in a kernel compiled for FROZEN (see _frozen_rows)
                if l > 0:  # a frozen layer reads only the V of the layer below (its Q is 0)
                    lb = U(l - 1)
                    for ii in range(TILE_I):
                        uii = U(ii)
                        for jj in range(n):
                            below[z, uii, ujlo + jj] = St[lb, z, uii, ujlo + jj]
                _frozen_rows(variant, St, ul, ujlo, n, jb, below, inp, Y, uc, ra, rb, starty, c, m,
                             masked, w2, bb, u2t, a1t, a2t, sit, kind, Kt)
            elif l == 0 and m == 1:
                if masked:
                    _rows(St, ul, ujlo, n, jb, below, Y, Y, uc, ra, rb, starty, c,
                          True, True, True, True, w2, bb, wp, up, u2t, a1t, a2t, sit, kind, Kt)
                else:
                    _rows(St, ul, ujlo, n, jb, below, Y, Y, uc, ra, rb, starty, c,
                          True, True, False, True, w2, bb, wp, up, u2t, a1t, a2t, sit, kind, Kt)
            elif l == 0:
                if masked:
                    _rows(St, ul, ujlo, n, jb, below, inp, Y, uc, ra, rb, starty, c,
                          True, False, True, True, w2, bb, wp, up, u2t, a1t, a2t, sit, kind, Kt)
                else:
                    _rows(St, ul, ujlo, n, jb, below, inp, Y, uc, ra, rb, starty, c,
                          True, False, False, True, w2, bb, wp, up, u2t, a1t, a2t, sit, kind, Kt)
            else:
                # the layer below is copied out: read straight from St it
                # would alias the stores and fail the overlap check
                lb = U(l - 1)
                for h in range(2):
                    uh = U(h)
                    for ii in range(TILE_I):
                        uii = U(ii)
                        for jj in range(n):
                            below[uh, uii, ujlo + jj] = St[lb, uh, uii, ujlo + jj]
                if masked:
                    _rows(St, ul, ujlo, n, jb, below, inp, Y, uc, ra, rb, starty, c,
                          False, False, True, True, w2, bb, wp, up, u2t, a1t, a2t, sit, kind, Kt)
                else:
                    _rows(St, ul, ujlo, n, jb, below, inp, Y, uc, ra, rb, starty, c,
                          False, False, False, True, w2, bb, wp, up, u2t, a1t, a2t, sit, kind, Kt)
        if per_step:
            top = U(L - 1)
            for h in range(2):
                uh = U(h)
                for ii in range(TILE_I):
                    uii = U(ii)
                    for jj in range(n):
                        Acc[uh, uii, ujlo + jj] += St[top, uh, uii, ujlo + jj]
    j_end = min(nj, colid.shape[0] - j0)  # padding columns are not written
    sv2p = sv2 * Kt[_INV_2PI]  # St[L - 1, 1] is 2 pi V' Q
    for ii in range(i1 - i0):
        jlo = min(max(0, i0 + ii + 1 - j0), nj) if symmetric else 0
        r = rowid[i0 + ii]
        tx = W - startx[i0 + ii]
        for jj in range(jlo, j_end):
            col = colid[j0 + jj]
            if per_step:
                v = Acc[0, ii, jj]
                t = sv2 * v + sv2p * Acc[1, ii, jj]
                # (T T')^(-1/2) in float64; the product rounds once into the dtype
                sc = 1.0 / math.sqrt(tx * (W - starty[j0 + jj]))
                _put(out, r, col, t * sc, (sv2 * v) * sc, symmetric)
            else:
                v = St[L - 1, 0, ii, jj]
                _put(out, r, col, sv2 * v + sv2p * St[L - 1, 1, ii, jj], sv2 * v, symmetric)
