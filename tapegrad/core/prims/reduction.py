"""Reduction primitives: sum, max/min, prod, cumsum, cumprod; and the index-valued ops
with no gradient (argmax, argmin, nanargmax, nanargmin, argsort, argpartition,
searchsorted, any, all, count_nonzero).

``axis`` is always ``None`` or a tuple of non-negative ints here (the NumPy namespace
normalises it), which keeps params hashable and rules simple; the arg-ops take NumPy's
single int ``axis``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.elementwise import cast_p, equal_p, where_p
from tapegrad.core.prims.shape import (
    broadcast_to_p,
    concatenate_p,
    getitem_p,
    pad_p,
    reshape_p,
    transpose_p,
)
from tapegrad.core.tensor import Tensor, dtype_of, ndim_of, shape_of


def normalize_axis(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """NumPy's ``axis`` argument as a sorted tuple of non-negative ints (or None: all)."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int | np.integer) else tuple(axis)
    out = []
    for a in axes:
        a = int(a)
        if not -ndim <= a < max(ndim, 1):
            raise np.exceptions.AxisError(
                f"axis {a} is out of bounds for array of dimension {ndim}"
            )
        out.append(a % ndim if ndim else 0)
    return tuple(sorted(out))


def keepdims_shape(shape: tuple[int, ...], axis: tuple[int, ...] | None) -> tuple[int, ...]:
    """The shape of a reduction over ``axis`` with ``keepdims=True``."""
    if axis is None:
        return (1,) * len(shape)
    return tuple(1 if i in axis else s for i, s in enumerate(shape))


def _expand(g: Any, x_shape: tuple[int, ...], axis: Any, keepdims: bool) -> Any:
    """Broadcast a reduction's cotangent back over the reduced axes."""
    if axis is None:
        # A full reduction's cotangent (shape () or all ones) broadcasts as it is.
        return broadcast_to_p(g, shape=x_shape)
    if not keepdims:
        g = reshape_p(g, shape=keepdims_shape(x_shape, axis))
    return broadcast_to_p(g, shape=x_shape)


# -- sum ---------------------------------------------------------------------------------
# ufunc.reduce directly: same results and dtypes as np.sum, without its Python wrapper.
sum_p = Primitive(
    "sum",
    lambda x, axis=None, keepdims=False: np.add.reduce(x, axis=axis, keepdims=keepdims),
    returns="fresh_like_inputs",
    reduce_ufunc=np.add,
)
sum_p.defvjp(lambda g, ans, x, axis=None, keepdims=False: _expand(g, shape_of(x), axis, keepdims))
sum_p.defjvp(lambda t, ans, x, axis=None, keepdims=False: sum_p(t, axis=axis, keepdims=keepdims))


