"""Keras's signatures for NumPy-named ops whose Keras versions differ from NumPy's:
``prod(x, axis, keepdims, dtype)`` (``keepdims`` third, as Keras), ``take_along_axis``
(``axis=None`` flattens, as Keras), ``bincount(..., sparse=False)`` and the creation
functions whose ``dtype=None`` means floatx (``zeros``, ``ones``, ``empty``, ``eye``,
``identity``, ``tri``). Each calls its `tapegrad.numpy` function.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.prod(tg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, True).numpy()
    array([[ 2.],
           [12.]], dtype=float32)
"""

from __future__ import annotations

from typing import Any

from tapegrad import numpy as tnp
from tapegrad.core.tensor import Tensor
from tapegrad.ops.core import floatx_dtype, standardize_dtype

__all__ = [
    "bincount",
    "empty",
    "eye",
    "identity",
    "ones",
    "prod",
    "take_along_axis",
    "tri",
    "zeros",
]


def _dtype(dtype: Any, op: str) -> Any:
    return floatx_dtype() if dtype is None else standardize_dtype(dtype, op)


def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> Any:
    """Product over ``axis`` (Keras's argument order: ``keepdims`` before ``dtype``).

    Examples:
        >>> import tapegrad as tg
        >>> float(tg.ops.prod(tg.tensor([2.0, 3.0])))
        6.0
    """
    if isinstance(axis, list):
        axis = tuple(axis)
    return tnp.prod(x, axis=axis, keepdims=keepdims, dtype=dtype)


def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> Any:
    """``numpy.take_along_axis``; ``axis=None`` (Keras's default) works on the flattened
    ``x`` and ``indices``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.take_along_axis(tg.tensor([[5.0, 6.0], [7.0, 8.0]]), tg.tensor([3, 0])).numpy()
        array([8., 5.], dtype=float32)
    """
    if axis is None:
        flat = tnp.reshape(x, (-1,))
        return tnp.take_along_axis(flat, tnp.reshape(indices, (-1,)), axis=0)
    return tnp.take_along_axis(x, indices, axis=axis)


def bincount(x: Any, weights: Any = None, minlength: int = 0, sparse: bool = False) -> Any:
    """Counts (or summed ``weights``) of each non-negative integer in ``x``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.bincount(tg.tensor([0, 2, 2])).numpy()
        array([1, 0, 2])
    """
    if sparse:
        raise ValueError("ops.bincount: sparse=True is not supported (no sparse tensors)")
    counts = tnp.bincount(x, weights=weights, minlength=minlength)
    return counts if isinstance(counts, Tensor) else Tensor(counts)


def zeros(shape: Any, dtype: Any = None) -> Tensor:
    """Zeros of ``shape`` (floatx unless ``dtype`` says otherwise).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.zeros((2,)).numpy()
        array([0., 0.], dtype=float32)
    """
    return tnp.zeros(shape, dtype=_dtype(dtype, "zeros"))


def ones(shape: Any, dtype: Any = None) -> Tensor:
    """Ones of ``shape`` (floatx unless ``dtype`` says otherwise).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.ones((2,), dtype="int32").numpy()
        array([1, 1], dtype=int32)
    """
    return tnp.ones(shape, dtype=_dtype(dtype, "ones"))


def empty(shape: Any, dtype: Any = None) -> Tensor:
    """An uninitialized array of ``shape`` (floatx unless ``dtype`` says otherwise).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.empty((2, 3)).shape
        (2, 3)
    """
    return tnp.empty(shape, dtype=_dtype(dtype, "empty"))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:  # noqa: N803
    """Ones on the ``k``-th diagonal of an ``N x M`` matrix (floatx by default).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.eye(2).numpy()
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    return tnp.eye(N, M, k=k, dtype=_dtype(dtype, "eye"))


def identity(n: int, dtype: Any = None) -> Tensor:
    """The ``n x n`` identity matrix (floatx by default).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.identity(2).dtype
        dtype('float32')
    """
    return tnp.identity(n, dtype=_dtype(dtype, "identity"))


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Tensor:  # noqa: N803
    """Ones at and below the ``k``-th diagonal (floatx by default).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.tri(2).numpy()
        array([[1., 0.],
               [1., 1.]], dtype=float32)
    """
    return tnp.tri(N, M, k=k, dtype=_dtype(dtype, "tri"))
