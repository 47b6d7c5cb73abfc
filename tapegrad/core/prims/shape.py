"""Shape and indexing primitives: reshape, transpose, broadcast_to, concatenate, pad,
getitem (basic, advanced and boolean indexing) and its transpose index_add."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core.broadcast import unbroadcast
from tapegrad.core.primitive import Primitive
from tapegrad.core.tensor import Tensor, dtype_of, ndim_of, shape_of

# -- identity (gives a tensor a new identity, recorded) ---------------------------------
identity_p = Primitive("identity", lambda x: x, returns="input")
identity_p.defvjp(lambda g, ans, x: g)
identity_p.defjvp(lambda t, ans, x: t)
identity_p.zero_preserving = True

# Blocks gradients: never recorded, so nothing flows back through it.
stop_gradient_p = Primitive("stop_gradient", lambda x: x, differentiable=False, returns="input")


# -- reshape / transpose / broadcast -----------------------------------------------------
def _reshape_impl(x: Any, shape: tuple[int, ...]) -> Any:
    # The ndarray method skips np.reshape's Python wrapper (this op is on every hot path).
    try:
        return x.reshape(shape)
    except AttributeError:
        return np.reshape(x, shape)


reshape_p = Primitive("reshape", _reshape_impl, returns="view", view_method=("reshape", "shape"))
reshape_p.defvjp(lambda g, ans, x, shape: reshape_p(g, shape=shape_of(x)))
reshape_p.defjvp(lambda t, ans, x, shape: reshape_p(t, shape=shape))


def _inverse_perm(axes: Any, ndim: int) -> tuple[int, ...] | None:
    if axes is None:
        return None
    return tuple(int(i) for i in np.argsort([a % ndim for a in axes]))


def _transpose_impl(x: Any, axes: Any = None) -> Any:
    try:
        return x.transpose(axes)
    except AttributeError:
        return np.transpose(x, axes)


transpose_p = Primitive(
    "transpose", _transpose_impl, returns="view", view_method=("transpose", "axes")
)
# A view: C-ordered only when nothing moves (or at most one axis).
transpose_p.c_order = lambda inputs_c, shapes, out_shape, params: (
    inputs_c and (len(out_shape) <= 1 or params.get("axes") == tuple(range(len(out_shape))))
)
transpose_p.defvjp(
    lambda g, ans, x, axes=None: transpose_p(g, axes=_inverse_perm(axes, ndim_of(x)))
)
transpose_p.defjvp(lambda t, ans, x, axes=None: transpose_p(t, axes=axes))


def _broadcast_to_vjp(g: Any, ans: Any, x: Any, shape: Any) -> Any:
    return unbroadcast(g, shape_of(x))


_SMALL = 1 << 16


def _broadcast_to_impl(x: Any, shape: tuple[int, ...]) -> Any:
    x = np.asarray(x)
    if x.shape == shape:
        return x
    if math.prod(shape) <= _SMALL:
        # A small copy is several times cheaper than np.broadcast_to's Python machinery.
        out = np.empty(shape, x.dtype)
        out[...] = x
        return out
    return np.broadcast_to(x, shape)


broadcast_to_p = Primitive("broadcast_to", _broadcast_to_impl, returns="view")
broadcast_to_p.defvjp(_broadcast_to_vjp)
broadcast_to_p.defjvp(lambda t, ans, x, shape: broadcast_to_p(t, shape=shape))


# -- concatenate (variadic) --------------------------------------------------------------
def _concatenate_impl(*xs: Any, axis: int = 0) -> Any:
    return np.concatenate(xs, axis=axis)


def _concatenate_vjp(argnum: int, g: Any, ans: Any, *xs: Any, axis: int = 0) -> Any:
    ndim = ndim_of(ans)
    axis = axis % ndim
    start = sum(shape_of(x)[axis] for x in xs[:argnum])
    index = [slice(None)] * ndim
    index[axis] = slice(start, start + shape_of(xs[argnum])[axis])
    return getitem_p(g, index=tuple(index))


def _concatenate_jvp(argnum: int, t: Any, ans: Any, *xs: Any, axis: int = 0) -> Any:
    # The tangent of one piece, placed in its slot of the output (zeros elsewhere).
    pieces = [t if i == argnum else np.zeros(shape_of(x), dtype_of(ans)) for i, x in enumerate(xs)]
    return concatenate_p(*pieces, axis=axis)


concatenate_p = Primitive(
    "concatenate", _concatenate_impl, variadic=True, returns="fresh_like_inputs"
)
concatenate_p.defvjp(_concatenate_vjp)
concatenate_p.defjvp(_concatenate_jvp)


# -- split (several results) -------------------------------------------------------------
def _split_impl(
    x: Any, bounds: tuple[tuple[int, int], ...], axis: int, keepdims: bool = True
) -> tuple[Any, ...]:
    lead = (slice(None),) * axis
    if keepdims:
        return tuple(x[lead + (slice(start, stop),)] for start, stop in bounds)
    return tuple(x[lead + (start,)] for start, _ in bounds)


def stack_parts(parts: Any, axis: int) -> Any:
    """Stack arrays or Tensors along a new ``axis`` with primitives (differentiable)."""
    expanded = []
    for part in parts:
        shape = list(shape_of(part))
        shape.insert(axis, 1)
        expanded.append(reshape_p(part, shape=tuple(shape)))
    return concatenate_p(*expanded, axis=axis)


def _split_vjp(g: Any, ans: Any, x: Any, bounds: Any, axis: int, keepdims: bool = True) -> Any:
    # One concatenation of the pieces' cotangents: O(size), where a getitem per piece
    # would scatter each piece into a full-size zero array (O(pieces * size)).
    return concatenate_p(*g, axis=axis) if keepdims else stack_parts(g, axis)


split_p = Primitive("split", _split_impl, multiple_results=True, returns="view")
split_p.defvjp(_split_vjp)
split_p.defjvp(
    lambda t, ans, x, bounds, axis, keepdims=True: split_p(
        t, bounds=bounds, axis=axis, keepdims=keepdims
    )
)


# -- pad (constant mode) -----------------------------------------------------------------
def _pad_impl(x: Any, pad_width: Any, constant_values: Any = 0) -> Any:
    if not pad_width:
        # A 0-d array has nothing to pad (and np.pad rejects an empty pad_width).
        return np.array(x)
    return np.pad(x, pad_width, mode="constant", constant_values=constant_values)


def _unpad(g: Any, pad_width: Any) -> Any:
    shape = shape_of(g)
    index = tuple(slice(lo, size - hi) for (lo, hi), size in zip(pad_width, shape, strict=True))
    return getitem_p(g, index=index)


pad_p = Primitive("pad", _pad_impl, returns="fresh_like_inputs")
pad_p.defvjp(lambda g, ans, x, pad_width, constant_values=0: _unpad(g, pad_width))
pad_p.defjvp(lambda t, ans, x, pad_width, constant_values=0: pad_p(t, pad_width=pad_width))


# -- indexing ----------------------------------------------------------------------------
def _is_basic(index: tuple[Any, ...]) -> bool:
    return all(i is None or i is Ellipsis or isinstance(i, int | slice | np.integer) for i in index)


def _index_add_impl(g: Any, index: tuple[Any, ...], shape: tuple[int, ...]) -> Any:
    """zeros(shape) with ``g`` added at ``index`` (duplicates accumulate)."""
    g = np.asarray(g)
    out = np.zeros(shape, dtype=g.dtype)
    if _is_basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


getitem_p = Primitive("getitem", lambda x, index: x[index], returns="view")
index_add_p = Primitive(
    "index_add", _index_add_impl, returns="fresh_like_inputs", scatter_index="index"
)
getitem_p.defvjp(lambda g, ans, x, index: index_add_p(g, index=index, shape=shape_of(x)))
getitem_p.defjvp(lambda t, ans, x, index: getitem_p(t, index=index))
index_add_p.defvjp(lambda g, ans, x, index, shape: getitem_p(g, index=index))
index_add_p.defjvp(lambda t, ans, x, index, shape: index_add_p(t, index=index, shape=shape))


def _getitem_accumulate(buffer: np.ndarray, g: Any, ans: Any, x: Any, index: Any) -> None:
    if _is_basic(index):
        buffer[index] += g
    else:
        np.add.at(buffer, index, g)


getitem_p.vjp_accumulate = _getitem_accumulate


def normalize_index(index: Any) -> tuple[Any, ...]:
    """NumPy index → a tuple of ints, slices, None, Ellipsis and integer arrays.

    Tensors and lists become arrays; boolean masks become their ``nonzero()`` integer
    arrays (NumPy treats them identically), so the transpose can use ``np.add.at``.
    """
    if not isinstance(index, tuple):
        index = (index,)
    out: list[Any] = []
    for item in index:
        if isinstance(item, Tensor):
            # Through __array__: a traced tensor is refused (TracerValueError), since a
            # mask's nonzero() or an index array would be frozen at its traced values.
            item = np.asarray(item)
        elif isinstance(item, list):
            item = np.asarray(item)
        if isinstance(item, np.ndarray):
            if item.dtype == bool:
                # A 0-d mask adds an axis of length 1 or 0; nonzero() rejects 0-d arrays.
                out.extend(np.nonzero(item) if item.ndim else (item,))
                continue
            if item.dtype.kind not in "iu":
                raise IndexError(
                    f"getitem: arrays used as indices must be integer or boolean, got {item.dtype}"
                )
        elif isinstance(item, np.integer):
            item = int(item)
        elif isinstance(item, bool | np.bool_):
            out.append(np.asarray(item))
            continue
        out.append(item)
    return tuple(out)


def getitem(x: Any, index: Any) -> Any:
    """``x[index]`` for every NumPy index form, differentiable."""
    if isinstance(index, Tensor) and index._value.dtype.kind in "iu":
        # A computed integer index: an input of `take` (read when the op runs, so graph
        # tracing keeps it), not a fixed param of `getitem`.
        from tapegrad.core.prims.gather import take_p

        return take_p(x, index, axis=0)
    return getitem_p(x, index=normalize_index(index))
