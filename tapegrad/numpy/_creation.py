"""Array creation: results are constants (no gradient), as Tensors."""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.tensor import Tensor


def _value(x: Any) -> Any:
    return getattr(x, "_value", x)


def array(object: Any, dtype: Any = None, copy: bool = True, **kwargs: Any) -> Tensor:  # noqa: A002
    """A new Tensor (Python floats default to float32; arrays keep their dtype).

    A list that contains Tensors is stacked differentiably.
    """
    if isinstance(object, list | tuple) and _contains_tensor(object):
        from tapegrad.numpy._manipulation import stack

        out = stack([array(o) if isinstance(o, list | tuple) else o for o in object])
        return out if dtype is None else out.astype(dtype)
    return Tensor(_value(object), dtype)


def _contains_tensor(seq: Any) -> bool:
    return any(isinstance(o, Tensor) or (isinstance(o, list | tuple) and _contains_tensor(o))
               for o in seq)


def asarray(a: Any, dtype: Any = None, **kwargs: Any) -> Any:
    """Tensors pass through (cast if ``dtype`` differs); anything else becomes a Tensor."""
    if isinstance(a, Tensor):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return array(a, dtype)


def zeros(shape: Any, dtype: Any = np.float32, **kwargs: Any) -> Tensor:
    """Zeros (float32 by default)."""
    return Tensor._wrap(np.zeros(shape, dtype))


def ones(shape: Any, dtype: Any = np.float32, **kwargs: Any) -> Tensor:
    """Ones (float32 by default)."""
    return Tensor._wrap(np.ones(shape, dtype))


def full(shape: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """An array filled with ``fill_value``."""
    return Tensor(np.full(shape, _value(fill_value), dtype))


def empty(shape: Any, dtype: Any = np.float32, **kwargs: Any) -> Tensor:
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
    return Tensor._wrap(np.full_like(_value(a), _value(fill_value), dtype=dtype))


def empty_like(a: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Zeros with ``a``'s shape and dtype."""
    return zeros_like(a, dtype)


def arange(*args: Any, **kwargs: Any) -> Tensor:
    """``numpy.arange`` as a Tensor."""
    return Tensor._wrap(np.arange(*[_value(a) for a in args], **kwargs))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, **kwargs: Any) -> Any:
    """``numpy.linspace`` as a Tensor (float32 unless a dtype is given)."""
    out = np.linspace(_value(start), _value(stop), num, endpoint, **kwargs)
    if isinstance(out, tuple):
        return Tensor(out[0]), out[1]
    return Tensor(out, kwargs.get("dtype") or np.float32)


def logspace(start: Any, stop: Any, num: int = 50, **kwargs: Any) -> Tensor:
    """``numpy.logspace`` as a Tensor."""
    return Tensor(np.logspace(_value(start), _value(stop), num, **kwargs), np.float32)


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = np.float32,  # noqa: N803
        **kwargs: Any) -> Tensor:
    """Identity-like matrix (float32 by default)."""
    return Tensor._wrap(np.eye(N, M, k, dtype=dtype))


def identity(n: int, dtype: Any = np.float32, **kwargs: Any) -> Tensor:
    """Identity matrix (float32 by default)."""
    return Tensor._wrap(np.identity(n, dtype=dtype))


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = np.float32,  # noqa: N803
        **kwargs: Any) -> Tensor:
    """Lower-triangular ones."""
    return Tensor._wrap(np.tri(N, M, k, dtype=dtype))


def meshgrid(*xi: Any, **kwargs: Any) -> list[Tensor]:
    """``numpy.meshgrid`` of constants."""
    return [Tensor._wrap(g) for g in np.meshgrid(*[_value(x) for x in xi], **kwargs)]


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
    return bool(np.allclose(_value(a), _value(b), rtol, atol, equal_nan))


def isclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Any:
    """``numpy.isclose`` (boolean, no gradient)."""
    return np.isclose(_value(a), _value(b), rtol, atol, equal_nan)


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> bool:
    """``numpy.array_equal`` (a Python bool)."""
    return bool(np.array_equal(_value(a1), _value(a2), equal_nan=equal_nan))


__all__ = [
    "allclose", "arange", "array", "array_equal", "asarray", "empty", "empty_like", "eye",
    "full", "full_like", "identity", "indices", "isclose", "linspace", "logspace", "meshgrid",
    "ones", "ones_like", "result_type", "tri", "zeros", "zeros_like",
]
