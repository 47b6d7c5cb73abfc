"""The LSTM's step loops in numba (engine ``"numba"``, float32).

Registered for `lstm` and `lstm_grad` on float32 NumPy arrays: the loops of
`tapegrad.core.prims.lstm` (`lstm_sequence`, `lstm_sequence_grad`: GEMMs, layout, chunks)
with each step's elementwise work done by the compiled steps of `_lstm_loops` (numba is
imported on the first call, where it is installed), and each step's recurrent product cut
into row blocks that the BLAS's small-matrix kernel takes (`blocked_product`). The backward
step gives the NumPy step's results bit for bit; the forward step's ``tanh`` is within a few
1e-7 of NumPy's; a blocked product may differ from the whole one in the last bits.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import Any

import numpy as np

from tapegrad.core.prims.lstm import (
    forward_steps,
    lstm_grad_p,
    lstm_grads_p,
    lstm_p,
    lstm_sequence,
    lstm_sequence_grad,
    lstm_sequence_grads,
    matmul_into,
)
from tapegrad.kernels.registry import register_kernel

_F32 = np.dtype(np.float32)
# OpenBLAS's small-matrix sgemm (SkylakeX and later) skips packing both operands for
# products of at most 10**6 multiply-adds: the recurrent products of a few hundred units,
# cut into that many row blocks, run faster than whole (which pack the weights every step).
_SMALL_GEMM = 10**6
_MAX_BLOCKS = 4  # beyond, packing pays for itself; more calls would only add their cost
_ROW_ALIGN = 16  # block boundaries on whole AVX-512 float32 registers


@functools.cache
def _loops() -> Any:
    """The compiled steps, or None where numba cannot be imported."""
    try:
        return importlib.import_module("tapegrad.kernels._lstm_loops")
    except ImportError:
        return None


def _all_f32(arrays: tuple[Any, ...]) -> bool:
    # (None: a cotangent `lstm_grad` reads as zeros)
    return all(a is None or (type(a) is np.ndarray and a.dtype == _F32) for a in arrays)


def applies(*arrays: Any, **params: Any) -> bool:
    """Whether the kernels take these arguments: float32 NumPy arrays (or None for a zero
    cotangent), numba importable."""
    return _all_f32(arrays) and _loops() is not None


def row_bounds(rows: int, inner: int, cols: int) -> np.ndarray:
    """Where to cut the rows of a ``(rows, inner) @ (inner, cols)`` product so that each
    block fits the BLAS's small-matrix kernel (see ``_SMALL_GEMM``): ``[0, ..., rows]``,
    only ``[0, rows]`` where the whole fits or needs more than ``_MAX_BLOCKS`` blocks.

    Examples:
        >>> row_bounds(512, 128, 32).tolist(), row_bounds(64, 64, 32).tolist()
        ([0, 176, 352, 512], [0, 64])
    """
    blocks = -(-rows * inner * cols // _SMALL_GEMM)
    if blocks <= 1 or blocks > _MAX_BLOCKS:
        return np.array([0, rows], np.int64)
    size = -(-rows // blocks // _ROW_ALIGN) * _ROW_ALIGN
    if size * inner * cols > _SMALL_GEMM:
        size = -(-rows // blocks)
    return np.array([*range(0, rows, size), rows], np.int64)


def blocked_product(a: np.ndarray, out: np.ndarray) -> Any:
    """A `tapegrad.core.prims.lstm.Product`: ``b -> a @ b`` into ``out``, as products of the
    row blocks of `row_bounds`.

    Examples:
        >>> import numpy as np
        >>> a, b = np.ones((512, 128), np.float32), np.ones((128, 32), np.float32)
        >>> out = np.empty((512, 32), np.float32)
        >>> _ = blocked_product(a, out)(b)  # three blocks of at most 176 rows
        >>> float(out.min()), float(out.max())
        (128.0, 128.0)
    """
    bounds = row_bounds(*a.shape, out.shape[1]).tolist()
    if len(bounds) == 2:
        return matmul_into(a, out)
    parts = [(a[r:e], out[r:e]) for r, e in zip(bounds[:-1], bounds[1:], strict=True)]

    def product(b: np.ndarray) -> None:
        for a_rows, out_rows in parts:
            np.matmul(a_rows, b, out=out_rows)

    return product


@functools.cache
def numba_blas() -> bool:
    """Whether compiled loops may call the BLAS: numba's ``np.dot`` calls SciPy's."""
    return importlib.util.find_spec("scipy") is not None


def _forward_steps(block: np.ndarray, w_rec: np.ndarray, recurrent: np.ndarray) -> None:
    if numba_blas():
        bounds = row_bounds(*w_rec.shape, recurrent.shape[1])
        _loops().forward_steps(block, w_rec, recurrent, bounds)
    else:  # the loop in Python around the compiled step
        forward_steps(block, w_rec, recurrent, _loops().forward_step, blocked_product)


def lstm(x: np.ndarray, weights: np.ndarray, state0: np.ndarray) -> tuple[np.ndarray, ...]:
    """`lstm` with numba's loop of steps."""
    return lstm_sequence(x, weights, state0, _forward_steps)


def lstm_grad(
    g_hs: np.ndarray | None,
    g_cs: np.ndarray | None,
    x: np.ndarray,
    weights: np.ndarray,
    state0: np.ndarray,
    hs: np.ndarray,
    cs: np.ndarray,
    residual: np.ndarray,
    argnum: int,
) -> np.ndarray:
    """`lstm_grad` with numba's backward step."""
    return lstm_sequence_grad(
        g_hs,
        g_cs,
        x,
        weights,
        state0,
        hs,
        cs,
        residual,
        argnum,
        _loops().backward_step,
        blocked_product,
    )


def lstm_grads(
    g_hs: np.ndarray | None,
    g_cs: np.ndarray | None,
    x: np.ndarray,
    weights: np.ndarray,
    state0: np.ndarray,
    hs: np.ndarray,
    cs: np.ndarray,
    residual: np.ndarray,
    *,
    argnums: tuple[int, ...],
) -> tuple[np.ndarray, ...]:
    """`lstm_grads` (several arguments' cotangents, one BPTT) with numba's backward step."""
    args = (g_hs, g_cs, x, weights, state0, hs, cs, residual)
    return lstm_sequence_grads(
        *args, argnums=argnums, step=_loops().backward_step, product=blocked_product
    )


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(lstm_p, "numba", lstm, applies=applies)
    register_kernel(lstm_grad_p, "numba", lstm_grad, applies=applies)
    register_kernel(lstm_grads_p, "numba", lstm_grads, applies=applies)

__all__ = [
    "applies",
    "blocked_product",
    "lstm",
    "lstm_grad",
    "lstm_grads",
    "numba_blas",
    "row_bounds",
]
