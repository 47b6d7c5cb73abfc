"""Tensor: the array wrapper whose operators and NumPy protocols dispatch to ops.

A Tensor is immutable and holds a NumPy array (``_value``); its mutable subclass, Variable,
is in `tapegrad.core.variable`. Every operator, method and NumPy protocol call
(``np.sin(t)``, ``np.sum(t, axis=0)``) goes through a primitive or a composite of
primitives, so all of them are recorded by tapes and differentiable.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from tapegrad.core.floatx import default_complex, default_float
from tapegrad.core.tracing import current_tracer, set_tracer

_FLOAT_KINDS = "fc"

# The graph tracer of this thread (`tapegrad.core.tracing`): while `tapegrad.function`
# traces, value reads of traced tensors raise a clear error and Variable assignments
# become graph updates instead of mutating the Variable.
_hook = current_tracer


#: Install the graph tracer's hook in this thread (None removes it); returns the previous.
set_trace_hook = set_tracer
#: The graph tracer's hook of this thread (or asyncio task), or None.
trace_hook = current_tracer


def __getattr__(name: str) -> Any:
    # `_trace_hook` was a module global before it became per thread: old readers get the
    # value of their own thread.
    if name == "_trace_hook":
        return _hook()
    if name == "Variable":
        # Variable lives in `tapegrad.core.variable` (it imports this module); modules
        # written before the move import it from here: looked up by name, then kept.
        variable = importlib.import_module("tapegrad.core.variable").Variable
        globals()["Variable"] = variable
        return variable
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert data to an array; Python floats get the default float (`floatx`: float32,
    like TF and torch, unless ``tapegrad.backend.set_floatx`` or ``floatx_scope`` says
    otherwise).

    Args:
        data: Array-like data (a NumPy array is returned as it is when ``dtype`` allows).
        dtype: Optional NumPy dtype.

    Returns:
        A NumPy array.

    Examples:
        >>> default_array([1.0, 2.0]).dtype, default_array([1, 2]).dtype
        (dtype('float32'), dtype('int64'))
    """
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    if isinstance(data, np.ndarray | np.generic):
        return np.asarray(data)
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        return arr.astype(default_float(), copy=False)
    if arr.dtype == np.complex128:
        return arr.astype(default_complex(), copy=False)
    return arr


