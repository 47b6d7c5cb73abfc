"""The attention softmax and its gradient in fewer passes (engine ``"numba"``).

Registered for `attention_softmax` (scores with no mask and no causal band: a masked call
takes the impl) and `attention_softmax_grad` on float32/float64 NumPy arrays. The loops are
`_attention_loops`; numba is imported on the first call, where it is installed. The
forward pass reads the scores once and makes NumPy's ``exp`` pass in place (three passes
over a scores-sized array where the impl makes six), the gradient one pass (the impl
five): on a Transformer's ``(batch, heads, T, S)`` scores the backward softmax takes about
a third of the impl's time and the forward three quarters. Row sums accumulate in float64,
so the results are within rounding of the impls (not bit for bit: the impls sum in the
array's dtype).

Once `tapegrad.kernels.set_parallel_kernels` switches them on, large arrays run the
``parallel=True`` loops (rows split over numba's threads) where more than one thread is
allowed; a one-thread process runs the serial loops.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any

import numpy as np

from tapegrad.core.prims.attention import attention_softmax_grad_p, attention_softmax_p
from tapegrad.kernels._numba import import_loops, run
from tapegrad.kernels.registry import register_kernel

#: From this many elements of the scores on, the loops run on several threads.
PARALLEL_MIN_SIZE = 1 << 16
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@functools.cache
def _loops() -> Any:
    """The compiled loops, or None where numba cannot be imported."""
    return import_loops("_attention_loops") or None


def _rows(x: np.ndarray) -> np.ndarray:
    """``x`` as C-ordered ``(rows, keys)`` (a view where ``x`` is C-ordered)."""
    return np.ascontiguousarray(x).reshape(-1, x.shape[-1])


def applies(scores: Any, mask: Any, *, scale: float, causal: bool) -> bool:
    """Whether the kernel takes these `attention_softmax` arguments: float scores with at
    least one key, no mask (``True``) and no causal band, numba importable."""
    if type(scores) is not np.ndarray or scores.dtype not in _FLOATS or causal:
        return False
    if scores.ndim == 0 or scores.size == 0:
        return False
    if not isinstance(mask, np.ndarray | np.bool_ | bool) or np.ndim(mask) != 0 or not mask:
        return False
    return _loops() is not None


def attention_softmax(scores: np.ndarray, mask: Any, *, scale: float, causal: bool) -> np.ndarray:
    """`attention_softmax`'s result on unmasked scores: ``softmax(scores * scale)`` over
    the last axis (within rounding of the impl, see above).

    Examples:
        >>> attention_softmax(np.array([[0.0, np.log(3.0)]]), np.True_, scale=1.0, causal=False)
        array([[0.25, 0.75]])
    """
    loops = _loops()
    out = np.empty(scores.shape, scores.dtype)
    rows, out_rows = _rows(scores), out.reshape(-1, scores.shape[-1])
    run(
        loops.shift_rows, loops.shift_rows_parallel, out.size, PARALLEL_MIN_SIZE,
        rows, float(scale), out_rows,
    )  # fmt: skip
    np.exp(out, out=out)  # NumPy's vectorized exp, in place
    run(loops.normalize_rows, loops.normalize_rows_parallel, out.size, PARALLEL_MIN_SIZE, out_rows)
    return out


def applies_grad(g: Any, probs: Any, *, scale: float) -> bool:
    """Whether the kernel takes these `attention_softmax_grad` arguments: float arrays of
    one shape and dtype, numba importable."""
    if type(g) is not np.ndarray or type(probs) is not np.ndarray:
        return False
    if g.dtype not in _FLOATS or probs.dtype != g.dtype or probs.shape != g.shape:
        return False
    if g.ndim == 0 or g.size == 0:
        return False
    return _loops() is not None


def attention_softmax_grad(g: np.ndarray, probs: np.ndarray, *, scale: float) -> np.ndarray:
    """`attention_softmax_grad`'s result: ``scale * p * (g - sum(g * p))`` along the last
    axis (within rounding of the impl, see above).

    Examples:
        >>> attention_softmax_grad(np.array([[1.0, 0.0]]), np.array([[0.5, 0.5]]), scale=2.0)
        array([[ 0.5, -0.5]])
    """
    loops = _loops()
    out = np.empty(g.shape, g.dtype)
    run(
        loops.softmax_grad_rows, loops.softmax_grad_rows_parallel, out.size, PARALLEL_MIN_SIZE,
        _rows(g), _rows(probs), float(scale), out.reshape(-1, g.shape[-1]),
    )  # fmt: skip
    return out


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(attention_softmax_p, "numba", attention_softmax, applies=applies)
    register_kernel(attention_softmax_grad_p, "numba", attention_softmax_grad, applies=applies_grad)

__all__ = [
    "PARALLEL_MIN_SIZE",
    "applies",
    "applies_grad",
    "attention_softmax",
    "attention_softmax_grad",
]
