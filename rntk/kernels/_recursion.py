"""The RNTK recursion, written once for every array namespace.

This is the kernel's algorithm as the vectorised backends run it: numpy
("cpu-vectorized"), CuPy ("gpu-vectorized") and torch (``RNTK.gram_torch``,
differentiable in inputs and hyperparameters). It is the forward form of the
recursion (see ``docs/kernel.md``): per pair and layer it carries the
covariance Sigma, the dual activations V and V' and the running tangent
kernel Q, column by column. A frozen layer adds no Sigma of its own to Q (its
parameters are not trained) but still passes on the Q of the layers below. Every operation is out of place, so autograd sees
the whole computation; the only namespace-specific parts are the dual
activations, passed in as ``pair(k1, k2, k3)`` and ``diag(k)``. The fused
numba and CUDA kernels are performance transcriptions of the same steps,
checked against the literal per-pair reference by the same tests.

Layout: sequences are end-aligned. Column ``c`` of a right-aligned array of
width W holds step ``c - start + 1`` of a sequence whose first column is
``start``, so the aligned steps of a pair share a column and a pair's state is
exactly zero before both sequences have started.

Functions assume checked inputs; ``hp`` is a :class:`~rntk.kernels._declaration.Hyper`.
"""
from __future__ import annotations

from array_api_compat import array_namespace, device

__all__ = ["cross_pairs", "diagonal", "mean_pairs", "self_variance_table", "training_diagonal"]


def _zeros(xp, like, n):
    return xp.zeros(n, dtype=like.dtype, device=device(like))


def _own(hp, L):
    """Weight of each layer's own Sigma in the running tangent kernel: 0.0 for a frozen layer.

    A trained layer's weight is exactly 1.0, so the plain kernel's values do not change.
    """
    return (1.0,) * L if hp.trained is None else hp.trained


def self_variance_table(XR, start, hp, diag):
    """Sigma(l, t, t)(x, x) of every sample at every column, sigma_h included.

    Parameters
    ----------
    XR : array of shape (N, W, m)
        Right-aligned sequences.
    start : integer array of shape (N,)
        First column of every sequence.
    hp : Hyper
    diag : callable
        ``diag(k) -> (V, V')`` of a sample paired with itself at variance k.

    Returns
    -------
    S : array of shape (L, W, N)
        0 before a sequence's first column.
    """
    xp = array_namespace(XR)
    N, W, m = XR.shape
    L = len(hp.sw2)
    zero = _zeros(xp, XR, N)
    sq = xp.sum(XR * XR, axis=-1)
    rows = [[zero] * W for _ in range(L)]
    for c in range(int(xp.min(start)), W):
        active, first = start <= c, start == c
        for l in range(L):
            # the first step's recurrent input is the random h(l, 0) of this very sample
            w = xp.where(first, hp.sh2[l], diag(rows[l][c - 1])[0] if c > 0 else zero)
            inp = hp.su2[0] / m * sq[:, c] if l == 0 else hp.su2[l] * diag(rows[l - 1][c])[0]
            rows[l][c] = xp.where(active, hp.sw2[l] * w + inp + hp.sb2[l], 0.0)
    return xp.stack([xp.stack(r) for r in rows])


def diagonal(S, start, hp, diag, watch=None):
    """Every sample paired with itself: the exact diagonal of the training Gram.

    Parameters
    ----------
    S : array of shape (L, W, N)
        From :func:`self_variance_table`.
    watch : callable, optional
        ``watch(c, sig, q, active)`` after every column and layer, with the
        samples' covariance and running tangent kernel (used to find where a
        kernel leaves a dtype's range; the diagonal bounds every Gram entry).

    Returns
    -------
    ntk, nngp : arrays of shape (N,)
    """
    xp = array_namespace(S)
    L, W, N = S.shape
    own = _own(hp, L)
    zero = _zeros(xp, S, N)
    Q, D = [zero] * L, [zero] * L
    acc_ntk, acc_nngp = zero, zero
    for c in range(int(xp.min(start)), W):
        active = start <= c
        for l in range(L):
            sig = S[l, c]
            q = own[l] * sig + hp.sw2[l] * D[l] * Q[l]
            if l > 0:
                q = q + hp.su2[l] * D[l - 1] * Q[l - 1]
            Q[l] = xp.where(active, q, 0.0)
            D[l] = xp.where(active, diag(sig)[1], 0.0)
            if watch is not None:
                watch(c, sig, Q[l], active)
        if hp.per_step:  # the read-out of this step: the plain kernel of the prefixes ending here
            v = xp.where(active, diag(S[L - 1, c])[0], 0.0)
            acc_ntk = acc_ntk + hp.sv2 * v + hp.sv2 * D[L - 1] * Q[L - 1]
            acc_nngp = acc_nngp + hp.sv2 * v
    if hp.per_step:
        inv_len = 1.0 / xp.astype(W - start, S.dtype)
        return acc_ntk * inv_len, acc_nngp * inv_len
    v, d = diag(S[L - 1, W - 1])
    return hp.sv2 * v + hp.sv2 * d * Q[L - 1], hp.sv2 * v


