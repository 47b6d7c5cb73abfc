"""Set operations on 1-D arrays: ``intersect1d``, ``union1d``, ``setdiff1d``, ``setxor1d``,
and ``sort_complex`` (which orders by value, as the set operations do).

Which elements a set operation keeps depends on the values (read with NumPy's own
algorithms); the result is then gathered from the inputs, so gradients flow to the
elements it selected (an element equal in both inputs of ``intersect1d`` is taken from
the first). Traced tensors are refused: the result's length depends on the values.

Examples:
    >>> import tapegrad as tg
    >>> x = tg.tensor([3.0, 1.0, 2.0])
    >>> tg.grad(lambda x: union1d(x, [2.0, 5.0]).sum())(x).numpy()
    array([1., 1., 1.], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import read as _read

__all__ = ["intersect1d", "setdiff1d", "setxor1d", "sort_complex", "union1d"]


def _flat(a: Any) -> tuple[Any, np.ndarray]:
    """``a`` raveled (as it is: a Tensor stays one) and its values."""
    a = _array(a)
    flat = P.reshape_p(a, shape=(-1,))
    return flat, np.asarray(_read(a)).ravel()


def _both(ar1: Any, ar2: Any) -> tuple[Any, np.ndarray, np.ndarray]:
    """The two inputs concatenated (gathered from below) and each one's values."""
    (f1, v1), (f2, v2) = _flat(ar1), _flat(ar2)
    return P.concatenate_p(f1, f2, axis=0), v1, v2


def _unique_positions(values: np.ndarray, assume_unique: bool) -> np.ndarray:
    if assume_unique:
        return np.arange(values.size)
    return np.unique(values, return_index=True)[1]


def intersect1d(
    ar1: Any, ar2: Any, assume_unique: bool = False, return_indices: bool = False
) -> Any:
    """``numpy.intersect1d``: sorted values in both inputs, gathered from ``ar1``.

    Examples:
        >>> intersect1d([1.0, 3.0, 4.0, 3.0], [3.0, 1.0, 2.0, 1.0])
        array([1., 3.])
    """
    both, v1, v2 = _both(ar1, ar2)
    values, i1, i2 = np.intersect1d(v1, v2, assume_unique=assume_unique, return_indices=True)
    if assume_unique:
        # NumPy's indices with assume_unique can point past ar1 when it has duplicates:
        # take each value from the sorted concatenation, as its own result does.
        order = np.argsort(np.concatenate([v1, v2]), kind="mergesort")
        merged = np.concatenate([v1, v2])[order]
        picks = order[:-1][merged[1:] == merged[:-1]]
    else:
        picks = i1
    result = P.getitem_p(both, index=(picks,))
    return (result, i1, i2) if return_indices else result


def union1d(ar1: Any, ar2: Any) -> Any:
    """``numpy.union1d``: sorted unique values of either input.

    Examples:
        >>> union1d([-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0])
        array([-2., -1.,  0.,  1.,  2.])
    """
    both, v1, v2 = _both(ar1, ar2)
    picks = np.unique(np.concatenate([v1, v2]), return_index=True)[1]
    return P.getitem_p(both, index=(picks,))


def setdiff1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """``numpy.setdiff1d``: values of ``ar1`` not in ``ar2`` (sorted unique unless
    ``assume_unique``).

    Examples:
        >>> setdiff1d([1.0, 2.0, 3.0, 2.0, 4.0, 1.0], [3.0, 4.0, 5.0, 6.0])
        array([1., 2.])
    """
    flat, v1 = _flat(ar1)
    v2 = np.asarray(_read(ar2)).ravel()
    positions = _unique_positions(v1, assume_unique)
    keep = positions[~np.isin(v1[positions], v2, assume_unique=True)]
    return P.getitem_p(flat, index=(keep,))


def setxor1d(ar1: Any, ar2: Any, assume_unique: bool = False) -> Any:
    """``numpy.setxor1d``: sorted values in exactly one of the inputs.

    Examples:
        >>> setxor1d([1.0, 2.0, 3.0, 2.0, 4.0], [2.0, 3.0, 5.0, 7.0, 5.0])
        array([1., 4., 5., 7.])
    """
    both, v1, v2 = _both(ar1, ar2)
    positions = np.concatenate(
        [_unique_positions(v1, assume_unique), v1.size + _unique_positions(v2, assume_unique)]
    )
    if positions.size == 0:
        return P.getitem_p(both, index=(positions,))
    values = np.concatenate([v1, v2])[positions]
    order = np.argsort(values, kind="mergesort")
    aux = values[order]
    flag = np.concatenate(([True], aux[1:] != aux[:-1], [True]))
    return P.getitem_p(both, index=(positions[order][flag[1:] & flag[:-1]],))


def sort_complex(a: Any) -> Any:
    """``numpy.sort_complex``: sorted along the last axis by real part, then imaginary
    part, as complex numbers; the order is read from the values and the elements gathered,
    so gradients return to where each element came from.

    Examples:
        >>> import numpy as np
        >>> sort_complex(np.array([5.0, 3.0, 6.0, 2.0, 1.0]))
        array([1.+0.j, 2.+0.j, 3.+0.j, 5.+0.j, 6.+0.j])
    """
    a = _array(a)
    order = np.argsort(np.asarray(_read(a)), axis=-1, kind="stable")
    if _ndim(a) == 0:
        out = a
    else:
        grids = np.indices(order.shape, sparse=True)
        out = P.getitem_p(a, index=(*grids[:-1], order))
    dtype = _dtype(a)
    if dtype.kind != "c":
        # NumPy's choice: small integers become complex64, everything else complex128.
        dtype = np.dtype(np.complex64 if dtype.char in "bhBH" else np.complex128)
        out = P.cast_p(out, dtype=dtype)
    return out
