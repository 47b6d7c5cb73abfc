"""More of NumPy, beyond HIPS autograd: differences, rotations, signal and interpolation
helpers, floating-point decomposition, rearrangements, and value-only utilities.

Rearrangements (``delete``, ``insert``, ``resize``, ``choose``) are one gather each: NumPy
itself rearranges an array of *labels* (flat positions), so the semantics are NumPy's
exactly and the gradient is a scatter-add. Functions whose results are indices, booleans
or integers (``unique``, ``isin``, ``signbit``, ``gcd``, ...) run NumPy on the values.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> tg.grad(lambda fp: tnp.interp(2.5, np.array([1.0, 2.0, 3.0]), fp))(
    ...     tg.tensor([1.0, 4.0, 9.0])).numpy()
    array([0. , 0.5, 0.5], dtype=float32)
    >>> tg.grad(lambda x: tnp.fmod(x, 3.0))(tg.tensor(-7.0)).numpy()
    array(1., dtype=float32)
    >>> tnp.insert(np.array([1.0, 2.0]), 1, 9.0)
    array([1., 9., 2.])
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import normalize_axis
from tapegrad.core.tensor import Tensor

__all__ = [
    "angle",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "block",
    "broadcast_shapes",
    "choose",
    "convolve",
    "copysign",
    "correlate",
    "delete",
    "diag_indices",
    "diag_indices_from",
    "diff",
    "divmod",
    "ediff1d",
    "float_power",
    "fmod",
    "frexp",
    "gcd",
    "heaviside",
    "imag",
    "insert",
    "interp",
    "isin",
    "iscomplex",
    "iscomplexobj",
    "isneginf",
    "isposinf",
    "isreal",
    "isrealobj",
    "isscalar",
    "iterable",
    "ix_",
    "lcm",
    "ldexp",
    "left_shift",
    "lexsort",
    "matvec",
    "modf",
    "piecewise",
    "ravel_multi_index",
    "real_if_close",
    "resize",
    "right_shift",
    "rot90",
    "signbit",
    "trapezoid",
    "tril_indices",
    "tril_indices_from",
    "triu_indices",
    "triu_indices_from",
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "unravel_index",
    "unstack",
    "vecdot",
    "vecmat",
]

_PY_SCALAR = (bool, int, float, complex)
_NO_VALUE = object()  # NumPy's "argument not given" for diff's prepend/append


def _raw(x: Any) -> Any:
    return getattr(x, "_value", x)


def _value(x: Any) -> np.ndarray:
    return np.asarray(_raw(x))


def _array(x: Any) -> Any:
    """Tensors as they are, anything else (lists, scalars) as a NumPy array."""
    return x if isinstance(x, Tensor) else np.asarray(x)


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(_raw(x))


def _ndim(x: Any) -> int:
    return len(_shape(x))


def _dtype(x: Any) -> np.dtype:
    raw = _raw(x)
    return np.asarray(raw).dtype if isinstance(raw, list | tuple) else np.result_type(raw)


def _axis(axis: int, ndim: int) -> int:
    (axis,) = normalize_axis(axis, ndim) or (0,)
    return axis


def _along(axis: int, ndim: int, item: Any) -> tuple[Any, ...]:
    """An index selecting ``item`` along ``axis`` and everything along the other axes."""
    return (slice(None),) * axis + (item,) + (slice(None),) * (ndim - axis - 1)


# -- differences and rotations -----------------------------------------------------------
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


# -- elementwise -------------------------------------------------------------------------
def _result_dtype(ufunc: np.ufunc, *args: Any) -> np.dtype:
    """The dtype NumPy's ``ufunc`` gives for these arguments (Python scalars stay weak)."""
    probes = [a if isinstance(a, _PY_SCALAR) else np.zeros((), _dtype(a)) for a in args]
    with np.errstate(all="ignore"):
        out = ufunc(*probes)
    return np.result_type(out[0] if isinstance(out, tuple) else out)