def training_diagonal(XR, start, S, hp, pair, diag):
    """The exact diagonal of the training Gram (sigma_h included), for every read-out.

    The mean read-out needs every sample's whole T x T grid (:func:`mean_pairs`);
    the others only its aligned steps (:func:`diagonal`).
    """
    if hp.mean:
        xp = array_namespace(XR)
        idx = xp.arange(XR.shape[0], device=device(XR))
        return mean_pairs(XR, start, S, XR, start, S, idx, idx, hp, pair, diag)
    return diagonal(S, start, hp, diag)


def cross_pairs(XR, sx, Sx, YR, sy, Sy, ip, jp, hp, pair):
    """RNTK of the pairs (X[ip[k]], Y[jp[k]]), vectorised over pairs.

    A cross pair is never one and the same sample, so no sigma_h term enters.
    Pairs are processed in the order of their first aligned column, so the
    pairs active at a column are a prefix and the state only grows: a pair
    joins with an exactly zero state and nothing is computed before it starts.

    Parameters
    ----------
    XR, YR : arrays of shape (N, W, m), (M, W, m)
        Right-aligned to the same width W.
    sx, sy : integer arrays of shape (N,), (M,)
        First columns.
    Sx, Sy : arrays of shape (L, W, N), (L, W, M)
        Self-variance tables.
    ip, jp : integer arrays of shape (P,)
        The pairs.
    pair : callable
        ``pair(k1, k2, k3) -> (V, V')`` of the 2x2 covariance [[k1, k3], [k3, k2]].

    Returns
    -------
    ntk, nngp : arrays of shape (P,)
    """
    if hp.mean:
        return mean_pairs(XR, sx, Sx, YR, sy, Sy, ip, jp, hp, pair)
    xp = array_namespace(XR)
    L, W = Sx.shape[0], Sx.shape[1]
    m = XR.shape[2]
    own = _own(hp, L)
    pstart = xp.maximum(sx[ip], sy[jp])
    order = xp.argsort(pstart, stable=True)
    ip, jp, pstart = ip[order], jp[order], pstart[order]
    n_active = xp.searchsorted(pstart, xp.arange(W, device=device(pstart)), side="right").tolist()
    V, D, Q = ([XR[:0, 0, 0]] * L for _ in range(3))
    acc = [XR[:0, 0, 0]] * 2  # per-step read-out: the running sums of the prefix kernels
    for c in range(int(pstart[0]), W):
        n = n_active[c]
        new = _zeros(xp, XR, n - V[0].shape[0])
        if new.shape[0]:
            V, D, Q, acc = ([xp.concat((s, new)) for s in state] for state in (V, D, Q, acc))
        a, b = ip[:n], jp[:n]
        for l in range(L):
            if l == 0:
                sig = hp.sw2[0] * V[0] + hp.su2[0] / m * xp.sum(XR[a, c, :] * YR[b, c, :], axis=-1) + hp.sb2[0]
                Q[0] = own[0] * sig + hp.sw2[0] * D[0] * Q[0]
            else:
                sig = hp.sw2[l] * V[l] + hp.su2[l] * V[l - 1] + hp.sb2[l]
                Q[l] = own[l] * sig + hp.sw2[l] * D[l] * Q[l] + hp.su2[l] * D[l - 1] * Q[l - 1]
            V[l], D[l] = pair(Sx[l, c][a], Sy[l, c][b], sig)
        if hp.per_step:
            acc = [acc[0] + hp.sv2 * V[L - 1] + hp.sv2 * D[L - 1] * Q[L - 1], acc[1] + hp.sv2 * V[L - 1]]
    inverse = xp.argsort(order)
    if hp.per_step:
        scale = 1.0 / xp.sqrt(xp.astype((W - sx[ip]) * (W - sy[jp]), XR.dtype))
        return (acc[0] * scale)[inverse], (acc[1] * scale)[inverse]
    ntk = hp.sv2 * V[L - 1] + hp.sv2 * D[L - 1] * Q[L - 1]
    return ntk[inverse], (hp.sv2 * V[L - 1])[inverse]


