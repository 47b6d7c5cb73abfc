"""``numpy.pad`` in every mode, differentiable.

NumPy pads one axis after the other, each axis over the extent the earlier ones already
padded (so corners come from the later axis); so does this module. Along one axis the
modes that copy values (``edge``, ``reflect``, ``symmetric``, ``wrap``, ``linear_ramp``)
are linear maps of the line, whatever the widths: NumPy's own
``pad`` applied to an identity matrix gives that map. A map whose rows each pick one
element is a gather (``getitem``); any other is a ``matmul`` along the axis, and
``linear_ramp``'s end values add a fixed ramp per end. ``maximum``, ``minimum``,
``mean`` and ``median`` reduce a slice at each end and concatenate. Integer arrays in the computing
modes (NumPy rounds means and ramps) are padded on their values: they carry no gradient.

Examples:
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.pad(np.array([1.0, 2.0, 3.0]), (2, 3), mode="reflect")
    array([3., 2., 1., 2., 3., 2., 1., 2.])
    >>> x = tg.tensor([1.0, 2.0, 3.0])
    >>> tg.grad(lambda x: tnp.sum(tnp.pad(x, 2, mode="edge")))(x).numpy()
    array([3., 1., 3.], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import along as _along
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import read as _read
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._axes import axis_index
from tapegrad.numpy._quantiles import median as _median
from tapegrad.numpy._reductions import max as _max
from tapegrad.numpy._reductions import mean as _mean
from tapegrad.numpy._reductions import min as _min

__all__ = ["pad"]

# The keywords each mode takes (NumPy refuses the others with a ValueError).
_MODE_KEYWORDS = {
    "constant": {"constant_values"},
    "edge": set(),
    "linear_ramp": {"end_values"},
    "maximum": {"stat_length"},
    "mean": {"stat_length"},
    "median": {"stat_length"},
    "minimum": {"stat_length"},
    "reflect": {"reflect_type"},
    "symmetric": {"reflect_type"},
    "wrap": set(),
    "empty": set(),
}
# Modes whose line map NumPy's pad of an identity matrix gives (linear in the line).
_LINEAR = {"edge", "reflect", "symmetric", "wrap"}
_REDUCERS: dict[str, Callable[..., Any]] = {
    "maximum": _max,
    "mean": _mean,
    "minimum": _min,
    "median": _median,
}


def _leaves(value: Any) -> np.ndarray:
    """``value`` as an object array whose elements are numbers or 0-d Tensors."""
    if isinstance(value, Tensor) and _ndim(value) > 0:
        value = [value[i] for i in range(_shape(value)[0])]
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, list | tuple | np.ndarray):
        children = [_leaves(v) for v in value]
        inner = children[0].shape if children else ()
        out = np.empty((len(children),) + inner, dtype=object)
        for i, child in enumerate(children):
            out[i] = child if child.ndim else child[()]
        return out
    out = np.empty((), dtype=object)
    out[()] = value
    return out


def _pairs(value: Any, ndim: int, name: str) -> list[tuple[Any, Any]]:
    """NumPy's ``((before, after),) * ndim`` reading of a pad argument (Tensors kept)."""
    items = _leaves(value)
    if items.ndim < 3 and items.size == 1:
        return [(items.flat[0], items.flat[0])] * ndim
    if items.ndim < 3 and items.size == 2 and items.shape != (2, 1):
        return [(items.flat[0], items.flat[1])] * ndim
    try:
        full = np.broadcast_to(items, (ndim, 2))
    except ValueError:
        raise ValueError(
            f"pad: {name} of shape {items.shape} cannot be broadcast to ({ndim}, 2)"
        ) from None
    return [(lo, hi) for lo, hi in full]


def _widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    if isinstance(pad_width, dict):  # NumPy 2.3's {axis: width or (before, after)}
        full = [(0, 0)] * ndim
        for axis, width in pad_width.items():
            full[axis_index(axis, ndim, "pad")] = _widths(width, 1)[0]
        return full
    given = np.asarray(pad_width)
    if given.dtype.kind not in "iu":  # 1.5 was truncated to 1
        raise TypeError(f"pad: `pad_width` must be of integral type, got {pad_width!r}")
    if given.size and given.min() < 0:
        raise ValueError(f"pad: index can't contain negative values, got {pad_width!r}")
    widths = np.broadcast_to(given.astype(np.int64), (ndim, 2))
    return [(int(lo), int(hi)) for lo, hi in widths]


