"""Array creation: results are constants (no gradient), as Tensors.

Values taken from a Tensor (``array(t)``, a Tensor ``fill_value``) are copied by
primitives with no gradient, so a traced graph copies the values it runs on; arguments
that decide a shape (``arange``'s bounds) or a Python value (``allclose``) are read,
which refuses traced tensors.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.floatx import default_float
from tapegrad.core.tensor import Tensor, Variable
from tapegrad.core.tracing import is_traced
from tapegrad.numpy._arguments import as_array
from tapegrad.numpy._arguments import no_extra as _no_extra
from tapegrad.numpy._arguments import read as _read
from tapegrad.numpy._arguments import unwrap as _value
from tapegrad.numpy._manipulation import stack


def _filled(shape: Any, fill: Tensor, dtype: Any) -> Any:
    """``fill`` broadcast to ``shape`` in ``dtype``: a constant (no gradient), computed
    when the op runs."""
    shape = (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
    out = P.stop_gradient_p(fill)
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = P.cast_p(out, dtype=np.dtype(dtype))
    return P.broadcast_to_p(out, shape=shape)


def array(object: Any, dtype: Any = None, copy: bool = True, **kwargs: Any) -> Tensor:  # noqa: A002
    """A new Tensor (Python floats default to float32; arrays keep their dtype).

    A list that contains Tensors is stacked differentiably.
    """
    if isinstance(object, list | tuple) and _contains_tensor(object):
        out = stack([array(o) if isinstance(o, list | tuple) else o for o in object])
        return out if dtype is None else out.astype(dtype)
    if isinstance(object, Variable) and not is_traced(object):
        # A Variable's array may later be updated in place (compiled steps): copy it now.
        return Tensor(np.array(object._value, copy=True), dtype)
    if isinstance(object, Tensor):
        # A copy without gradient, taken when the op runs.
        out = P.stop_gradient_p(object)
        return out if dtype is None or np.dtype(dtype) == out.dtype else out.astype(dtype)
    return Tensor(object, dtype)


def _float(dtype: Any) -> Any:
    """``dtype``, or floatx when None (NumPy's float64 is tapegrad's `set_floatx` choice)."""
    return default_float() if dtype is None else dtype


def _contains_tensor(seq: Any) -> bool:
    return any(
        isinstance(o, Tensor) or (isinstance(o, list | tuple) and _contains_tensor(o)) for o in seq
    )


def asarray(a: Any, dtype: Any = None, **kwargs: Any) -> Any:
    """Tensors pass through (cast if ``dtype`` differs); anything else becomes a Tensor."""
    if isinstance(a, Tensor):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return array(a, dtype)


def zeros(shape: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Zeros (floatx by default: float32, or float64 after ``set_floatx("float64")``)."""
    return Tensor._wrap(np.zeros(shape, _float(dtype)))


