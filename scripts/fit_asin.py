"""Fit the asin polynomial used by the fused kernels (rntk/kernels/_fused.py).

asin(x) = x + x z P(z), z = x^2, on 0 <= x <= 1/sqrt(2): Chebyshev
interpolation of (asin(x) - x)/x^3 in z at 400 nodes in 40-digit arithmetic,
degree 18. Prints the coefficients of P (lowest first) and the max abs error of
asin on [0, 1/sqrt(2)] with float64 Horner evaluation.

Run: python scripts/fit_asin.py
"""
import mpmath as mp
import numpy as np

mp.mp.dps = 40
DEG, NODES, ZMAX = 18, 400, mp.mpf(1) / 2


def f(z):
    if z == 0:
        return mp.mpf(1) / 6
    x = mp.sqrt(z)
    return (mp.asin(x) - x) / x**3


half = ZMAX / 2
nodes = [half + half * mp.cos(mp.pi * (k + mp.mpf(1) / 2) / NODES) for k in range(NODES)]
fz = [f(z) for z in nodes]
cheb = [
    sum(fz[i] * mp.cos(j * mp.pi * (i + mp.mpf(1) / 2) / NODES) for i in range(NODES)) * 2 / NODES
    for j in range(DEG + 1)
]
cheb[0] /= 2
T = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]  # Chebyshev polynomials, monomial coefficients
for j in range(2, DEG + 1):
    a = [mp.mpf(0)] + [2 * v for v in T[-1]]
    b = T[-2] + [mp.mpf(0)] * (len(a) - len(T[-2]))
    T.append([ai - bi for ai, bi in zip(a, b)])
in_t = [mp.mpf(0)] * (DEG + 1)
for j in range(DEG + 1):
    for i, v in enumerate(T[j]):
        in_t[i] += cheb[j] * v
in_z = [mp.mpf(0)] * (DEG + 1)  # substitute t = z / half - 1
for i, v in enumerate(in_t):
    for k in range(i + 1):
        in_z[k] += v * mp.binomial(i, k) * (1 / half) ** k * (-1) ** (i - k)
coef = [float(v) for v in in_z]
print(coef)
x = np.linspace(0, float(mp.sqrt(ZMAX)), 20001)
z = x * x
p = np.zeros_like(z)
for c in coef[::-1]:
    p = p * z + c
err = max(abs(float(mp.asin(mp.mpf(xx))) - a) for xx, a in zip(x, x + x * z * p))
print("max abs error", err)
