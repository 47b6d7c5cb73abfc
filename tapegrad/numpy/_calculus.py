"""Numerical calculus and friends: ``gradient`` (finite differences), ``unwrap``, ``i0``,
``trim_zeros``, and the float-spacing functions ``spacing`` and ``nextafter``.

``gradient`` and ``unwrap`` are NumPy's formulas written with differentiable operations:
gradients flow to the samples and to coordinate arrays. ``unwrap``'s corrections are
whole periods (piecewise constant), so its derivative is the identity. ``i0`` evaluates
NumPy's Chebyshev expansions with differentiable operations, so its derivative is ``i1``
to the same precision. ``trim_zeros`` reads the values to find the zeros, then slices the
input: the kept elements carry their gradients. ``spacing`` and ``nextafter`` are
pass-through (values only: they step between floats).

Examples:
    >>> import tapegrad as tg
    >>> gradient(np.array([1.0, 2.0, 4.0, 7.0]))
    array([1. , 1.5, 2.5, 3. ])
    >>> round(float(tg.grad(i0)(tg.tensor(1.0, dtype="float64"))), 10)  # i1(1)
    0.565159104
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.numpy._arguments import along as _along
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import read as _read
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._axes import axis_index, axis_indices

__all__ = ["gradient", "i0", "nextafter", "spacing", "trim_zeros", "unwrap"]


def _take(a: Any, axis: int, item: Any) -> Any:
    return P.getitem_p(a, index=_along(axis, _ndim(a), item))


def gradient(f: Any, *varargs: Any, axis: Any = None, edge_order: int = 1) -> Any:
    """Differentiable ``numpy.gradient``: central differences inside, one-sided
    differences of order ``edge_order`` at the boundaries.

    Args:
        f: Samples of a function.
        *varargs: Spacing: nothing (1), one scalar for every axis, or one per axis, each a
            scalar or the 1-D coordinates along that axis (Tensors get gradients too).
        axis: The axis or axes to differentiate along (default all).
        edge_order: 1 or 2: the accuracy of the boundary differences.

    Returns:
        One array per axis (a single array for one axis), of ``f``'s float dtype.

    Examples:
        >>> import numpy as np
        >>> gradient(np.array([1.0, 2.0, 4.0, 7.0]), np.array([0.0, 1.0, 1.5, 3.5]))
        array([1. , 3. , 3.5, 1.5])
    """
    f = _array(f)
    n = _ndim(f)
    axes = list(range(n)) if axis is None else axis_indices(axis, n, "gradient")
    if len(varargs) == 0:
        spacings: list[Any] = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(getattr(varargs[0], "_value", varargs[0])) == 0:
        spacings = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacings = list(varargs)
    else:
        raise TypeError("invalid number of arguments")
    if edge_order > 2:
        raise ValueError("'edge_order' greater than 2 not supported")
    dtype = _dtype(f)
    if dtype.kind not in "fc":
        dtype = np.dtype(np.float64)
        f = P.cast_p(f, dtype=dtype)
    results = []
    for ax, spacing in zip(axes, spacings, strict=True):
        length = _shape(f)[ax]
        if length < edge_order + 1:
            raise ValueError(
                "Shape of array too small to calculate a numerical gradient, "
                "at least (edge_order + 1) elements are required."
            )
        spacing = _array(spacing)
        if _ndim(spacing) == 0:
            out = _uniform(f, ax, spacing, edge_order)
        elif _ndim(spacing) != 1:
            raise ValueError("distances must be either scalars or 1d")
        elif _shape(spacing)[0] != length:
            raise ValueError(
                "when 1d, distances must match the length of the corresponding dimension"
            )
        else:
            if _dtype(spacing).kind in "iub":
                spacing = P.cast_p(spacing, dtype=np.dtype(np.float64))
            steps = P.getitem_p(spacing, index=(slice(1, None),)) - P.getitem_p(
                spacing, index=(slice(None, -1),)
            )
            out = _nonuniform(f, ax, steps, edge_order)
        results.append(P.cast_p(out, dtype=dtype) if _dtype(out) != dtype else out)
    return results[0] if len(results) == 1 else tuple(results)


def _uniform(f: Any, ax: int, dx: Any, edge_order: int) -> Any:
    inner = (_take(f, ax, slice(2, None)) - _take(f, ax, slice(None, -2))) / (2.0 * dx)
    f0, f1, fl, fm = (_take(f, ax, slice(i, i + 1 or None)) for i in (0, 1, -1, -2))
    if edge_order == 1:
        first, last = (f1 - f0) / dx, (fl - fm) / dx
    else:
        f2, fn = _take(f, ax, slice(2, 3)), _take(f, ax, slice(-3, -2))
        first = (-1.5 * f0 + 2.0 * f1 - 0.5 * f2) / dx
        last = (0.5 * fn - 2.0 * fm + 1.5 * fl) / dx
    return P.concatenate_p(first, inner, last, axis=ax)


def _nonuniform(f: Any, ax: int, steps: Any, edge_order: int) -> Any:
    # Step sizes broadcast along `ax` of f.
    shape = [1] * _ndim(f)
    shape[ax] = -1

    def step(item: Any) -> Any:
        return P.reshape_p(P.getitem_p(steps, index=(item,)), shape=tuple(shape))

    dx1, dx2 = step(slice(None, -1)), step(slice(1, None))
    a = -dx2 / (dx1 * (dx1 + dx2))
    b = (dx2 - dx1) / (dx1 * dx2)
    c = dx1 / (dx2 * (dx1 + dx2))
    inner = (
        a * _take(f, ax, slice(None, -2))
        + b * _take(f, ax, slice(1, -1))
        + c * _take(f, ax, slice(2, None))
    )
    f0, f1, fl, fm = (_take(f, ax, slice(i, i + 1 or None)) for i in (0, 1, -1, -2))
    if edge_order == 1:
        first = (f1 - f0) / step(slice(0, 1))
        last = (fl - fm) / step(slice(-1, None))
    else:
        f2, fn = _take(f, ax, slice(2, 3)), _take(f, ax, slice(-3, -2))
        d1, d2 = step(slice(0, 1)), step(slice(1, 2))
        first = (
            -(2.0 * d1 + d2) / (d1 * (d1 + d2)) * f0
            + (d1 + d2) / (d1 * d2) * f1
            - d1 / (d2 * (d1 + d2)) * f2
        )
        d1, d2 = step(slice(-2, -1)), step(slice(-1, None))
        last = (
            d2 / (d1 * (d1 + d2)) * fn
            - (d2 + d1) / (d1 * d2) * fm
            + (2.0 * d2 + d1) / (d2 * (d1 + d2)) * fl
        )
    return P.concatenate_p(first, inner, last, axis=ax)


def unwrap(p: Any, discont: Any = None, axis: int = -1, *, period: Any = 2 * np.pi) -> Any:
    """Differentiable ``numpy.unwrap``: jumps larger than ``discont`` become their
    complement modulo ``period`` (whole periods added: the derivative is the identity).

    Examples:
        >>> import numpy as np
        >>> unwrap(np.array([0.0, 3.0, 7.0, 10.0])).round(4).tolist()
        [0.0, 3.0, 0.7168, 3.7168]
    """
    p = _array(p)
    ax = axis_index(axis, _ndim(p), "unwrap")
    dd = _take(p, ax, slice(1, None)) - _take(p, ax, slice(None, -1))
    if discont is None:
        discont = period / 2
    # A Python period is weak (float32 phases stay float32), as in NumPy.
    dtype = np.result_type(_dtype(dd), period if np.isscalar(period) else _dtype(period))
    if dtype.kind in "iu":
        high, rem = divmod(period, 2)
        ambiguous = rem == 0
    else:
        high, ambiguous = period / 2, True
    low = -high
    ddmod = P.remainder_p(dd - low, period) + low
    if ambiguous:
        # A jump of exactly half a period keeps its sign (NumPy's choice).
        ddmod = P.where_p(P.logical_and_p(P.equal_p(ddmod, low), P.greater_p(dd, 0)), high, ddmod)
    correction = P.where_p(P.less_p(P.abs_p(dd), discont), 0, ddmod - dd)
    if _dtype(correction) != dtype:
        correction = P.cast_p(correction, dtype=dtype)
    total = P.cumsum_p(correction, axis=ax)
    start = _take(p, ax, slice(0, 1))
    rest = _take(p, ax, slice(1, None)) + total
    parts = [P.cast_p(x, dtype=dtype) if _dtype(x) != dtype else x for x in (start, rest)]
    return P.concatenate_p(*parts, axis=ax)


# NumPy's Chebyshev coefficients for i0 (Cephes): exp(-x) i0(x) on [0, 8] in x / 2 - 2,
# and exp(-x) sqrt(x) i0(x) on (8, inf) in 32 / x - 2.
_I0_SMALL = (
    -4.4153416464793395e-18, 3.3307945188222384e-17, -2.431279846547955e-16,
    1.715391285555133e-15, -1.1685332877993451e-14, 7.676185498604936e-14,
    -4.856446783111929e-13, 2.95505266312964e-12, -1.726826291441556e-11,
    9.675809035373237e-11, -5.189795601635263e-10, 2.6598237246823866e-09,
    -1.300025009986248e-08, 6.046995022541919e-08, -2.670793853940612e-07,
    1.1173875391201037e-06, -4.4167383584587505e-06, 1.6448448070728896e-05,
    -5.754195010082104e-05, 0.00018850288509584165, -0.0005763755745385824,
    0.0016394756169413357, -0.004324309995050576, 0.010546460394594998,
    -0.02373741480589947, 0.04930528423967071, -0.09490109704804764,
    0.17162090152220877, -0.3046826723431984, 0.6767952744094761,
)  # fmt: skip
_I0_LARGE = (
    -7.233180487874754e-18, -4.830504485944182e-18, 4.46562142029676e-17,
    3.461222867697461e-17, -2.8276239805165836e-16, -3.425485619677219e-16,
    1.7725601330565263e-15, 3.8116806693526224e-15, -9.554846698828307e-15,
    -4.150569347287222e-14, 1.54008621752141e-14, 3.8527783827421426e-13,
    7.180124451383666e-13, -1.7941785315068062e-12, -1.3215811840447713e-11,
    -3.1499165279632416e-11, 1.1889147107846439e-11, 4.94060238822497e-10,
    3.3962320257083865e-09, 2.266668990498178e-08, 2.0489185894690638e-07,
    2.8913705208347567e-06, 6.889758346916825e-05, 0.0033691164782556943,
    0.8044904110141088,
)  # fmt: skip


def _chebyshev(x: Any, coefficients: tuple[float, ...]) -> Any:
    b0: Any = coefficients[0]
    b1: Any = 0.0
    b2: Any = 0.0
    for c in coefficients[1:]:
        b2, b1 = b1, b0
        b0 = x * b1 - b2 + c
    return 0.5 * (b0 - b2)


def i0(x: Any) -> Any:
    """Differentiable ``numpy.i0``, the modified Bessel function of the first kind, order 0.

    Its derivative is ``i1`` (NumPy's expansions, differentiated term by term).

    Examples:
        >>> import numpy as np
        >>> i0(np.array([0.0, 1.0, 10.0])).round(4).tolist()
        [1.0, 1.2661, 2815.7166]
    """
    x = _array(x)
    if _dtype(x).kind == "c":
        raise TypeError("i0 not supported for complex values")
    if _dtype(x).kind != "f":
        x = P.cast_p(x, dtype=np.dtype(np.float64))
    x = P.abs_p(x)
    small = P.less_equal_p(x, 8.0)
    # Each branch sees only its own domain, so the other's poles never reach a gradient.
    x_small = P.where_p(small, x, 0.0)
    x_large = P.where_p(small, 8.0, x)
    inside = P.exp_p(x_small) * _chebyshev(x_small / 2.0 - 2.0, _I0_SMALL)
    outside = P.exp_p(x_large) * _chebyshev(32.0 / x_large - 2.0, _I0_LARGE)
    return P.where_p(small, inside, outside / P.sqrt_p(x_large))


def trim_zeros(filt: Any, trim: str = "fb", axis: Any = None) -> Any:
    """``numpy.trim_zeros``: the input without its leading (``"f"``) and trailing (``"b"``)
    zeros; the kept elements carry their gradients (the zeros are found from the values).

    Examples:
        >>> import numpy as np
        >>> trim_zeros(np.array([0.0, 0.0, 1.0, 2.0, 0.0]), "f")
        array([1., 2., 0.])
    """
    values = np.asarray(_read(filt))
    trim = trim.lower()
    if trim not in {"fb", "bf", "f", "b"}:
        raise ValueError(f"unexpected character(s) in `trim`: {trim!r}")
    every = tuple(range(values.ndim))
    axes = every if axis is None else tuple(axis_indices(axis, values.ndim, "trim_zeros"))
    if not axes:
        return filt
    nonzero = np.argwhere(values)
    if nonzero.size == 0:
        start = stop = [0] * values.ndim
    else:
        start = nonzero.min(axis=0).tolist() if "f" in trim else [None] * values.ndim
        stop = (nonzero.max(axis=0) + 1).tolist() if "b" in trim else [None] * values.ndim
    index = tuple(
        slice(start[ax], stop[ax]) if ax in axes else slice(None) for ax in range(values.ndim)
    )
    if isinstance(filt, list | tuple):
        return filt[index[0]] if len(index) == 1 else values[index]
    return P.getitem_p(_array(filt), index=index)


def spacing(x: Any, /) -> Any:
    """``numpy.spacing`` on the values (pass-through: the distance to the next float).

    Examples:
        >>> import numpy as np
        >>> spacing(np.float32(1.0)) == np.finfo(np.float32).eps
        np.True_
    """
    return np.spacing(_read(x))


def nextafter(x1: Any, x2: Any, /) -> Any:
    """``numpy.nextafter`` on the values (pass-through: the next float after ``x1``
    towards ``x2``).

    Examples:
        >>> import numpy as np
        >>> nextafter(np.float32(1.0), np.float32(2.0)) - 1 == np.finfo(np.float32).eps
        np.True_
    """
    return np.nextafter(_read(x1), _read(x2))
