"""NumPy's in-place writers as functional updates (JAX's design), and array conversions.

``fill_diagonal``, ``put``, ``put_along_axis``, ``putmask``, ``place`` and ``copyto`` write
into their first argument in NumPy. Tensors are immutable, so on a Tensor they take
``inplace=False`` and return the updated Tensor, differentiable in the array and in the
written values (built from ``where`` and a gather: overwritten entries get no gradient,
each written value the gradient of where it landed). Called NumPy's way on a Tensor they
raise a TypeError pointing to that form, as ``jax.numpy`` does; on NumPy arrays they are
NumPy's own (mutate, return None), or work on a copy with ``inplace=False``.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> a = tg.tensor(np.zeros((2, 2)))
    >>> tnp.fill_diagonal(a, tg.tensor(3.0), inplace=False).numpy()
    array([[3., 0.],
           [0., 3.]])
    >>> tg.grad(lambda v: tnp.put(a, [0, 3], v, inplace=False).sum())(tg.tensor([1.0, 2.0]))
    Tensor([1., 1.], dtype=float32)
    >>> b = np.zeros(3)
    >>> tnp.put(b, [1], 5.0)
    >>> b
    array([0., 5., 0.])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import dtype_of, read, shape_of
from tapegrad.numpy._creation import asarray

__all__ = [
    "array_equiv",
    "asanyarray",
    "ascontiguousarray",
    "copyto",
    "fill_diagonal",
    "place",
    "put",
    "put_along_axis",
    "putmask",
    "require",
]


def _functional(name: str, target: Any, inplace: bool, *values: Any) -> bool:
    """Whether to build a new Tensor (else NumPy's in-place function runs); refuses an
    in-place write into a Tensor."""
    if isinstance(target, Tensor):
        if inplace:
            raise TypeError(
                f"tapegrad.numpy.{name}: Tensors are immutable, so {name} cannot write into "
                f"one in place; use the functional form {name}(..., inplace=False), which "
                f"returns the updated Tensor (as jax.numpy.{name})"
            )
        return True
    return not inplace and any(isinstance(v, Tensor) for v in values)


def _on_copy(func: Any, target: Any, *args: Any, **kwargs: Any) -> np.ndarray:
    """NumPy's in-place ``func`` run on a copy of ``target``, which is returned."""
    out = np.array(target, copy=True)
    func(out, *args, **kwargs)
    return out


def _as_dtype(x: Any, dtype: np.dtype) -> Any:
    if isinstance(x, Tensor):
        return x if x.dtype == dtype else P.cast_p(x, dtype=dtype)
    return np.asarray(x, dtype)


def _write_flat(a: Any, positions: np.ndarray, values: Any, source: np.ndarray) -> Any:
    """``a`` with ``a.flat[positions[k]] = values.flat[source[k]]`` (a later write to the
    same position wins, as in NumPy), as ``where`` over a gather of ``values``."""
    shape, dtype = shape_of(a), dtype_of(a)
    size = int(np.prod(shape, dtype=np.int64))
    written = np.zeros(size, bool)
    written[positions] = True
    # For each position of a, which value lands there (later writes overwrite earlier).
    which = np.zeros(size, np.intp)
    which[positions] = source
    flat_values = P.reshape_p(_as_dtype(values, dtype), shape=(-1,))
    gathered = P.take_p(flat_values, which, axis=0)
    out = P.where_p(written, gathered, P.reshape_p(a, shape=(-1,)))
    return P.reshape_p(out, shape=tuple(shape))


def fill_diagonal(a: Any, val: Any, wrap: bool = False, *, inplace: bool = True) -> Any:
    """``numpy.fill_diagonal``; ``inplace=False`` returns the new array (JAX's form).

    Args:
        a: An array of at least 2 dimensions (all equal beyond 2-D).
        val: The value(s) written along the diagonal, repeated as needed.
        wrap: For tall matrices, start again below the diagonal every N+1 rows.
        inplace: ``True`` (NumPy's way) mutates a NumPy array; a Tensor needs ``False``.

    Returns:
        None in place; the updated Tensor (or array) otherwise.

    Examples:
        >>> import tapegrad as tg
        >>> fill_diagonal(tg.tensor([[1.0, 2.0], [3.0, 4.0]]), 0.0, inplace=False)
        Tensor([[0., 2.],
                [3., 0.]], dtype=float32)
    """
    if not _functional("fill_diagonal", a, inplace, val):
        if inplace:
            return np.fill_diagonal(a, val, wrap)
        return _on_copy(np.fill_diagonal, a, read(val), wrap)
    shape = shape_of(a)
    if len(shape) < 2:
        raise ValueError("fill_diagonal: array must be at least 2-d")
    if len(shape) == 2:
        step = shape[1] + 1
        end = None if wrap else shape[1] * shape[1]
    else:
        if len(set(shape)) != 1:
            raise ValueError("fill_diagonal: all dimensions of input must be of equal length")
        step = 1 + int(np.cumprod(shape[:-1]).sum())
        end = None
    positions = np.arange(int(np.prod(shape, dtype=np.int64)))[:end:step]
    return _write_flat(a, positions, val, _cycled(len(positions), val))


def _cycled(n: int, values: Any) -> np.ndarray:
    """Which of ``values`` (flattened, repeated as needed) goes to each of ``n`` writes."""
    size = int(np.prod(shape_of(values), dtype=np.int64))
    if size == 0:
        if n:
            raise ValueError("cannot write from an empty array of values")
        return np.zeros(0, np.intp)
    return np.arange(n) % size


def _safe_values(name: str, values: Any, dtype: np.dtype) -> None:
    """NumPy's ``putmask``/``place`` cast their values only by the 'safe' rule."""
    if isinstance(values, bool | int | float | complex | list | tuple):
        return  # Python numbers (and lists of them) are converted to the array's dtype
    if not np.can_cast(dtype_of(values), dtype, "safe"):
        raise TypeError(
            f"{name}: cannot cast array data from {dtype_of(values)} to {dtype} according "
            "to the rule 'safe'"
        )


def put(a: Any, ind: Any, v: Any, mode: str = "raise", *, inplace: bool = True) -> Any:
    """``numpy.put`` (``a.flat[ind] = v``); ``inplace=False`` returns the new array.

    Examples:
        >>> import tapegrad as tg
        >>> put(tg.tensor([1.0, 2.0, 3.0]), [0, -1], [9.0, 8.0], inplace=False)
        Tensor([9., 2., 8.], dtype=float32)
    """
    if mode not in ("raise", "wrap", "clip"):
        raise ValueError(f"put: clipmode must be one of 'clip', 'raise', or 'wrap', got {mode!r}")
    if not _functional("put", a, inplace, v):
        if inplace:
            return np.put(a, read(ind), v, mode)
        return _on_copy(np.put, a, read(ind), read(v), mode)
    size = int(np.prod(shape_of(a), dtype=np.int64))
    positions = np.asarray(read(ind), dtype=np.intp).ravel()
    if mode == "raise":
        bad = (positions < -size) | (positions >= size)
        if bad.any():
            raise IndexError(f"put: index {positions[bad][0]} is out of bounds for size {size}")
        positions = positions % size if size else positions
    elif mode == "wrap":
        positions = positions % size
    else:
        positions = np.clip(positions, 0, size - 1)
    return _write_flat(a, positions, v, _cycled(len(positions), v))


def put_along_axis(
    arr: Any, indices: Any, values: Any, axis: int | None, *, inplace: bool = True
) -> Any:
    """``numpy.put_along_axis``; ``inplace=False`` returns the new array.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor([[1.0, 5.0], [7.0, 2.0]])
        >>> put_along_axis(x, [[1], [0]], 0.0, axis=1, inplace=False)
        Tensor([[1., 0.],
                [0., 2.]], dtype=float32)
    """
    if not _functional("put_along_axis", arr, inplace, values):
        if inplace:
            return np.put_along_axis(arr, read(indices), values, axis)
        return _on_copy(np.put_along_axis, arr, read(indices), read(values), axis)
    shape = tuple(shape_of(arr))
    index = np.asarray(read(indices))
    if index.dtype.kind not in "iu":
        raise IndexError("put_along_axis: `indices` must be an integer array")
    # NumPy's positions: the flat index of every (broadcast) index, by a probe of arange.
    probe = np.arange(int(np.prod(shape, dtype=np.int64))).reshape(shape)
    if axis is None:
        taken = np.take_along_axis(probe.ravel(), index, 0)
    else:
        taken = np.take_along_axis(probe, index, axis)
    full = np.broadcast_shapes(taken.shape, shape_of(values))
    positions = np.broadcast_to(taken, full).ravel()
    source = np.arange(positions.size)
    spread = P.broadcast_to_p(_as_dtype(values, dtype_of(arr)), shape=full)
    return _write_flat(arr, positions, spread, source)


def putmask(a: Any, mask: Any, values: Any, *, inplace: bool = True) -> Any:
    """``numpy.putmask`` (``a.flat[n] = values[n % len(values)]`` where the mask holds);
    ``inplace=False`` returns the new array.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor([1.0, -2.0, 3.0, -4.0])
        >>> putmask(x, x < 0, [10.0, 20.0], inplace=False)
        Tensor([ 1., 20.,  3., 20.], dtype=float32)
    """
    if not _functional("putmask", a, inplace, values):
        if inplace:
            return np.putmask(a, read(mask), values)
        return _on_copy(np.putmask, a, read(mask), read(values))
    shape = tuple(shape_of(a))
    if tuple(shape_of(mask)) != shape:
        raise ValueError("putmask: mask and data must be the same size")
    _safe_values("putmask", values, dtype_of(a))
    size = int(np.prod(shape, dtype=np.int64))
    flat_values = P.reshape_p(_as_dtype(values, dtype_of(a)), shape=(-1,))
    spread = P.reshape_p(P.take_p(flat_values, _cycled(size, values), axis=0), shape=shape)
    if isinstance(mask, Tensor):
        # The mask as an input of the op: traced graphs select by the values they run on.
        condition = mask if mask.dtype == bool else P.not_equal_p(mask, 0)
    else:
        condition = np.asarray(mask).astype(bool)
    return P.where_p(condition, spread, a)


def place(arr: Any, mask: Any, vals: Any, *, inplace: bool = True) -> Any:
    """``numpy.place`` (the k-th True of ``mask`` gets ``vals[k % len(vals)]``);
    ``inplace=False`` returns the new array.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor([1.0, -2.0, 3.0, -4.0])
        >>> place(x, [False, True, False, True], [10.0, 20.0], inplace=False)
        Tensor([ 1., 10.,  3., 20.], dtype=float32)
    """
    if not _functional("place", arr, inplace, vals):
        if inplace:
            return np.place(arr, read(mask), vals)
        return _on_copy(np.place, arr, read(mask), read(vals))
    if tuple(shape_of(mask)) != tuple(shape_of(arr)):
        raise ValueError("place: mask and data must be the same size")
    _safe_values("place", vals, dtype_of(arr))
    count = int(np.prod(shape_of(vals), dtype=np.int64))
    if not isinstance(mask, Tensor):
        chosen = np.flatnonzero(np.asarray(mask))
        if chosen.size and not count:
            raise ValueError("place: cannot insert from an empty array")
        return _write_flat(arr, chosen, vals, _cycled(chosen.size, vals))
    if not count:
        raise ValueError("place: cannot insert from an empty array")
    # A computed mask as an input of the op (traced ones too): the k-th True takes value
    # k % count, k counted by a cumulative sum of the flat mask.
    flat_mask = P.reshape_p(mask if mask.dtype == bool else P.not_equal_p(mask, 0), shape=(-1,))
    rank = P.cumsum_p(P.cast_p(flat_mask, dtype=np.dtype(np.intp)), axis=0) - 1
    which = P.remainder_p(P.maximum_p(rank, 0), count)
    flat_values = P.reshape_p(_as_dtype(vals, dtype_of(arr)), shape=(-1,))
    out = P.where_p(flat_mask, P.take_p(flat_values, which, axis=0), P.reshape_p(arr, shape=(-1,)))
    return P.reshape_p(out, shape=tuple(shape_of(arr)))


def copyto(
    dst: Any, src: Any, casting: str = "same_kind", where: Any = True, *, inplace: bool = True
) -> Any:
    """``numpy.copyto`` (``dst[...] = src`` where ``where`` holds, broadcast);
    ``inplace=False`` returns the new array.

    Examples:
        >>> import tapegrad as tg
        >>> copyto(tg.tensor([1.0, 2.0]), 5.0, where=[True, False], inplace=False)
        Tensor([5., 2.], dtype=float32)
    """
    if not _functional("copyto", dst, inplace, src):
        if inplace:
            return np.copyto(dst, src, casting, read(where))
        return _on_copy(np.copyto, dst, read(src), casting, read(where))
    dtype = dtype_of(dst)
    source = src if isinstance(src, Tensor) else np.asarray(src)
    if not isinstance(src, int | float | complex | bool) and not np.can_cast(
        dtype_of(source), dtype, casting
    ):
        raise TypeError(
            f"copyto: cannot cast array data from {dtype_of(source)} to {dtype} "
            f"according to the rule {casting!r}"
        )
    spread = P.broadcast_to_p(_as_dtype(source, dtype), shape=tuple(shape_of(dst)))
    if isinstance(where, Tensor):
        condition = where if where.dtype == bool else P.not_equal_p(where, 0)
    else:
        condition = np.asarray(where).astype(bool)
    if condition.ndim == 0 and not isinstance(condition, Tensor):
        return spread if bool(condition) else dst
    return P.where_p(condition, spread, dst)


def asanyarray(a: Any, dtype: Any = None, order: Any = None, *, like: Any = None) -> Any:
    """``numpy.asanyarray``: Tensors pass through (cast if ``dtype`` differs)."""
    return asarray(a, dtype)


def ascontiguousarray(a: Any, dtype: Any = None, *, like: Any = None) -> Any:
    """``numpy.ascontiguousarray``: as `asarray`, at least 1-D (layout is NumPy's
    concern, not a Tensor's)."""
    out = asarray(a, dtype)
    return P.reshape_p(out, shape=(1,)) if out.ndim == 0 else out


_REQUIREMENTS = {
    "C": "C", "C_CONTIGUOUS": "C", "CONTIGUOUS": "C",
    "F": "F", "F_CONTIGUOUS": "F", "FORTRAN": "F",
    "A": "A", "ALIGNED": "A",
    "W": "W", "WRITEABLE": "W",
    "O": "O", "OWNDATA": "O",
    "E": "E", "ENSUREARRAY": "E",
}  # fmt: skip


def require(a: Any, dtype: Any = None, requirements: Any = None, *, like: Any = None) -> Any:
    """``numpy.require``: NumPy's on arrays; a Tensor is cast to ``dtype`` (its memory
    flags are NumPy's concern, except ``'W'``: a Tensor is never writeable).

    Examples:
        >>> import tapegrad as tg
        >>> require(tg.tensor([1, 2]), "float32", ["C", "A"]).dtype
        dtype('float32')
    """
    if not isinstance(a, Tensor):
        return np.require(a, dtype, requirements)
    flags = [requirements] if isinstance(requirements, str) else list(requirements or ())
    names = {_REQUIREMENTS[str(flag).upper()] for flag in flags}
    if "W" in names:
        raise ValueError("require: a Tensor is immutable, so it cannot be made writeable")
    if {"C", "F"} <= names:
        raise ValueError("require: cannot specify both 'C' and 'F' order")
    return asarray(a, dtype)


def array_equiv(a1: Any, a2: Any) -> bool:
    """``numpy.array_equiv`` (a Python bool: same values after broadcasting)."""
    return bool(np.array_equiv(read(a1), read(a2)))
