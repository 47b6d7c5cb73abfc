"""NaN-aware reductions: ``nanmax``, ``nanmin``, ``nanprod``, ``nanvar``, ``nanstd``,
``nancumsum``, ``nancumprod``, ``nanargmax``, ``nanargmin``.

NaNs are replaced by the reduction's neutral value before it runs; the replaced entries get
a zero gradient.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tg.grad(lambda x: tnp.nanmax(x))(np.array([1.0, np.nan, 2.0])).numpy()
    array([0., 0., 1.])
    >>> tnp.nanvar(np.array([1.0, np.nan, 3.0]))
    array(1.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import (
    all_p,
    count_nonzero_p,
    nanargmax_p,
    nanargmin_p,
    normalize_axis,
)
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import inexact as _inexact
from tapegrad.numpy._arguments import no_extra as _no_extra
from tapegrad.numpy._arguments import reduced_axes as _axes
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._axes import axis_index

__all__ = [
    "nanargmax",
    "nanargmin",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmin",
    "nanprod",
    "nanstd",
    "nanvar",
]


def _nan_filled(a: Any, fill: float) -> Any:
    """``a`` with NaNs replaced by ``fill``; the replaced entries get a zero gradient."""
    return P.where_p(P.isnan_p(a), fill, a) if _inexact(a) else a


def _nan_extremum(
    name: str,
    prim: P.Primitive,
    fill: float,
    a: Any,
    axis: Any,
    keepdims: bool,
    out: Any,
    initial: Any,
    where: Any,
) -> Any:
    _no_extra(name, out=out, initial=initial, where=where)
    axes = _axes(a, axis)
    result = prim(_nan_filled(a, fill), axis=axes, keepdims=keepdims)
    if not _inexact(a):
        return result
    all_nan = all_p(P.isnan_p(a), axis=axes, keepdims=keepdims)
    return P.where_p(all_nan, np.nan, result)


def nanmax(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Differentiable ``numpy.nanmax`` (NaN for all-NaN slices; ties share the gradient)."""
    return _nan_extremum("nanmax", P.max_p, -np.inf, a, axis, keepdims, out, initial, where)


def nanmin(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Differentiable ``numpy.nanmin`` (NaN for all-NaN slices; ties share the gradient)."""
    return _nan_extremum("nanmin", P.min_p, np.inf, a, axis, keepdims, out, initial, where)


def nanprod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    initial: Any = None,
    where: Any = None,
) -> Any:
    """Differentiable ``numpy.nanprod``: NaNs count as one."""
    _no_extra("nanprod", out=out, initial=initial, where=where)
    a = a if dtype is None else P.cast_p(a, dtype=np.dtype(dtype))
    return P.prod_p(_nan_filled(a, 1.0), axis=_axes(a, axis), keepdims=keepdims)


def nanvar(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: Any = None,
) -> Any:
    """Differentiable ``numpy.nanvar``: NaN for slices with no more than ``ddof`` values."""
    _no_extra("nanvar", out=out, where=where, mean=mean)
    ddof = ddof if correction is None else correction
    if dtype is not None:
        a = P.cast_p(a, dtype=np.dtype(dtype))
    elif not _inexact(a):
        a = P.cast_p(a, dtype=np.float64)
    axes = _axes(a, axis)
    valid = P.logical_not_p(P.isnan_p(a))
    count = P.cast_p(count_nonzero_p(valid, axis=axes, keepdims=True), dtype=_dtype(a))
    filled = _nan_filled(a, 0.0)
    mean_ = P.sum_p(filled, axis=axes, keepdims=True) / P.maximum_p(count, 1)
    centered = P.where_p(valid, filled - mean_, 0)
    squares = P.sum_p(centered * centered, axis=axes, keepdims=True)
    dof = count - ddof
    # Empty slices divide by 1 and are then set to NaN, so no 0/0 reaches the gradient.
    enough = P.greater_p(dof, 0)
    result = P.where_p(enough, squares / P.where_p(enough, dof, 1), np.nan)
    if not keepdims:
        shape = _shape(a)
        kept = [s for i, s in enumerate(shape) if axes is not None and i not in axes]
        result = P.reshape_p(result, shape=tuple(kept))
    return result


def nanstd(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: float = 0,
    keepdims: bool = False,
    *,
    where: Any = None,
    mean: Any = None,
    correction: Any = None,
) -> Any:
    """Differentiable ``numpy.nanstd``."""
    return P.sqrt_p(
        nanvar(a, axis, dtype, out, ddof, keepdims, where=where, mean=mean, correction=correction)
    )


def _nan_cumulative(prim: P.Primitive, fill: float, a: Any, axis: Any, dtype: Any) -> Any:
    if dtype is not None:
        a = P.cast_p(a, dtype=np.dtype(dtype))
    a = _nan_filled(a, fill)
    if axis is None:
        a = P.reshape_p(a, shape=(-1,))
        axis = 0
    (axis,) = normalize_axis(axis, len(_shape(a))) or (0,)
    return prim(a, axis=axis)


def nancumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Differentiable ``numpy.nancumsum``: NaNs count as zero."""
    _no_extra("nancumsum", out=out)
    return _nan_cumulative(P.cumsum_p, 0.0, a, axis, dtype)


def nancumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Differentiable ``numpy.nancumprod``: NaNs count as one."""
    _no_extra("nancumprod", out=out)
    return _nan_cumulative(P.cumprod_p, 1.0, a, axis, dtype)


def nanargmax(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """``numpy.nanargmax`` (indices, no gradient)."""
    _no_extra("nanargmax", out=out)
    axis = None if axis is None else axis_index(axis, np.ndim(getattr(a, "_value", a)), "nanargmax")
    return nanargmax_p(a, axis=axis, keepdims=bool(keepdims))


def nanargmin(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """``numpy.nanargmin`` (indices, no gradient)."""
    _no_extra("nanargmin", out=out)
    axis = None if axis is None else axis_index(axis, np.ndim(getattr(a, "_value", a)), "nanargmin")
    return nanargmin_p(a, axis=axis, keepdims=bool(keepdims))
