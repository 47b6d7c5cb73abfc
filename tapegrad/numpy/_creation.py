"""Array creation: results are constants (no gradient), as Tensors.

Values taken from a Tensor (``array(t)``, a Tensor ``fill_value``) are copied by
primitives with no gradient, so a traced graph copies the values it runs on; arguments
that decide a shape (``arange``'s bounds) or a Python value (``allclose``) are read,
which refuses traced tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.floatx import default_float
from tapegrad.core.tensor import Tensor, Variable
from tapegrad.core.tracing import is_traced
from tapegrad.numpy._arguments import read as _read
from tapegrad.numpy._arguments import unwrap as _value
from tapegrad.numpy._manipulation import stack


def _filled(shape: Any, fill: Tensor, dtype: Any) -> Any:
    """``fill`` broadcast to ``shape`` in ``dtype``: a constant (no gradient), computed
    when the op runs."""
    shape = (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)
    out = P.stop_gradient_p(fill)
    if dtype is not None and np.dtype(dtype) != out.dtype:
        out = P.cast_p(out, dtype=np.dtype(dtype))
    return P.broadcast_to_p(out, shape=shape)


def array(object: Any, dtype: Any = None, copy: bool = True, **kwargs: Any) -> Tensor:  # noqa: A002
    """A new Tensor (Python floats default to float32; arrays keep their dtype).

    A list that contains Tensors is stacked differentiably.
    """
    if isinstance(object, list | tuple) and _contains_tensor(object):
        out = stack([array(o) if isinstance(o, list | tuple) else o for o in object])
        return out if dtype is None else out.astype(dtype)
    if isinstance(object, Variable) and not is_traced(object):
        # A Variable's array may later be updated in place (compiled steps): copy it now.
        return Tensor(np.array(object._value, copy=True), dtype)
    if isinstance(object, Tensor):
        # A copy without gradient, taken when the op runs.
        out = P.stop_gradient_p(object)
        return out if dtype is None or np.dtype(dtype) == out.dtype else out.astype(dtype)
    return Tensor(object, dtype)


def _float(dtype: Any) -> Any:
    """``dtype``, or floatx when None (NumPy's float64 is tapegrad's `set_floatx` choice)."""
    return default_float() if dtype is None else dtype


def _contains_tensor(seq: Any) -> bool:
    return any(
        isinstance(o, Tensor) or (isinstance(o, list | tuple) and _contains_tensor(o)) for o in seq
    )


def asarray(a: Any, dtype: Any = None, **kwargs: Any) -> Any:
    """Tensors pass through (cast if ``dtype`` differs); anything else becomes a Tensor."""
    if isinstance(a, Tensor):
        return a if dtype is None or np.dtype(dtype) == a.dtype else a.astype(dtype)
    return array(a, dtype)


def zeros(shape: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Zeros (floatx by default: float32, or float64 after ``set_floatx("float64")``)."""
    return Tensor._wrap(np.zeros(shape, _float(dtype)))


def ones(shape: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Ones (floatx by default)."""
    return Tensor._wrap(np.ones(shape, _float(dtype)))


def full(shape: Any, fill_value: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """An array filled with ``fill_value``."""
    if isinstance(fill_value, Tensor):
        return _filled(shape, fill_value, dtype)
    return Tensor(np.full(shape, fill_value, dtype))


def empty(shape: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
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
    if isinstance(fill_value, Tensor):
        raw = _value(a)
        return _filled(np.shape(raw), fill_value, np.result_type(raw) if dtype is None else dtype)
    return Tensor._wrap(np.full_like(_value(a), fill_value, dtype=dtype))


def empty_like(a: Any, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Zeros with ``a``'s shape and dtype."""
    return zeros_like(a, dtype)


def arange(*args: Any, **kwargs: Any) -> Tensor:
    """``numpy.arange`` as a Tensor."""
    return Tensor._wrap(np.arange(*[_read(a) for a in args], **kwargs))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, **kwargs: Any) -> Any:
    """``numpy.linspace`` as a Tensor (float32 unless a dtype is given)."""
    out = np.linspace(_read(start), _read(stop), num, endpoint, **kwargs)
    if isinstance(out, tuple):
        return Tensor(out[0]), out[1]
    return Tensor(out, _float(kwargs.get("dtype")))


def logspace(start: Any, stop: Any, num: int = 50, **kwargs: Any) -> Tensor:
    """``numpy.logspace`` as a Tensor."""
    return Tensor(np.logspace(_read(start), _read(stop), num, **kwargs), default_float())


def eye(
    N: int,  # noqa: N803
    M: int | None = None,  # noqa: N803
    k: int = 0,
    dtype: Any = None,
    **kwargs: Any,
) -> Tensor:
    """Identity-like matrix (floatx by default)."""
    return Tensor._wrap(np.eye(N, M, k, dtype=_float(dtype)))


def identity(n: int, dtype: Any = None, **kwargs: Any) -> Tensor:
    """Identity matrix (floatx by default)."""
    return Tensor._wrap(np.identity(n, dtype=_float(dtype)))


def tri(
    N: int,  # noqa: N803
    M: int | None = None,  # noqa: N803
    k: int = 0,
    dtype: Any = None,
    **kwargs: Any,
) -> Tensor:
    """Lower-triangular ones (floatx by default)."""
    return Tensor._wrap(np.tri(N, M, k, dtype=_float(dtype)))


def meshgrid(*xi: Any, **kwargs: Any) -> list[Tensor]:
    """``numpy.meshgrid`` of constants."""
    return [Tensor._wrap(g) for g in np.meshgrid(*[_read(x) for x in xi], **kwargs)]


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
    return bool(np.allclose(_read(a), _read(b), rtol, atol, equal_nan))


def isclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> Any:
    """``numpy.isclose`` (boolean, no gradient); with Tensors, NumPy's formula in primitives."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        return np.isclose(a, b, rtol, atol, equal_nan)
    x, y = (v if isinstance(v, int | float | complex | Tensor) else np.asarray(v) for v in (a, b))
    if isinstance(y, int):
        y = float(y)
    elif not isinstance(y, float | complex) and np.result_type(_value(y)).kind != "m":
        dtype = np.result_type(_value(y), 1.0)
        if np.result_type(_value(y)) != dtype:
            y = P.cast_p(y, dtype=dtype)
    close = P.less_equal_p(P.abs_p(x - y), atol + rtol * P.abs_p(y))
    result = P.logical_or_p(P.logical_and_p(close, P.isfinite_p(y)), P.equal_p(x, y))
    if equal_nan:
        result = P.logical_or_p(result, P.logical_and_p(P.isnan_p(x), P.isnan_p(y)))
    return result


def array_equal(a1: Any, a2: Any, equal_nan: bool = False) -> bool:
    """``numpy.array_equal`` (a Python bool)."""
    return bool(np.array_equal(_read(a1), _read(a2), equal_nan=equal_nan))


__all__ = [
    "allclose",
    "arange",
    "array",
    "array_equal",
    "asarray",
    "empty",
    "empty_like",
    "eye",
    "full",
    "full_like",
    "identity",
    "indices",
    "isclose",
    "linspace",
    "logspace",
    "meshgrid",
    "ones",
    "ones_like",
    "result_type",
    "tri",
    "zeros",
    "zeros_like",
]
