"""``erf`` and the exact GELU as compiled loops (engine ``"numba"``).

NumPy has no ``erf``: the table's impl maps Python's ``math.erf`` over the elements one
object at a time, which made the exact GELU (``x / 2 * (1 + erf(x / sqrt 2))``) the most
expensive op of a Transformer step. The kernels (numba imported on the first call) run:

* float64: the C library's ``erf``/``exp`` in a compiled loop. ``erf`` is the impl's result
  bit for bit; `gelu` and `gelu_grad` are within rounding of the impls (libm's ``exp``
  against NumPy's).
* float32: loops with no libm call, which LLVM vectorizes (`tapegrad.kernels._erf_loops`
  says how): each element is computed in float64 with polynomials (relative error near
  1e-10) and rounded once, so every result is within 1 ulp of the exact value rounded to
  float32 (measured over every float32 in [-10, 10] at step 1e-4, the tails, denormals,
  +-0: `erf` 0 ulp, `gelu` 1 ulp, `gelu_grad` 1 ulp, 3 next to its zero at x = -0.7518
  where the terms cancel). The float32 impls round each step to float32, and ``1 + erf``
  cancels for negative x: there the kernels are the closer of the two (they differ from
  the impl by at most 4.8e-7 for `gelu`, 1.2e-7 for `gelu_grad`, in absolute value).
  +-inf and NaN give what the impls give.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import numpy as np

from tapegrad.core.prims.elementwise import erf_p
from tapegrad.core.prims.gelu import gelu_grad_p, gelu_p
from tapegrad.kernels._numba import import_loops
from tapegrad.kernels.registry import register_kernel

_F32 = np.dtype(np.float32)
_FLOATS = (_F32, np.dtype(np.float64))
_loops: Any = None  # the compiled loop once imported; False where numba cannot be


def _import_loops() -> Any:
    global _loops
    _loops = import_loops("_erf_loops")
    return _loops


def applies(x: Any) -> bool:
    """Whether the kernel takes ``x``: a float32/float64 NumPy array, numba importable."""
    if type(x) is not np.ndarray or x.dtype not in _FLOATS:
        return False
    return (_loops if _loops is not None else _import_loops()) is not False


def _run(loop: str, x: np.ndarray) -> np.ndarray:
    if _loops is None:
        _import_loops()
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty(flat.shape, x.dtype)
    # float32 takes the vectorized loop (`<loop>_f32`), float64 libm's.
    getattr(_loops, loop + "_f32" if x.dtype == _F32 else loop)(flat, out)
    return out.reshape(x.shape)


def erf(x: np.ndarray) -> np.ndarray:
    """``erf`` elementwise: the impl's result (float32: within 1 ulp of it, see above).

    Examples:
        >>> float(erf(np.array([0.5]))[0]) == __import__("math").erf(0.5)
        True
    """
    return _run("erf_into", x)


def gelu(x: np.ndarray) -> np.ndarray:
    """The exact GELU elementwise (`gelu`'s impl, see above).

    Examples:
        >>> gelu(np.array([0.0, 1.0])).round(4)
        array([0.    , 0.8413])
    """
    return _run("gelu_into", x)


def gelu_grad(x: np.ndarray) -> np.ndarray:
    """The exact GELU's derivative elementwise (`gelu_grad`'s impl, see above).

    Examples:
        >>> gelu_grad(np.array([0.0]))
        array([0.5])
    """
    return _run("gelu_grad_into", x)


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(erf_p, "numba", erf, applies=applies)
    register_kernel(gelu_p, "numba", gelu, applies=applies)
    register_kernel(gelu_grad_p, "numba", gelu_grad, applies=applies)

__all__ = ["applies", "erf", "gelu", "gelu_grad"]
