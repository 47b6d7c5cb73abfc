"""Signals, integration and interpolation: ``convolve``, ``correlate``, ``trapezoid``,
``interp``.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.convolve(np.array([1.0, 2.0, 3.0]), np.array([0.0, 1.0, 0.5]))
    array([0. , 1. , 2.5, 4. , 1.5])
    >>> tg.grad(lambda fp: tnp.interp(2.5, np.array([1.0, 2.0, 3.0]), fp))(
    ...     tg.tensor([1.0, 4.0, 9.0])).numpy()
    array([0. , 0.5, 0.5], dtype=float32)
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import argsort_p, searchsorted_p
from tapegrad.numpy._arguments import PY_SCALAR as _PY_SCALAR
from tapegrad.numpy._arguments import along as _along
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import cast_to as _as
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import one_axis as _axis
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._differences import diff

__all__ = ["convolve", "correlate", "interp", "trapezoid"]

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
    out = P.where_p(P.less_p(x, xp_first), left, P.where_p(P.greater_p(x, xp_last), right, inside))
    return P.where_p(P.isnan_p(x), np.nan, out)