def ones(shape: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Ones (floatx by default)."""
    return Tensor._wrap(np.ones(shape, _float(dtype)))


def full(shape: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """An array filled with ``fill_value``."""
    if isinstance(fill_value, Tensor):
        return _filled(shape, fill_value, dtype)
    return Tensor(np.full(shape, fill_value, dtype))


def empty(shape: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Zeros (Tensors are immutable, so 'empty' is initialised)."""
    return zeros(shape, dtype)


def zeros_like(a: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Zeros with ``a``'s shape and dtype."""
    return Tensor._wrap(np.zeros_like(_value(a), dtype=dtype))


def ones_like(a: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Ones with ``a``'s shape and dtype."""
    return Tensor._wrap(np.ones_like(_value(a), dtype=dtype))


def full_like(a: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """``fill_value`` with ``a``'s shape and dtype."""
    if isinstance(fill_value, Tensor):
        raw = _value(a)
        return _filled(np.shape(raw), fill_value, np.result_type(raw) if dtype is None else dtype)
    return Tensor._wrap(np.full_like(_value(a), fill_value, dtype=dtype))


def empty_like(a: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Zeros with ``a``'s shape and dtype."""
    return zeros_like(a, dtype)


def arange(
    start: Any,
    stop: Any = None,
    step: Any = None,
    dtype: Any = None,
    *,
    device: Any = None,
    like: Any = None,
) -> Any:
    """``numpy.arange``; with Tensor bounds, differentiable as ``start + step * i``.

    The length depends on the values, so they are read (a traced bound is refused); the
    gradient flows to ``start`` and ``step`` (``stop`` only decides the length).

    Examples:
        >>> import tapegrad as tg
        >>> tg.grad(lambda s: arange(s, 3.0, 0.5).sum())(tg.tensor(1.0))
        Tensor(4., dtype=float32)
    """
    _no_extra("arange", device=device, like=like)
    bounds = (start, stop, step)
    if not any(isinstance(b, Tensor) for b in bounds):
        return Tensor._wrap(np.arange(*[_read(b) for b in bounds if b is not None], dtype=dtype))
    if stop is None:
        start, stop = 0, start
    values = np.arange(_read(start), _read(stop), 1 if step is None else _read(step))
    # NumPy's arange takes Python numbers at full width (3.0 is float64).
    dt = np.result_type(*[np.asarray(_value(b)) for b in (start, stop, step) if b is not None])
    i = np.arange(values.shape[0]).astype(dt)
    out = start + (i if step is None else i * step)
    if not isinstance(out, Tensor):
        return Tensor._wrap(values if dtype is None else values.astype(dtype))  # only stop
    out = _cast(out, dt)
    return out if dtype is None else _cast(out, np.dtype(dtype))


def _cast(x: Any, dtype: np.dtype) -> Any:
    return x if x.dtype == dtype else P.cast_p(x, dtype=dtype)


def _any_tensor(*values: Any) -> bool:
    return any(isinstance(v, Tensor) for v in values)


def _plain(x: Any) -> Any:
    """A list of numbers as an array (Tensors and scalars as they are)."""
    return np.asarray(x) if isinstance(x, list | tuple) else x


def linspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    retstep: bool = False,
    dtype: Any = None,
    axis: int = 0,
    *,
    device: Any = None,
) -> Any:
    """``numpy.linspace``; differentiable in Tensor ``start`` and ``stop``, traced ones
    too (the length is ``num``). Python-number endpoints give floatx (see `_grid_dtype`).

    Examples:
        >>> import tapegrad as tg
        >>> tg.grad(lambda b: linspace(0.0, b, 5).sum())(tg.tensor(2.0))
        Tensor(2.5, dtype=float32)
    """
    _no_extra("linspace", device=device)
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    start, stop = _plain(start), _plain(stop)
    if not _any_tensor(start, stop):
        dtype = _grid_dtype(dtype, start, stop)
        out = np.linspace(start, stop, num, endpoint, retstep, dtype, axis)
        return (Tensor._wrap(out[0]), out[1]) if retstep else Tensor._wrap(out)
    dt = np.result_type(_value(start), _value(stop), float(num))
    start, stop = _cast_value(start, dt), _cast_value(stop, dt)
    div = num - 1 if endpoint else num
    delta = stop - start
    shape = np.broadcast_shapes(np.shape(_value(start)), np.shape(_value(stop)))
    i = np.arange(num, dtype=dt).reshape((-1,) + (1,) * len(shape))
    # NumPy's formula and order of operations, so the values equal NumPy's.
    step = delta / div if div > 0 else delta * np.nan
    out = (i * step if div > 0 else i * delta) + start
    if endpoint and num > 1:
        last = (np.arange(num) == num - 1).reshape(i.shape)
        out = P.where_p(last, P.broadcast_to_p(stop, shape=tuple(out.shape)), out)
    if axis != 0:
        out = _move_first(out, axis)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind in "iu":
            out = P.floor_p(out)
        out = _cast(out, dtype)
    return (out, step) if retstep else out


def _grid_dtype(dtype: Any, *values: Any) -> Any:
    """A grid's dtype: the one asked for; NumPy's when an endpoint is an array; else
    floatx (Python numbers give float32, or float64 after ``set_floatx``, as ``array``)."""
    if dtype is not None or any(isinstance(v, np.ndarray | np.generic) for v in values):
        return dtype
    return default_float()


def _cast_value(x: Any, dtype: np.dtype) -> Any:
    if isinstance(x, Tensor):
        return _cast(x, dtype)
    return np.asarray(x, dtype)


def _move_first(x: Any, axis: int) -> Any:
    """Axis 0 of ``x`` moved to ``axis`` (NumPy's ``moveaxis(x, 0, axis)``)."""
    ndim = len(x.shape)
    axis = axis + ndim if axis < 0 else axis
    if not 0 <= axis < ndim:
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for array of dimension {ndim}")
    order = list(range(1, ndim))
    order.insert(axis, 0)
    return P.transpose_p(x, axes=tuple(order))


def logspace(
    start: Any,
    stop: Any,
    num: int = 50,
    endpoint: bool = True,
    base: Any = 10.0,
    dtype: Any = None,
    axis: int = 0,
) -> Any:
    """``numpy.logspace``: ``base ** linspace(start, stop)``, differentiable in Tensor
    ``start``, ``stop`` and ``base``.

    Examples:
        >>> import tapegrad as tg
        >>> logspace(0.0, tg.tensor(2.0), 3)
        Tensor([  1.,  10., 100.], dtype=float32)
    """
    start, stop, base = _plain(start), _plain(stop), _plain(base)
    if not _any_tensor(start, stop, base):
        dtype = _grid_dtype(dtype, start, stop, base)
        return Tensor._wrap(np.logspace(start, stop, num, endpoint, base, dtype, axis))
    if np.ndim(_value(base)):
        ndmax = np.broadcast_shapes(*[np.shape(_value(v)) for v in (start, stop, base)])
        start, stop, base = (_at_least(v, len(ndmax)) for v in (start, stop, base))
        base = P.reshape_p(base, shape=_inserted(tuple(base.shape), axis))
    y = linspace(start, stop, num=num, endpoint=endpoint, axis=axis)
    if isinstance(base, Tensor | np.ndarray) and not isinstance(base, Tensor):
        base = base.astype(y.dtype) if base.dtype.kind != "c" else base
    elif isinstance(base, int | float):
        base = y.dtype.type(base)
    out = P.power_p(base, y)
    return out if dtype is None else _cast(out, np.dtype(dtype))


def _at_least(x: Any, ndim: int) -> Any:
    """``x`` with leading axes of size 1 up to ``ndim`` (a Tensor or an array)."""
    shape = np.shape(_value(x))
    target = (1,) * (ndim - len(shape)) + tuple(shape)
    if isinstance(x, Tensor):
        return x if target == tuple(shape) else P.reshape_p(x, shape=target)
    return Tensor(np.reshape(x, target), np.asarray(x).dtype)


def _inserted(shape: tuple[int, ...], axis: int) -> tuple[int, ...]:
    """``shape`` with an axis of size 1 at ``axis`` (``expand_dims``'s shape)."""
    axis = axis + len(shape) + 1 if axis < 0 else axis
    return shape[:axis] + (1,) + shape[axis:]


def geomspace(
    start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None, axis: int = 0
) -> Any:
    """``numpy.geomspace``: a geometric sequence, differentiable in Tensor ``start`` and
    ``stop`` (the endpoints are exact, as in NumPy).

    Examples:
        >>> import tapegrad as tg
        >>> geomspace(tg.tensor(1.0), 1000.0, 4)  # float64 at least, as NumPy's
        Tensor([   1.,   10.,  100., 1000.], dtype=float64)
    """
    start, stop = _plain(start), _plain(stop)
    if not _any_tensor(start, stop):
        dtype = _grid_dtype(dtype, start, stop)
        return Tensor._wrap(np.geomspace(start, stop, num, endpoint, dtype, axis))
    values = [_value(v) for v in (start, stop) if not is_traced(v)]
    if any(np.any(np.asarray(v) == 0) for v in values):
        raise ValueError("geomspace: a geometric sequence cannot include zero")
    # NumPy's dtype: at least float64 (its formula has a float64 zero in it).
    dt = np.result_type(_value(start), _value(stop), float(num), np.float64)
    start, stop = _cast_value(start, dt), _cast_value(stop, dt)
    # Negative endpoints: the sequence of |start| .. |stop| times start's sign (NumPy's).
    sign = P.stop_gradient_p(P.sign_p(start))
    start, stop = start / sign, stop / sign
    out = logspace(_log10(start), _log10(stop), num, endpoint, 10.0)
    if num > 0:
        shape = tuple(out.shape)
        first = (np.arange(num) == 0).reshape((-1,) + (1,) * (len(shape) - 1))
        out = P.where_p(first, P.broadcast_to_p(start, shape=shape), out)
        if num > 1 and endpoint:
            last = (np.arange(num) == num - 1).reshape(first.shape)
            out = P.where_p(last, P.broadcast_to_p(stop, shape=shape), out)
    out = out * sign
    if axis != 0:
        out = _move_first(out, axis)
    return out if dtype is None else _cast(out, np.dtype(dtype))


def _log10(x: Any) -> Any:
    return P.log_p(x) / x.dtype.type(np.log(10.0)) if isinstance(x, Tensor) else np.log10(x)


def eye(
    N: int,  # noqa: N803
    M: int | None = None,  # noqa: N803
    k: int = 0,
    dtype: Any = None,
    **kwargs: Any,
) -> Tensor:
    """Identity-like matrix (floatx by default)."""
    return Tensor._wrap(np.eye(N, M, k, dtype=_float(dtype)))


def identity(n: int, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Identity matrix (floatx by default)."""
    return Tensor._wrap(np.identity(n, dtype=_float(dtype)))


def tri(
    N: int,  # noqa: N803
    M: int | None = None,  # noqa: N803
    k: int = 0,
    dtype: Any = None,
    **kwargs: Any,
) -> Tensor:
    """Lower-triangular ones (floatx by default)."""
    return Tensor._wrap(np.tri(N, M, k, dtype=_float(dtype)))


def meshgrid(
    *xi: Any, copy: bool = True, sparse: bool = False, indexing: str = "xy"
) -> tuple[Any, ...]:
    """Differentiable ``numpy.meshgrid``: each grid is a reshaped, broadcast input.

    Examples:
        >>> import tapegrad as tg
        >>> x, y = tg.tensor([1.0, 2.0, 3.0]), tg.tensor([10.0, 20.0])
        >>> gx, gy = meshgrid(x, y)
        >>> gx.shape, tg.grad(lambda x: (meshgrid(x, y)[0] ** 2).sum())(x)
        ((2, 3), Tensor([ 4.,  8., 12.], dtype=float32))
    """
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: valid values for indexing are 'xy' and 'ij', got {indexing!r}")
    if not any(isinstance(x, Tensor) for x in xi):
        grids = np.meshgrid(*xi, copy=copy, sparse=sparse, indexing=indexing)
        return tuple(Tensor._wrap(g) for g in grids)
    ndim = len(xi)
    shapes = [[1] * ndim for _ in xi]
    for i in range(ndim):
        shapes[i][i] = -1
    if indexing == "xy" and ndim > 1:
        # The first two axes swapped: x varies along columns, y along rows.
        shapes[0][:2], shapes[1][:2] = [1, -1], [-1, 1]
    grids = [
        P.reshape_p(as_array(x), shape=tuple(shape)) for x, shape in zip(xi, shapes, strict=True)
    ]
    if sparse:
        return tuple(grids)
    full_shape = np.broadcast_shapes(*[tuple(g.shape) for g in grids])
    return tuple(P.broadcast_to_p(g, shape=full_shape) for g in grids)


def indices(dimensions: Any, dtype: Any = int, sparse: bool = False) -> Any:
    """``numpy.indices`` (integer constants)."""
    return np.indices(dimensions, dtype, sparse)


def result_type(*arrays_and_dtypes: Any) -> np.dtype:
    """``numpy.result_type`` on values or Tensors."""
    return np.result_type(*[_value(a) for a in arrays_and_dtypes])


def allclose(
    a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False
) -> bool:
    """``numpy.allclose`` (a Python bool)."""
    return bool(np.allclose(_read(a), _read(b), rtol, atol, equal_nan))


def isclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Any:
    """``numpy.isclose`` (boolean, no gradient); with Tensors, NumPy's formula in primitives."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        return np.isclose(a, b, rtol, atol, equal_nan)
    x, y = (v if isinstance(v, int | float | complex | Tensor) else np.asarray(v) for v in (a, b))
    if isinstance(y, int):
        y = float(y)
    elif not isinstance(y, float | complex) and np.result_type(_value(y)).kind != "m":
        dtype = np.result_type(_value(y), 1.0)
        if np.result_type(_value(y)) != dtype:
            y = P.cast_p(y, dtype=dtype)
    close = P.less_equal_p(P.abs_p(x - y), atol + rtol * P.abs_p(y))
    result = P.logical_or_p(P.logical_and_p(close, P.isfinite_p(y)), P.equal_p(x, y))
    if equal_nan:
        result = P.logical_or_p(result, P.logical_and_p(P.isnan_p(x), P.isnan_p(y)))
    return result


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> bool:
    """``numpy.array_equal`` (a Python bool)."""
    return bool(np.array_equal(_read(a1), _read(a2), equal_nan=equal_nan))


__all__ = [
    "allclose",
    "arange",
    "array",
    "array_equal",
    "asarray",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "geomspace",
    "identity",
    "indices",
    "isclose",
    "linspace",
    "logspace",
    "meshgrid",
    "ones",
    "ones_like",
    "result_type",
    "tri",
    "zeros",
    "zeros_like",
]
