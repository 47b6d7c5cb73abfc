"""Order statistics: ``median``, ``quantile``, ``percentile`` and their NaN-ignoring versions.

They are gathers: the ``argsort`` primitive picks the positions (no gradient) and ``take``
gathers the picked elements, which carry the gradient, weighted by the interpolation
weights. Positions, NaN counts and weights are computed with primitives too, so a traced
graph orders the values it runs on. For the continuous methods (``"linear"``, ``"hazen"``,
...) the weights are differentiable in ``q`` as well.

Examples:
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> x = tg.tensor([3.0, 1.0, 4.0, 1.5])
    >>> float(tnp.median(x))
    2.25
    >>> tg.grad(tnp.median)(x).numpy()
    array([0.5, 0. , 0. , 0.5], dtype=float32)
    >>> tg.grad(lambda q: tnp.quantile(x, q))(tg.tensor(0.5)).numpy()  # (3 - 1.5) * (n - 1)
    array(4.5, dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import any_p, argsort_p, count_nonzero_p
from tapegrad.core.tensor import Tensor
from tapegrad.core.tracing import is_traced
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import inexact as _inexact
from tapegrad.numpy._arguments import no_extra as _no_extra
from tapegrad.numpy._arguments import reduced_axes as _axes
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import value_of as _value

__all__ = ["median", "nanmedian", "nanpercentile", "nanquantile", "percentile", "quantile"]


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
        starts = (np.arange(int(np.prod(self.batch, dtype=np.int64))) * self.n).reshape(self.batch)
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
        result = _lerp(rows.take(previous), rows.take(following), gamma, dtype, differentiable_t)
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