# -- max / min ---------------------------------------------------------------------------
def _extremum_weights(ans: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """1/count at every position equal to the extremum: ties share the gradient evenly."""
    shape = shape_of(x)
    if not keepdims:
        ans = reshape_p(ans, shape=keepdims_shape(shape, axis))
    hits = cast_p(equal_p(x, ans), dtype=dtype_of(x))
    return hits / sum_p(hits, axis=axis, keepdims=True)


def _extremum_vjp(g: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _expand(g, shape_of(x), axis, keepdims) * _extremum_weights(ans, x, axis, keepdims)


def _extremum_jvp(t: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    weighted = t * _extremum_weights(ans, x, axis, keepdims)
    return sum_p(weighted, axis=axis, keepdims=keepdims)


max_p = Primitive(
    "max",
    lambda x, axis=None, keepdims=False: np.maximum.reduce(x, axis=axis, keepdims=keepdims),
    returns="fresh_like_inputs",
    reduce_ufunc=np.maximum,
)
max_p.defvjp(_extremum_vjp)
max_p.defjvp(_extremum_jvp)
min_p = Primitive(
    "min",
    lambda x, axis=None, keepdims=False: np.minimum.reduce(x, axis=axis, keepdims=keepdims),
    returns="fresh_like_inputs",
    reduce_ufunc=np.minimum,
)
min_p.defvjp(_extremum_vjp)
min_p.defjvp(_extremum_jvp)


# -- prod --------------------------------------------------------------------------------
def _exclusive_cumprod(x: Any, reverse: bool) -> Any:
    """Products of the elements strictly before (or after) each one along the last axis."""
    last = ndim_of(x) - 1  # non-negative, like every axis param in this module
    n = shape_of(x)[last]
    if reverse:
        x = getitem_p(x, index=(Ellipsis, slice(None, None, -1)))
    ones = ones_like_last(x)
    shifted = concatenate_p(ones, getitem_p(x, index=(Ellipsis, slice(0, n - 1))), axis=-1)
    out = cumprod_p(shifted, axis=last)
    if reverse:
        out = getitem_p(out, index=(Ellipsis, slice(None, None, -1)))
    return out


def ones_like_last(x: Any) -> Any:
    """An array of ones shaped like ``x`` with a last axis of length 1."""
    return np.ones(shape_of(x)[:-1] + (1,), dtype=dtype_of(x))


def product_of_others(x: Any, axis: tuple[int, ...] | None) -> Any:
    """For each element, the product of the other elements of its reduction group.

    Computed from exclusive cumulative products, so zeros need no special case and no
    division happens (exact where ``ans / x`` would be 0/0).
    """
    shape = shape_of(x)
    ndim = len(shape)
    axes = tuple(range(ndim)) if axis is None else axis
    kept = tuple(i for i in range(ndim) if i not in axes)
    perm = kept + axes
    moved = transpose_p(x, axes=perm)
    group = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    if group == 0:
        return np.zeros(shape, dtype=dtype_of(x))
    flat = reshape_p(moved, shape=tuple(shape[i] for i in kept) + (group,))
    others = _exclusive_cumprod(flat, False) * _exclusive_cumprod(flat, True)
    others = reshape_p(others, shape=shape_of(moved))
    return transpose_p(others, axes=tuple(np.argsort(perm)))


def _prod_vjp(g: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return _expand(g, shape_of(x), axis, keepdims) * product_of_others(x, axis)


def _prod_jvp(t: Any, ans: Any, x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    return sum_p(t * product_of_others(x, axis), axis=axis, keepdims=keepdims)


prod_p = Primitive(
    "prod",
    lambda x, axis=None, keepdims=False: np.prod(x, axis, keepdims=keepdims),
    returns="fresh_like_inputs",
)
prod_p.defvjp(_prod_vjp)
prod_p.defjvp(_prod_jvp)


# -- cumulative --------------------------------------------------------------------------
def _flip(x: Any, axis: int) -> Any:
    index = [slice(None)] * ndim_of(x)
    index[axis] = slice(None, None, -1)
    return getitem_p(x, index=tuple(index))


def _reverse_cumsum(g: Any, axis: int) -> Any:
    return _flip(cumsum_p(_flip(g, axis), axis=axis), axis)


cumsum_p = Primitive("cumsum", lambda x, axis: np.cumsum(x, axis=axis), returns="fresh_like_inputs")
cumsum_p.defvjp(lambda g, ans, x, axis: _reverse_cumsum(g, axis))
cumsum_p.defjvp(lambda t, ans, x, axis: cumsum_p(t, axis=axis))


def _cumprod_vjp(g: Any, ans: Any, x: Any, axis: int) -> Any:
    # d ans_j / d x_i = prod_{k <= j, k != i} x_k, which is ans_j / x_i away from zeros.
    return _by_zeros(
        x,
        lambda safe: _reverse_cumsum(g * ans, axis) / safe,
        lambda: _cumprod_vjp_with_zeros(g, x, axis),
    )


def _cumprod_vjp_with_zeros(g: Any, x: Any, axis: int) -> Any:
    # Sum the products explicitly (no division): a product that contains a zero is 0 but
    # its derivative is not, so this keeps second derivatives exact too.
    ndim, n = ndim_of(x), shape_of(x)[axis]
    total = None
    for j in range(n):
        prefix = [slice(None)] * ndim
        prefix[axis] = slice(0, j + 1)
        row = [slice(None)] * ndim
        row[axis] = slice(j, j + 1)
        others = product_of_others(getitem_p(x, index=tuple(prefix)), (axis,))
        widths = [(0, 0)] * ndim
        widths[axis] = (0, n - 1 - j)
        piece = pad_p(getitem_p(g, index=tuple(row)) * others, pad_width=tuple(widths))
        total = piece if total is None else total + piece
    return total


def _cumprod_jvp(t: Any, ans: Any, x: Any, axis: int) -> Any:
    # Forward mode by linearity: the JVP is the VJP's transpose, sum_i t_i d ans_j/d x_i,
    # = ans_j * cumsum(t / x)_j away from zeros; zeros handled through the VJP structure.
    return _by_zeros(
        x,
        lambda safe: ans * cumsum_p(t / safe, axis=axis),
        lambda: _cumprod_jvp_with_zeros(t, x, axis),
    )


def _cumprod_jvp_with_zeros(t: Any, x: Any, axis: int) -> Any:
    pieces = []
    for j in range(shape_of(x)[axis]):
        # ans_j depends on x_0..x_j: a prod over that prefix, exact with zeros.
        prefix = [slice(None)] * ndim_of(x)
        prefix[axis] = slice(0, j + 1)
        sub_x = getitem_p(x, index=tuple(prefix))
        sub_t = getitem_p(t, index=tuple(prefix))
        pieces.append(sum_p(sub_t * product_of_others(sub_x, (axis,)), axis=(axis,), keepdims=True))
    return concatenate_p(*pieces, axis=axis)


def _by_zeros(x: Any, dividing: Any, with_zeros: Any) -> Any:
    """``dividing(x)`` if ``x`` has no zero, else ``with_zeros()`` (cumprod's rules).

    On arrays the values decide which one runs. On Tensors (higher derivatives, graph
    tracing) the choice must not be made from the values at hand — a traced graph runs
    on other values — so both are computed and a `where` on the values picks one, giving
    the same numbers as the array path.
    """
    if not isinstance(x, Tensor):
        return dividing(x) if not (np.asarray(x) == 0).any() else with_zeros()
    if math.prod(shape_of(x)) == 0:
        return dividing(x)
    any_zero = max_p(equal_p(x, 0))
    safe = where_p(any_zero, np.ones((), dtype_of(x)), x)
    return where_p(any_zero, with_zeros(), dividing(safe))


cumprod_p = Primitive(
    "cumprod", lambda x, axis: np.cumprod(x, axis=axis), returns="fresh_like_inputs"
)
cumprod_p.defvjp(_cumprod_vjp)
cumprod_p.defjvp(_cumprod_jvp)


# -- index-valued and boolean results (no gradient) ---------------------------------------
# Primitives rather than NumPy calls on the values, so that a traced graph computes them
# from the values it runs on (metrics' argmax, sort's permutation).
def _count_nonzero_impl(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    out = np.count_nonzero(x, axis=axis, keepdims=keepdims)
    return out if isinstance(out, np.ndarray) else np.intp(out)  # NumPy gives a Python int


argmax_p = Primitive(
    "argmax",
    lambda x, axis=None, keepdims=False: np.argmax(x, axis=axis, keepdims=keepdims),
    differentiable=False,
    returns="unknown",
)
argmin_p = Primitive(
    "argmin",
    lambda x, axis=None, keepdims=False: np.argmin(x, axis=axis, keepdims=keepdims),
    differentiable=False,
    returns="unknown",
)
argsort_p = Primitive(
    "argsort",
    lambda x, axis=-1, kind=None: np.argsort(x, axis=axis, kind=kind),
    differentiable=False,
    returns="unknown",
)
argpartition_p = Primitive(
    "argpartition",
    lambda x, kth, axis=-1: np.argpartition(x, kth, axis=axis),
    differentiable=False,
    returns="unknown",
)
# searchsorted(a, v): a sorted 1-d, NumPy's side="left"/"right".
searchsorted_p = Primitive(
    "searchsorted",
    lambda a, v, side="left": np.searchsorted(a, v, side=side),
    differentiable=False,
    returns="unknown",
)
any_p = Primitive(
    "any",
    lambda x, axis=None, keepdims=False: np.any(x, axis=axis, keepdims=keepdims),
    differentiable=False,
    returns="unknown",
)
all_p = Primitive(
    "all",
    lambda x, axis=None, keepdims=False: np.all(x, axis=axis, keepdims=keepdims),
    differentiable=False,
    returns="unknown",
)
count_nonzero_p = Primitive(
    "count_nonzero", _count_nonzero_impl, differentiable=False, returns="unknown"
)
# NaNs skipped; an all-NaN slice raises NumPy's ValueError when the op runs.
nanargmax_p = Primitive(
    "nanargmax",
    lambda x, axis=None, keepdims=False: np.nanargmax(x, axis=axis, keepdims=keepdims),
    differentiable=False,
    returns="unknown",
)
nanargmin_p = Primitive(
    "nanargmin",
    lambda x, axis=None, keepdims=False: np.nanargmin(x, axis=axis, keepdims=keepdims),
    differentiable=False,
    returns="unknown",
)
