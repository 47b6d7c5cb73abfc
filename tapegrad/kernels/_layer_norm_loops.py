"""numba loops for layer normalization over the last axis of a 2-D view (the `jit` extra).

`tapegrad.kernels.numba_layer_norm` runs them for `layer_norm`, `layer_norm_grad` and
`layer_norm_scale_grad`. Each row (one sample's normalized features) is read from cache:
the forward pass sums it, sums its squared deviations and writes the output; the backward
pass sums ``g gamma`` and ``g gamma xhat`` and writes ``dx``; gamma's cotangent adds
``g xhat`` row by row into one accumulator. Sums accumulate in float64 whatever the dtype.
The first two loops exist twice: serial, and a ``parallel=True`` twin (the ``_parallel``
names) that splits the rows over numba's threads.
"""

from __future__ import annotations

import math
from typing import Any

from numba import prange

from tapegrad.kernels._numba import ROW_LOOP_OPTIONS, njit, njit_parallel

_OPTIONS = ROW_LOOP_OPTIONS


def _layer_norm(
    x: Any, gamma: Any, beta: Any, epsilon: float, y: Any, mean: Any, rstd: Any
) -> None:
    """``y = (x - mean) * rstd * gamma + beta`` per row of ``x`` (rows, n)."""
    rows, n = x.shape
    for i in prange(rows):
        total = 0.0
        for j in range(n):
            total += x[i, j]
        m = total / n
        squares = 0.0
        for j in range(n):
            d = x[i, j] - m
            squares += d * d
        r = 1.0 / math.sqrt(squares / n + epsilon)
        for j in range(n):
            y[i, j] = (x[i, j] - m) * r * gamma[j] + beta[j]
        mean[i] = m
        rstd[i] = r


def _layer_norm_grad(g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, dx: Any) -> None:
    """``dx = rstd (g gamma - mean(g gamma) - xhat mean(g gamma xhat))`` per row."""
    rows, n = x.shape
    for i in prange(rows):
        m = mean[i]
        r = rstd[i]
        a = 0.0
        b = 0.0
        for j in range(n):
            gg = g[i, j] * gamma[j]
            a += gg
            b += gg * ((x[i, j] - m) * r)
        a /= n
        b /= n
        for j in range(n):
            dx[i, j] = r * (g[i, j] * gamma[j] - a - (x[i, j] - m) * r * b)


def _layer_norm_scale_grad(g: Any, x: Any, mean: Any, rstd: Any, out: Any) -> None:
    """``out += sum over rows of g * xhat`` (``out``: float64 zeros, one per feature)."""
    rows, n = x.shape
    for i in range(rows):
        m = mean[i]
        r = rstd[i]
        for j in range(n):
            out[j] += g[i, j] * ((x[i, j] - m) * r)


layer_norm = njit(**_OPTIONS)(_layer_norm)
layer_norm_parallel = njit_parallel(**_OPTIONS)(_layer_norm)
layer_norm_grad = njit(**_OPTIONS)(_layer_norm_grad)
layer_norm_grad_parallel = njit_parallel(**_OPTIONS)(_layer_norm_grad)
# (One accumulator row: serial only.)
layer_norm_scale_grad = njit(**_OPTIONS)(_layer_norm_scale_grad)

__all__ = [
    "layer_norm",
    "layer_norm_grad",
    "layer_norm_grad_parallel",
    "layer_norm_parallel",
    "layer_norm_scale_grad",
]
