"""NumPy fast paths (engine ``"numpy"``): the same NumPy calls as the reference impls, laid
out so NumPy takes its faster loops. Results are bit for bit the impls'.

relu: ``np.maximum`` has SIMD loops only where both operands are contiguous arrays; against
the scalar 0 of the impl it takes a slower loop on large inputs. Large float arrays meet a
cached read-only zeros array of their shape instead (benchmarks/README.md has the timings).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tapegrad.core.prims.elementwise import relu_p
from tapegrad.kernels.registry import register_kernel, register_operand

#: Float arrays from this size on meet a zeros array (below it the scalar loop is as fast).
RELU_ZEROS_MIN_SIZE = 4096


@functools.lru_cache(maxsize=8)
def relu_zeros(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only zeros array (shared: the second operand of relu's maximum)."""
    zeros = np.zeros(shape, dtype)
    zeros.flags.writeable = False
    return zeros


def relu_against_zeros(x: Any) -> Any:
    """``relu(x)``, large float NumPy arrays as ``np.maximum(x, zeros)``: the impl's values
    and bits, faster. Other arrays as the impl.

    The kernel applies to every array and tests sizes itself: a separate ``applies``
    predicate would cost a Python call on every relu, small ones included.
    """
    if type(x) is np.ndarray and x.size >= RELU_ZEROS_MIN_SIZE and x.dtype.kind == "f":
        return np.maximum(x, relu_zeros(x.shape, x.dtype))
    return np.maximum(x, 0)  # (the impl's one line: a call to it costs as much again)


def relu_zeros_for(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    """The zeros array generated code passes to relu's maximum for a value of this shape
    and dtype, or None where the kernel does not apply (small, not float).

    Registered as relu's operand (`register_operand`): the code generator asks the
    registry, which skips it while the numpy engine is off.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or int(np.prod(shape, dtype=np.int64)) < RELU_ZEROS_MIN_SIZE:
        return None
    return relu_zeros(tuple(shape), dtype)


register_kernel(relu_p, "numpy", relu_against_zeros)
register_operand(relu_p, "numpy", relu_zeros_for)

__all__ = ["RELU_ZEROS_MIN_SIZE", "relu_against_zeros", "relu_zeros", "relu_zeros_for"]
