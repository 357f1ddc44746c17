"""Fit the asin rational function used by the fused kernels (rntk/kernels/_fused.py).

asin(x) = x + x z P(z)/Q(z), z = x^2, on 0 <= x <= 1/sqrt(2), deg P = deg Q = 5,
Q(0) = 1: linearised least squares of P - f Q on 300 Chebyshev nodes in z, with
Sanathanan-Koerner reweighting (8 passes), in 40-digit arithmetic, where
f(z) = (asin(x) - x)/x^3. Prints P and Q (lowest degree first) and the max abs
error of asin on [0, 1/sqrt(2)] evaluated in float64.

Run: python scripts/fit_asin.py
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
ZMAX, NODES, DEG_P, DEG_Q = mp.mpf(1) / 2, 300, 5, 5


def f(z):
    if z == 0:
        return mp.mpf(1) / 6
    x = mp.sqrt(z)
    return (mp.asin(x) - x) / x**3


nodes = [ZMAX / 2 + ZMAX / 2 * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / NODES) for k in range(NODES)]
fz = [f(z) for z in nodes]
w = [mp.mpf(1)] * NODES
for _ in range(8):
    A = mp.matrix([
        [wi * z**i for i in range(DEG_P + 1)] + [-wi * fv * z**j for j in range(1, DEG_Q + 1)]
        for z, fv, wi in zip(nodes, fz, w)
    ])
    b = mp.matrix([wi * fv for fv, wi in zip(fz, w)])
    sol = mp.lu_solve(A.T * A, A.T * b)
    P = [sol[i] for i in range(DEG_P + 1)]
    Q = [mp.mpf(1)] + [sol[DEG_P + 1 + j] for j in range(DEG_Q)]
    w = [1 / abs(sum(Q[j] * z**j for j in range(DEG_Q + 1))) for z in nodes]
P, Q = [float(v) for v in P], [float(v) for v in Q]
print("P =", P)
print("Q =", Q)
x = np.linspace(0, float(mp.sqrt(ZMAX)), 20001)
z = x * x
approx = x + x * z * np.polyval(P[::-1], z) / np.polyval(Q[::-1], z)
print("max abs error", max(abs(float(mp.asin(mp.mpf(a))) - b) for a, b in zip(x, approx)))