def _as(x: Any, dtype: np.dtype) -> Any:
    """``x`` in ``dtype``: Tensors and arrays cast differentiably, Python scalars converted."""
    if isinstance(x, _PY_SCALAR):
        return dtype.type(x)
    return x if _dtype(x) == dtype else P.cast_p(x, dtype=dtype)


def _unit(flip: Any, dtype: np.dtype) -> np.ndarray:
    """-1 where ``flip`` holds, else 1: multiplying by it is exact."""
    return np.where(flip, -1, 1).astype(dtype)


def fmod(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.fmod`` (sign of ``x1``): d/dx1 = 1, d/dx2 = -trunc(x1/x2)."""
    dtype = _result_dtype(np.fmod, x1, x2)
    x1, x2 = _as(x1, dtype), _as(x2, dtype)
    # fmod(x1, x2) = s * remainder(|x1|, |x2|) with s the sign of x1; the absolute values
    # are products with +-1, exact, and keep d/dx1 = 1 at x1 = 0 (abs would give 0).
    s1 = _unit(np.signbit(_value(x1)), dtype)
    s2 = _unit(np.signbit(_value(x2)), dtype)
    return s1 * P.remainder_p(s1 * x1, s2 * x2)


def copysign(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.copysign`` in ``x1`` (``x2`` only contributes its sign)."""
    dtype = _result_dtype(np.copysign, x1, x2)
    x1 = _as(x1, dtype)
    return x1 * _unit(np.signbit(_value(x1)) != np.signbit(_value(x2)), dtype)


def float_power(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.float_power``: ``power`` in float64 (or complex128)."""
    dtype = _result_dtype(np.float_power, x1, x2)
    return P.power_p(_as(x1, dtype), _as(x2, dtype))


def heaviside(x1: Any, x2: Any, /) -> Any:
    """``numpy.heaviside``: 0 below zero, 1 above, ``x2`` at zero (its gradient flows)."""
    dtype = _result_dtype(np.heaviside, x1, x2)
    x = _value(x1)
    step = np.where(np.isnan(x), np.nan, np.where(x < 0, 0, 1)).astype(dtype)
    return P.where_p(x == 0, _as(x2, dtype), step)


def _times_pow2(x: Any, k: Any, dtype: np.dtype) -> Any:
    """``x * 2**k``, exact: two factors, so none overflows where ``2**k`` alone would."""
    half = np.asarray(k) // 2
    one = np.ones((), dtype)
    return x * np.ldexp(one, half) * np.ldexp(one, k - half)


def ldexp(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.ldexp`` in ``x1``: ``x1 * 2**x2`` for integer ``x2``."""
    exponent = _value(x2)
    if exponent.dtype.kind not in "iub":
        raise TypeError(f"ldexp: the exponent x2 must be integer, got {exponent.dtype}")
    dtype = _result_dtype(np.ldexp, x1, x2)
    return _times_pow2(_as(x1, dtype), exponent, dtype)


def frexp(x: Any, /) -> tuple[Any, np.ndarray]:
    """``numpy.frexp``: the mantissa is differentiable (2**-exponent), the exponent not."""
    mantissa, exponent = np.frexp(_value(x))
    dtype = mantissa.dtype
    return _times_pow2(_as(x, dtype), -exponent.astype(np.int64), dtype), exponent


def modf(x: Any, /) -> tuple[Any, Any]:
    """``numpy.modf``: the fractional part is differentiable (slope 1), the integral not."""
    dtype = _result_dtype(np.modf, x)
    x = _as(x, dtype)
    whole = P.trunc_p(x)
    finite = P.where_p(P.isinf_p(x), 0, x)  # inf - trunc(inf) would be NaN; modf gives 0
    # The fractional part keeps the sign of x, also when it is zero (modf(-2.0) is -0.0).
    return copysign(finite - P.trunc_p(finite), x), whole


def divmod(x1: Any, x2: Any, /) -> tuple[Any, Any]:  # noqa: A001 - NumPy's name
    """``numpy.divmod``: the quotient has no gradient, the remainder is differentiable."""
    return P.floor_divide_p(x1, x2), P.remainder_p(x1, x2)


def real_if_close(a: Any, tol: float = 100) -> Any:
    """``numpy.real_if_close``: real inputs are returned unchanged (gradient passes)."""
    if _dtype(a).kind != "c":
        return a
    if isinstance(a, Tensor):
        raise NotImplementedError("tapegrad.numpy.real_if_close: complex Tensors")
    return np.real_if_close(a, tol)


def imag(val: Any) -> np.ndarray:
    """``numpy.imag`` of the values (zeros for real inputs; no gradient)."""
    return np.imag(_value(val))


def angle(z: Any, deg: bool = False) -> np.ndarray:
    """``numpy.angle`` of the values (0 or pi for real inputs; no gradient)."""
    return np.angle(_value(z), deg)


# -- signals, integration and interpolation ----------------------------------------------
_MODES = {"valid": 0, "same": 1, "full": 2, 0: 0, 1: 1, 2: 2}


def _as_1d(x: Any, name: str, which: str) -> Any:
    x = _array(x)
    if _ndim(x) == 0 and name == "convolve":  # convolve takes scalars, correlate does not
        x = P.reshape_p(x, shape=(1,))
    if _ndim(x) != 1:
        raise ValueError(f"{name}: {which} must be 1-D, got shape {_shape(x)}")
    if _shape(x)[0] == 0:
        raise ValueError(f"{name}: {which} cannot be empty")
    return x


def _sliding_dot(long: Any, short: Any, mode: Any, name: str) -> Any:
    """``out[k] = sum_j padded[k + j] * short[j]`` (NumPy's correlation, len(long) >= len(short)).

    The windows are one gather of the zero-padded signal, so the whole thing is a matmul.
    """
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be 'valid', 'same' or 'full', got {mode!r}")
    n, m = _shape(long)[0], _shape(short)[0]
    left, right = {0: (0, 0), 1: (m // 2, m - m // 2 - 1), 2: (m - 1, m - 1)}[_MODES[mode]]
    padded = P.pad_p(long, pad_width=((left, right),)) if left or right else long
    starts = np.arange(n + left + right - m + 1)
    windows = P.getitem_p(padded, index=(starts[:, None] + np.arange(m),))
    return P.matmul_p(windows, short)


def correlate(a: Any, v: Any, mode: str = "valid") -> Any:
    """Differentiable ``numpy.correlate`` of 1-D sequences (real)."""
    a, v = _as_1d(a, "correlate", "a"), _as_1d(v, "correlate", "v")
    if _shape(a)[0] >= _shape(v)[0]:
        return _sliding_dot(a, v, mode, "correlate")
    # NumPy swaps the operands and reverses the result.
    return P.getitem_p(_sliding_dot(v, a, mode, "correlate"), index=(slice(None, None, -1),))


def convolve(a: Any, v: Any, mode: str = "full") -> Any:
    """Differentiable ``numpy.convolve`` of 1-D sequences: correlation with ``v`` reversed."""
    a, v = _as_1d(a, "convolve", "a"), _as_1d(v, "convolve", "v")
    if _shape(v)[0] > _shape(a)[0]:
        a, v = v, a
    return _sliding_dot(a, P.getitem_p(v, index=(slice(None, None, -1),)), mode, "convolve")


def trapezoid(y: Any, x: Any = None, dx: Any = 1.0, axis: int = -1) -> Any:
    """Differentiable ``numpy.trapezoid`` (in ``y``, and in ``x`` or ``dx``)."""
    y = _array(y)
    nd = _ndim(y)
    axis = _axis(axis, nd)
    if x is None:
        d = dx
    elif _ndim(x) == 1:
        d = diff(x)
        shape = [1] * nd
        shape[axis] = _shape(d)[0]
        d = P.reshape_p(d, shape=tuple(shape))
    else:
        d = diff(x, axis=axis)
    length = _shape(y)[axis]
    high = P.getitem_p(y, index=_along(axis, nd, slice(1, None)))
    low = P.getitem_p(y, index=_along(axis, nd, slice(0, builtins.max(length - 1, 0))))
    return P.sum_p(d * (high + low) / 2.0, axis=(axis,), keepdims=False)


def _interp_inputs(x: Any, xp: Any, fp: Any, period: Any) -> tuple[Any, Any, Any]:
    x, xp, fp = (
        _as(v if isinstance(v, _PY_SCALAR) else _array(v), np.dtype(np.float64))
        for v in (x, xp, fp)
    )
    if _ndim(xp) != 1 or _ndim(fp) != 1:
        raise ValueError(
            f"interp: data points must be 1-D sequences, got xp {_shape(xp)} and fp {_shape(fp)}"
        )
    if _shape(xp)[0] != _shape(fp)[0]:
        raise ValueError(
            f"interp: fp and xp are not of the same length ({_shape(fp)[0]} and {_shape(xp)[0]})"
        )
    if _shape(xp)[0] == 0:
        raise ValueError("interp: array of sample points is empty")
    if period is None:
        return x, xp, fp
    if period == 0:
        raise ValueError("interp: period must be a non-zero value")
    period = builtins.abs(period)
    x, xp = P.remainder_p(x, period), P.remainder_p(xp, period)
    order = np.argsort(_value(xp), kind="stable")
    xp, fp = P.getitem_p(xp, index=(order,)), P.getitem_p(fp, index=(order,))
    # One wrapped point on each side makes the periodic case an ordinary one.
    xp = P.concatenate_p(
        P.getitem_p(xp, index=(slice(-1, None),)) - period,
        xp,
        P.getitem_p(xp, index=(slice(0, 1),)) + period,
        axis=0,
    )
    fp = P.concatenate_p(
        P.getitem_p(fp, index=(slice(-1, None),)), fp, P.getitem_p(fp, index=(slice(0, 1),)), axis=0
    )
    return x, xp, fp


def interp(
    x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None
) -> Any:
    """Differentiable ``numpy.interp`` (in ``x``, ``xp``, ``fp``, ``left`` and ``right``)."""
    if period is not None:
        left = right = None
    x, xp, fp = _interp_inputs(x, xp, fp, period)
    xv, xpv = _value(x), _value(xp)
    n = xpv.shape[0]
    first = P.getitem_p(fp, index=(0,))
    last = P.getitem_p(fp, index=(n - 1,))
    left = first if left is None else left
    right = last if right is None else right
    if n == 1:
        # NumPy compares with the single point only: NaN falls through to fp[0].
        inside = P.broadcast_to_p(first, shape=xv.shape)
        return P.where_p(xv < xpv[0], left, P.where_p(xv > xpv[0], right, inside))
    # The segment [xp[j], xp[j + 1]) holding x, as NumPy's binary search finds it.
    j = np.clip(np.searchsorted(xpv, xv, side="right") - 1, 0, n - 2)
    x0, x1 = P.getitem_p(xp, index=(j,)), P.getitem_p(xp, index=(j + 1,))
    y0, y1 = P.getitem_p(fp, index=(j,)), P.getitem_p(fp, index=(j + 1,))
    inside = (y1 - y0) / (x1 - x0) * (x - x0) + y0
    inside = P.where_p(xv == xpv[-1], last, inside)
    out = P.where_p(xv < xpv[0], left, P.where_p(xv > xpv[-1], right, inside))
    return P.where_p(np.isnan(xv), np.nan, out)


# -- products ----------------------------------------------------------------------------
def _no_axes(name: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise TypeError(f"tapegrad.numpy.{name}: unsupported arguments {sorted(kwargs)}")


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1, **kwargs: Any) -> Any:
    """Differentiable ``numpy.vecdot`` (real): dot products along ``axis``, broadcasting."""
    _no_axes("vecdot", kwargs)
    x1, x2 = _array(x1), _array(x2)
    n1, n2 = _ndim(x1), _ndim(x2)
    if n1 == 0 or n2 == 0:
        raise ValueError("vecdot: operands must have at least one dimension")
    a1, a2 = _axis(axis, n1), _axis(axis, n2)
    if _shape(x1)[a1] != _shape(x2)[a2]:
        raise ValueError(
            f"vecdot: core dimension mismatch, shapes {_shape(x1)} and "
            f"{_shape(x2)} along axis {axis}"
        )
    x1 = P.transpose_p(x1, axes=tuple(i for i in range(n1) if i != a1) + (a1,))
    x2 = P.transpose_p(x2, axes=tuple(i for i in range(n2) if i != a2) + (a2,))
    product = x1 * x2
    return P.sum_p(product, axis=(_ndim(product) - 1,), keepdims=False)


def matvec(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.matvec``: matrix (..., m, n) times vector (..., n)."""
    _no_axes("matvec", kwargs)
    x1, x2 = _array(x1), _array(x2)
    if _ndim(x1) < 2 or _ndim(x2) < 1:
        raise ValueError(
            f"matvec: needs a matrix and a vector, got shapes {_shape(x1)} and {_shape(x2)}"
        )
    column = P.reshape_p(x2, shape=_shape(x2) + (1,))
    product = P.matmul_p(x1, column)
    return P.reshape_p(product, shape=_shape(product)[:-1])


def vecmat(x1: Any, x2: Any, /, **kwargs: Any) -> Any:
    """Differentiable ``numpy.vecmat`` (real): vector (..., n) times matrix (..., n, m)."""
    _no_axes("vecmat", kwargs)
    x1, x2 = _array(x1), _array(x2)
    if _ndim(x1) < 1 or _ndim(x2) < 2:
        raise ValueError(
            f"vecmat: needs a vector and a matrix, got shapes {_shape(x1)} and {_shape(x2)}"
        )
    row = P.reshape_p(x1, shape=_shape(x1)[:-1] + (1, _shape(x1)[-1]))
    product = P.matmul_p(row, x2)
    shape = _shape(product)
    return P.reshape_p(product, shape=shape[:-2] + shape[-1:])


# -- rearrangements ----------------------------------------------------------------------
def _labels(a: Any) -> np.ndarray:
    """Every element's flat position, shaped like ``a``."""
    return np.arange(int(np.prod(_shape(a), dtype=np.int64))).reshape(_shape(a))


def _gather(a: Any, labels: np.ndarray) -> Any:
    """The elements of ``a`` at flat positions ``labels`` (shaped like ``labels``)."""
    return P.getitem_p(P.reshape_p(a, shape=(-1,)), index=(labels,))


def unstack(x: Any, /, *, axis: int = 0) -> tuple[Any, ...]:
    """Differentiable ``numpy.unstack``: the slices along ``axis``."""
    x = _array(x)
    nd = _ndim(x)
    if nd == 0:
        raise ValueError("unstack: input must be at least 1-d")
    axis = _axis(axis, nd)
    length = _shape(x)[axis]
    if length == 0:
        return ()
    # One split primitive: its backward is a single concatenation, not one full-size
    # scatter per slice (which made unrolled RNN backward passes quadratic in time).
    bounds = tuple((i, i + 1) for i in range(length))
    return tuple(P.split_p(x, bounds=bounds, axis=axis, keepdims=False))


def delete(arr: Any, obj: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.delete``."""
    arr = _array(arr)
    return _gather(arr, np.delete(_labels(arr), _raw(obj), axis))


def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.insert`` (in ``arr`` and in ``values``)."""
    arr, values = _array(arr), _array(values)
    dtype = _dtype(arr)
    if _dtype(values) != dtype:
        values = P.cast_p(values, dtype=dtype)  # NumPy casts the values to arr's dtype
    source = _labels(arr)
    # Labels of the values continue after arr's, so one gather serves both.
    value_labels = source.size + _labels(values)
    labels = np.insert(source, _raw(obj), value_labels, axis)
    both = P.concatenate_p(P.reshape_p(arr, shape=(-1,)), P.reshape_p(values, shape=(-1,)), axis=0)
    return P.getitem_p(both, index=(labels,))


def resize(a: Any, new_shape: Any) -> Any:
    """Differentiable ``numpy.resize``: the flattened elements repeated to fill the shape."""
    a = _array(a)
    labels = np.resize(_labels(a), new_shape)
    if _labels(a).size == 0:
        return np.zeros(labels.shape, _dtype(a))
    return _gather(a, labels)


def choose(a: Any, choices: Any, out: Any = None, mode: str = "raise") -> Any:
    """Differentiable ``numpy.choose`` in the ``choices`` (``a`` holds indices)."""
    if out is not None:
        raise TypeError("tapegrad.numpy.choose: out= is not supported")
    index = _value(a)
    if isinstance(choices, Tensor):
        choices = unstack(choices)
    items = [_array(c) for c in choices]
    shape = np.broadcast_shapes(index.shape, *[_shape(c) for c in items])
    stacked = P.concatenate_p(
        *[P.reshape_p(P.broadcast_to_p(c, shape=shape), shape=(1,) + shape) for c in items],
        axis=0,
    )
    labels = np.choose(index, _labels(stacked), mode=mode)
    return _gather(stacked, labels)


def _block_depth(arrays: Any, where: str) -> tuple[int, int]:
    """(list nesting depth, largest array ndim) of ``block``'s argument, validated."""
    if isinstance(arrays, tuple):
        raise TypeError(f"block: {where} is a tuple; only lists can be used to arrange blocks")
    if not isinstance(arrays, list):
        return 0, _ndim(arrays)
    if not arrays:
        raise ValueError(f"block: list at {where} cannot be empty")
    infos = [_block_depth(item, f"{where}[{i}]") for i, item in enumerate(arrays)]
    depths = {depth for depth, _ in infos}
    if len(depths) > 1:
        raise ValueError(
            f"block: list depths are mismatched inside {where} (depths {sorted(depths)})"
        )
    return depths.pop() + 1, builtins.max(ndim for _, ndim in infos)


def _assemble(arrays: Any, depth: int, ndim: int) -> Any:
    if depth == 0:
        shape = _shape(arrays)
        return P.reshape_p(_array(arrays), shape=(1,) * (ndim - len(shape)) + shape)
    parts = [_assemble(item, depth - 1, ndim) for item in arrays]
    return P.concatenate_p(*parts, axis=ndim - depth)


def block(arrays: Any) -> Any:
    """Differentiable ``numpy.block``: nested lists of blocks, innermost on the last axis."""
    depth, largest = _block_depth(arrays, "arrays")
    if depth == 0:
        return P.identity_p(arrays) if isinstance(arrays, Tensor) else np.array(arrays)
    return _assemble(arrays, depth, builtins.max(depth, largest))


def piecewise(x: Any, condlist: Any, funclist: Sequence[Any], *args: Any, **kw: Any) -> Any:
    """Differentiable ``numpy.piecewise``: each function sees only its own elements."""
    x = _array(x)
    xv = _value(x)
    scalar_input = xv.ndim == 0
    condlist = _raw_tree(condlist)
    # NumPy's rule: a single condition is promoted to a list of one condition.
    if np.isscalar(condlist) or (
        not isinstance(condlist[0], list | np.ndarray) and not scalar_input
    ):
        condlist = [condlist]
    conds = np.asarray(condlist, dtype=bool).reshape(-1, *xv.shape)
    if len(conds) == len(funclist) - 1:
        conds = np.concatenate([conds, ~np.any(conds, axis=0, keepdims=True)])
    elif len(conds) != len(funclist):
        raise ValueError(
            f"piecewise: with {len(conds)} condition(s), either {len(conds)} or "
            f"{len(conds) + 1} functions are expected, got {len(funclist)}"
        )
    if scalar_input:
        x, conds = P.reshape_p(x, shape=(1,)), conds.reshape(-1, 1)
    shape = (1,) if scalar_input else xv.shape
    # Later conditions override earlier ones, as in NumPy's successive assignments.
    winner = len(conds) - 1 - np.argmax(conds[::-1], axis=0)
    winner = np.where(conds.any(axis=0), winner, -1)
    result: Any = np.zeros(shape, xv.dtype)
    for k, func in enumerate(funclist):
        where = np.nonzero(winner == k)
        if not where[0].size:
            continue
        piece = func(P.getitem_p(x, index=where), *args, **kw) if callable(func) else func
        piece = P.broadcast_to_p(piece, shape=where[0].shape)
        if _dtype(piece) != xv.dtype:
            piece = P.cast_p(piece, dtype=xv.dtype)  # NumPy assigns into zeros_like(x)
        result = result + P.index_add_p(piece, index=where, shape=shape)
    return P.reshape_p(result, shape=()) if scalar_input else result


# -- value-only utilities (indices, booleans, integers: no gradient) ---------------------
def _raw_tree(x: Any) -> Any:
    if isinstance(x, list | tuple):
        return type(x)(_raw_tree(item) for item in x)
    return _raw(x)


def _on_values(func: Callable[..., Any], what: str) -> Callable[..., Any]:
    """``func`` applied to the values of its (possibly nested) arguments."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*_raw_tree(args), **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = func.__name__
    wrapper.__doc__ = f"``numpy.{func.__name__}`` on the values ({what}, no gradient)."
    return wrapper


signbit = _on_values(np.signbit, "booleans")
isneginf = _on_values(np.isneginf, "booleans")
isposinf = _on_values(np.isposinf, "booleans")
iscomplex = _on_values(np.iscomplex, "booleans")
isreal = _on_values(np.isreal, "booleans")
iscomplexobj = _on_values(np.iscomplexobj, "a bool")
isrealobj = _on_values(np.isrealobj, "a bool")
iterable = _on_values(np.iterable, "a bool")
isin = _on_values(np.isin, "booleans")
unique = _on_values(np.unique, "values, indices and counts")
unique_all = _on_values(np.unique_all, "values, indices and counts")
unique_counts = _on_values(np.unique_counts, "values and counts")
unique_inverse = _on_values(np.unique_inverse, "values and indices")
unique_values = _on_values(np.unique_values, "values")
lexsort = _on_values(np.lexsort, "indices")
ix_ = _on_values(np.ix_, "index arrays")
unravel_index = _on_values(np.unravel_index, "indices")
ravel_multi_index = _on_values(np.ravel_multi_index, "indices")
tril_indices = _on_values(np.tril_indices, "indices")
triu_indices = _on_values(np.triu_indices, "indices")
diag_indices = _on_values(np.diag_indices, "indices")
tril_indices_from = _on_values(np.tril_indices_from, "indices")
triu_indices_from = _on_values(np.triu_indices_from, "indices")
diag_indices_from = _on_values(np.diag_indices_from, "indices")
broadcast_shapes = _on_values(np.broadcast_shapes, "a shape")
gcd = _on_values(np.gcd, "integers")
lcm = _on_values(np.lcm, "integers")
left_shift = _on_values(np.left_shift, "integers")
right_shift = _on_values(np.right_shift, "integers")
bitwise_left_shift = left_shift
bitwise_right_shift = right_shift


def isscalar(element: Any) -> bool:
    """``numpy.isscalar``: False for Tensors, as for NumPy arrays of any shape."""
    return bool(np.isscalar(element))
