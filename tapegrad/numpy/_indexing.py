"""Indexing helpers, selection and sorting: take, take_along_axis, where, select, sort."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import (
    argmax_p,
    argmin_p,
    argpartition_p,
    argsort_p,
    normalize_axis,
    searchsorted_p,
)
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import value_of as _value
from tapegrad.numpy._axes import axis_index, dimension


def _read(x: Any) -> np.ndarray:
    """``x``'s values, for ops whose result *shape* depends on them (``nonzero``): a traced
    tensor has none yet, so this raises `TracerValueError` naming the user's line."""
    return np.asarray(x)


def where(condition: Any, x: Any = None, y: Any = None, /) -> Any:
    """Differentiable ``numpy.where``. The unselected branch gets an exact zero gradient,
    even where its own derivative is infinite (no NaN from masked ``sqrt``/``log``).

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> f = lambda x: tnp.where(x > 0, tnp.sqrt(x), 0.0).sum()
        >>> tg.grad(f)(tg.tensor([0.0, 1.0, -1.0])).numpy()
        array([0. , 0.5, 0. ], dtype=float32)
    """
    if x is None and y is None:
        return nonzero(condition)
    if x is None or y is None:
        raise ValueError("where: either both or neither of x and y should be given")
    if isinstance(condition, Tensor):
        # The condition as an input of the op (not its values at hand), so traced graphs
        # select by the values they run on.
        if condition.dtype != bool:
            condition = P.not_equal_p(condition, 0)
        return P.where_p(condition, x, y)
    return P.where_p(_value(condition).astype(bool, copy=False), x, y)


def select(condlist: Sequence[Any], choicelist: Sequence[Any], default: Any = 0) -> Any:
    """Differentiable ``numpy.select`` (first matching condition wins)."""
    if len(condlist) != len(choicelist):
        raise ValueError("select: list of cases must be same length as list of conditions")
    out = default
    for cond, choice in zip(reversed(condlist), reversed(choicelist), strict=True):
        out = where(cond, choice, out)
    return out


def take(a: Any, indices: Any, axis: int | None = None, mode: str | None = None) -> Any:
    """Differentiable ``numpy.take``."""
    if mode not in (None, "raise"):
        raise NotImplementedError(f"tapegrad.numpy.take: mode={mode!r} is not supported")
    if isinstance(indices, Tensor):
        # Computed indices: an input of the op, read when it runs (graph tracing too).
        if axis is None:
            return P.take_p(P.reshape_p(a, shape=(-1,)), indices, axis=0)
        return P.take_p(a, indices, axis=axis_index(axis, _ndim(a), "take"))
    indices = _value(indices)
    if axis is None:
        return P.getitem_p(P.reshape_p(a, shape=(-1,)), index=(indices,))
    axis = axis_index(axis, _ndim(a), "take")
    return P.getitem_p(a, index=(slice(None),) * axis + (indices,))


def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Any:
    """Differentiable ``numpy.take_along_axis``."""
    if isinstance(indices, Tensor):
        return _take_along_axis_computed(arr, indices, axis)
    indices = _value(indices)
    if axis is None:
        return P.getitem_p(P.reshape_p(arr, shape=(-1,)), index=(indices,))
    n = _ndim(arr)
    axis = axis_index(axis, n, "take_along_axis")
    if indices.ndim != n:
        raise ValueError(
            f"take_along_axis: indices must have {n} dimensions like arr, got {indices.ndim}"
        )
    shape = np.shape(getattr(arr, "_value", arr))
    index = []
    for i in range(n):
        if i == axis:
            index.append(indices)
        else:
            view = [1] * n
            view[i] = shape[i]
            index.append(np.arange(shape[i]).reshape(view))
    return P.getitem_p(arr, index=tuple(np.broadcast_arrays(*index)))


def _take_along_axis_computed(arr: Any, indices: Tensor, axis: int | None) -> Any:
    """`take_along_axis` with computed indices (sort's permutation): one `take` from the
    flattened array at flat positions computed with primitives, so the indices are an
    input of the op, read when it runs (graph tracing too)."""
    flat_arr = P.reshape_p(arr, shape=(-1,))
    if axis is None:
        return P.take_p(flat_arr, indices, axis=0)
    shape = tuple(np.shape(getattr(arr, "_value", arr)))
    n = len(shape)
    (axis,) = normalize_axis(axis, n)
    if indices.ndim != n:
        raise ValueError(
            f"take_along_axis: indices must have {n} dimensions like arr, got {indices.ndim}"
        )
    # NumPy broadcasts the other axes of arr and indices together.
    out_shape = np.broadcast_shapes(
        tuple(1 if i == axis else size for i, size in enumerate(shape)), tuple(indices.shape)
    )
    strides = [math.prod(shape[i + 1 :]) for i in range(n)]
    offsets = np.zeros(out_shape, np.intp)
    for i in range(n):
        if i != axis and shape[i] != 1:
            view = [1] * n
            view[i] = shape[i]
            offsets = offsets + np.arange(shape[i]).reshape(view) * strides[i]
    position = P.where_p(P.less_p(indices, 0), indices + shape[axis], indices)
    return P.take_p(flat_arr, offsets + position * strides[axis], axis=0)