#: elements of one (pairs x columns) state array of :func:`mean_pairs`, per chunk of pairs
MEAN_CHUNK = 1 << 20


def mean_pairs(XR, sx, Sx, YR, sy, Sy, ip, jp, hp, pair, diag=None):
    """RNTK with the mean-state read-out (``readout="mean"``) of the pairs (X[ip[k]], Y[jp[k]]).

    The read-out sees every step, so the state of a pair is a row over all
    of Y's columns: at column c of X, entry c' holds Sigma, V, V' and Q of
    steps (c, c'); its recurrent term is the entry (c - 1, c' - 1) of the
    previous column (a shift), zero where either sequence has not started.
    Returns sv^2/(T T') sum_{c, c'} [V + V' Q] (ntk) and sv^2/(T T') sum V (nngp).
    O(L W^2) per pair; pairs go in chunks of about ``MEAN_CHUNK / (W max(m, 8))``
    (the chunk's copy of Y is pairs x W x m).

    ``diag``: the pairs are each sample with itself (X is Y, ip == jp): the
    aligned entries c = c' use the exact same-sample dual ``diag`` and the
    first one gets sigma_h.
    """
    xp = array_namespace(XR)
    W, m = XR.shape[1], XR.shape[2]
    size = max(1, MEAN_CHUNK // (W * max(m, 8)))
    if ip.shape[0] <= size:
        return _mean_chunk(XR, sx, Sx, YR, sy, Sy, ip, jp, hp, pair, diag)
    parts = [_mean_chunk(XR, sx, Sx, YR, sy, Sy, ip[k:k + size], jp[k:k + size], hp, pair, diag)
             for k in range(0, ip.shape[0], size)]
    return xp.concat([a for a, _ in parts]), xp.concat([b for _, b in parts])


def _mean_chunk(XR, sx, Sx, YR, sy, Sy, ip, jp, hp, pair, diag):
    xp = array_namespace(XR)
    L, W = Sx.shape[0], Sx.shape[1]
    m = XR.shape[2]
    own = _own(hp, L)
    dev = device(XR)
    ax, ay = sx[ip], sy[jp]
    cols = xp.arange(W, device=dev)
    y_on = cols[None, :] >= ay[:, None]
    Yp = YR[jp]
    Syp = [xp.permute_dims(Sy[l][:, jp], (1, 0)) for l in range(L)]
    zero = xp.zeros((ip.shape[0], W), dtype=XR.dtype, device=dev)
    pad = zero[:, :1]

    def shift(a):  # entry c' takes the entry c' - 1 of the previous column
        return xp.concat((pad, a[:, :-1]), axis=1)

    V, D, Q = [zero] * L, [zero] * L, [zero] * L
    acc_ntk = acc_nngp = zero  # per column of Y, summed over X's columns
    for c in range(int(xp.min(ax)), W):
        on = (c >= ax)[:, None] & y_on
        here = (cols == c)[None, :] if diag is not None else None
        for l in range(L):
            w = shift(V[l])
            if here is not None:  # the same sample's own first step: its random h(l, 0)
                w = xp.where(here & (ax == c)[:, None], hp.sh2[l], w)
            if l == 0:
                inp = hp.su2[0] / m * xp.sum(XR[ip, c, :][:, None, :] * Yp, axis=-1)
            else:
                inp = hp.su2[l] * V[l - 1]
            sig = xp.where(on, hp.sw2[l] * w + inp + hp.sb2[l], 0.0)
            v, d = pair(Sx[l, c][ip][:, None] + zero, Syp[l], sig)
            if here is not None:
                dv, dd = diag(Sx[l, c][ip])
                v, d = xp.where(here, dv[:, None], v), xp.where(here, dd[:, None], d)
            q = own[l] * sig + hp.sw2[l] * shift(D[l]) * shift(Q[l])
            if l > 0:
                q = q + hp.su2[l] * D[l - 1] * Q[l - 1]
            V[l], D[l], Q[l] = xp.where(on, v, 0.0), xp.where(on, d, 0.0), xp.where(on, q, 0.0)
        acc_ntk = acc_ntk + hp.sv2 * (V[L - 1] + D[L - 1] * Q[L - 1])
        acc_nngp = acc_nngp + hp.sv2 * V[L - 1]
    # a strictly left-to-right sum over Y's columns (the leading inactive ones add exact
    # zeros), so a pair's value does not depend on the tile width W it was computed in
    scale = 1.0 / xp.astype((W - ax) * (W - ay), XR.dtype)
    total = (xp.cumulative_sum(a, axis=1)[:, -1] for a in (acc_ntk, acc_nngp))
    return tuple(t * scale for t in total)
