"""``apply_along_axis`` and ``apply_over_axes``: NumPy's loops over a function, run on
Tensor slices, so the results are differentiable whenever the function is.

Examples:
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
    >>> tg.grad(lambda x: tnp.sum(apply_along_axis(lambda v: v[0] * v[1], 1, x)))(x).numpy()
    array([[2., 1.],
           [4., 3.]], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._axes import axis_index

__all__ = ["apply_along_axis", "apply_over_axes"]


def apply_along_axis(
    func1d: Callable[..., Any], axis: int, arr: Any, *args: Any, **kwargs: Any
) -> Any:
    """Differentiable ``numpy.apply_along_axis``: ``func1d`` on every 1-D slice along
    ``axis``; its result's axes replace ``axis``.

    Args:
        func1d: Function of a 1-D slice (and ``*args``, ``**kwargs``).
        axis: The axis the slices run along.
        arr: The input array.

    Returns:
        ``arr.shape[:axis] + result.shape + arr.shape[axis + 1:]``.

    Examples:
        >>> import numpy as np
        >>> apply_along_axis(np.diff, 0, np.array([[1.0, 5.0], [4.0, 6.0]]))
        array([[3., 1.]])
    """
    arr = _array(arr)
    n = _ndim(arr)
    axis = axis_index(axis, n, "apply_along_axis")
    moved = P.transpose_p(arr, axes=tuple(i for i in range(n) if i != axis) + (axis,))
    outer = _shape(moved)[:-1]
    if 0 in outer:
        raise ValueError("Cannot apply_along_axis when any iteration dimensions are 0")
    results = [
        _array(func1d(P.getitem_p(moved, index=ix), *args, **kwargs)) for ix in np.ndindex(outer)
    ]
    inner = _shape(results[0])
    stacked = P.concatenate_p(*[P.reshape_p(r, shape=(1,) + inner) for r in results], axis=0)
    out = P.reshape_p(stacked, shape=outer + inner)
    # The result's own axes go where `axis` was.
    k = len(inner)
    order = (
        tuple(range(axis))
        + tuple(range(len(outer), len(outer) + k))
        + tuple(range(axis, len(outer)))
    )
    return P.transpose_p(out, axes=order) if order != tuple(range(len(order))) else out


def apply_over_axes(func: Callable[..., Any], a: Any, axes: Any) -> Any:
    """Differentiable ``numpy.apply_over_axes``: ``func(a, axis)`` for each axis in turn,
    a reduced axis kept with length 1.

    Examples:
        >>> import numpy as np
        >>> apply_over_axes(np.sum, np.arange(6.0).reshape(2, 3), [0, 1])
        array([[15.]])
    """
    val = _array(a)
    n = _ndim(val)
    for axis in np.atleast_1d(np.asarray(axes)).tolist():
        axis = axis + n if axis < 0 else axis
        res = _array(func(val, axis))
        if _ndim(res) == _ndim(val):
            val = res
        else:
            res = P.reshape_p(res, shape=_shape(res)[:axis] + (1,) + _shape(res)[axis:])
            if _ndim(res) != _ndim(val):
                raise ValueError("function is not returning an array of the correct shape")
            val = res
    return val
