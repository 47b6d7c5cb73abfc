"""The softmax cross-entropy and its derivative in one pass per row (engine ``"numba"``).

Registered for `sparse_softmax_cross_entropy`, `sparse_softmax_cross_entropy_delta` and
the loss-with-delta pair that generated code calls, on float32/float64 NumPy logits of at
most `MAX_SIZE` elements with int64 labels (the loop is `_xent_loops`; numba is imported on
the first call, where it is installed). One kernel computes all three, so they agree bit for
bit with each other, and within a few ulps with the NumPy impls.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np

from tapegrad.core.prims.xent import (
    sparse_softmax_cross_entropy_delta_p,
    sparse_softmax_cross_entropy_p,
    sparse_softmax_cross_entropy_with_delta_p,
)
from tapegrad.kernels._numba import import_loops
from tapegrad.kernels.registry import register_kernel

#: Logits up to this size: past it NumPy's SIMD exp outruns the loop's scalar one.
MAX_SIZE = 1 << 16
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


_loops: Any = None  # the compiled loops once imported; False where numba cannot be


def _import_loops() -> Any:
    global _loops
    _loops = import_loops("_xent_loops")
    return _loops


def applies(logits: Any, labels: Any) -> bool:
    """Whether the kernels take these arguments: float NumPy logits of at most `MAX_SIZE`
    elements, int64 labels of the logits' leading shape, numba importable."""
    if (
        type(logits) is not np.ndarray
        or logits.ndim == 0
        or logits.dtype not in _FLOATS
        or not 0 < logits.size <= MAX_SIZE
    ):
        return False
    labels = np.asarray(labels)
    if labels.dtype != np.int64 or labels.shape != logits.shape[:-1]:
        return False
    return (_loops if _loops is not None else _import_loops()) is not False


def xent_with_delta(logits: np.ndarray, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """The loss and its delta, as `sparse_softmax_cross_entropy_with_delta`."""
    rows = np.ascontiguousarray(logits).reshape(-1, logits.shape[-1])
    flat = np.ascontiguousarray(labels).reshape(-1)
    loss, delta = np.empty(rows.shape[0], logits.dtype), np.empty(rows.shape, logits.dtype)
    bad = _loops.xent_loss_and_delta(rows, flat, loss, delta)
    if bad >= 0:  # what NumPy's fancy indexing says
        raise IndexError(f"index {flat[bad]} is out of bounds for axis 1 with size {rows.shape[1]}")
    return loss.reshape(logits.shape[:-1]), delta.reshape(logits.shape)


def xent(logits: np.ndarray, labels: Any) -> np.ndarray:
    """`sparse_softmax_cross_entropy` (the pass computes the delta too)."""
    return xent_with_delta(logits, labels)[0]


def xent_delta(logits: np.ndarray, labels: Any) -> np.ndarray:
    """`sparse_softmax_cross_entropy_delta` (the pass computes the loss too)."""
    return xent_with_delta(logits, labels)[1]


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(sparse_softmax_cross_entropy_p, "numba", xent, applies=applies)
    register_kernel(sparse_softmax_cross_entropy_delta_p, "numba", xent_delta, applies=applies)
    register_kernel(
        sparse_softmax_cross_entropy_with_delta_p, "numba", xent_with_delta, applies=applies
    )

__all__ = ["MAX_SIZE", "applies", "xent", "xent_delta", "xent_with_delta"]
