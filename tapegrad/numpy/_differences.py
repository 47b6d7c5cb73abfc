"""Differences and rotations: ``diff``, ``ediff1d``, ``rot90``.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.diff(np.array([1.0, 4.0, 9.0, 16.0]), n=2)
    array([2., 2.])
    >>> tg.grad(lambda x: tnp.sum(tnp.diff(x) ** 2))(tg.tensor([1.0, 2.0, 4.0])).numpy()
    array([-2., -2.,  4.], dtype=float32)
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.numpy._arguments import along as _along
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import one_axis as _axis
from tapegrad.numpy._arguments import shape_of as _shape

__all__ = ["diff", "ediff1d", "rot90"]

_NO_VALUE = object()  # NumPy's "argument not given" for diff's prepend/append


def diff(
    a: Any, n: int = 1, axis: int = -1, prepend: Any = _NO_VALUE, append: Any = _NO_VALUE
) -> Any:
    """Differentiable ``numpy.diff`` (``n``-th differences, with ``prepend``/``append``)."""
    if n == 0:
        return a
    if n < 0:
        raise ValueError(f"diff: order must be non-negative but got {n}")
    a = _array(a)
    nd = _ndim(a)
    if nd == 0:
        raise ValueError("diff requires input that is at least one dimensional")
    axis = _axis(axis, nd)
    pieces = []
    for piece in (prepend, a, append):
        if piece is _NO_VALUE:
            continue
        piece = _array(piece)
        if _ndim(piece) == 0:
            shape = list(_shape(a))
            shape[axis] = 1
            piece = P.broadcast_to_p(piece, shape=tuple(shape))
        pieces.append(piece)
    if len(pieces) > 1:
        a = P.concatenate_p(*pieces, axis=axis)
    boolean = _dtype(a) == np.bool_
    for _ in range(n):
        length = _shape(a)[axis]
        high = P.getitem_p(a, index=_along(axis, nd, slice(1, None)))
        low = P.getitem_p(a, index=_along(axis, nd, slice(0, builtins.max(length - 1, 0))))
        a = P.not_equal_p(high, low) if boolean else high - low
    return a


def ediff1d(ary: Any, to_end: Any = None, to_begin: Any = None) -> Any:
    """Differentiable ``numpy.ediff1d``: differences of the flattened array."""
    ary = _array(ary)
    flat = P.reshape_p(ary, shape=(-1,))
    dtype = _dtype(ary)
    length = _shape(flat)[0]
    pieces = [
        P.getitem_p(flat, index=(slice(1, None),))
        - P.getitem_p(flat, index=(slice(0, builtins.max(length - 1, 0)),))
    ]
    for name, extra, at in (("to_begin", to_begin, 0), ("to_end", to_end, 1)):
        if extra is None:
            continue
        if not np.can_cast(_dtype(extra), dtype, casting="same_kind"):
            raise TypeError(
                f"ediff1d: dtype of `{name}` must be compatible with input "
                f"`ary` ({dtype}) under the `same_kind` rule"
            )
        extra = P.reshape_p(_array(extra), shape=(-1,))
        if _dtype(extra) != dtype:
            extra = P.cast_p(extra, dtype=dtype)
        pieces.insert(0 if at == 0 else len(pieces), extra)
    result = P.concatenate_p(*pieces, axis=0) if len(pieces) > 1 else pieces[0]
    return result if _dtype(result) == dtype else P.cast_p(result, dtype=dtype)


def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """Differentiable ``numpy.rot90``: a flip and a transpose."""
    axes = tuple(axes)
    m = _array(m)
    nd = _ndim(m)
    if len(axes) != 2:
        raise ValueError("rot90: len(axes) must be 2")
    if axes[0] == axes[1] or builtins.abs(axes[0] - axes[1]) == nd:
        raise ValueError(f"rot90: axes must be different, got {axes}")
    if not all(-nd <= ax < nd for ax in axes):
        raise ValueError(f"rot90: axes={axes} out of range for array of ndim={nd}")
    first, second = (ax % nd for ax in axes)
    k %= 4
    if k == 0:
        return P.identity_p(m)
    if k == 2:
        flipped = _along(first, nd, slice(None, None, -1))
        flipped = tuple(slice(None, None, -1) if i == second else s for i, s in enumerate(flipped))
        return P.getitem_p(m, index=flipped)
    order = list(range(nd))
    order[first], order[second] = order[second], order[first]
    if k == 1:
        flipped = P.getitem_p(m, index=_along(second, nd, slice(None, None, -1)))
        return P.transpose_p(flipped, axes=tuple(order))
    swapped = P.transpose_p(m, axes=tuple(order))
    return P.getitem_p(swapped, index=_along(second, nd, slice(None, None, -1)))
