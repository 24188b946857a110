#!/usr/bin/env python3
"""Coefficients of the exact GELU's normal tail (src/ResidualLM/Kernels/Activations.cs, T0..T10).

erfc(z) = t exp(P(t - 1) - z^2) with t = 1 / (1 + 0.4 z), so P(u) fits ln(erfc(z) / t) + z^2 over 0 <= z <= 10.6
(past that, 0.5 erfc(z) is below 1e-50 and float32 exp underflows to 0). P has degree 10: a least-squares Chebyshev fit
reweighted by its own error (Lawson's iteration) toward the minimax one, in double against math.erfc. Prints the
coefficients rounded to float32, lowest power first, and the fit's largest error (the relative error of erfc).

Usage: /usr/bin/python3 tools/reference/fit_erfc.py   (numpy)
"""
import math

import numpy as np
from numpy.polynomial import chebyshev

A, Z_MAX, DEGREE = 0.4, 10.6, 10

t = np.linspace(1 / (1 + A * Z_MAX), 1, 40000)
z = (1 / t - 1) / A
target = np.array([math.log(math.erfc(v)) for v in z]) + z * z - np.log(t)
u = t - 1
weights = np.ones_like(u)
for _ in range(80):
    coefficients = chebyshev.chebfit(u, target, DEGREE, w=np.sqrt(weights))
    error = chebyshev.chebval(u, coefficients) - target
    weights = weights * np.abs(error)
    weights /= weights.sum()
power = chebyshev.cheb2poly(coefficients).astype(np.float32)
for i, c in enumerate(power):
    print(f"T{i} = {float(c)!r}f")
print(f"largest error of the fit: {np.abs(chebyshev.chebval(u, coefficients) - target).max():.2e}")
