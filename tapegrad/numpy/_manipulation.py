"""Shape manipulation: reshape, transpose, stacking, splitting, tiling, padding, ...
(``pad``, in every mode, lives in `_padding`)."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import normalize_axis
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import unwrap as _value
from tapegrad.numpy._axes import axis_index, axis_indices, dimension
from tapegrad.numpy._padding import pad


def shape(a: Any) -> tuple[int, ...]:
    """``numpy.shape``."""
    return _shape(a)


def ndim(a: Any) -> int:
    """``numpy.ndim``."""
    return _ndim(a)


def size(a: Any, axis: int | None = None) -> int:
    """``numpy.size``."""
    return int(np.size(_value(a), axis))


def reshape(a: Any, shape: Any = None, order: str = "C", *, newshape: Any = None) -> Any:
    """Differentiable ``numpy.reshape`` (C order)."""
    if order != "C":
        raise NotImplementedError(f"tapegrad.numpy.reshape: order={order!r} is not supported")
    shape = newshape if shape is None else shape
    entries = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    target = tuple(dimension(s, "reshape") for s in entries)
    # Resolve -1 here so the primitive's params always hold the concrete shape.
    full = _resolve_shape(_shape(a), target)
    return P.reshape_p(a, shape=full)


def _resolve_shape(source: tuple[int, ...], target: tuple[int, ...]) -> tuple[int, ...]:
    size_ = int(np.prod(source, dtype=np.int64))
    if target.count(-1) > 1:
        raise ValueError(f"reshape: can only specify one unknown dimension, got {target}")
    if -1 in target:
        known = int(np.prod([t for t in target if t != -1], dtype=np.int64))
        if known == 0 or size_ % known:
            raise ValueError(f"reshape: cannot reshape array of shape {source} into {target}")
        target = tuple(size_ // known if t == -1 else t for t in target)
    if int(np.prod(target, dtype=np.int64)) != size_:
        raise ValueError(f"reshape: cannot reshape array of shape {source} into {target}")
    return target


def ravel(a: Any, order: str = "C") -> Any:
    """Differentiable ``numpy.ravel``."""
    return reshape(a, (-1,), order)


def flatten(a: Any, order: str = "C") -> Any:
    """``ndarray.flatten`` as a function."""
    return reshape(a, (-1,), order)


def transpose(a: Any, axes: Any = None) -> Any:
    """Differentiable ``numpy.transpose``."""
    if axes is not None:
        axes = tuple(axis_indices(tuple(axes), _ndim(a), "transpose"))
    return P.transpose_p(a, axes=axes)


def permute_dims(a: Any, axes: Any = None) -> Any:
    """Array-API name of `transpose`."""
    return transpose(a, axes)


def matrix_transpose(x: Any, /) -> Any:
    """Swap the last two axes."""
    return swapaxes(x, -1, -2)


def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    """Differentiable ``numpy.moveaxis``."""
    n = _ndim(a)
    src = [axis_index(s, n, "moveaxis: source") for s in np.atleast_1d(source).tolist()]
    dst = [axis_index(d, n, "moveaxis: destination") for d in np.atleast_1d(destination).tolist()]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst) or len(src) != len(dst):
        raise ValueError(
            f"moveaxis: source {source} and destination {destination} must be "
            "the same number of distinct axes"
        )
    order = [i for i in range(n) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return P.transpose_p(a, axes=tuple(order))


def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """Differentiable ``numpy.swapaxes``."""
    n = _ndim(a)
    order = list(range(n))
    i, j = axis_index(axis1, n, "swapaxes"), axis_index(axis2, n, "swapaxes")
    order[i], order[j] = order[j], order[i]
    return P.transpose_p(a, axes=tuple(order))


def rollaxis(a: Any, axis: int, start: int = 0) -> Any:
    """Differentiable ``numpy.rollaxis``."""
    n = _ndim(a)
    axis %= n
    start = start % (n + 1) if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start)


def expand_dims(a: Any, axis: Any) -> Any:
    """Differentiable ``numpy.expand_dims``."""
    count = 1 if isinstance(axis, int | np.integer) else len(tuple(axis))
    axes = sorted(axis_indices(axis, _ndim(a) + count, "expand_dims"))
    shape_ = list(_shape(a))
    for ax in axes:
        shape_.insert(ax, 1)
    return P.reshape_p(a, shape=tuple(shape_))


def squeeze(a: Any, axis: Any = None) -> Any:
    """Differentiable ``numpy.squeeze``."""
    shape_ = _shape(a)
    if axis is None:
        axes = tuple(i for i, s in enumerate(shape_) if s == 1)
    else:
        axes = normalize_axis(axis, len(shape_)) or ()
        for i in axes:
            if shape_[i] != 1:
                raise ValueError(
                    f"squeeze: cannot select an axis to squeeze out which has size not equal "
                    f"to one (axis {i} of shape {shape_})"
                )
    return P.reshape_p(a, shape=tuple(s for i, s in enumerate(shape_) if i not in axes))


def broadcast_to(array: Any, shape: Any) -> Any:
    """Differentiable ``numpy.broadcast_to``."""
    shape = (int(shape),) if isinstance(shape, int | np.integer) else tuple(shape)
    np.broadcast_shapes(_shape(array), shape)  # validates, with NumPy's message
    return P.broadcast_to_p(array, shape=shape)


def broadcast_arrays(*args: Any) -> list[Any]:
    """Differentiable ``numpy.broadcast_arrays``."""
    target = np.broadcast_shapes(*[_shape(a) for a in args])
    return [broadcast_to(a, target) for a in args]


def atleast_1d(*arys: Any) -> Any:
    """Differentiable ``numpy.atleast_1d``."""
    out = [reshape(a, (1,)) if _ndim(a) == 0 else a for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_2d(*arys: Any) -> Any:
    """Differentiable ``numpy.atleast_2d``."""
    out = [reshape(a, (1,) * (2 - _ndim(a)) + _shape(a)) if _ndim(a) < 2 else a for a in arys]
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    """Differentiable ``numpy.atleast_3d``."""
    out = []
    for a in arys:
        n = _ndim(a)
        if n == 0:
            a = reshape(a, (1, 1, 1))
        elif n == 1:
            a = reshape(a, (1, _shape(a)[0], 1))
        elif n == 2:
            a = expand_dims(a, -1)
        out.append(a)
    return out[0] if len(out) == 1 else out


def concatenate(arrays: Sequence[Any], axis: int | None = 0, **kwargs: Any) -> Any:
    """Differentiable ``numpy.concatenate``."""
    if kwargs.get("out") is not None:
        raise TypeError("tapegrad.numpy.concatenate: out= is not supported")
    arrays = list(arrays)
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    if not arrays:
        raise ValueError("need at least one array to concatenate")
    n = _ndim(arrays[0])
    if n == 0:
        raise ValueError("zero-dimensional arrays cannot be concatenated")
    return P.concatenate_p(*arrays, axis=axis_index(axis, n, "concatenate"))


concat = concatenate


def stack(arrays: Sequence[Any], axis: int = 0, **kwargs: Any) -> Any:
    """Differentiable ``numpy.stack``."""
    arrays = list(arrays)
    if not arrays:
        raise ValueError("need at least one array to stack")
    shapes = {_shape(a) for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"stack: all input arrays must have the same shape, got {shapes}")
    out_axis = axis_index(axis, _ndim(arrays[0]) + 1, "stack")
    return P.concatenate_p(*[expand_dims(a, out_axis) for a in arrays], axis=out_axis)


def vstack(tup: Sequence[Any]) -> Any:
    """Differentiable ``numpy.vstack``."""
    return concatenate([atleast_2d(a) for a in tup], axis=0)


row_stack = vstack


def hstack(tup: Sequence[Any]) -> Any:
    """Differentiable ``numpy.hstack``."""
    arrays = [atleast_1d(a) for a in tup]
    return concatenate(arrays, axis=0 if _ndim(arrays[0]) == 1 else 1)


def dstack(tup: Sequence[Any]) -> Any:
    """Differentiable ``numpy.dstack``."""
    return concatenate([atleast_3d(a) for a in tup], axis=2)


def column_stack(tup: Sequence[Any]) -> Any:
    """Differentiable ``numpy.column_stack``."""
    arrays = [reshape(a, (-1, 1)) if _ndim(a) < 2 else a for a in tup]
    return concatenate(arrays, axis=1)


def _take_slice(a: Any, axis: int, start: int, stop: int) -> Any:
    index = [slice(None)] * _ndim(a)
    index[axis] = slice(start, stop)
    return P.getitem_p(a, index=tuple(index))


def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Differentiable ``numpy.array_split``."""
    axis = axis_index(axis, _ndim(ary), "array_split")
    length = _shape(ary)[axis]
    if isinstance(indices_or_sections, int | np.integer):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError("number sections must be larger than 0")
        base, extra = divmod(length, sections)
        sizes = [base + 1] * extra + [base] * (sections - extra)
        bounds = [0, *np.cumsum(sizes).tolist()]
    else:
        bounds = [0, *[int(i) for i in indices_or_sections], length]
    pairs = list(zip(bounds[:-1], bounds[1:], strict=True))
    if (
        pairs
        and all(0 <= a <= b <= length for a, b in pairs)
        and all(b == c for (_, b), (c, _) in zip(pairs[:-1], pairs[1:], strict=True))
        and pairs[0][0] == 0
        and pairs[-1][1] == length
    ):
        # Contiguous pieces covering the axis: one primitive, one concatenation backward.
        return list(P.split_p(ary, bounds=tuple(pairs), axis=axis))
    # Plain slices, as in NumPy: negative and out-of-range split points behave alike.
    return [
        _take_slice(ary, axis, start, stop)
        for start, stop in zip(bounds[:-1], bounds[1:], strict=True)
    ]


