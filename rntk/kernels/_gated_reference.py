"""Literal per-pair recursions of the gated kernels (GRU, LSTM), for checking.

Written for clarity, one pair at a time in Python floats, exactly as
``docs/gated.md`` states them; the vectorised path (:mod:`._gated`) computes
the same equations for all pairs at once, column by column. ``x`` and ``y``
are nested sequences of shape (T, m) and (T', m); ``p`` a :class:`GRUNTK` or
:class:`LSTMNTK`; ``same``: the pair is one and the same sample (its initial
states are shared, which switches on sigma_h^2 and sigma_c^2 in the cross
moments). Every function returns ``(ntk, nngp)``.

Notation (per step s of the shorter sequence, aligned with step s + tau of the
longer one): ``a1, a2, a3`` the 2x2 covariance of a gate pre-activation
(x, x), (y, y), (x, y); ``q`` = E[h h'] and ``k`` = E[c c'] per unit; ``P*`` the
limits of sum_i delta_i delta'_i of the backward signals.
"""
from __future__ import annotations

__all__ = ["gru_pair", "lstm_pair", "gru_self", "lstm_self"]


def _dot(a, b):
    return sum(ai * bi for ai, bi in zip(a, b))


def _shorter_first(x, y):
    return (x, y) if len(x) <= len(y) else (y, x)


def _pre(p, q_prev, x_t, y_t, m):
    """Variance of sigma_w/sqrt(n) W h + sigma_u/sqrt(m) U x + sigma_b b for a given E[h h']."""
    return p.sigma_w**2 * q_prev + p.sigma_u**2 / m * _dot(x_t, y_t) + p.sigma_b**2


def _mean_z(p, a):
    """E[z] = E[sigmoid(g + mu)], g ~ N(0, a): mu the update gate's bias mean."""
    from ._gated import gate_mean

    return float(gate_mean(a, p.update_bias))


def gru_self(x, p):
    """E[h_t(x)^2] per unit after t = 0..T steps (t = 0: sigma_h^2)."""
    sig, tnh, sz = p._gate_duals()
    m = len(x[0])
    q = [p.sigma_h**2]
    for t in range(len(x)):
        a = _pre(p, q[-1], x[t], x[t], m)
        rho_r, rho_z = sig.scalar_diag(a)[0], sz.scalar_diag(a)[0]
        zbar = 1.0 - 2.0 * _mean_z(p, a) + rho_z  # E[(1 - z)^2]
        nu = tnh.scalar_diag(_pre(p, rho_r * q[-1], x[t], x[t], m))[0]
        q.append(zbar * nu + rho_z * q[-1])
    return q


def gru_pair(x, y, p, same=False):
    """GRU: forward E[h h'], then the backward signals P^h, P^r, P^z, P^n (docs/gated.md)."""
    x, y = _shorter_first(x, y)
    sig, tnh, sz = p._gate_duals()
    sw2, sv2 = p.sigma_w**2, p.sigma_v**2
    m, T, tau = len(x[0]), len(x), len(y) - len(x)
    qx, qy = gru_self(x, p), gru_self(y, p)
    qc = p.sigma_h**2 if same else 0.0
    steps = []
    for s in range(T):
        xs, ys = x[s], y[s + tau]
        a1, a2, a3 = _pre(p, qx[s], xs, xs, m), _pre(p, qy[s + tau], ys, ys, m), _pre(p, qc, xs, ys, m)
        rho_r, drho_r = sig.scalar_diag(a1) if same else sig.scalar(a1, a2, a3)
        rho_z, drho_z = sz.scalar_diag(a1) if same else sz.scalar(a1, a2, a3)
        zbar = 1.0 - _mean_z(p, a1) - _mean_z(p, a2) + rho_z  # E[(1 - z)(1 - z')]
        n1 = _pre(p, sig.scalar_diag(a1)[0] * qx[s], xs, xs, m)
        n2 = _pre(p, sig.scalar_diag(a2)[0] * qy[s + tau], ys, ys, m)
        n3 = _pre(p, rho_r * qc, xs, ys, m)
        nu, dnu = tnh.scalar_diag(n1) if same else tnh.scalar(n1, n2, n3)
        steps.append((a3, n3, rho_r, drho_r, rho_z, drho_z, zbar, nu, dnu, qc))
        qc = zbar * nu + rho_z * qc  # E[(1-z)(1-z')] E[n n'] + E[zz'] q (E[n] = 0: no cross terms)
    nngp = sv2 * qc
    ntk, Ph = nngp, sv2
    for a3, n3, rho_r, drho_r, rho_z, drho_z, zbar, nu, dnu, q_prev in reversed(steps):
        Pn = Ph * zbar * dnu
        Pz = Ph * drho_z * (q_prev + nu)
        Pr = sw2 * Pn * q_prev * drho_r
        ntk += a3 * (Pr + Pz) + n3 * Pn
        Ph = rho_z * Ph + sw2 * (rho_r * Pn + Pz + Pr)
    return ntk, nngp


