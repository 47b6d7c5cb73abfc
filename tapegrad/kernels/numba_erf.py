"""``erf`` as a compiled loop (engine ``"numba"``).

NumPy has no ``erf``: the table's impl maps Python's ``math.erf`` over the elements one
object at a time, which made the exact GELU (``x / 2 * (1 + erf(x / sqrt 2))``) the most
expensive op of a Transformer step. The kernel runs the C library's ``erf`` in float64 in a
compiled loop (numba imported on the first call) and rounds to the input's dtype, as the
impl does.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np

from tapegrad.core.prims.elementwise import erf_p
from tapegrad.kernels.registry import register_kernel

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_loops: Any = None  # the compiled loop once imported; False where numba cannot be


def _import_loops() -> Any:
    global _loops
    try:
        _loops = importlib.import_module("tapegrad.kernels._erf_loops")
    except ImportError:
        _loops = False
    return _loops


def applies(x: Any) -> bool:
    """Whether the kernel takes ``x``: a float32/float64 NumPy array, numba importable."""
    if type(x) is not np.ndarray or x.dtype not in _FLOATS:
        return False
    return (_loops if _loops is not None else _import_loops()) is not False


def erf(x: np.ndarray) -> np.ndarray:
    """``erf`` elementwise, the impl's result.

    Examples:
        >>> float(erf(np.array([0.5]))[0]) == __import__("math").erf(0.5)
        True
    """
    if _loops is None:
        _import_loops()
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, x.dtype)
    _loops.erf_into(flat, out)
    return out.reshape(x.shape)


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(erf_p, "numba", erf, applies=applies)

__all__ = ["applies", "erf"]
