"""How tapegrad.numpy looks at its arguments: Tensors, arrays, lists and Python scalars.

Shapes and dtypes come from the wrapped array (``Tensor._value``, the Tensor's own
protocol) without reading the values, so they work on traced tensors too. `read` takes the
values, for results whose shape depends on them: a traced tensor has none yet, so reading
it raises `TracerValueError` naming the user's line.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> shape_of(tg.tensor([[1.0, 2.0]])), dtype_of([1, 2]), one_axis(-1, 3)
    ((1, 2), dtype('int64'), 2)
    >>> along(1, 3, slice(1, None))
    (slice(None, None, None), slice(1, None, None), slice(None, None, None))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import normalize_axis
from tapegrad.core.tensor import Tensor

PY_SCALAR = (bool, int, float, complex)


def unwrap(x: Any) -> Any:
    """The array a Tensor wraps; anything else as it is."""
    return getattr(x, "_value", x)


def value_of(x: Any) -> np.ndarray:
    """``x``'s array (a Tensor's wrapped one: no check for traced tensors)."""
    return np.asarray(unwrap(x))


def as_array(x: Any) -> Any:
    """Tensors as they are, anything else (lists, scalars) as a NumPy array."""
    return x if isinstance(x, Tensor) else np.asarray(x)


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of a Tensor, array, nested list or scalar."""
    return np.shape(getattr(x, "_value", x))  # `unwrap` inline: reductions call this per op


def ndim_of(x: Any) -> int:
    """The rank of a Tensor, array, nested list or scalar."""
    return np.ndim(getattr(x, "_value", x))


def dtype_of(x: Any) -> np.dtype:
    """The dtype NumPy gives ``x`` (lists as arrays, Python scalars by NumPy's rule)."""
    raw = unwrap(x)
    return np.asarray(raw).dtype if isinstance(raw, list | tuple) else np.result_type(raw)


def inexact(x: Any) -> bool:
    """Whether ``x`` holds floating or complex numbers (which can be NaN)."""
    return dtype_of(x).kind in "fc"


def one_axis(axis: int, ndim: int) -> int:
    """One axis as a non-negative index."""
    (axis,) = normalize_axis(axis, ndim) or (0,)
    return axis


def reduced_axes(a: Any, axis: Any) -> tuple[int, ...] | None:
    """A reduction's ``axis`` argument as a tuple of non-negative axes (None: all)."""
    return normalize_axis(axis, len(shape_of(a)))


def along(axis: int, ndim: int, item: Any) -> tuple[Any, ...]:
    """An index selecting ``item`` along ``axis`` and everything along the other axes."""
    return (slice(None),) * axis + (item,) + (slice(None),) * (ndim - axis - 1)


def cast_to(x: Any, dtype: np.dtype) -> Any:
    """``x`` in ``dtype``: Tensors and arrays cast differentiably, Python scalars converted."""
    if isinstance(x, PY_SCALAR):
        return dtype.type(x)
    return x if dtype_of(x) == dtype else P.cast_p(x, dtype=dtype)


def no_extra(name: str, **kwargs: Any) -> None:
    """Refuse the NumPy arguments tapegrad does not support (those given as not None)."""
    given = sorted(k for k, v in kwargs.items() if v is not None)
    if given:
        raise TypeError(f"tapegrad.numpy.{name}: unsupported arguments {given}")


def read(x: Any) -> Any:
    """``x``'s values (refused for a traced tensor, naming the user's line)."""
    return np.asarray(x) if isinstance(x, Tensor) else x


def read_tree(x: Any) -> Any:
    """`read` on every leaf of nested lists and tuples."""
    if isinstance(x, list | tuple):
        return type(x)(read_tree(item) for item in x)
    return read(x)


def unwrap_tree(x: Any) -> Any:
    """`unwrap` on every leaf of nested lists and tuples (shapes and dtypes only)."""
    if isinstance(x, list | tuple):
        return type(x)(unwrap_tree(item) for item in x)
    return unwrap(x)