def lstm_self(x, p):
    """Identity cell only: (E[h_t^2], E[c_t^2]) per unit after t = 0..T steps."""
    sig, tnh, sf = p._gate_duals()
    m = len(x[0])
    q, k = [p.sigma_h**2], [p.sigma_c**2]
    for t in range(len(x)):
        a = _pre(p, q[-1], x[t], x[t], m)
        rho, nu, rho_f = sig.scalar_diag(a)[0], tnh.scalar_diag(a)[0], sf.scalar_diag(a)[0]
        k.append(rho_f * k[-1] + rho * nu)
        q.append(rho * k[-1])
    return q, k


def lstm_pair(x, y, p, same=False):
    """LSTM with h = o * c (``cell_activation="identity"``): the recursion that closes.

    Forward: k_t = E[ff'] k_{t-1} + E[ii'] E[c~ c~'], q_t = E[oo'] k_t; every
    gate has the same pre-activation covariance Sigma_t (f's expectations are
    those of sigmoid(. + forget_bias)). Backward: P^c_t = P^h_t E[oo'] +
    E[f_{t+1} f'_{t+1}] P^c_{t+1}.
    """
    if p.cell_activation != "identity":
        raise ValueError("lstm_pair is the closed recursion of cell_activation='identity'; "
                         "the tanh cell has no closed recursion (docs/gated.md)")
    x, y = _shorter_first(x, y)
    sig, tnh, sf = p._gate_duals()
    sw2, sv2 = p.sigma_w**2, p.sigma_v**2
    m, T, tau = len(x[0]), len(x), len(y) - len(x)
    (qx, _), (qy, _) = lstm_self(x, p), lstm_self(y, p)
    qc, kc = (p.sigma_h**2, p.sigma_c**2) if same else (0.0, 0.0)
    steps = []
    for s in range(T):
        xs, ys = x[s], y[s + tau]
        a1, a2, a3 = _pre(p, qx[s], xs, xs, m), _pre(p, qy[s + tau], ys, ys, m), _pre(p, qc, xs, ys, m)
        rho, drho = sig.scalar_diag(a1) if same else sig.scalar(a1, a2, a3)
        rho_f, drho_f = sf.scalar_diag(a1) if same else sf.scalar(a1, a2, a3)
        nu, dnu = tnh.scalar_diag(a1) if same else tnh.scalar(a1, a2, a3)
        k_prev = kc
        kc = rho_f * kc + rho * nu
        qc = rho * kc
        steps.append((a3, rho, drho, rho_f, drho_f, nu, dnu, k_prev, kc))
    nngp = sv2 * qc
    ntk, Ph, Pc, f_next = nngp, sv2, 0.0, 0.0
    for a3, rho, drho, rho_f, drho_f, nu, dnu, k_prev, k_now in reversed(steps):
        Pc = Ph * rho + f_next * Pc  # delta c_t = delta h_t o_t + f_{t+1} delta c_{t+1}
        S = Ph * drho * k_now + Pc * drho_f * k_prev + Pc * drho * nu + Pc * rho * dnu  # o, f, i, c~
        ntk += a3 * S
        Ph, f_next = sw2 * S, rho_f
    return ntk, nngp
