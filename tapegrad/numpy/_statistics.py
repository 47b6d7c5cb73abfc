"""Statistics: order statistics, NaN-aware reductions, covariance, counting and histograms.

Order statistics (median, quantile, percentile and their NaN-ignoring versions) are
gathers: the ``argsort`` primitive picks the positions (no gradient) and ``take`` gathers
the picked elements, which carry the gradient, weighted by the interpolation weights.
Positions, NaN counts and weights are computed with primitives too, so a traced graph
orders the values it runs on. For the continuous methods (``"linear"``, ``"hazen"``, ...)
the weights are differentiable in ``q`` as well.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> x = tg.tensor([3.0, 1.0, 4.0, 1.5])
    >>> float(tnp.median(x))
    2.25
    >>> tg.grad(tnp.median)(x).numpy()
    array([0.5, 0. , 0. , 0.5], dtype=float32)
    >>> tg.grad(lambda q: tnp.quantile(x, q))(tg.tensor(0.5)).numpy()  # (3 - 1.5) * (n - 1)
    array(4.5, dtype=float32)
    >>> tg.grad(lambda x: tnp.nanmax(x))(np.array([1.0, np.nan, 2.0])).numpy()
    array([0., 0., 1.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import (
    all_p,
    any_p,
    argsort_p,
    count_nonzero_p,
    nanargmax_p,
    nanargmin_p,
    normalize_axis,
    searchsorted_p,
)
from tapegrad.core.tensor import Tensor
from tapegrad.graph.function import is_traced
from tapegrad.numpy._axes import axis_index

__all__ = [
    "bincount",
    "corrcoef",
    "cov",
    "digitize",
    "histogram",
    "histogram2d",
    "histogram_bin_edges",
    "histogramdd",
    "median",
    "nanargmax",
    "nanargmin",
    "nancumprod",
    "nancumsum",
    "nanmax",
    "nanmedian",
    "nanmin",
    "nanpercentile",
    "nanprod",
    "nanquantile",
    "nanstd",
    "nanvar",
    "percentile",
    "quantile",
]


def _raw(x: Any) -> Any:
    return getattr(x, "_value", x)


def _value(x: Any) -> np.ndarray:
    return np.asarray(_raw(x))


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(_raw(x))


def _dtype(x: Any) -> np.dtype:
    raw = _raw(x)
    return np.asarray(raw).dtype if isinstance(raw, list | tuple) else np.result_type(raw)


def _inexact(x: Any) -> bool:
    return _dtype(x).kind in "fc"


def _no_extra(name: str, **kwargs: Any) -> None:
    given = sorted(k for k, v in kwargs.items() if v is not None)
    if given:
        raise TypeError(f"tapegrad.numpy.{name}: unsupported arguments {given}")


def _axes(a: Any, axis: Any) -> tuple[int, ...] | None:
    return normalize_axis(axis, len(_shape(a)))


# -- order statistics --------------------------------------------------------------------
def _to_last(a: Any, axis: Any) -> tuple[Any, tuple[int, ...], tuple[int, ...]]:
    """``a`` with the reduced axes merged into one last axis; the batch and keepdims shapes."""
    shape = _shape(a)
    axes = _axes(a, axis)
    axes = tuple(range(len(shape))) if axes is None else axes
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    batch = tuple(shape[i] for i in kept)
    n = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    moved = a
    if kept + axes != tuple(range(len(shape))):
        moved = P.transpose_p(a, axes=kept + axes)
    keep_shape = tuple(1 if i in axes else s for i, s in enumerate(shape))
    return P.reshape_p(moved, shape=batch + (n,)), batch, keep_shape


class _Sorted:
    """The rows of a ``(..., n)`` array in sorted order (NaNs last), gathered on demand.

    The order, the per-row counts and the NaN rows are computed with primitives, so a
    traced graph sorts the values it runs on.
    """

    def __init__(self, moved: Any, ignore_nan: bool) -> None:
        self.moved = moved
        shape = _shape(moved)
        self.batch, self.n = shape[:-1], shape[-1]
        self.order = argsort_p(moved, axis=-1, kind="stable")
        # Per-row sample sizes (NaNs excluded for the nan* functions), and the rows whose
        # result is NaN: any NaN (NumPy propagates it), or no valid value at all.
        self.count: Any = np.full(self.batch, self.n)
        self.nan_rows: Any = None
        if _inexact(moved):
            nans = P.isnan_p(moved)
            if ignore_nan:
                self.count = self.n - count_nonzero_p(nans, axis=-1)
                self.nan_rows = P.equal_p(self.count, 0)
            else:
                self.nan_rows = any_p(nans, axis=-1)

    def take(self, positions: Any) -> Any:
        """The elements at sorted ``positions`` (shape ``Q + batch``), differentiably."""
        if self.n == 0:
            return np.full(_shape(positions), np.nan)
        positions = P.clip_p(P.cast_p(positions, dtype=np.intp), 0, self.n - 1)
        # Flat positions in the (batch, n) arrays: each row starts at a multiple of n.
        starts = (np.arange(int(np.prod(self.batch, dtype=np.int64))) * self.n).reshape(
            self.batch
        )
        source = P.take_p(P.reshape_p(self.order, shape=(-1,)), starts + positions, axis=0)
        return P.take_p(P.reshape_p(self.moved, shape=(-1,)), starts + source, axis=0)


_CONTINUOUS = {  # Hyndman & Fan's (alpha, beta); "linear" has NumPy's own formula
    "linear": (1.0, 1.0),
    "interpolated_inverted_cdf": (0.0, 1.0),
    "hazen": (0.5, 0.5),
    "weibull": (0.0, 0.0),
    "median_unbiased": (1 / 3.0, 1 / 3.0),
    "normal_unbiased": (3 / 8.0, 3 / 8.0),
}
_DISCRETE = ("lower", "higher", "nearest", "inverted_cdf", "closest_observation")
_FIXED_WEIGHT = ("midpoint", "averaged_inverted_cdf")


def _virtual_index(method: str, n: Any, q: Any) -> Any:
    """The fractional sorted position of quantile ``q`` (NumPy's formulas, in ``q``'s ops)."""
    if method == "linear":
        return q * (n - 1)
    alpha, beta = _CONTINUOUS[method]
    return q * n + (q * (1 - alpha - beta) + alpha) - 1


def _boundary(index: Any, take_previous: Any) -> Any:
    previous = P.floor_p(index)
    return P.maximum_p(P.where_p(take_previous, previous, previous + 1), 0)


# Positions and weights are computed with primitives (from a Tensor ``q`` or from counts
# that depend on NaNs), so that traced graphs compute them at run time.
def _discrete_position(method: str, n: Any, q: Any) -> Any:
    if method == "linear":  # integer q: 0 or 1, an exact order statistic
        return (n - 1) * q
    if method == "lower":
        return P.floor_p((n - 1) * q)
    if method == "higher":
        return P.ceil_p((n - 1) * q)
    if method == "nearest":
        return P.round_p((n - 1) * q)
    if method == "inverted_cdf":
        index = n * q - 1
        return _boundary(index, P.equal_p(index, P.floor_p(index)))
    index = n * q - 1 - 0.5  # closest_observation: the nearest even order statistic at ties
    previous = P.floor_p(index)
    odd = P.equal_p(P.remainder_p(previous, 2), 1)
    return _boundary(index, P.logical_and_p(P.equal_p(index, previous), odd))


def _fixed_weight(method: str, n: Any, q: Any) -> tuple[Any, Any]:
    if method == "midpoint":
        index = 0.5 * (P.floor_p((n - 1) * q) + P.ceil_p((n - 1) * q))
        return index, P.where_p(P.equal_p(P.remainder_p(index, 1), 0), 0.0, 0.5)
    index = n * q - 1  # averaged_inverted_cdf
    return index, P.where_p(P.equal_p(index - P.floor_p(index), 0), 0.5, 1.0)


def _lerp(low: Any, high: Any, t: Any, dtype: np.dtype, differentiable_t: bool) -> Any:
    """NumPy's interpolation, from the nearer end so that t=0 and t=1 are exact.

    A ``t`` without a gradient is rounded to ``dtype`` only after ``1 - t``, as NumPy
    does with its Python-float weights (this matters for float16 and float32 inputs).
    """
    if differentiable_t:
        complement = 1 - t
    else:
        t, complement = P.cast_p(t, dtype=dtype), P.cast_p(1 - t, dtype=dtype)
    diff = high - low
    return P.where_p(P.greater_equal_p(t, 0.5), high - diff * complement, low + diff * t)


def _check_q(name: str, q: Any) -> None:
    """NumPy's range check on ``q`` (not on a traced ``q``: it has no values yet)."""
    if is_traced(q):
        return
    qv = _value(q)
    if qv.size and not (qv.min() >= 0 and qv.max() <= 1):
        scale = 100 if name.endswith("percentile") else 1
        raise ValueError(f"{name}: q must be in the range [0, {scale}], got {qv * scale}")