class Tensor:
    """An immutable n-d array whose operations are differentiable.

    Args:
        data: Array-like, NumPy array, or another Tensor.
        dtype: Optional NumPy dtype. Python floats default to float32; NumPy arrays keep
            their dtype.

    Examples:
        >>> import tapegrad as tg
        >>> t = tg.tensor([1.0, 2.0, 3.0])
        >>> (t * 2).numpy()
        array([2., 4., 6.], dtype=float32)
        >>> t.shape, t.dtype
        ((3,), dtype('float32'))
    """

    __slots__ = ("_value", "__weakref__")
    _value: Any
    # Make NumPy defer to our reflected operators (ndarray + Tensor -> Tensor).
    __array_priority__ = 100.0

    def __init__(self, data: Any, dtype: Any = None) -> None:
        if isinstance(data, Tensor):
            self._value = default_array(data._value, dtype)
            data._lend(self._value)
            return
        self._value = default_array(data, dtype)

    def _lend(self, array: Any) -> None:
        """A new Tensor holds ``array``, made from this one's value (a Variable, whose
        array it may be, takes note: `tapegrad.core.variable`)."""

    @staticmethod
    def _wrap(value: Any) -> Tensor:
        """Wrap an implementation's result without conversion (the hot path)."""
        t = object.__new__(Tensor)
        t._value = value
        return t

    # -- array attributes -------------------------------------------------------------
    # _value is always a NumPy array or NumPy scalar: both carry these attributes.
    @property
    def shape(self) -> tuple[int, ...]:
        return self._value.shape

    @property
    def ndim(self) -> int:
        return self._value.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._value.dtype

    @property
    def size(self) -> int:
        return int(self._value.size)

    @property
    def T(self) -> Tensor:  # noqa: N802 - NumPy's name
        return _ops.transpose_p(self, axes=None)

    @property
    def real(self) -> Tensor:
        """The real part (differentiable; NumPy's ``ndarray.real``)."""
        return _numpy().real(self)

    @property
    def imag(self) -> Any:
        """The imaginary part (differentiable; NumPy's ``ndarray.imag``)."""
        return _numpy().imag(self)

    def numpy(self) -> np.ndarray:
        """The value as a NumPy array (the stored array itself: do not mutate it)."""
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, ".numpy()")
        return np.asarray(self._value)

    def item(self) -> Any:
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, ".item()")
        return np.asarray(self._value).item()

    def tolist(self) -> Any:
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, ".tolist()")
        return np.asarray(self._value).tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, "conversion to a NumPy array")
        arr = np.asarray(self._value)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        return arr.copy() if copy else arr

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d Tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d Tensor")
        for i in range(self.shape[0]):
            yield self[i]

    def __float__(self) -> float:
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, "float()")
        return float(self._value)

    def __int__(self) -> int:
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, "int()")
        return int(self._value)

    def __index__(self) -> int:
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, "use as an index")
        return np.asarray(self._value).__index__()

    def __bool__(self) -> bool:
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, "bool() (an `if`, `while`, `and`/`or` or `not`)")
        return bool(self._value)

    def __complex__(self) -> complex:
        hook = _hook()
        if hook is not None:
            hook.refuse_value(self, "complex()")
        return complex(self._value)

    def __format__(self, spec: str) -> str:
        hook = _hook() if spec else None
        if hook is not None:
            hook.refuse_value(self, "formatting")
        return format(np.asarray(self._value), spec) if spec else str(self)

    def _traced_description(self) -> str | None:
        hook = _hook()
        if hook is None or not hook.is_traced(self):
            return None
        return f"<traced {self._value.dtype.name}{list(self._value.shape)}>"

    def __repr__(self) -> str:
        traced = self._traced_description()
        if traced:
            return f"{type(self).__name__}({traced})"
        body = np.array2string(np.asarray(self._value), separator=", ", prefix="Tensor(")
        return f"Tensor({body}, dtype={self.dtype})"

    def __str__(self) -> str:
        return self._traced_description() or str(np.asarray(self._value))

    # Tensors are used as dict keys and set members by identity (``==`` is elementwise).
    __hash__ = object.__hash__

    def __setitem__(self, key: Any, value: Any) -> None:
        raise TypeError(
            "Tensor is immutable; build a new tensor (e.g. tnp.where or x.at-style "
            "concatenation) or use a Variable's assign()"
        )

    # -- operators ----------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add_p(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add_p(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.subtract_p(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.subtract_p(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.multiply_p(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.multiply_p(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.divide_p(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.divide_p(other, self)

    def __floordiv__(self, other: Any) -> Tensor:
        return _ops.floor_divide_p(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _ops.floor_divide_p(other, self)

    def __mod__(self, other: Any) -> Tensor:
        return _ops.remainder_p(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _ops.remainder_p(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.power_p(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.power_p(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul_p(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul_p(other, self)

    def __neg__(self) -> Tensor:
        return _ops.negative_p(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _numpy().abs(self)

    def __invert__(self) -> Tensor:
        return _ops.invert_p(self)

    def __and__(self, other: Any) -> Tensor:
        return _ops.bitwise_and_p(self, other)

    def __rand__(self, other: Any) -> Tensor:
        return _ops.bitwise_and_p(other, self)

    def __or__(self, other: Any) -> Tensor:
        return _ops.bitwise_or_p(self, other)

    def __ror__(self, other: Any) -> Tensor:
        return _ops.bitwise_or_p(other, self)

    def __xor__(self, other: Any) -> Tensor:
        return _ops.bitwise_xor_p(self, other)

    def __rxor__(self, other: Any) -> Tensor:
        return _ops.bitwise_xor_p(other, self)

    def __lt__(self, other: Any) -> Tensor:
        return _ops.less_p(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.less_equal_p(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.greater_p(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.greater_equal_p(self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.equal_p(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.not_equal_p(self, other)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    # -- NumPy protocols ----------------------------------------------------------------
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if kwargs.get("out") is not None:
            raise TypeError(f"numpy.{ufunc.__name__}: out= is not supported on Tensors")
        if method == "__call__":
            func = _resolve("numpy", ufunc.__name__)
            return func(*inputs, **kwargs)
        if method == "reduce" and ufunc.__name__ in _UFUNC_REDUCTIONS:
            func = _resolve("numpy", _UFUNC_REDUCTIONS[ufunc.__name__])
            return func(*inputs, **kwargs)
        if method == "accumulate" and ufunc.__name__ in _UFUNC_ACCUMULATIONS:
            func = _resolve("numpy", _UFUNC_ACCUMULATIONS[ufunc.__name__])
            return func(*inputs, **kwargs)
        raise TypeError(
            f"numpy.{ufunc.__name__}.{method} is not supported on tapegrad Tensors "
            "(see `python -m tapegrad.numpy.coverage`)"
        )

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _resolve(func.__module__, func.__name__)(*args, **kwargs)

    # -- methods (NumPy's ndarray methods, differentiable) -------------------------------
    def reshape(self, *shape: Any, order: str = "C") -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        return _numpy().reshape(self, shape, order=order)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        return _numpy().transpose(self, axes or None)

    def astype(self, dtype: Any, copy: bool = True) -> Tensor:
        return _numpy().astype(self, dtype)

    def __getattr__(self, name: str) -> Any:
        # ndarray methods that are functions of tapegrad.numpy: t.sum(), t.dot(u), ...
        if name in _METHODS:
            func = getattr(_numpy(), name)

            def method(*args: Any, **kwargs: Any) -> Any:
                return func(self, *args, **kwargs)

            method.__name__ = name
            return method
        raise AttributeError(f"'Tensor' object has no attribute {name!r}")


_METHODS = frozenset(
    """sum mean prod max min var std cumsum cumprod argmax argmin argsort sort dot clip
    squeeze flatten ravel swapaxes repeat take diagonal trace round any all conj
    conjugate nonzero""".split()
)
_UFUNC_REDUCTIONS = {"add": "sum", "multiply": "prod", "maximum": "max", "minimum": "min"}
_UFUNC_ACCUMULATIONS = {"add": "cumsum", "multiply": "cumprod"}


def shape_of(x: Any) -> tuple[int, ...]:
    """Shape of an array, NumPy scalar, Tensor or Python number, without NumPy's dispatch."""
    try:
        return x.shape
    except AttributeError:
        return np.shape(x)


def ndim_of(x: Any) -> int:
    """Number of dimensions (see `shape_of`)."""
    try:
        return x.ndim
    except AttributeError:
        return np.ndim(x)


def dtype_of(x: Any) -> np.dtype:
    """dtype of an array, NumPy scalar or Tensor; NumPy's rule for Python numbers."""
    try:
        return x.dtype
    except AttributeError:
        return np.result_type(x)


def _numpy() -> Any:
    # The NumPy-protocol layer sits above core; it is looked up by name at call time.
    return importlib.import_module("tapegrad.numpy")


_RESOLVED: dict[tuple[str, str], Any] = {}


def _resolve(module: str, name: str) -> Any:
    """Find the tapegrad counterpart of ``numpy[.sub].name`` or raise a clear error."""
    found = _RESOLVED.get((module, name))
    if found is not None:
        return found
    found = _lookup(module, name)
    _RESOLVED[(module, name)] = found
    return found


def _lookup(module: str, name: str) -> Any:
    sub = module.removeprefix("numpy").lstrip(".")
    target = "tapegrad.numpy" + (f".{sub}" if sub else "")
    try:
        func = getattr(importlib.import_module(target), name)
    except (ImportError, AttributeError):
        func = None
    if func is None or not callable(func):
        raise TypeError(
            f"{module}.{name} is not supported on tapegrad Tensors "
            "(see `python -m tapegrad.numpy.coverage`); convert with np.asarray(t) "
            "if you do not need its gradient"
        )
    return func


class _PrimitiveTable:
    """`tapegrad.core.prims` until an operator first needs it.

    The primitives wrap their results in Tensors (they import this module), so this
    module cannot import them: like `_numpy`, the table is looked up by name, once, and
    then replaces this stand-in (operators pay nothing after their first call).
    """

    def __getattr__(self, name: str) -> Any:
        global _ops
        _ops = importlib.import_module("tapegrad.core.prims")
        return getattr(_ops, name)


_ops: Any = _PrimitiveTable()