def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list[Any]:
    """Differentiable ``numpy.split`` (equal sections must divide the axis)."""
    if isinstance(indices_or_sections, int | np.integer):
        length = _shape(ary)[axis_index(axis, _ndim(ary), "split")]
        if length % int(indices_or_sections):
            raise ValueError("array split does not result in an equal division")
    return array_split(ary, indices_or_sections, axis)


def hsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """Differentiable ``numpy.hsplit``."""
    return split(ary, indices_or_sections, axis=1 if _ndim(ary) > 1 else 0)


def vsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """Differentiable ``numpy.vsplit``."""
    return split(ary, indices_or_sections, axis=0)


def dsplit(ary: Any, indices_or_sections: Any) -> list[Any]:
    """Differentiable ``numpy.dsplit``."""
    return split(ary, indices_or_sections, axis=2)


def tile(A: Any, reps: Any) -> Any:  # noqa: N803 - NumPy's name
    """Differentiable ``numpy.tile`` (broadcast + reshape, so the VJP is a sum)."""
    reps = (int(reps),) if isinstance(reps, int | np.integer) else tuple(int(r) for r in reps)
    shape_ = _shape(A)
    n = builtins.max(len(shape_), len(reps))
    shape_ = (1,) * (n - len(shape_)) + shape_
    reps = (1,) * (n - len(reps)) + reps
    a = P.reshape_p(A, shape=tuple(v for s in shape_ for v in (1, s)))
    stretched = tuple(v for s, r in zip(shape_, reps, strict=True) for v in (r, s))
    a = P.broadcast_to_p(a, shape=stretched)
    return P.reshape_p(a, shape=tuple(s * r for s, r in zip(shape_, reps, strict=True)))