def _quantile(
    name: str,
    a: Any,
    q: Any,
    axis: Any,
    method: str,
    keepdims: bool,
    ignore_nan: bool,
    weak_q: bool,
) -> Any:
    if _dtype(a).kind == "c":
        raise TypeError(f"{name}: a must be an array of real numbers")
    _check_q(name, q)
    q_shape, q_dtype = _shape(q), _dtype(q)
    if len(q_shape) > 2:
        raise ValueError(f"{name}: q must be a scalar or 1d, got shape {q_shape}")
    moved, batch, keep_shape = _to_last(a, axis)
    rows = _Sorted(moved, ignore_nan)
    q = P.reshape_p(q, shape=q_shape + (1,) * len(batch))
    full = q_shape + batch
    # Counts in q's float type, so that float32 q gives float32 positions as in NumPy.
    count = P.cast_p(rows.count, dtype=q_dtype) if q_dtype.kind == "f" else rows.count
    last = count - 1
    integer_linear = method == "linear" and q_dtype.kind in "iub"
    if method in _DISCRETE or integer_linear:
        position = _discrete_position(method, count, q)
        result = rows.take(P.broadcast_to_p(position, shape=full))
        dtype = _dtype(a)
    elif method in _CONTINUOUS or method in _FIXED_WEIGHT:
        if method in _CONTINUOUS:
            index = _virtual_index(method, count, q)
            gamma = index - P.floor_p(index)
        else:
            index, gamma = _fixed_weight(method, count, q)
        position = P.broadcast_to_p(index, shape=full)
        above, below = P.greater_equal_p(position, last), P.less_p(position, 0)
        floor = P.floor_p(position)
        previous = P.where_p(above, last, P.where_p(below, 0, floor))
        following = P.where_p(above, last, P.where_p(below, 0, floor + 1))
        dtype = np.result_type(_dtype(a), 0.0 if weak_q else _dtype(index))
        # Only the continuous methods' weights depend on q differentiably.
        differentiable_t = method in _CONTINUOUS and isinstance(q, Tensor) and not weak_q
        result = _lerp(rows.take(previous), rows.take(following), gamma, dtype,
                       differentiable_t)
    else:
        methods = sorted(_CONTINUOUS) + sorted(_DISCRETE + _FIXED_WEIGHT)
        raise ValueError(f"{name}: {method!r} is not a valid method. Use one of: {methods}")
    if rows.nan_rows is not None and dtype.kind in "fc":
        result = P.where_p(rows.nan_rows, np.nan, result)
    if _dtype(result) != dtype:
        result = P.cast_p(result, dtype=dtype)
    if keepdims:
        result = P.reshape_p(result, shape=full[: len(full) - len(batch)] + keep_shape)
    return result


def quantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: Any = None,
) -> Any:
    """Differentiable ``numpy.quantile`` (in ``a``, and in ``q`` for continuous methods)."""
    _no_extra("quantile", out=out, weights=weights)
    method = interpolation or method
    weak_q = type(q) in (int, float)
    return _quantile("quantile", a, q, axis, method, keepdims, False, weak_q)


def nanquantile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: Any = None,
) -> Any:
    """Differentiable ``numpy.nanquantile``: NaNs are left out of every slice."""
    _no_extra("nanquantile", out=out, weights=weights)
    method = interpolation or method
    weak_q = type(q) in (int, float)
    return _quantile("nanquantile", a, q, axis, method, keepdims, True, weak_q)


def _fraction(q: Any) -> Any:
    return q / 100 if isinstance(q, Tensor) else np.true_divide(q, 100)


def percentile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: Any = None,
) -> Any:
    """Differentiable ``numpy.percentile`` (``q`` in percent)."""
    _no_extra("percentile", out=out, weights=weights)
    method = interpolation or method
    weak_q = type(q) in (int, float)
    return _quantile("percentile", a, _fraction(q), axis, method, keepdims, False, weak_q)


def nanpercentile(
    a: Any,
    q: Any,
    axis: Any = None,
    out: Any = None,
    overwrite_input: bool = False,
    method: str = "linear",
    keepdims: bool = False,
    *,
    weights: Any = None,
    interpolation: Any = None,
) -> Any:
    """Differentiable ``numpy.nanpercentile``: NaNs are left out of every slice."""
    _no_extra("nanpercentile", out=out, weights=weights)
    method = interpolation or method
    weak_q = type(q) in (int, float)
    return _quantile("nanpercentile", a, _fraction(q), axis, method, keepdims, True, weak_q)


