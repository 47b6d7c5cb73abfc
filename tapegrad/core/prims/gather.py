"""Gather and scatter-add with the indices as an *argument* (not a param).

`getitem` keeps its index in the params, fixed when an op is recorded — right for
slices and for index arrays that are data of the program. When the indices are computed
(labels, token ids fed to an `Embedding`), a traced graph must read them at run time:
`take` and its transpose `take_add` take them as an input.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.tensor import shape_of


def _take_impl(x: Any, indices: Any, *, axis: int) -> Any:
    return np.take(x, indices, axis=axis)


def _take_add_impl(g: Any, indices: Any, *, axis: int, shape: tuple[int, ...]) -> np.ndarray:
    """zeros(shape) with the slices of ``g`` added at ``indices`` along ``axis``."""
    g = np.asarray(g)
    out = np.zeros(shape, dtype=g.dtype)
    indices = np.asarray(indices)
    moved = np.moveaxis(out, axis, 0)  # a view: writes land in `out`
    # g's axes: x's axes before `axis`, then the indices' axes, then x's axes after it.
    g_moved = np.moveaxis(g, tuple(range(axis, axis + indices.ndim)), tuple(range(indices.ndim)))
    np.add.at(moved, indices, g_moved)
    return out


# take(x, indices): np.take along `axis` (an int; flatten x first for axis=None).
take_p = Primitive("take", _take_impl, returns="unknown")
# take_add(g, indices): the transpose of take: scatter-add of g into zeros(shape).
take_add_p = Primitive("take_add", _take_add_impl, returns="unknown")


def _no_gradient(*args: Any, **params: Any) -> None:
    """Integer indices: their cotangent/tangent is None (the declared answer, not an error)."""
    return None


take_p.defvjp(
    lambda g, ans, x, indices, axis: take_add_p(g, indices, axis=axis, shape=shape_of(x)),
    _no_gradient,
)
take_p.defjvp(lambda t, ans, x, indices, axis: take_p(t, indices, axis=axis), _no_gradient)
take_add_p.defvjp(
    lambda g, ans, x, indices, axis, shape: take_p(g, indices, axis=axis),
    _no_gradient,
)
take_add_p.defjvp(
    lambda t, ans, x, indices, axis, shape: take_add_p(t, indices, axis=axis, shape=shape),
    _no_gradient,
)

__all__ = ["take_add_p", "take_p"]
