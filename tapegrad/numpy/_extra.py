"""More of NumPy, beyond HIPS autograd: differences, rotations, signal and interpolation
helpers, floating-point decomposition, rearrangements, and value-only utilities.

Rearrangements (``delete``, ``insert``, ``resize``, ``choose``) are one gather each: NumPy
itself rearranges an array of *labels* (flat positions), so the semantics are NumPy's
exactly and the gradient is a scatter-add. Functions whose results are indices, booleans
or integers (``isin``, ``signbit``, ``gcd``, ``lexsort``, ...) are computed with
primitives, so traced graphs compute them from the values they run on; those whose result
*shape* depends on the values (``unique``, ``delete`` at computed positions, ...) read
the values, which refuses traced tensors.

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
from tapegrad.core.prims.reduction import any_p, argsort_p, normalize_axis, searchsorted_p
from tapegrad.core.tensor import Tensor
from tapegrad.graph.function import is_traced
from tapegrad.numpy._indexing import take_along_axis

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


def _unit(flip: Any, dtype: np.dtype) -> Any:
    """-1 where ``flip`` holds, else 1: multiplying by it is exact."""
    return P.where_p(flip, dtype.type(-1), dtype.type(1))


# Signs are read with the `signbit` primitive (not from the values at hand), so traced
# graphs take the signs of the values they run on.
def fmod(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.fmod`` (sign of ``x1``): d/dx1 = 1, d/dx2 = -trunc(x1/x2)."""
    dtype = _result_dtype(np.fmod, x1, x2)
    x1, x2 = _as(x1, dtype), _as(x2, dtype)
    # fmod(x1, x2) = s * remainder(|x1|, |x2|) with s the sign of x1; the absolute values
    # are products with +-1, exact, and keep d/dx1 = 1 at x1 = 0 (abs would give 0).
    s1 = _unit(P.signbit_p(x1), dtype)
    s2 = _unit(P.signbit_p(x2), dtype)
    return s1 * P.remainder_p(s1 * x1, s2 * x2)


