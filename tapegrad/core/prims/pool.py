"""Pooling primitives, channels-last: ``x (N, *spatial, C)``, any number of spatial dims;
params as in `windows.py` (a pool's strides default to its window).

Pools loop over the window offsets (a few strided slices each), never over pixels. Max
pooling routes each window's cotangent to its first maximum (PyTorch, Keras): the choice
is `pool_argmax` (not differentiable), and the routing is the linear pair
`pool_gather` / `pool_scatter`, each the other's transpose. Average pooling divides by the
number of real (unpadded) elements in each window, like Keras and TF, and pairs with
`avg_pool_transpose`.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.windows import (
    canonical_params,
    output_shape,
    pad_spatial,
    spatial_shape,
    unpad_spatial,
    window_slots,
)
from tapegrad.core.tensor import shape_of


def _pool_geometry(
    op: str, x_spatial: tuple[int, ...], window: tuple[int, ...], strides: Any, padding: Any
) -> tuple[Any, Any, tuple[int, ...], list[Any]]:
    strides, padding, dilation = canonical_params(len(window), strides or window, padding, None)
    out = output_shape(op, x_spatial, window, strides, padding, dilation)
    return strides, padding, out, window_slots(window, out, strides, dilation)


def _lowest(dtype: np.dtype) -> Any:
    return -np.inf if dtype.kind in "fc" else np.iinfo(dtype).min


def _max_pool_impl(
    x: Any, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    x = np.asarray(x)
    strides, padding, _, slots = _pool_geometry("max_pool", x.shape[1:-1], window, strides, padding)
    # Padding never wins a max. Strided-slice maxima beat reshape + max(axis) several times
    # over, also when strides == window.
    xp = pad_spatial(x, padding, _lowest(x.dtype))
    if len(slots) == 1:
        return xp[slots[0]].copy()
    out = np.maximum(xp[slots[0]], xp[slots[1]])
    for slot in slots[2:]:
        np.maximum(out, xp[slot], out=out)
    return out


def _pool_argmax_impl(
    x: Any, maxima: Any = None, *, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    """Each window's first maximum, as an offset into the window (row-major).

    ``maxima``, the max pool of ``x`` when the caller has it, saves recomputing it.
    """
    x = np.asarray(x)
    strides, padding, out, slots = _pool_geometry(
        "pool_argmax", x.shape[1:-1], window, strides, padding
    )
    xp = pad_spatial(x, padding, _lowest(x.dtype))
    dtype = np.uint8 if len(slots) <= 256 else np.intp
    if len(slots) == 1:  # (a window of one element: its only offset)
        return np.zeros((x.shape[0], *out, x.shape[-1]), dtype)
    if maxima is None:
        maxima = _max_pool_impl(x, window, strides, padding)
    # The offset of the first maximum is the number of leading offsets whose element is
    # not the maximum: boolean ands and byte adds, several times cheaper than tracking a
    # running argmax. (A NaN maximum equals nothing: the last offset, where it may be.)
    index = np.not_equal(xp[slots[0]], maxima)
    ahead = index.copy()
    index = index.astype(dtype)
    differs = np.empty(ahead.shape, bool)
    for slot in slots[1:-1]:
        np.not_equal(xp[slot], maxima, out=differs)
        ahead &= differs
        index += ahead
    return index


def _all_finite(a: np.ndarray) -> bool:
    """Whether every element is finite: one sum, no temporaries (NaN and inf survive a sum;
    a sum that overflows only sends finite values down the slow, exact path)."""
    if a.dtype.kind not in "fc":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.add.reduce(a, axis=None)))


def _masked(values: np.ndarray, mask: np.ndarray, finite: bool) -> np.ndarray:
    """``values`` where ``mask``, else 0. Multiplying by the mask is several times faster
    than ``np.where``, but 0 * inf is NaN: non-finite values take ``np.where``."""
    return values * mask if finite else np.where(mask, values, 0)


def _pool_gather_impl(
    x: Any, index: Any, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    """The element of each window that ``index`` selects (max pooling given its argmax)."""
    x, index = np.asarray(x), np.asarray(index)
    strides, padding, _, slots = _pool_geometry(
        "pool_gather", x.shape[1:-1], window, strides, padding
    )
    xp = pad_spatial(x, padding)
    finite = _all_finite(x)
    out = _masked(xp[slots[0]], index == 0, finite)
    for j, slot in enumerate(slots[1:], start=1):
        out += _masked(xp[slot], index == j, finite)
    return out


def _pool_scatter_impl(
    g: Any,
    index: Any,
    window: tuple[int, ...],
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
) -> np.ndarray:
    """The transpose of `pool_gather`: each window's ``g`` at its selected element."""
    g, index = np.asarray(g), np.asarray(index)
    strides, padding, _, slots = _pool_geometry(
        "pool_scatter", input_shape, window, strides, padding
    )
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(input_shape, padding, strict=True))
    finite = _all_finite(g)
    disjoint = all(s >= k for s, k in zip(strides, window, strict=True))
    out = shape_of(g)[1:-1]
    tiled = disjoint and all(
        s == k and m * s == n for s, k, m, n in zip(strides, window, out, padded, strict=True)
    )
    # Windows that tile the padded input write every element once below: no zero fill.
    empty = np.empty if tiled and finite else np.zeros
    dxp = empty((g.shape[0], *padded, g.shape[-1]), dtype=g.dtype)
    for j, slot in enumerate(slots):
        if disjoint and finite:  # each element is in one window at most: write, no add
            np.multiply(g, index == j, out=dxp[slot])
        else:
            dxp[slot] += _masked(g, index == j, finite)
    return unpad_spatial(dxp, padding, input_shape)