def compress(condition: Any, a: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.compress``."""
    chosen = np.nonzero(_read(condition))[0]
    return take(a, chosen, axis=axis)


def extract(condition: Any, arr: Any) -> Any:
    """Differentiable ``numpy.extract``."""
    return P.getitem_p(P.reshape_p(arr, shape=(-1,)), index=np.nonzero(_read(condition).ravel()))


def sort(a: Any, axis: int | None = -1, kind: Any = None, order: Any = None) -> Any:
    """Differentiable ``numpy.sort``: a gather by ``argsort``, so gradients follow values."""
    if order is not None:
        raise TypeError("tapegrad.numpy.sort: order= (structured dtype fields) is not supported")
    if axis is None:
        a = P.reshape_p(a, shape=(-1,))
        axis = -1
    axis = axis_index(axis, _ndim(a), "sort")
    order_ = argsort_p(a, axis=axis, kind="stable")
    return take_along_axis(a, order_, axis=axis)


def msort(a: Any) -> Any:
    """Sort along the first axis."""
    return sort(a, axis=0)


def partition(a: Any, kth: Any, axis: int | None = -1) -> Any:
    """Differentiable ``numpy.partition`` (a gather by ``argpartition``)."""
    if axis is None:
        a = P.reshape_p(a, shape=(-1,))
        axis = -1
    axis = axis_index(axis, _ndim(a), "partition")
    order_ = argpartition_p(a, kth=_kth(kth), axis=axis)
    return take_along_axis(a, order_, axis=axis)


def _kth(kth: Any) -> Any:
    # A hashable param: an int or a tuple of ints.
    if isinstance(kth, int | np.integer):
        return int(kth)
    return tuple(dimension(k, "partition", "kth") for k in np.ravel(kth).tolist())


# Index-valued results: no gradient; primitives, so traced graphs compute them at run time.
def argsort(
    a: Any,
    axis: int | None = -1,
    kind: Any = None,
    order: Any = None,
    *,
    stable: bool | None = None,
) -> Any:
    """``numpy.argsort`` (indices, no gradient)."""
    if order is not None:
        raise TypeError("tapegrad.numpy.argsort: order= (structured arrays) is not supported")
    if axis is None:
        a = P.reshape_p(a, shape=(-1,))
        axis = -1
    axis = axis_index(axis, _ndim(a), "argsort")
    return argsort_p(a, axis=axis, kind="stable" if stable else kind)


def argmax(a: Any, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """``numpy.argmax`` (indices, no gradient)."""
    axis = None if axis is None else axis_index(axis, _ndim(a), "argmax")
    return argmax_p(a, axis=axis, keepdims=keepdims)


def argmin(a: Any, axis: int | None = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """``numpy.argmin`` (indices, no gradient)."""
    axis = None if axis is None else axis_index(axis, _ndim(a), "argmin")
    return argmin_p(a, axis=axis, keepdims=keepdims)


def argpartition(
    a: Any, kth: Any, axis: int | None = -1, kind: str = "introselect", order: Any = None
) -> Any:
    """``numpy.argpartition`` (indices, no gradient)."""
    if order is not None:
        raise TypeError("tapegrad.numpy.argpartition: order= (structured arrays) is not supported")
    if axis is None:
        a = P.reshape_p(a, shape=(-1,))
        axis = -1
    return argpartition_p(a, kth=_kth(kth), axis=axis_index(axis, _ndim(a), "argpartition"))


# Results whose shape depends on the values: computed from them (refused in a trace).
def nonzero(a: Any) -> tuple[np.ndarray, ...]:
    """``numpy.nonzero`` (indices, no gradient)."""
    return np.nonzero(_read(a))


def argwhere(a: Any) -> np.ndarray:
    """``numpy.argwhere`` (indices, no gradient)."""
    return np.argwhere(_read(a))


def flatnonzero(a: Any) -> np.ndarray:
    """``numpy.flatnonzero`` (indices, no gradient)."""
    return np.flatnonzero(_read(a))


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None) -> Any:
    """``numpy.searchsorted`` (indices, no gradient)."""
    if sorter is not None:
        a = take(a, sorter)  # NumPy's sorter: the permutation that sorts a
    return searchsorted_p(a, v, side=side)


__all__ = [
    "argmax",
    "argmin",
    "argpartition",
    "argsort",
    "argwhere",
    "compress",
    "extract",
    "flatnonzero",
    "msort",
    "nonzero",
    "partition",
    "searchsorted",
    "select",
    "sort",
    "take",
    "take_along_axis",
    "where",
]