def pad(
    array: Any, pad_width: Any, mode: str | Callable[..., Any] = "constant", **kwargs: Any
) -> Any:
    """Differentiable ``numpy.pad``, every mode.

    Args:
        array: The array to pad.
        pad_width: Widths ``((before, after),)`` per axis, broadcast as in NumPy, or a
            dict ``{axis: width or (before, after)}`` (other axes unpadded).
        mode: ``"constant"``, ``"edge"``, ``"linear_ramp"``, ``"maximum"``, ``"mean"``,
            ``"median"``, ``"minimum"``, ``"reflect"``, ``"symmetric"``, ``"wrap"``,
            ``"empty"`` (zeros here), or a function ``f(vector, iaxis_pad_width, iaxis,
            kwargs)`` that fills the pad area of ``vector`` in place.
        **kwargs: ``constant_values``, ``end_values`` (numbers or Tensors: gradients flow
            to them too), ``stat_length``, ``reflect_type`` (``"even"`` or ``"odd"``), as in
            NumPy; a function mode gets the others.

    Returns:
        The padded array. With a function mode, the values the function writes are
        constants to the gradient (it fills a NumPy array in place); the original
        elements carry theirs.

    Examples:
        >>> import numpy as np
        >>> pad(np.arange(4.0), (1, 2), mode="linear_ramp", end_values=(5, -1))
        array([ 5.,  0.,  1.,  2.,  3.,  1., -1.])
        >>> pad(np.array([[1.0, 2.0], [3.0, 4.0]]), 1, mode="maximum")
        array([[4., 3., 4., 4.],
               [2., 1., 2., 2.],
               [4., 3., 4., 4.],
               [4., 3., 4., 4.]])
    """
    ndim = _ndim(array)
    widths = _widths(pad_width, ndim)
    if callable(mode):
        return _pad_function(array, widths, mode, kwargs)
    if mode not in _MODE_KEYWORDS:
        raise ValueError(f"pad: mode {mode!r} is not supported")
    unknown = set(kwargs) - _MODE_KEYWORDS[mode]
    if unknown:
        raise ValueError(f"pad: unsupported keyword arguments for mode {mode!r}: {unknown}")
    shape = _shape(array)
    if mode not in ("constant", "empty"):
        for axis, (size, width) in enumerate(zip(shape, widths, strict=True)):
            if size == 0 and any(width):
                raise ValueError(
                    f"pad: can't extend empty axis {axis} using modes other than "
                    "'constant' or 'empty'"
                )
    if mode == "constant":
        return _pad_constant(array, widths, kwargs.get("constant_values", 0))
    if mode == "empty" or int(np.prod(shape)) == 0:
        # An empty array pads to an empty one (checked above); "empty" leaves any values.
        return P.pad_p(array, pad_width=tuple(widths), constant_values=0)
    out = array
    ends = _pairs(kwargs.get("end_values", 0), ndim, "end_values")
    lengths = _pairs(kwargs.get("stat_length"), ndim, "stat_length")
    for axis, width in enumerate(widths):
        if width == (0, 0):
            continue
        if mode in _LINEAR:
            out = _pad_linear(out, axis, width, mode, kwargs.get("reflect_type", "even"))
        elif mode == "linear_ramp":
            out = _pad_ramp(out, axis, width, ends[axis])
        else:
            out = _pad_stat(out, axis, width, lengths[axis], _REDUCERS[mode])
    return out


def _pad_constant(array: Any, widths: list[tuple[int, int]], values: Any) -> Any:
    pairs = _pairs(values, _ndim(array), "constant_values")
    if not any(isinstance(v, Tensor) for pair in pairs for v in pair):
        if len({v for pair in pairs for v in pair}) == 1:
            return P.pad_p(array, pad_width=tuple(widths), constant_values=pairs[0][0])
    out = array
    for axis, ((lo, hi), (before, after)) in enumerate(zip(widths, pairs, strict=True)):
        if lo == hi == 0:
            continue
        shape = _shape(out)
        pieces = []
        dtype = _dtype(array)
        for width, value in ((lo, before), (0, None), (hi, after)):
            if value is None:
                pieces.append(out)
            elif width:
                side = shape[:axis] + (width,) + shape[axis + 1 :]
                value = P.cast_p(value, dtype=dtype) if isinstance(value, Tensor) else value
                filler = value if isinstance(value, Tensor) else np.asarray(value).astype(dtype)
                pieces.append(P.broadcast_to_p(filler, shape=side))
        out = P.concatenate_p(*pieces, axis=axis)
    return out