def copysign(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.copysign`` in ``x1`` (``x2`` only contributes its sign)."""
    dtype = _result_dtype(np.copysign, x1, x2)
    x1 = _as(x1, dtype)
    return x1 * _unit(P.not_equal_p(P.signbit_p(x1), P.signbit_p(x2)), dtype)


def float_power(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.float_power``: ``power`` in float64 (or complex128)."""
    dtype = _result_dtype(np.float_power, x1, x2)
    return P.power_p(_as(x1, dtype), _as(x2, dtype))


def heaviside(x1: Any, x2: Any, /) -> Any:
    """``numpy.heaviside``: 0 below zero, 1 above, ``x2`` at zero (its gradient flows)."""
    dtype = _result_dtype(np.heaviside, x1, x2)
    below = P.where_p(P.less_p(x1, 0), dtype.type(0), dtype.type(1))
    step = P.where_p(P.isnan_p(x1), dtype.type(np.nan), below)
    return P.where_p(P.equal_p(x1, 0), _as(x2, dtype), step)


def _times_pow2(x: Any, k: Any, dtype: np.dtype) -> Any:
    """``x * 2**k``, exact: two factors, so none overflows where ``2**k`` alone would."""
    half = P.floor_divide_p(k, 2)
    one = np.ones((), dtype)
    return x * P.ldexp_p(one, half) * P.ldexp_p(one, k - half)


def ldexp(x1: Any, x2: Any, /) -> Any:
    """Differentiable ``numpy.ldexp`` in ``x1``: ``x1 * 2**x2`` for integer ``x2``."""
    if _dtype(x2).kind not in "iub":
        raise TypeError(f"ldexp: the exponent x2 must be integer, got {_dtype(x2)}")
    dtype = _result_dtype(np.ldexp, x1, x2)
    return _times_pow2(_as(x1, dtype), x2, dtype)


def frexp(x: Any, /) -> tuple[Any, Any]:
    """``numpy.frexp``: the mantissa is differentiable (2**-exponent), the exponent not."""
    dtype = _result_dtype(np.frexp, x)
    exponent = P.frexp_exponent_p(x)
    scale = P.negative_p(P.cast_p(exponent, dtype=np.int64))
    return _times_pow2(_as(x, dtype), scale, dtype), exponent


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
    if _dtype(val).kind == "c":
        return np.imag(_read(val))
    return np.imag(np.zeros(_shape(val), _dtype(val)))


def angle(z: Any, deg: bool = False) -> Any:
    """``numpy.angle`` (0 or pi for real inputs; no gradient)."""
    if _dtype(z).kind == "c":
        return np.angle(_read(z), deg)
    # NumPy's arctan2(0, z), with the primitive: traced graphs see the signs they run on.
    if isinstance(z, Tensor):
        z = P.stop_gradient_p(z)
    a = P.arctan2_p(0, z if isinstance(z, Tensor) else np.asarray(z))
    return a * (180 / np.pi) if deg else a


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
    order = argsort_p(xp, axis=-1, kind="stable")
    xp, fp = P.take_p(xp, order, axis=0), P.take_p(fp, order, axis=0)
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
    """Differentiable ``numpy.interp`` (in ``x``, ``xp``, ``fp``, ``left`` and ``right``).

    The segments holding ``x`` are found by the ``searchsorted`` primitive and gathered by
    ``take``, so traced graphs search the values they run on.
    """
    if period is not None:
        left = right = None
    x, xp, fp = _interp_inputs(x, xp, fp, period)
    n = _shape(xp)[0]
    first = P.getitem_p(fp, index=(0,))
    last = P.getitem_p(fp, index=(n - 1,))
    left = first if left is None else left
    right = last if right is None else right
    xp_first, xp_last = P.getitem_p(xp, index=(0,)), P.getitem_p(xp, index=(n - 1,))
    if n == 1:
        # NumPy compares with the single point only: NaN falls through to fp[0].
        inside = P.broadcast_to_p(first, shape=_shape(x))
        above = P.where_p(P.greater_p(x, xp_first), right, inside)
        return P.where_p(P.less_p(x, xp_first), left, above)
    # The segment [xp[j], xp[j + 1]) holding x, as NumPy's binary search finds it.
    j = P.clip_p(searchsorted_p(xp, x, side="right") - 1, 0, n - 2)
    x0, x1 = P.take_p(xp, j, axis=0), P.take_p(xp, j + 1, axis=0)
    y0, y1 = P.take_p(fp, j, axis=0), P.take_p(fp, j + 1, axis=0)
    inside = (y1 - y0) / (x1 - x0) * (x - x0) + y0
    inside = P.where_p(P.equal_p(x, xp_last), last, inside)
    out = P.where_p(P.less_p(x, xp_first), left,
                    P.where_p(P.greater_p(x, xp_last), right, inside))
    return P.where_p(P.isnan_p(x), np.nan, out)


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
    """Differentiable ``numpy.delete`` (the shape depends on ``obj``: traced ``obj`` is
    refused)."""
    arr = _array(arr)
    return _gather(arr, np.delete(_labels(arr), _read_tree(obj), axis))


def insert(arr: Any, obj: Any, values: Any, axis: int | None = None) -> Any:
    """Differentiable ``numpy.insert`` (in ``arr`` and in ``values``; a traced ``obj`` is
    refused)."""
    arr, values = _array(arr), _array(values)
    dtype = _dtype(arr)
    if _dtype(values) != dtype:
        values = P.cast_p(values, dtype=dtype)  # NumPy casts the values to arr's dtype
    source = _labels(arr)
    # Labels of the values continue after arr's, so one gather serves both.
    value_labels = source.size + _labels(values)
    labels = np.insert(source, _read_tree(obj), value_labels, axis)
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
    if isinstance(choices, Tensor):
        choices = unstack(choices)
    items = [_array(c) for c in choices]
    if isinstance(a, Tensor):
        return _choose_computed(a, items, mode)
    index = _value(a)
    shape = np.broadcast_shapes(index.shape, *[_shape(c) for c in items])
    stacked = _stack_choices(items, shape)
    labels = np.choose(index, _labels(stacked), mode=mode)
    return _gather(stacked, labels)


def _stack_choices(items: list[Any], shape: tuple[int, ...]) -> Any:
    return P.concatenate_p(
        *[P.reshape_p(P.broadcast_to_p(c, shape=shape), shape=(1,) + shape) for c in items],
        axis=0,
    )


def _choose_computed(a: Tensor, items: list[Any], mode: str) -> Any:
    """`choose` with a Tensor of indices: one `take` at flat positions computed with
    primitives, so the indices are an input of the op (read at run time when traced)."""
    if _dtype(a).kind not in "iu":
        raise TypeError(f"choose: a must hold integer indices, got dtype {_dtype(a)}")
    count = len(items)
    if mode == "raise" and not is_traced(a):
        index = np.asarray(a)
        if index.size and (index.min() < 0 or index.max() >= count):
            raise ValueError("choose: invalid entry in choice array")
    shape = np.broadcast_shapes(_shape(a), *[_shape(c) for c in items])
    index = P.broadcast_to_p(P.cast_p(a, dtype=np.intp), shape=shape)
    if mode == "wrap":
        index = P.remainder_p(index, count)
    elif mode == "clip":
        index = P.clip_p(index, 0, count - 1)
    elif mode != "raise":
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    size = int(np.prod(shape, dtype=np.int64))
    positions = index * size + np.arange(size).reshape(shape)
    flat = P.reshape_p(_stack_choices(items, shape), shape=(-1,))
    return P.take_p(flat, positions, axis=0)


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
    """Differentiable ``numpy.piecewise``: each function sees only its own elements.

    The pieces' shapes depend on the conditions: traced conditions are refused.
    """
    x = _array(x)
    xv = _value(x)
    scalar_input = xv.ndim == 0
    condlist = _read_tree(condlist)  # the pieces' shapes depend on the conditions
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
# Results of a fixed shape are computed with primitives, so that traced graphs compute them
# from the values they run on. Results whose shape depends on the values (``unique``, ...)
# read them: a traced tensor has none yet, so it is refused (`TracerValueError`).
def _read(x: Any) -> Any:
    """``x``'s values (refused for a traced tensor, naming the user's line)."""
    return np.asarray(x) if isinstance(x, Tensor) else x


def _read_tree(x: Any) -> Any:
    if isinstance(x, list | tuple):
        return type(x)(_read_tree(item) for item in x)
    return _read(x)


def _raw_tree(x: Any) -> Any:
    if isinstance(x, list | tuple):
        return type(x)(_raw_tree(item) for item in x)
    return _raw(x)


def _on_values(func: Callable[..., Any], what: str) -> Callable[..., Any]:
    """``func`` applied to the values of its (possibly nested) arguments."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*_read_tree(args), **{k: _read_tree(v) for k, v in kwargs.items()})

    wrapper.__name__ = wrapper.__qualname__ = func.__name__
    wrapper.__doc__ = (
        f"``numpy.{func.__name__}`` on the values ({what}, no gradient; the shape depends "
        "on them, so traced tensors are refused)."
    )
    return wrapper


def _on_shapes(func: Callable[..., Any], what: str) -> Callable[..., Any]:
    """``func`` of arguments whose shapes and dtypes only matter (never their values)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*_raw_tree(args), **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = func.__name__
    wrapper.__doc__ = f"``numpy.{func.__name__}`` ({what}, from shapes and dtypes)."
    return wrapper


def _elementwise_values(prim: P.Primitive, name: str, what: str) -> Callable[..., Any]:
    """The non-differentiable primitive ``prim`` as ``numpy.<name>``."""

    def wrapper(x1: Any, x2: Any, /) -> Any:
        return prim(x1, x2)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = f"``numpy.{name}`` ({what}, no gradient)."
    return wrapper


def signbit(x: Any, /) -> Any:
    """``numpy.signbit`` (booleans, no gradient)."""
    return P.signbit_p(x)


def isposinf(x: Any) -> Any:
    """``numpy.isposinf`` (booleans, no gradient)."""
    return P.logical_and_p(P.isinf_p(x), P.logical_not_p(P.signbit_p(x)))


def isneginf(x: Any) -> Any:
    """``numpy.isneginf`` (booleans, no gradient)."""
    return P.logical_and_p(P.isinf_p(x), P.signbit_p(x))


def _by_dtype(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` of real inputs from a stand-in of their shape and dtype (the values do not
    matter); complex inputs are read."""

    def wrapper(x: Any) -> Any:
        if _dtype(x).kind == "c":
            return func(_read(x))
        return func(np.zeros(_shape(x), _dtype(x)))

    wrapper.__name__ = wrapper.__qualname__ = func.__name__
    wrapper.__doc__ = f"``numpy.{func.__name__}`` (booleans, no gradient)."
    return wrapper


iscomplex = _by_dtype(np.iscomplex)
isreal = _by_dtype(np.isreal)
iscomplexobj = _on_shapes(np.iscomplexobj, "a bool")
isrealobj = _on_shapes(np.isrealobj, "a bool")
iterable = _on_shapes(np.iterable, "a bool")


def isin(
    element: Any,
    test_elements: Any,
    assume_unique: bool = False,
    invert: bool = False,
    *,
    kind: Any = None,
) -> Any:
    """``numpy.isin`` (booleans, no gradient); with Tensors, each element is compared with
    every test element (primitives)."""
    if not isinstance(element, Tensor) and not isinstance(test_elements, Tensor):
        return np.isin(element, test_elements, assume_unique=assume_unique, invert=invert,
                       kind=kind)
    element, tests = _array(element), _array(test_elements)
    size = int(np.prod(_shape(tests), dtype=np.int64))
    tests = P.reshape_p(tests, shape=(size,))
    column = P.reshape_p(element, shape=_shape(element) + (1,))
    found = any_p(P.equal_p(column, tests), axis=-1)
    return P.logical_not_p(found) if invert else found


unique = _on_values(np.unique, "values, indices and counts")
unique_all = _on_values(np.unique_all, "values, indices and counts")
unique_counts = _on_values(np.unique_counts, "values and counts")
unique_inverse = _on_values(np.unique_inverse, "values and indices")
unique_values = _on_values(np.unique_values, "values")


def lexsort(keys: Any, axis: int = -1) -> Any:
    """``numpy.lexsort`` (indices, no gradient): the last key is the primary one.

    With Tensor keys: one stable ``argsort`` per key, least significant first, each
    applied to the order so far (primitives, so traced graphs sort the values they run on).
    """
    if isinstance(keys, Tensor):
        if _ndim(keys) < 2:
            return np.lexsort(_read(keys), axis)
        keys = unstack(keys)
    elif not (isinstance(keys, list | tuple) and any(isinstance(k, Tensor) for k in keys)):
        return np.lexsort(keys, axis)
    order = None
    for key in keys:
        if order is None:
            order = argsort_p(key, axis=axis, kind="stable")
            continue
        step = argsort_p(take_along_axis(key, order, axis), axis=axis, kind="stable")
        order = take_along_axis(order, step, axis)
    return order


def ix_(*args: Any) -> tuple[Any, ...]:
    """``numpy.ix_``: integer Tensors are reshaped (traced ones too); boolean masks give
    their True positions, so traced masks are refused."""
    computed = [isinstance(a, Tensor) and _dtype(a).kind in "iu" for a in args]
    # NumPy's checks and shapes, from stand-ins for the integer Tensors.
    grids = np.ix_(*[np.zeros(_shape(a), _dtype(a)) if c else _read(a)
                     for a, c in zip(args, computed, strict=True)])
    return tuple(P.reshape_p(a, shape=g.shape) if c else g
                 for a, g, c in zip(args, grids, computed, strict=True))


def _dims(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(d) for d in shape)


def unravel_index(indices: Any, shape: Any, order: str = "C") -> tuple[Any, ...]:
    """``numpy.unravel_index`` (indices, no gradient); Tensor indices with primitives."""
    if not isinstance(indices, Tensor):
        return np.unravel_index(indices, shape, order)
    dims = _dims(shape)
    if order not in ("C", "F"):
        raise ValueError("unravel_index: only 'C' or 'F' order is permitted")
    if _dtype(indices).kind not in "iu":
        raise TypeError(f"unravel_index: only int indices permitted, got {_dtype(indices)}")
    if not is_traced(indices):
        np.unravel_index(np.asarray(indices), dims, order)  # NumPy's bounds check
    flat = P.cast_p(indices, dtype=np.intp)
    coordinates: list[Any] = [None] * len(dims)
    for k in range(len(dims) - 1, -1, -1) if order == "C" else range(len(dims)):
        coordinates[k] = P.remainder_p(flat, dims[k])
        flat = P.floor_divide_p(flat, dims[k])
    return tuple(coordinates)


def ravel_multi_index(multi_index: Any, dims: Any, mode: Any = "raise",
                      order: str = "C") -> Any:
    """``numpy.ravel_multi_index`` (indices, no gradient); Tensor indices with primitives."""
    if isinstance(multi_index, Tensor):
        multi_index = unstack(multi_index)
    elif not any(isinstance(i, Tensor) for i in multi_index):
        return np.ravel_multi_index(multi_index, dims, mode, order)
    dims = _dims(dims)
    if len(multi_index) != len(dims):
        raise ValueError(
            f"ravel_multi_index: multi_index must be a sequence of length {len(dims)}"
        )
    if order not in ("C", "F"):
        raise ValueError("ravel_multi_index: only 'C' or 'F' order is permitted")
    modes = (mode,) * len(dims) if isinstance(mode, str) else tuple(mode)
    if not any(is_traced(i) for i in multi_index):
        np.ravel_multi_index(_read_tree(tuple(multi_index)), dims, mode, order)  # checks
    axes = range(len(dims)) if order == "C" else range(len(dims) - 1, -1, -1)
    total: Any = None
    stride = 1
    for k in reversed(axes):
        index = P.cast_p(multi_index[k], dtype=np.intp)
        if modes[k] == "wrap":
            index = P.remainder_p(index, dims[k])
        elif modes[k] == "clip":
            index = P.clip_p(index, 0, dims[k] - 1)
        elif modes[k] != "raise":
            raise ValueError("ravel_multi_index: clipmode must be 'clip', 'raise' or 'wrap'")
        term = index * stride
        total = term if total is None else total + term
        stride *= dims[k]
    return total


tril_indices = _on_values(np.tril_indices, "indices")
triu_indices = _on_values(np.triu_indices, "indices")
diag_indices = _on_values(np.diag_indices, "indices")
tril_indices_from = _on_shapes(np.tril_indices_from, "indices")
triu_indices_from = _on_shapes(np.triu_indices_from, "indices")
diag_indices_from = _on_shapes(np.diag_indices_from, "indices")
broadcast_shapes = _on_shapes(np.broadcast_shapes, "a shape")
gcd = _elementwise_values(P.gcd_p, "gcd", "integers")
lcm = _elementwise_values(P.lcm_p, "lcm", "integers")
left_shift = _elementwise_values(P.left_shift_p, "left_shift", "integers")
right_shift = _elementwise_values(P.right_shift_p, "right_shift", "integers")
bitwise_left_shift = left_shift
bitwise_right_shift = right_shift


def isscalar(element: Any) -> bool:
    """``numpy.isscalar``: False for Tensors, as for NumPy arrays of any shape."""
    return bool(np.isscalar(element))