def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.repeat``."""
    if axis is None:
        a = ravel(a)
        axis = 0
    axis = axis_index(axis, _ndim(a), "repeat")
    length = _shape(a)[axis]
    index = np.repeat(np.arange(length), repeats)
    full = [slice(None)] * _ndim(a)
    full[axis] = index
    return P.getitem_p(a, index=tuple(full))


def flip(m: Any, axis: Any = None) -> Any:
    """Differentiable ``numpy.flip``."""
    axes = normalize_axis(axis, _ndim(m))
    axes = tuple(range(_ndim(m))) if axes is None else axes
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(_ndim(m)))
    return P.getitem_p(m, index=index)


def fliplr(m: Any) -> Any:
    """Differentiable ``numpy.fliplr``."""
    return flip(m, 1)


def flipud(m: Any) -> Any:
    """Differentiable ``numpy.flipud``."""
    return flip(m, 0)


def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """Differentiable ``numpy.roll`` (a gather, so the VJP rolls back)."""
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), _shape(a))
    shifts = np.broadcast_to(np.atleast_1d(shift), np.atleast_1d(axis).shape)
    axes = np.atleast_1d(axis)
    index = [slice(None)] * _ndim(a)
    total: dict[int, int] = {}
    for s, ax in zip(shifts, axes, strict=True):
        ax = axis_index(ax, _ndim(a), "roll")
        total[ax] = total.get(ax, 0) + int(s)
    out = a
    for ax, s in total.items():
        index = [slice(None)] * _ndim(a)
        n = _shape(a)[ax]
        index[ax] = (np.arange(n) - s) % n if n else np.arange(0)
        out = P.getitem_p(out, index=tuple(index))
    return out


def _tri_mask(shape_: tuple[int, ...], k: int, upper: bool) -> np.ndarray:
    rows, cols = shape_[-2], shape_[-1]
    mask = np.tri(rows, cols, k - 1 if upper else k, dtype=bool)
    return ~mask if upper else mask


def triu(m: Any, k: int = 0) -> Any:
    """Differentiable ``numpy.triu``."""
    return P.where_p(_tri_mask(_shape(m), k, True), m, 0)


def tril(m: Any, k: int = 0) -> Any:
    """Differentiable ``numpy.tril``."""
    return P.where_p(_tri_mask(_shape(m), k, False), m, 0)


def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """Differentiable ``numpy.diagonal`` (the diagonal becomes the last axis)."""
    n = _ndim(a)
    axes = (axis_index(axis1, n, "diagonal"), axis_index(axis2, n, "diagonal"))
    if axes[0] == axes[1]:
        raise ValueError("diagonal: axis1 and axis2 cannot be the same")
    moved = moveaxis(a, axes, (n - 2, n - 1))
    rows, cols = _shape(moved)[-2:]
    start_row, start_col = (0, offset) if offset >= 0 else (-offset, 0)
    length = builtins.max(0, builtins.min(rows - start_row, cols - start_col))
    i = np.arange(length)
    index = (Ellipsis, i + start_row, i + start_col)
    return P.getitem_p(moved, index=index)


def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype: Any = None) -> Any:
    """Differentiable ``numpy.trace``."""
    d = diagonal(a, offset, axis1, axis2)
    if dtype is not None:
        d = P.cast_p(d, dtype=np.dtype(dtype))
    return P.sum_p(d, axis=(_ndim(d) - 1,), keepdims=False)


def diag(v: Any, k: int = 0) -> Any:
    """Differentiable ``numpy.diag``: extract a diagonal (2-D) or build a matrix (1-D)."""
    if _ndim(v) == 2:
        return diagonal(v, k)
    if _ndim(v) != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {_shape(v)}")
    n = _shape(v)[0] + builtins.abs(k)
    i = np.arange(_shape(v)[0])
    rows, cols = (i, i + k) if k >= 0 else (i - k, i)
    return P.index_add_p(v, index=(rows, cols), shape=(n, n))


def diagflat(v: Any, k: int = 0) -> Any:
    """Differentiable ``numpy.diagflat``."""
    return diag(ravel(v), k)


def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.append``."""
    if axis is None:
        return concatenate([ravel(arr), ravel(values)])
    return concatenate([arr, values], axis=axis)


def astype(x: Any, dtype: Any, /, *, copy: bool = True) -> Any:
    """Cast to ``dtype``; float-to-float casts carry the gradient (cast back)."""
    return P.cast_p(x, dtype=np.dtype(dtype))


def copy(a: Any) -> Any:
    """``numpy.copy`` (Tensors are immutable: the identity, gradient passes)."""
    return P.identity_p(a)


__all__ = [
    "append",
    "array_split",
    "astype",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "broadcast_arrays",
    "broadcast_to",
    "column_stack",
    "concat",
    "concatenate",
    "copy",
    "diag",
    "diagflat",
    "diagonal",
    "dsplit",
    "dstack",
    "expand_dims",
    "flatten",
    "flip",
    "fliplr",
    "flipud",
    "hsplit",
    "hstack",
    "matrix_transpose",
    "moveaxis",
    "ndim",
    "pad",
    "permute_dims",
    "ravel",
    "repeat",
    "reshape",
    "roll",
    "rollaxis",
    "row_stack",
    "shape",
    "size",
    "split",
    "squeeze",
    "stack",
    "swapaxes",
    "tile",
    "trace",
    "transpose",
    "tril",
    "triu",
    "vsplit",
    "vstack",
]
