"""Products of matrices: ``matrix_power``, ``multi_dot``, and NumPy 2's array-API names
(``matmul``, ``outer``, ``tensordot``, ``vecdot``, ``cross``, ``trace``, ``diagonal``,
``matrix_transpose``), thin wrappers over `tapegrad.numpy`.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.linalg.matrix_power(np.array([[1.0, 1.0], [0.0, 1.0]]), 3)
    array([[1., 3.],
           [0., 1.]])
    >>> tg.grad(lambda a: tnp.linalg.trace(a @ a))(np.array([[1.0, 2.0], [3.0, 4.0]])).numpy()
    array([[2., 6.],
           [4., 8.]])
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.linalg import matrix_transpose as _mT
from tapegrad.core.tensor import Tensor
from tapegrad.numpy import _manipulation, _products
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import value_of as _value
from tapegrad.numpy._axes import axis_index
from tapegrad.numpy.linalg._checks import LinAlgError
from tapegrad.numpy.linalg._checks import check_square as _square
from tapegrad.numpy.linalg._checks import check_stacked as _stacked
from tapegrad.numpy.linalg._solvers import inv

__all__ = [
    "cross",
    "diagonal",
    "matmul",
    "matrix_power",
    "matrix_transpose",
    "multi_dot",
    "outer",
    "tensordot",
    "trace",
    "vecdot",
]


def matrix_power(a: Any, n: int) -> Any:
    """``a`` raised to the integer power ``n`` (``numpy.linalg.matrix_power``).

    Negative powers invert first; ``n == 0`` gives identities (zero gradient).
    """
    _square("matrix_power", a)
    try:
        n = operator.index(n)
    except TypeError as err:
        raise TypeError(f"matrix_power: exponent must be an integer, got {n!r}") from err
    if n == 0:
        eye = np.broadcast_to(np.eye(_shape(a)[-1], dtype=_value(a).dtype), _shape(a)).copy()
        return Tensor._wrap(eye) if isinstance(a, Tensor) else eye
    if n < 0:
        a, n = inv(a), -n
    # Binary exponentiation, in NumPy's order of products.
    z = result = None
    while n > 0:
        z = a if z is None else P.matmul_p(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else P.matmul_p(result, z)
    return result


def _chain_order(shapes: list[tuple[int, ...]]) -> np.ndarray:
    """NumPy's dynamic programme for the cheapest matrix-chain parenthesisation."""
    n = len(shapes)
    dims = [s[0] for s in shapes] + [shapes[-1][1]]
    cost = np.zeros((n, n))
    split = np.zeros((n, n), dtype=int)
    for length in range(1, n):
        for i in range(n - length):
            j = i + length
            cost[i, j] = np.inf
            for k in range(i, j):
                q = cost[i, k] + cost[k + 1, j] + dims[i] * dims[k + 1] * dims[j + 1]
                if q < cost[i, j]:
                    cost[i, j], split[i, j] = q, k
    return split


def _chain(arrays: list[Any], split: np.ndarray, i: int, j: int) -> Any:
    if i == j:
        return arrays[i]
    k = split[i, j]
    return P.matmul_p(_chain(arrays, split, i, k), _chain(arrays, split, k + 1, j))


def multi_dot(arrays: Any, *, out: Any = None) -> Any:
    """Product of two or more matrices in the cheapest order (``numpy.linalg.multi_dot``).

    The first array may be 1-D (a row vector) and the last 1-D (a column vector).
    """
    if out is not None:
        raise TypeError("tapegrad.numpy.linalg.multi_dot: out= is not supported")
    arrays = list(arrays)
    if len(arrays) < 2:
        raise ValueError("multi_dot: expecting at least two arrays")
    if len(arrays) == 2:
        return _products.dot(arrays[0], arrays[1])
    first_1d, last_1d = _ndim(arrays[0]) == 1, _ndim(arrays[-1]) == 1
    if first_1d:
        arrays[0] = P.reshape_p(arrays[0], shape=(1, -1))
    if last_1d:
        arrays[-1] = P.reshape_p(arrays[-1], shape=(-1, 1))
    shapes = [_shape(a) for a in arrays]
    if any(len(s) != 2 for s in shapes):
        raise LinAlgError(f"multi_dot: arrays must be 2-D (ends may be 1-D), got {shapes}")
    result = _chain(arrays, _chain_order(shapes), 0, len(arrays) - 1)
    if first_1d and last_1d:
        return P.getitem_p(result, index=(0, 0))
    if first_1d or last_1d:
        return P.reshape_p(result, shape=(-1,))
    return result


def matmul(x1: Any, x2: Any, /) -> Any:
    """Matrix product (``numpy.linalg.matmul``)."""
    return _products.matmul(x1, x2)


def outer(x1: Any, x2: Any, /) -> Any:
    """Outer product of two vectors (``numpy.linalg.outer``)."""
    if _ndim(x1) != 1 or _ndim(x2) != 1:
        raise ValueError(
            f"linalg.outer: inputs must be 1-D, got shapes {_shape(x1)} and {_shape(x2)}"
        )
    return _products.outer(x1, x2)


def tensordot(x1: Any, x2: Any, /, *, axes: Any = 2) -> Any:
    """Tensor dot product (``numpy.linalg.tensordot``)."""
    return _products.tensordot(x1, x2, axes=axes)


def vecdot(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Dot product of vectors along ``axis``, broadcasting (``numpy.linalg.vecdot``)."""
    product = x1 * x2
    nd = _ndim(product)
    return P.sum_p(product, axis=(axis_index(axis, nd, "vecdot"),), keepdims=False)


def cross(x1: Any, x2: Any, /, *, axis: int = -1) -> Any:
    """Cross product of 3-vectors (``numpy.linalg.cross``)."""
    if axis != -1:
        raise NotImplementedError("tapegrad.numpy.linalg.cross: only axis=-1 is supported")
    return _products.cross(x1, x2)


def trace(x: Any, /, *, offset: int = 0, dtype: Any = None) -> Any:
    """Sum of the diagonals of the last two axes (``numpy.linalg.trace``)."""
    out = _manipulation.trace(x, offset, -2, -1)
    return out if dtype is None else P.cast_p(out, dtype=np.dtype(dtype))


def diagonal(x: Any, /, *, offset: int = 0) -> Any:
    """Diagonals of the last two axes (``numpy.linalg.diagonal``)."""
    return _manipulation.diagonal(x, offset, -2, -1)


def matrix_transpose(x: Any, /) -> Any:
    """Swap the last two axes (``numpy.linalg.matrix_transpose``)."""
    _stacked("matrix_transpose", x)
    return _mT(x)