max_pool_p = Primitive("max_pool", _max_pool_impl, returns="fresh")
pool_argmax_p = Primitive("pool_argmax", _pool_argmax_impl, differentiable=False, returns="fresh")
pool_gather_p = Primitive("pool_gather", _pool_gather_impl, returns="fresh")
pool_scatter_p = Primitive("pool_scatter", _pool_scatter_impl, returns="fresh")


def _max_pool_vjp(g: Any, ans: Any, x: Any, **params: Any) -> Any:
    index = pool_argmax_p(x, ans, **params)
    return pool_scatter_p(g, index, input_shape=spatial_shape(x), **params)


def _max_pool_jvp(t: Any, ans: Any, x: Any, **params: Any) -> Any:
    return pool_gather_p(t, pool_argmax_p(x, ans, **params), **params)


max_pool_p.defvjp(_max_pool_vjp)
max_pool_p.defjvp(_max_pool_jvp)
pool_gather_p.defvjp(
    lambda c, ans, x, index, **params: pool_scatter_p(
        c, index, input_shape=spatial_shape(x), **params
    ),
    None,
)
pool_gather_p.defjvp(lambda t, ans, x, index, **params: pool_gather_p(t, index, **params), None)
pool_scatter_p.defvjp(
    lambda c, ans, g, index, input_shape, **params: pool_gather_p(c, index, **params), None
)
pool_scatter_p.defjvp(lambda t, ans, g, index, **params: pool_scatter_p(t, index, **params), None)


@functools.lru_cache(maxsize=64)
def _window_counts(
    spatial: tuple[int, ...], window: tuple[int, ...], strides: Any, padding: Any
) -> np.ndarray:
    """Real (unpadded) elements per window, shaped ``(1, *out, 1)``; read-only (cached)."""
    _, padding, _, slots = _pool_geometry("avg_pool", spatial, window, strides, padding)
    ones = pad_spatial(np.ones((1, *spatial, 1)), padding)
    counts = sum(ones[slot] for slot in slots)
    counts.flags.writeable = False
    return counts


def _inverse_counts(
    spatial: tuple[int, ...], window: tuple[int, ...], strides: Any, padding: Any, dtype: np.dtype
) -> Any:
    if not any(lo or hi for lo, hi in padding):
        return dtype.type(1 / math.prod(window))
    key = (tuple(spatial), tuple(window), tuple(strides), tuple(tuple(p) for p in padding))
    return (1 / _window_counts(*key)).astype(dtype)


def _avg_pool_impl(
    x: Any, window: tuple[int, ...], strides: Any = None, padding: Any = None
) -> np.ndarray:
    x = np.asarray(x)
    dtype = x.dtype if x.dtype.kind in "fc" else np.dtype(np.float64)
    strides, pads, _, slots = _pool_geometry("avg_pool", x.shape[1:-1], window, strides, padding)
    xp = pad_spatial(x, pads)
    out = xp[slots[0]].astype(dtype)
    for slot in slots[1:]:
        out += xp[slot]
    out *= _inverse_counts(x.shape[1:-1], window, strides, pads, dtype)
    return out


def _avg_pool_transpose_impl(
    g: Any,
    window: tuple[int, ...],
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
) -> np.ndarray:
    """The transpose of `avg_pool`: ``g / count`` spread over each window."""
    g = np.asarray(g)
    strides, pads, _, slots = _pool_geometry(
        "avg_pool_transpose", input_shape, window, strides, padding
    )
    share = g * _inverse_counts(input_shape, window, strides, pads, g.dtype)
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(input_shape, pads, strict=True))
    dxp = np.zeros((g.shape[0], *padded, g.shape[-1]), dtype=share.dtype)
    for slot in slots:
        dxp[slot] += share
    return unpad_spatial(dxp, pads, input_shape)


avg_pool_p = Primitive("avg_pool", _avg_pool_impl, returns="fresh")
avg_pool_transpose_p = Primitive("avg_pool_transpose", _avg_pool_transpose_impl, returns="fresh")
avg_pool_p.defvjp(
    lambda g, ans, x, **params: avg_pool_transpose_p(g, input_shape=spatial_shape(x), **params)
)
avg_pool_p.defjvp(lambda t, ans, x, **params: avg_pool_p(t, **params))
avg_pool_transpose_p.defvjp(lambda c, ans, g, input_shape, **params: avg_pool_p(c, **params))
avg_pool_transpose_p.defjvp(lambda t, ans, g, **params: avg_pool_transpose_p(t, **params))
