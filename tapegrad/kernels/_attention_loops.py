"""numba loops for the attention softmax and its gradient, one row of scores at a time.

`tapegrad.kernels.numba_attention` runs them on 2-D views ``(rows, keys)`` of the scores.
The forward pass is three passes where the impl makes six: `shift_rows` scales a row and
subtracts its maximum (one read, one write), NumPy's vectorized ``exp`` runs in place,
and `normalize_rows` sums a row from cache and scales it. `softmax_grad_rows` is the
gradient in one pass per row (the impl makes five). Sums accumulate in float64 whatever
the dtype. Each loop exists twice: serial, and a ``parallel=True`` twin (the ``_parallel``
names) that splits the rows over numba's threads.
"""

from __future__ import annotations

from typing import Any

from numba import prange

from tapegrad.kernels._numba import ROW_LOOP_OPTIONS, njit, njit_parallel

_OPTIONS = ROW_LOOP_OPTIONS


def _shift_rows(s: Any, scale: float, out: Any) -> None:
    """``out = s * scale - max(s * scale)`` per row (``scale`` rounded to ``s``'s dtype,
    as the impl multiplies)."""
    rows, n = s.shape
    c = s.dtype.type(scale)
    for i in prange(rows):
        top = s[i, 0] * c
        for j in range(1, n):
            top = max(top, s[i, j] * c)
        for j in range(n):
            out[i, j] = s[i, j] * c - top


def _normalize_rows(e: Any) -> None:
    """``e /= sum(e)`` per row, in place."""
    rows, n = e.shape
    for i in prange(rows):
        total = 0.0
        for j in range(n):
            total += e[i, j]
        inverse = e.dtype.type(1.0 / total)
        for j in range(n):
            e[i, j] *= inverse


def _softmax_grad_rows(g: Any, p: Any, scale: float, out: Any) -> None:
    """``out = scale * p * (g - sum(g * p))`` per row."""
    rows, n = g.shape
    c = g.dtype.type(scale)
    for i in prange(rows):
        total = 0.0
        for j in range(n):
            total += g[i, j] * p[i, j]
        t = g.dtype.type(total)
        for j in range(n):
            out[i, j] = (g[i, j] - t) * p[i, j] * c


shift_rows = njit(**_OPTIONS)(_shift_rows)
shift_rows_parallel = njit_parallel(**_OPTIONS)(_shift_rows)
normalize_rows = njit(**_OPTIONS)(_normalize_rows)
normalize_rows_parallel = njit_parallel(**_OPTIONS)(_normalize_rows)
softmax_grad_rows = njit(**_OPTIONS)(_softmax_grad_rows)
softmax_grad_rows_parallel = njit_parallel(**_OPTIONS)(_softmax_grad_rows)
