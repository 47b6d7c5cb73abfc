"""Rearrangements: ``unstack``, ``delete``, ``insert``, ``resize``, ``choose``, ``block``,
``piecewise``.

``delete``, ``insert``, ``resize`` and ``choose`` are one gather each: NumPy itself
rearranges an array of *labels* (flat positions), so the semantics are NumPy's exactly and
the gradient is a scatter-add. Where the result *shape* depends on the values (``delete``
at computed positions, ``piecewise``'s conditions), the values are read, which refuses
traced tensors.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.insert(np.array([1.0, 2.0]), 1, 9.0)
    array([1., 9., 2.])
    >>> tg.grad(lambda x: tnp.sum(tnp.delete(x, 0) * 2))(tg.tensor([1.0, 2.0, 3.0])).numpy()
    array([0., 2., 2.], dtype=float32)
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.core.tracing import is_traced
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import one_axis as _axis
from tapegrad.numpy._arguments import read_tree as _read_tree
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import value_of as _value

__all__ = ["block", "choose", "delete", "insert", "piecewise", "resize", "unstack"]


def _labels(a: Any) -> np.ndarray:
    """Every element's flat position, shaped like ``a``."""
    return np.arange(int(np.prod(_shape(a), dtype=np.int64))).reshape(_shape(a))


def _gather(a: Any, labels: np.ndarray) -> Any:
    """The elements of ``a`` at flat positions ``labels`` (shaped like ``labels``)."""
    return P.getitem_p(P.reshape_p(a, shape=(-1,)), index=(labels,))


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """Differentiable ``numpy.unstack``: the slices along ``axis``."""
    x = _array(x)
    nd = _ndim(x)
    if nd == 0:
        raise ValueError("unstack: input must be at least 1-d")
    axis = _axis(axis, nd)
    length = _shape(x)[axis]
    if length == 0:
        return ()
    # One split primitive: its backward is a single concatenation, not one full-size
    # scatter per slice (which made unrolled RNN backward passes quadratic in time).
    bounds = tuple((i, i + 1) for i in range(length))
    return tuple(P.split_p(x, bounds=bounds, axis=axis, keepdims=False))


