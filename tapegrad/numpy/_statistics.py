"""Statistics: order statistics, NaN-aware reductions, covariance, counting and histograms.

Order statistics (median, quantile, percentile and their NaN-ignoring versions) are
gathers: NumPy's ``argsort`` picks the positions (no gradient) and the picked elements
carry the gradient, weighted by the interpolation weights. For the continuous methods
(``"linear"``, ``"hazen"``, ...) the weights are differentiable in ``q`` as well.

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
from tapegrad.core.prims.reduction import normalize_axis
from tapegrad.core.tensor import Tensor

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
    """The rows of a ``(..., n)`` array in sorted order (NaNs last), gathered on demand."""

    def __init__(self, moved: Any, ignore_nan: bool) -> None:
        self.moved = moved
        values = _value(moved)
        self.batch = values.shape[:-1]
        self.n = values.shape[-1]
        self.order = np.argsort(values, axis=-1, kind="stable")
        nans = np.isnan(values) if values.dtype.kind in "fc" else np.zeros(values.shape, bool)
        # Per-row sample sizes: NaNs excluded for the nan* functions.
        self.count = self.n - nans.sum(-1) if ignore_nan else np.full(self.batch, self.n)
        # Rows whose result is NaN: any NaN (NumPy propagates it), or no valid value at all.
        self.nan_rows = self.count == 0 if ignore_nan else nans.any(-1)

    def take(self, positions: np.ndarray) -> Any:
        """The elements at sorted ``positions`` (shape ``Q + batch``), differentiably."""
        if self.n == 0:
            return np.full(positions.shape, np.nan)
        positions = np.clip(positions.astype(np.intp), 0, self.n - 1)
        lead = positions.ndim - len(self.batch)
        grids = [g.reshape((1,) * lead + g.shape) for g in np.ix_(*map(range, self.batch))]
        source = self.order[(*grids, positions)]
        return P.getitem_p(self.moved, index=(*grids, source))


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


def _boundary(index: np.ndarray, take_previous: np.ndarray) -> np.ndarray:
    previous = np.floor(index)
    return np.maximum(np.where(take_previous, previous, previous + 1), 0)


def _discrete_position(method: str, n: np.ndarray, q: np.ndarray) -> np.ndarray:
    if method == "linear":  # integer q: 0 or 1, an exact order statistic
        return (n - 1) * q
    if method == "lower":
        return np.floor((n - 1) * q)
    if method == "higher":
        return np.ceil((n - 1) * q)
    if method == "nearest":
        return np.around((n - 1) * q)
    if method == "inverted_cdf":
        index = n * q - 1
        return _boundary(index, index == np.floor(index))
    index = n * q - 1 - 0.5  # closest_observation: the nearest even order statistic at ties
    return _boundary(index, (index == np.floor(index)) & (np.floor(index) % 2 == 1))


def _fixed_weight(method: str, n: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if method == "midpoint":
        index = 0.5 * (np.floor((n - 1) * q) + np.ceil((n - 1) * q))
        return index, np.where(index % 1 == 0, 0.0, 0.5)
    index = n * q - 1  # averaged_inverted_cdf
    return index, np.where(index - np.floor(index) == 0, 0.5, 1.0)


def _lerp(low: Any, high: Any, t: Any, dtype: np.dtype) -> Any:
    """NumPy's interpolation, from the nearer end so that t=0 and t=1 are exact.

    A constant ``t`` is rounded to ``dtype`` only after ``1 - t``, as NumPy does with its
    Python-float weights (this matters for float16 and float32 inputs).
    """
    if isinstance(t, Tensor):
        t, complement = t, 1 - t
    else:
        t, complement = np.asarray(t, dtype=dtype), np.asarray(1 - t, dtype=dtype)
    diff = high - low
    return P.where_p(_value(t) >= 0.5, high - diff * complement, low + diff * t)


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
    qv = _value(q)
    if qv.size and not (qv.min() >= 0 and qv.max() <= 1):
        scale = 100 if name.endswith("percentile") else 1
        raise ValueError(f"{name}: q must be in the range [0, {scale}], got {qv * scale}")
    if qv.ndim > 2:
        raise ValueError(f"{name}: q must be a scalar or 1d, got shape {qv.shape}")
    moved, batch, keep_shape = _to_last(a, axis)
    rows = _Sorted(moved, ignore_nan)
    q_shape = qv.shape + (1,) * len(batch)
    q = P.reshape_p(q, shape=q_shape) if isinstance(q, Tensor) else qv.reshape(q_shape)
    qv = qv.reshape(q_shape)
    full = qv.shape[: qv.ndim - len(batch)] + batch
    # Counts in q's float type, so that float32 q gives float32 positions as in NumPy.
    count = rows.count.astype(qv.dtype) if qv.dtype.kind == "f" else rows.count
    last = count - 1
    integer_linear = method == "linear" and qv.dtype.kind in "iub"
    if method in _DISCRETE or integer_linear:
        result = rows.take(np.broadcast_to(_discrete_position(method, count, qv), full))
        dtype = _dtype(a)
    elif method in _CONTINUOUS or method in _FIXED_WEIGHT:
        if method in _CONTINUOUS:
            index = _virtual_index(method, count, q)
            gamma = index - np.floor(_value(index))
        else:
            index, gamma = _fixed_weight(method, count, qv)
        position = np.broadcast_to(_value(index), full)
        above, below = position >= last, position < 0
        previous = np.where(above, last, np.where(below, 0, np.floor(position)))
        following = np.where(above, last, np.where(below, 0, np.floor(position) + 1))
        dtype = np.result_type(_dtype(a), 0.0 if weak_q else np.result_type(_value(index)))
        if weak_q:
            gamma = _value(gamma)
        result = _lerp(rows.take(previous), rows.take(following), gamma, dtype)
    else:
        methods = sorted(_CONTINUOUS) + sorted(_DISCRETE + _FIXED_WEIGHT)
        raise ValueError(f"{name}: {method!r} is not a valid method. Use one of: {methods}")
    if rows.nan_rows.any() and dtype.kind in "fc":
        result = P.where_p(np.broadcast_to(rows.nan_rows, full), np.nan, result)
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
    if rows.nan_rows.any():
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
    all_nan = np.all(np.isnan(_value(a)), axis=axes, keepdims=keepdims)
    return P.where_p(all_nan, np.nan, result) if all_nan.any() else result


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
    valid = ~np.isnan(_value(a))
    count = np.sum(valid, axis=axes, keepdims=True).astype(_dtype(a))
    filled = _nan_filled(a, 0.0)
    mean_ = P.sum_p(filled, axis=axes, keepdims=True) / np.maximum(count, 1)
    centered = P.where_p(valid, filled - mean_, 0)
    squares = P.sum_p(centered * centered, axis=axes, keepdims=True)
    dof = count - ddof
    # Empty slices divide by 1 and are then set to NaN, so no 0/0 reaches the gradient.
    result = P.where_p(dof > 0, squares / np.where(dof > 0, dof, 1), np.nan)
    if not keepdims:
        result = P.reshape_p(result, shape=np.shape(np.sum(valid, axis=axes)))
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
    return np.nanargmax(_value(a), axis=axis, keepdims=keepdims)


def nanargmin(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Any:
    """``numpy.nanargmin`` (indices, no gradient)."""
    return np.nanargmin(_value(a), axis=axis, keepdims=keepdims)


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
        if name == "fweights" and not np.all(values == np.around(values)):
            raise TypeError("cov: fweights must be integer")
        if values.ndim > 1:
            raise RuntimeError(f"cov: cannot handle multidimensional {name}")
        if values.shape[0] != samples:
            raise RuntimeError(f"cov: incompatible numbers of samples ({samples}) and {name}")
        if np.any(values < 0):
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
    if _value(fact) <= 0:
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
def bincount(x: Any, /, weights: Any = None, minlength: int = 0) -> Any:
    """``numpy.bincount``; with ``weights`` it is a scatter-add, differentiable in them."""
    indices = _value(x)
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


def digitize(x: Any, bins: Any, right: bool = False) -> np.ndarray:
    """``numpy.digitize`` (indices, no gradient)."""
    return np.digitize(_value(x), _value(bins), right=right)


def histogram(
    a: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.histogram`` of the values (no gradient)."""
    weights = None if weights is None else _value(weights)
    bins = bins if isinstance(bins, str) else _value(bins)
    return np.histogram(_value(a), bins, range, density, weights)


def histogram_bin_edges(
    a: Any, bins: Any = 10, range: Any = None, weights: Any = None
) -> np.ndarray:
    """``numpy.histogram_bin_edges`` of the values (no gradient)."""
    weights = None if weights is None else _value(weights)
    bins = bins if isinstance(bins, str) else _value(bins)
    return np.histogram_bin_edges(_value(a), bins, range, weights)


def histogram2d(
    x: Any, y: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``numpy.histogram2d`` of the values (no gradient)."""
    weights = None if weights is None else _value(weights)
    return np.histogram2d(_value(x), _value(y), bins, range, density, weights)


def histogramdd(
    sample: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``numpy.histogramdd`` of the values (no gradient)."""
    weights = None if weights is None else _value(weights)
    return np.histogramdd(_value(sample), bins, range, density, weights)