def _median(a: Any, axis: Any, keepdims: bool, ignore_nan: bool) -> Any:
    if not _inexact(a):
        a = P.cast_p(a, dtype=np.float64)  # NumPy's median is a mean: float64 for integers
    moved, batch, keep_shape = _to_last(a, axis)
    rows = _Sorted(moved, ignore_nan)
    # The mean of the two middle elements; for odd counts both are the same element.
    middle = (rows.take((rows.count - 1) // 2) + rows.take(rows.count // 2)) / 2
    if rows.nan_rows is not None:
        middle = P.where_p(rows.nan_rows, np.nan, middle)
    return P.reshape_p(middle, shape=keep_shape) if keepdims else middle


def median(
    a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False
) -> Any:
    """Differentiable ``numpy.median``: the gradient goes to the middle element(s)."""
    _no_extra("median", out=out)
    return _median(a, axis, keepdims, ignore_nan=False)


def nanmedian(
    a: Any, axis: Any = None, out: Any = None, overwrite_input: bool = False, keepdims: bool = False
) -> Any:
    """Differentiable ``numpy.nanmedian``: NaNs are left out of every slice."""
    _no_extra("nanmedian", out=out)
    return _median(a, axis, keepdims, ignore_nan=True)


# -- NaN-aware reductions ----------------------------------------------------------------
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
    axis = None if axis is None else axis_index(axis, np.ndim(getattr(a, "_value", a)),
                                                "nanargmax")
    return nanargmax_p(a, axis=axis, keepdims=bool(keepdims))


def nanargmin(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """``numpy.nanargmin`` (indices, no gradient)."""
    _no_extra("nanargmin", out=out)
    axis = None if axis is None else axis_index(axis, np.ndim(getattr(a, "_value", a)),
                                                "nanargmin")
    return nanargmin_p(a, axis=axis, keepdims=bool(keepdims))


# -- covariance --------------------------------------------------------------------------
def _as_rows(x: Any, rowvar: bool, dtype: np.dtype, name: str) -> Any:
    if len(_shape(x)) > 2:
        raise ValueError(f"cov: {name} has more than 2 dimensions (shape {_shape(x)})")
    if _dtype(x) != dtype:
        x = P.cast_p(x, dtype=dtype)
    if len(_shape(x)) < 2:
        x = P.reshape_p(x, shape=(1,) * (2 - len(_shape(x))) + _shape(x))
        return x
    return x if rowvar else P.transpose_p(x, axes=(1, 0))


def _sample_weights(fweights: Any, aweights: Any, samples: int) -> Any:
    w = None
    for name, weights in (("fweights", fweights), ("aweights", aweights)):
        if weights is None:
            continue
        values = _value(weights).astype(float)
        # Traced weights have no values yet (those at hand are the trace-time ones).
        checked = not is_traced(weights)
        if checked and name == "fweights" and not np.all(values == np.around(values)):
            raise TypeError("cov: fweights must be integer")
        if values.ndim > 1:
            raise RuntimeError(f"cov: cannot handle multidimensional {name}")
        if values.shape[0] != samples:
            raise RuntimeError(f"cov: incompatible numbers of samples ({samples}) and {name}")
        if checked and np.any(values < 0):
            raise ValueError(f"cov: {name} cannot be negative")
        weights = weights if isinstance(weights, Tensor) else values
        w = weights if w is None else w * weights
    return w


def cov(
    m: Any,
    y: Any = None,
    rowvar: bool = True,
    bias: bool = False,
    ddof: Any = None,
    fweights: Any = None,
    aweights: Any = None,
    *,
    dtype: Any = None,
) -> Any:
    """Differentiable ``numpy.cov`` (in the data and in ``aweights``)."""
    if ddof is not None and ddof != int(ddof):
        raise ValueError("cov: ddof must be integer")
    if dtype is None:
        dtype = (
            np.result_type(_raw(m), np.float64)
            if y is None
            else np.result_type(_raw(m), _raw(y), np.float64)
        )
    dtype = np.dtype(dtype)
    x = _as_rows(m, rowvar or len(_shape(m)) == 1, dtype, "m")
    if _shape(x)[0] == 0:
        return np.array([]).reshape(0, 0)
    if y is not None:
        y_rows = _as_rows(y, rowvar or len(_shape(y)) < 2 or _shape(y)[0] == 1, dtype, "y")
        x = P.concatenate_p(x, y_rows, axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    samples = _shape(x)[1]
    w = _sample_weights(fweights, aweights, samples)
    if w is None:
        centered = x - P.sum_p(x, axis=(1,), keepdims=True) / samples
        fact: Any = samples - ddof
        weighted = centered
    else:
        w_sum = P.sum_p(w, axis=None, keepdims=False)
        centered = x - P.sum_p(x * w, axis=(1,), keepdims=True) / w_sum
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * P.sum_p(w * aweights, axis=None, keepdims=False) / w_sum
        weighted = centered * w
    if isinstance(fact, Tensor):
        fact = P.where_p(P.greater_p(fact, 0), fact, 0.0)  # NumPy's result: inf or NaN
    elif fact <= 0:
        fact = 0.0  # NumPy's result: inf or NaN entries
    with np.errstate(divide="ignore"):
        scale = P.reciprocal_p(fact) if isinstance(fact, Tensor) else np.true_divide(1, fact)
    c = P.matmul_p(centered, P.transpose_p(weighted, axes=(1, 0))) * scale
    rows = _shape(c)[0]
    return P.reshape_p(c, shape=()) if rows == 1 else c


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """Differentiable ``numpy.corrcoef`` (clipped to [-1, 1] like NumPy)."""
    c = cov(x, y, rowvar, dtype=dtype)
    if len(_shape(c)) == 0:
        return c / c
    n = _shape(c)[0]
    stddev = P.sqrt_p(P.getitem_p(c, index=(np.arange(n), np.arange(n))))
    c = c / P.reshape_p(stddev, shape=(n, 1)) / P.reshape_p(stddev, shape=(1, n))
    return P.clip_p(c, -1, 1)


# -- counting and histograms (no gradient, except bincount's weights) --------------------
def _read(x: Any) -> np.ndarray:
    """``x``'s values, for results whose shape (or binning) depends on them: a traced
    tensor has none yet, so this raises `TracerValueError` naming the user's line."""
    return np.asarray(x)


def bincount(x: Any, /, weights: Any = None, minlength: int = 0) -> Any:
    """``numpy.bincount``; with ``weights`` it is a scatter-add, differentiable in them.

    The length of the result is the largest value of ``x``: a traced ``x`` is refused.
    """
    indices = _read(x)
    counts = np.bincount(indices, minlength=minlength)  # validates with NumPy's messages
    if weights is None:
        return counts
    if _shape(weights) != indices.shape:
        raise ValueError(
            f"bincount: weights shape {_shape(weights)} differs from x shape {indices.shape}"
        )
    if _dtype(weights) != np.float64:
        weights = P.cast_p(weights, dtype=np.float64)
    return P.index_add_p(weights, index=(indices.astype(np.intp),), shape=counts.shape)


def _monotonicity(bins: np.ndarray) -> int:
    """1 for non-decreasing bins, -1 for non-increasing ones (NumPy's rule), else 0."""
    if bins.ndim != 1:
        raise ValueError("digitize: bins must be 1-dimensional")
    steps = np.diff(bins)
    if np.all(steps >= 0):
        return 1
    return -1 if np.all(steps <= 0) else 0


def digitize(x: Any, bins: Any, right: bool = False) -> Any:
    """``numpy.digitize`` (indices, no gradient): a `searchsorted` of ``x``.

    The direction of the bins is read from their values: traced ``bins`` are refused.
    """
    edges = _read(bins)
    if _dtype(x).kind == "c":
        raise TypeError("digitize: x may not be complex")
    monotonic = _monotonicity(edges)
    if monotonic == 0:
        raise ValueError("digitize: bins must be monotonically increasing or decreasing")
    side = "left" if right else "right"  # the arguments of searchsorted are swapped
    bins = bins if isinstance(bins, Tensor) else edges
    if monotonic == -1:
        # Reverse the bins, and count from the other end.
        reverse = P.getitem_p(bins, index=(slice(None, None, -1),))
        return len(edges) - searchsorted_p(reverse, x, side=side)
    return searchsorted_p(bins, x, side=side)


def histogram(
    a: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.histogram`` of the values (no gradient; traced tensors are refused)."""
    weights = None if weights is None else _read(weights)
    bins = bins if isinstance(bins, str) else _read(bins)
    return np.histogram(_read(a), bins, range, density, weights)


def histogram_bin_edges(
    a: Any, bins: Any = 10, range: Any = None, weights: Any = None
) -> np.ndarray:
    """``numpy.histogram_bin_edges`` of the values (no gradient; traced tensors are
    refused)."""
    weights = None if weights is None else _read(weights)
    bins = bins if isinstance(bins, str) else _read(bins)
    return np.histogram_bin_edges(_read(a), bins, range, weights)


def histogram2d(
    x: Any, y: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``numpy.histogram2d`` of the values (no gradient; traced tensors are refused)."""
    weights = None if weights is None else _read(weights)
    bins = bins if isinstance(bins, str | int) else _read_tree(bins)
    return np.histogram2d(_read(x), _read(y), bins, range, density, weights)


def histogramdd(
    sample: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``numpy.histogramdd`` of the values (no gradient; traced tensors are refused)."""
    weights = None if weights is None else _read(weights)
    bins = bins if isinstance(bins, str | int) else _read_tree(bins)
    return np.histogramdd(_read(sample), bins, range, density, weights)


def _read_tree(x: Any) -> Any:
    if isinstance(x, list | tuple):
        return type(x)(_read_tree(item) for item in x)
    return _read(x) if isinstance(x, Tensor) else x