def delete(arr: Any, obj: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.delete`` (the shape depends on ``obj``: traced ``obj`` is
    refused)."""
    arr = _array(arr)
    return _gather(arr, np.delete(_labels(arr), _read_tree(obj), axis))


def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.insert`` (in ``arr`` and in ``values``; a traced ``obj`` is
    refused)."""
    arr, values = _array(arr), _array(values)
    dtype = _dtype(arr)
    if _dtype(values) != dtype:
        values = P.cast_p(values, dtype=dtype)  # NumPy casts the values to arr's dtype
    source = _labels(arr)
    # Labels of the values continue after arr's, so one gather serves both.
    value_labels = source.size + _labels(values)
    labels = np.insert(source, _read_tree(obj), value_labels, axis)
    both = P.concatenate_p(P.reshape_p(arr, shape=(-1,)), P.reshape_p(values, shape=(-1,)), axis=0)
    return P.getitem_p(both, index=(labels,))


def resize(a: Any, new_shape: Any) -> Any:
    """Differentiable ``numpy.resize``: the flattened elements repeated to fill the shape."""
    a = _array(a)
    labels = np.resize(_labels(a), new_shape)
    if _labels(a).size == 0:
        return np.zeros(labels.shape, _dtype(a))
    return _gather(a, labels)


def choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> Any:
    """Differentiable ``numpy.choose`` in the ``choices`` (``a`` holds indices)."""
    if out is not None:
        raise TypeError("tapegrad.numpy.choose: out= is not supported")
    if isinstance(choices, Tensor):
        choices = unstack(choices)
    items = [_array(c) for c in choices]
    if isinstance(a, Tensor):
        return _choose_computed(a, items, mode)
    index = _value(a)
    shape = np.broadcast_shapes(index.shape, *[_shape(c) for c in items])
    stacked = _stack_choices(items, shape)
    labels = np.choose(index, _labels(stacked), mode=mode)
    return _gather(stacked, labels)


def _stack_choices(items: list[Any], shape: tuple[int, ...]) -> Any:
    return P.concatenate_p(
        *[P.reshape_p(P.broadcast_to_p(c, shape=shape), shape=(1,) + shape) for c in items],
        axis=0,
    )


def _choose_computed(a: Tensor, items: list[Any], mode: str) -> Any:
    """`choose` with a Tensor of indices: one `take` at flat positions computed with
    primitives, so the indices are an input of the op (read at run time when traced)."""
    if _dtype(a).kind not in "iu":
        raise TypeError(f"choose: a must hold integer indices, got dtype {_dtype(a)}")
    count = len(items)
    if mode == "raise" and not is_traced(a):
        index = np.asarray(a)
        if index.size and (index.min() < 0 or index.max() >= count):
            raise ValueError("choose: invalid entry in choice array")
    shape = np.broadcast_shapes(_shape(a), *[_shape(c) for c in items])
    index = P.broadcast_to_p(P.cast_p(a, dtype=np.intp), shape=shape)
    if mode == "wrap":
        index = P.remainder_p(index, count)
    elif mode == "clip":
        index = P.clip_p(index, 0, count - 1)
    elif mode != "raise":
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    size = int(np.prod(shape, dtype=np.int64))
    positions = index * size + np.arange(size).reshape(shape)
    flat = P.reshape_p(_stack_choices(items, shape), shape=(-1,))
    return P.take_p(flat, positions, axis=0)


def _block_depth(arrays: Any, where: str) -> tuple[int, int]:
    """(list nesting depth, largest array ndim) of ``block``'s argument, validated."""
    if isinstance(arrays, tuple):
        raise TypeError(f"block: {where} is a tuple; only lists can be used to arrange blocks")
    if not isinstance(arrays, list):
        return 0, _ndim(arrays)
    if not arrays:
        raise ValueError(f"block: list at {where} cannot be empty")
    infos = [_block_depth(item, f"{where}[{i}]") for i, item in enumerate(arrays)]
    depths = {depth for depth, _ in infos}
    if len(depths) > 1:
        raise ValueError(
            f"block: list depths are mismatched inside {where} (depths {sorted(depths)})"
        )
    return depths.pop() + 1, builtins.max(ndim for _, ndim in infos)


def _assemble(arrays: Any, depth: int, ndim: int) -> Any:
    if depth == 0:
        shape = _shape(arrays)
        return P.reshape_p(_array(arrays), shape=(1,) * (ndim - len(shape)) + shape)
    parts = [_assemble(item, depth - 1, ndim) for item in arrays]
    return P.concatenate_p(*parts, axis=ndim - depth)


def block(arrays: Any) -> Any:
    """Differentiable ``numpy.block``: nested lists of blocks, innermost on the last axis."""
    depth, largest = _block_depth(arrays, "arrays")
    if depth == 0:
        return P.identity_p(arrays) if isinstance(arrays, Tensor) else np.array(arrays)
    return _assemble(arrays, depth, builtins.max(depth, largest))


def piecewise(x: Any, condlist: Any, funclist: Sequence[Any], *args: Any, **kw: Any) -> Any:
    """Differentiable ``numpy.piecewise``: each function sees only its own elements.

    The pieces' shapes depend on the conditions: traced conditions are refused.
    """
    x = _array(x)
    xv = _value(x)
    scalar_input = xv.ndim == 0
    condlist = _read_tree(condlist)  # the pieces' shapes depend on the conditions
    # NumPy's rule: a single condition is promoted to a list of one condition.
    if np.isscalar(condlist) or (
        not isinstance(condlist[0], list | np.ndarray) and not scalar_input
    ):
        condlist = [condlist]
    conds = np.asarray(condlist, dtype=bool).reshape(-1, *xv.shape)
    if len(conds) == len(funclist) - 1:
        conds = np.concatenate([conds, ~np.any(conds, axis=0, keepdims=True)])
    elif len(conds) != len(funclist):
        raise ValueError(
            f"piecewise: with {len(conds)} condition(s), either {len(conds)} or "
            f"{len(conds) + 1} functions are expected, got {len(funclist)}"
        )
    if scalar_input:
        x, conds = P.reshape_p(x, shape=(1,)), conds.reshape(-1, 1)
    shape = (1,) if scalar_input else xv.shape
    # Later conditions override earlier ones, as in NumPy's successive assignments.
    winner = len(conds) - 1 - np.argmax(conds[::-1], axis=0)
    winner = np.where(conds.any(axis=0), winner, -1)
    result: Any = np.zeros(shape, xv.dtype)
    for k, func in enumerate(funclist):
        where = np.nonzero(winner == k)
        if not where[0].size:
            continue
        piece = func(P.getitem_p(x, index=where), *args, **kw) if callable(func) else func
        piece = P.broadcast_to_p(piece, shape=where[0].shape)
        if _dtype(piece) != xv.dtype:
            piece = P.cast_p(piece, dtype=xv.dtype)  # NumPy assigns into zeros_like(x)
        result = result + P.index_add_p(piece, index=where, shape=shape)
    return P.reshape_p(result, shape=()) if scalar_input else result