def _line_map(size: int, width: tuple[int, int], mode: str, reflect_type: str) -> np.ndarray:
    """The ``(size + before + after, size)`` matrix NumPy's pad applies to each line."""
    extra: dict[str, Any] = {}
    if mode in ("reflect", "symmetric"):
        extra["reflect_type"] = reflect_type
    return np.pad(np.eye(size), (width, (0, 0)), mode, **extra)


def _pad_linear(x: Any, axis: int, width: tuple[int, int], mode: str, reflect_type: str) -> Any:
    ndim = _ndim(x)
    matrix = _line_map(_shape(x)[axis], width, mode, reflect_type)
    ones = matrix == 1
    if np.all(ones.sum(axis=1) == 1) and np.all((matrix == 0) | ones):
        # Every padded element copies one element: a gather (its VJP sums the copies).
        return P.getitem_p(x, index=_along(axis, ndim, np.argmax(ones, axis=1)))
    order = tuple(i for i in range(ndim) if i != axis) + (axis,)
    moved = P.transpose_p(x, axes=order)
    mapped = P.matmul_p(moved, matrix.T.astype(_dtype(x)))
    return P.transpose_p(mapped, axes=tuple(int(i) for i in np.argsort(order)))


def _pad_ramp(x: Any, axis: int, width: tuple[int, int], ends: tuple[Any, Any]) -> Any:
    """``linear_ramp`` along one axis, computed as NumPy's ``linspace`` computes it
    (float64, floored for integers): from each end value to the edge element."""
    ndim, size, dtype = _ndim(x), _shape(x)[axis], _dtype(x)
    wide = np.dtype(np.float64) if dtype.kind in "iub" else np.result_type(dtype, np.float64)
    pieces = []
    for side, (count, end) in enumerate(zip(width, ends, strict=True)):
        if not count:
            continue
        edge = P.getitem_p(
            x, index=_along(axis, ndim, slice(size - 1, size) if side else slice(0, 1))
        )
        end = P.cast_p(end, dtype=wide) if isinstance(end, Tensor) else np.asarray(end, wide)
        steps = np.arange(count, dtype=wide)[::-1] if side else np.arange(count, dtype=wide)
        steps = steps.reshape((-1,) + (1,) * (ndim - axis - 1))
        ramp = steps * ((P.cast_p(edge, dtype=wide) - end) / count) + end
        if dtype.kind in "iub":
            ramp = P.floor_p(ramp)
        pieces.append((side, P.cast_p(ramp, dtype=dtype)))
    left = [p for side, p in pieces if side == 0]
    right = [p for side, p in pieces if side == 1]
    return P.concatenate_p(*left, x, *right, axis=axis)


def _pad_stat(
    x: Any, axis: int, width: tuple[int, int], lengths: tuple[Any, Any], reduce: Any
) -> Any:
    ndim, size = _ndim(x), _shape(x)[axis]
    counts = [size if n is None or n > size else int(n) for n in lengths]
    if 0 in counts and reduce in (_max, _min):
        raise ValueError("pad: stat_length of 0 yields no value for padding")
    first = reduce(
        P.getitem_p(x, index=_along(axis, ndim, slice(0, counts[0]))), axis=axis, keepdims=True
    )
    last = reduce(
        P.getitem_p(x, index=_along(axis, ndim, slice(size - counts[1], size))),
        axis=axis,
        keepdims=True,
    )
    if _dtype(x).kind in "iub" and _dtype(first) != _dtype(x):
        # NumPy rounds an integer array's mean or median (half to even).
        first, last = (P.cast_p(P.rint_p(s), dtype=_dtype(x)) for s in (first, last))
    pieces = []
    for w, stat in ((width[0], first), (None, x), (width[1], last)):
        if w is None:
            pieces.append(x)
        elif w:
            side = _shape(x)[:axis] + (w,) + _shape(x)[axis + 1 :]
            pieces.append(P.broadcast_to_p(stat, shape=side))
    return P.concatenate_p(*pieces, axis=axis)


def _pad_function(
    array: Any, widths: list[tuple[int, int]], function: Callable[..., Any], kwargs: Any
) -> Any:
    """A function mode: NumPy fills the pad area; the original elements keep a gradient."""
    filled = np.pad(_read(array), widths, function, **kwargs)
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, _shape(array), strict=True))
    outside = np.ones(filled.shape, dtype=bool)
    outside[inner] = False
    placed = P.pad_p(array, pad_width=tuple(widths), constant_values=0)
    return P.where_p(outside, filled, placed)
