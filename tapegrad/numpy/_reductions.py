"""Reductions: sum, mean, prod, max/min, var/std, cumulative, logsumexp-style composites."""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import all_p, any_p, count_nonzero_p, normalize_axis
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import shape_of as _shape


def _no_extra(name: str, out: Any = None, where: Any = None, initial: Any = None) -> None:
    if out is not None or where is not None or initial is not None:
        raise TypeError(f"tapegrad.numpy.{name}: out=, where= and initial= are not supported")


def _as_dtype(x: Any, dtype: Any) -> Any:
    return x if dtype is None else P.cast_p(x, dtype=np.dtype(dtype))


def sum(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,  # noqa: A001
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """Differentiable ``numpy.sum``."""
    _no_extra("sum", out, **kwargs)
    a = _as_dtype(a, dtype)
    return P.sum_p(a, axis=normalize_axis(axis, _ndim(a)), keepdims=keepdims)


def _count(a: Any, axis: tuple[int, ...] | None) -> int:
    shape = _shape(a)
    if axis is None:
        return int(np.prod(shape, dtype=np.int64))
    return int(np.prod([shape[i] for i in axis], dtype=np.int64))


def _float(a: Any) -> Any:
    # Means of integers are floating point (float64, as in NumPy).
    kind = _dtype(a).kind
    return a if kind in "fc" else P.cast_p(a, dtype=np.float64)


def mean(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """Differentiable ``numpy.mean``."""
    _no_extra("mean", out, **kwargs)
    a = _float(_as_dtype(a, dtype))
    axes = normalize_axis(axis, _ndim(a))
    total = P.sum_p(a, axis=axes, keepdims=keepdims)
    count = _count(a, axes)
    # An empty mean is NaN, as in NumPy (without its RuntimeWarning).
    return total / count if count else total * np.nan


def var(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: int = 0,
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """Differentiable ``numpy.var``."""
    _no_extra("var", out, **kwargs)
    a = _float(_as_dtype(a, dtype))
    axes = normalize_axis(axis, _ndim(a))
    centered = a - mean(a, axis=axes, keepdims=True)
    if _dtype(centered).kind == "c":  # NumPy's var of complex numbers: mean |x - m|^2
        centered = P.abs_p(centered)
    squares = P.sum_p(centered * centered, axis=axes, keepdims=keepdims)
    count = _count(a, axes) - ddof
    return squares / count if count > 0 else squares * np.nan


def std(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    ddof: int = 0,
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """Differentiable ``numpy.std``."""
    return P.sqrt_p(var(a, axis, dtype, out, ddof, keepdims, **kwargs))


def prod(
    a: Any,
    axis: Any = None,
    dtype: Any = None,
    out: Any = None,
    keepdims: bool = False,
    **kwargs: Any,
) -> Any:
    """Differentiable ``numpy.prod`` (exact gradients with zeros in the input)."""
    _no_extra("prod", out, **kwargs)
    a = _as_dtype(a, dtype)
    return P.prod_p(a, axis=normalize_axis(axis, _ndim(a)), keepdims=keepdims)


def max(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: bool = False,  # noqa: A001
    **kwargs: Any,
) -> Any:
    """Differentiable ``numpy.max``: ties share the gradient evenly."""
    _no_extra("max", out, **kwargs)
    return P.max_p(a, axis=normalize_axis(axis, _ndim(a)), keepdims=keepdims)


def min(
    a: Any,
    axis: Any = None,
    out: Any = None,
    keepdims: bool = False,  # noqa: A001
    **kwargs: Any,
) -> Any:
    """Differentiable ``numpy.min``: ties share the gradient evenly."""
    _no_extra("min", out, **kwargs)
    return P.min_p(a, axis=normalize_axis(axis, _ndim(a)), keepdims=keepdims)


amax = max
amin = min


def ptp(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Differentiable ``numpy.ptp`` (max - min)."""
    return max(a, axis, keepdims=keepdims) - min(a, axis, keepdims=keepdims)


def _cumulative(prim: P.Primitive, a: Any, axis: Any, dtype: Any) -> Any:
    a = _as_dtype(a, dtype)
    if axis is None:
        a = P.reshape_p(a, shape=(-1,))
        axis = 0
    (axis,) = normalize_axis(axis, _ndim(a)) or (0,)
    return prim(a, axis=axis)


def cumsum(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Differentiable ``numpy.cumsum``."""
    _no_extra("cumsum", out)
    return _cumulative(P.cumsum_p, a, axis, dtype)


def cumprod(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> Any:
    """Differentiable ``numpy.cumprod`` (exact gradients with zeros in the input)."""
    _no_extra("cumprod", out)
    return _cumulative(P.cumprod_p, a, axis, dtype)


cumulative_sum = cumsum
cumulative_prod = cumprod


def average(
    a: Any, axis: Any = None, weights: Any = None, returned: bool = False, keepdims: bool = False
) -> Any:
    """Differentiable ``numpy.average``."""
    if weights is None:
        result = mean(a, axis=axis, keepdims=keepdims)
        total = _count(a, normalize_axis(axis, _ndim(a)))
        return (result, total) if returned else result
    if _shape(weights) != _shape(a):
        if axis is None or _ndim(weights) != 1:
            raise ValueError(
                f"average: weights shape {_shape(weights)} differs from a {_shape(a)}; "
                "1-D weights need an axis"
            )
        shape = [1] * _ndim(a)
        shape[normalize_axis(axis, _ndim(a))[0]] = _shape(weights)[0]
        weights = P.reshape_p(weights, shape=tuple(shape))
    weight_sum = sum(P.broadcast_to_p(weights, shape=_shape(a)), axis=axis, keepdims=keepdims)
    result = sum(a * weights, axis=axis, keepdims=keepdims) / weight_sum
    return (result, weight_sum) if returned else result


def logsumexp(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``log(sum(exp(a)))``, stable for large inputs (a composite of primitives)."""
    axes = normalize_axis(axis, _ndim(a))
    top = P.max_p(a, axis=axes, keepdims=True)
    # The shift is a constant for differentiation: the result does not depend on it.
    shift = P.stop_gradient_p(P.where_p(P.isfinite_p(top), top, 0))
    total = P.log_p(P.sum_p(P.exp_p(a - shift), axis=axes, keepdims=True)) + shift
    return total if keepdims else P.reshape_p(total, shape=_reduced_shape(_shape(a), axes))


def _reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    if axes is None:
        return ()
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def nansum(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Differentiable ``numpy.nansum``: NaNs count as zero (and get zero gradient)."""
    return sum(P.where_p(P.isnan_p(a), 0, a), axis=axis, keepdims=keepdims)


def nanmean(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Differentiable ``numpy.nanmean``."""
    valid = P.logical_not_p(P.isnan_p(a))
    count = sum(P.cast_p(valid, dtype=_dtype(a)), axis=axis, keepdims=keepdims)
    return nansum(a, axis=axis, keepdims=keepdims) / count


# Not differentiable: boolean or index results.
def any(a: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """``numpy.any`` (boolean result, no gradient)."""
    return any_p(a, axis=normalize_axis(axis, _ndim(a)), keepdims=keepdims)


def all(a: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """``numpy.all`` (boolean result, no gradient)."""
    return all_p(a, axis=normalize_axis(axis, _ndim(a)), keepdims=keepdims)


def count_nonzero(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """``numpy.count_nonzero`` (integer result, no gradient)."""
    return count_nonzero_p(a, axis=normalize_axis(axis, _ndim(a)), keepdims=keepdims)


__all__ = [
    "all",
    "amax",
    "amin",
    "any",
    "average",
    "count_nonzero",
    "cumprod",
    "cumsum",
    "cumulative_prod",
    "cumulative_sum",
    "logsumexp",
    "max",
    "mean",
    "min",
    "nanmean",
    "nansum",
    "prod",
    "ptp",
    "std",
    "sum",
    "var",
]
