"""2-D max pooling in one pass per window (engine ``"numba"``), on one core or several.

Registered for `max_pool`, `pool_argmax` and `pool_scatter` on channels-last float32/float64
NumPy arrays with two spatial dims and no cropping (the scatter: windows that do not
overlap, as every ``MaxPooling2D`` whose strides are its pool size). The loops are
`_pool_loops`; numba is imported on the first call, where it is installed. Results are the
impls' bit for bit: the same maxima, the same first-maximum offsets, and each window's
cotangent routed to the same element.

Once `tapegrad.kernels.set_parallel_kernels` switches them on (they are off by default),
large arrays run the ``parallel=True`` loops where more than one thread is allowed
(`tapegrad.kernels._numba.threads`: numba's thread count within the CPU affinity and
``OMP_NUM_THREADS``); a one-thread process runs the serial loops.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import Any

import numpy as np

from tapegrad.core.prims.pool import max_pool_p, pool_argmax_p, pool_scatter_p
from tapegrad.core.prims.windows import canonical_params, output_shape
from tapegrad.kernels.registry import register_kernel

#: From this many elements (of the pooled input) on, the loops run on several threads.
PARALLEL_MIN_SIZE = 1 << 15
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@functools.cache
def _loops() -> Any:
    """The compiled loops, or None where numba cannot be imported."""
    try:
        return importlib.import_module("tapegrad.kernels._pool_loops")
    except ImportError:
        return None


@functools.cache
def _numba() -> Any:
    return importlib.import_module("tapegrad.kernels._numba")


def _geometry(
    spatial: tuple[int, ...], window: tuple[int, ...], strides: Any, padding: Any
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, int], tuple[int, ...]]:
    """``(window, strides, padding before each dim, output spatial shape)``, as the impls."""
    strides, padding, dilation = canonical_params(len(window), strides or window, padding, None)
    out = output_shape("max_pool", spatial, window, strides, padding, dilation)
    return tuple(window), tuple(strides), (padding[0][0], padding[1][0]), out


def _geometry_applies(window: Any, strides: Any, padding: Any) -> bool:
    if len(window) != 2 or (strides is not None and len(strides) != 2):
        return False
    return padding is None or (len(padding) == 2 and all(lo >= 0 and hi >= 0 for lo, hi in padding))


def _is_float4(a: Any) -> bool:
    return type(a) is np.ndarray and a.ndim == 4 and a.dtype in _FLOATS and a.size > 0


def _run(name: str, size: int, *args: Any) -> None:
    """Loop ``name`` of `_pool_loops` on ``args``: serial, or its parallel twin (`_numba.run`)."""
    loops = _loops()
    _numba().run(
        getattr(loops, name), getattr(loops, f"{name}_parallel"), size, PARALLEL_MIN_SIZE, *args
    )


def _contiguous(a: np.ndarray) -> np.ndarray:
    """``a`` as a C-contiguous array (a copy only where it is not): the loops are compiled
    for one layout, not once per layout."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _lowest(dtype: np.dtype) -> Any:
    return dtype.type(-np.inf)


def max_pool_applies(x: Any, window: Any = (), strides: Any = None, padding: Any = None) -> bool:
    """Whether `max_pool` runs here: a 4-D float NumPy array, a 2-D window, no cropping."""
    return _is_float4(x) and _geometry_applies(window, strides, padding) and _loops() is not None


def max_pool(
    x: np.ndarray, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    """`max_pool` (the maximum of each window), one pass over the input."""
    window, strides, pads, out = _geometry(x.shape[1:-1], window, strides, padding)
    x = _contiguous(x)
    y = np.empty((x.shape[0], *out, x.shape[-1]), x.dtype)
    _run("max_pool", x.size, x, *window, *strides, *pads, _lowest(x.dtype), y)
    return y


def pool_argmax_applies(
    x: Any, maxima: Any = None, *, window: Any = (), strides: Any = None, padding: Any = None
) -> bool:
    """Whether `pool_argmax` runs here: as `max_pool_applies`, and ``maxima`` None or an
    array of ``x``'s dtype."""
    if maxima is not None and not (type(maxima) is np.ndarray and maxima.dtype == x.dtype):
        return False
    return max_pool_applies(x, window, strides, padding)


def pool_argmax(
    x: np.ndarray,
    maxima: np.ndarray | None = None,
    *,
    window: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
) -> np.ndarray:
    """`pool_argmax`: the offset of each window's first maximum (uint8 for windows of up to
    256 elements)."""
    if maxima is None:
        maxima = max_pool(x, window, strides, padding)
    window, strides, pads, out = _geometry(x.shape[1:-1], window, strides, padding)
    x, maxima = _contiguous(x), _contiguous(maxima)
    shape = (x.shape[0], *out, x.shape[-1])
    if maxima.shape != shape:
        raise ValueError(f"pool_argmax: maxima {maxima.shape} for windows shaped {shape}")
    index = np.empty(shape, np.uint8 if window[0] * window[1] <= 256 else np.intp)
    _run("pool_argmax", x.size, x, maxima, *window, *strides, *pads, _lowest(x.dtype), index)
    return index


def pool_scatter_applies(
    g: Any,
    index: Any,
    window: Any = (),
    input_shape: Any = (),
    strides: Any = None,
    padding: Any = None,
) -> bool:
    """Whether `pool_scatter` runs here: a 4-D float cotangent, an integer index of its
    shape, windows that do not overlap."""
    if not (_is_float4(g) and type(index) is np.ndarray and index.shape == g.shape):
        return False
    if index.dtype.kind not in "ui" or not _geometry_applies(window, strides, padding):
        return False
    steps = window if strides is None else strides
    return all(s >= k for s, k in zip(steps, window, strict=True)) and _loops() is not None


def pool_scatter(
    g: np.ndarray,
    index: np.ndarray,
    window: tuple[int, ...],
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
) -> np.ndarray:
    """`pool_scatter`: each window's cotangent at its selected element, 0 elsewhere."""
    window, strides, pads, out = _geometry(tuple(input_shape), window, strides, padding)
    g, index = _contiguous(g), _contiguous(index)
    if g.shape[1:-1] != out:
        raise ValueError(
            f"pool_scatter: cotangent {g.shape} does not match the pooled shape {out} of "
            f"input {tuple(input_shape)}"
        )
    # Windows that tile the input write every element: no zero fill first.
    tiled = all(
        s == k and m * s == n and p == 0
        for s, k, m, n, p in zip(strides, window, out, input_shape, pads, strict=True)
    )
    shape = (g.shape[0], *input_shape, g.shape[-1])
    dx = np.empty(shape, g.dtype) if tiled else np.zeros(shape, g.dtype)
    _run("pool_scatter", dx.size, g, index, *window, *strides, *pads, g.dtype.type(0), dx)
    return dx


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(max_pool_p, "numba", max_pool, applies=max_pool_applies)
    register_kernel(pool_argmax_p, "numba", pool_argmax, applies=pool_argmax_applies)
    register_kernel(pool_scatter_p, "numba", pool_scatter, applies=pool_scatter_applies)

__all__ = [
    "PARALLEL_MIN_SIZE",
    "max_pool",
    "max_pool_applies",
    "pool_argmax",
    "pool_argmax_applies",
    "pool_scatter",
    "pool_scatter_applies",
]
