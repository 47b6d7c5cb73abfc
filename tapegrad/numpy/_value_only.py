"""Value-only utilities: indices, booleans and integers, with no gradient (``isin``,
``unique``, ``lexsort``, ``unravel_index``, ``ix_``, ``signbit``, ``gcd``, ``iscomplex``, ...).

Results of a fixed shape are computed with primitives, so that traced graphs compute them
from the values they run on. Results whose shape depends on the values (``unique``, ...)
read them: a traced tensor has none yet, so it is refused (`TracerValueError`).

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.isin(tg.tensor([1, 2, 3]), np.array([2, 3])).numpy()
    array([False,  True,  True])
    >>> [c.numpy() for c in tnp.unravel_index(tg.tensor([5, 7]), (2, 4))]
    [array([1, 1]), array([1, 3])]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import any_p, argsort_p
from tapegrad.core.tensor import Tensor
from tapegrad.core.tracing import is_traced
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import read as _read
from tapegrad.numpy._arguments import read_tree as _read_tree
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import unwrap_tree as _raw_tree
from tapegrad.numpy._indexing import take_along_axis
from tapegrad.numpy._rearranging import unstack

__all__ = [
    "bitwise_left_shift",
    "bitwise_right_shift",
    "broadcast_shapes",
    "diag_indices",
    "diag_indices_from",
    "gcd",
    "iscomplex",
    "iscomplexobj",
    "isin",
    "isneginf",
    "isposinf",
    "isreal",
    "isrealobj",
    "isscalar",
    "iterable",
    "ix_",
    "lcm",
    "left_shift",
    "lexsort",
    "ravel_multi_index",
    "right_shift",
    "signbit",
    "tril_indices",
    "tril_indices_from",
    "triu_indices",
    "triu_indices_from",
    "unique",
    "unique_all",
    "unique_counts",
    "unique_inverse",
    "unique_values",
    "unravel_index",
]


def _on_values(func: Callable[..., Any], what: str) -> Callable[..., Any]:
    """``func`` applied to the values of its (possibly nested) arguments."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*_read_tree(args), **{k: _read_tree(v) for k, v in kwargs.items()})

    wrapper.__name__ = wrapper.__qualname__ = func.__name__
    wrapper.__doc__ = (
        f"``numpy.{func.__name__}`` on the values ({what}, no gradient; the shape depends "
        "on them, so traced tensors are refused)."
    )
    wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]  (all to NumPy)
    return wrapper


def _on_shapes(func: Callable[..., Any], what: str) -> Callable[..., Any]:
    """``func`` of arguments whose shapes and dtypes only matter (never their values)."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*_raw_tree(args), **kwargs)

    wrapper.__name__ = wrapper.__qualname__ = func.__name__
    wrapper.__doc__ = f"``numpy.{func.__name__}`` ({what}, from shapes and dtypes)."
    wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]  (all to NumPy)
    return wrapper


def _elementwise_values(prim: P.Primitive, name: str, what: str) -> Callable[..., Any]:
    """The non-differentiable primitive ``prim`` as ``numpy.<name>``."""

    def wrapper(x1: Any, x2: Any, /) -> Any:
        return prim(x1, x2)

    wrapper.__name__ = wrapper.__qualname__ = name
    wrapper.__doc__ = f"``numpy.{name}`` ({what}, no gradient)."
    return wrapper


def signbit(x: Any, /) -> Any:
    """``numpy.signbit`` (booleans, no gradient)."""
    return P.signbit_p(x)


def isposinf(x: Any) -> Any:
    """``numpy.isposinf`` (booleans, no gradient)."""
    return P.logical_and_p(P.isinf_p(x), P.logical_not_p(P.signbit_p(x)))


def isneginf(x: Any) -> Any:
    """``numpy.isneginf`` (booleans, no gradient)."""
    return P.logical_and_p(P.isinf_p(x), P.signbit_p(x))


def _by_dtype(func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` of real inputs from a stand-in of their shape and dtype (the values do not
    matter); complex inputs are read."""

    def wrapper(x: Any) -> Any:
        if _dtype(x).kind == "c":
            return func(_read(x))
        return func(np.zeros(_shape(x), _dtype(x)))

    wrapper.__name__ = wrapper.__qualname__ = func.__name__
    wrapper.__doc__ = f"``numpy.{func.__name__}`` (booleans, no gradient)."
    return wrapper


iscomplex = _by_dtype(np.iscomplex)
isreal = _by_dtype(np.isreal)
iscomplexobj = _on_shapes(np.iscomplexobj, "a bool")
isrealobj = _on_shapes(np.isrealobj, "a bool")
iterable = _on_shapes(np.iterable, "a bool")


def isin(
    element: Any,
    test_elements: Any,
    assume_unique: bool = False,
    invert: bool = False,
    *,
    kind: Any = None,
) -> Any:
    """``numpy.isin`` (booleans, no gradient); with Tensors, each element is compared with
    every test element (primitives)."""
    if not isinstance(element, Tensor) and not isinstance(test_elements, Tensor):
        return np.isin(
            element, test_elements, assume_unique=assume_unique, invert=invert, kind=kind
        )
    element, tests = _array(element), _array(test_elements)
    size = int(np.prod(_shape(tests), dtype=np.int64))
    tests = P.reshape_p(tests, shape=(size,))
    column = P.reshape_p(element, shape=_shape(element) + (1,))
    found = any_p(P.equal_p(column, tests), axis=-1)
    return P.logical_not_p(found) if invert else found


unique = _on_values(np.unique, "values, indices and counts")
unique_all = _on_values(np.unique_all, "values, indices and counts")
unique_counts = _on_values(np.unique_counts, "values and counts")
unique_inverse = _on_values(np.unique_inverse, "values and indices")
unique_values = _on_values(np.unique_values, "values")


def lexsort(keys: Any, axis: int = -1) -> Any:
    """``numpy.lexsort`` (indices, no gradient): the last key is the primary one.

    With Tensor keys: one stable ``argsort`` per key, least significant first, each
    applied to the order so far (primitives, so traced graphs sort the values they run on).
    """
    if isinstance(keys, Tensor):
        if _ndim(keys) < 2:
            return np.lexsort(_read(keys), axis)
        keys = unstack(keys)
    elif not (isinstance(keys, list | tuple) and any(isinstance(k, Tensor) for k in keys)):
        return np.lexsort(keys, axis)
    order = None
    for key in keys:
        if order is None:
            order = argsort_p(key, axis=axis, kind="stable")
            continue
        step = argsort_p(take_along_axis(key, order, axis), axis=axis, kind="stable")
        order = take_along_axis(order, step, axis)
    return order


def ix_(*args: Any) -> tuple[Any, ...]:
    """``numpy.ix_``: integer Tensors are reshaped (traced ones too); boolean masks give
    their True positions, so traced masks are refused."""
    computed = [isinstance(a, Tensor) and _dtype(a).kind in "iu" for a in args]
    # NumPy's checks and shapes, from stand-ins for the integer Tensors.
    grids = np.ix_(
        *[
            np.zeros(_shape(a), _dtype(a)) if c else _read(a)
            for a, c in zip(args, computed, strict=True)
        ]
    )
    return tuple(
        P.reshape_p(a, shape=g.shape) if c else g
        for a, g, c in zip(args, grids, computed, strict=True)
    )


def _dims(shape: Any) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(d) for d in shape)


def unravel_index(indices: Any, shape: Any, order: str = "C") -> tuple[Any, ...]:
    """``numpy.unravel_index`` (indices, no gradient); Tensor indices with primitives."""
    if not isinstance(indices, Tensor):
        return np.unravel_index(indices, shape, order)
    dims = _dims(shape)
    if order not in ("C", "F"):
        raise ValueError("unravel_index: only 'C' or 'F' order is permitted")
    if _dtype(indices).kind not in "iu":
        raise TypeError(f"unravel_index: only int indices permitted, got {_dtype(indices)}")
    if not is_traced(indices):
        np.unravel_index(np.asarray(indices), dims, order)  # NumPy's bounds check
    flat = P.cast_p(indices, dtype=np.intp)
    coordinates: list[Any] = [None] * len(dims)
    for k in range(len(dims) - 1, -1, -1) if order == "C" else range(len(dims)):
        coordinates[k] = P.remainder_p(flat, dims[k])
        flat = P.floor_divide_p(flat, dims[k])
    return tuple(coordinates)


def ravel_multi_index(multi_index: Any, dims: Any, mode: Any = "raise", order: str = "C") -> Any:
    """``numpy.ravel_multi_index`` (indices, no gradient); Tensor indices with primitives."""
    if isinstance(multi_index, Tensor):
        multi_index = unstack(multi_index)
    elif not any(isinstance(i, Tensor) for i in multi_index):
        return np.ravel_multi_index(multi_index, dims, mode, order)
    dims = _dims(dims)
    if len(multi_index) != len(dims):
        raise ValueError(f"ravel_multi_index: multi_index must be a sequence of length {len(dims)}")
    if order not in ("C", "F"):
        raise ValueError("ravel_multi_index: only 'C' or 'F' order is permitted")
    modes = (mode,) * len(dims) if isinstance(mode, str) else tuple(mode)
    if not any(is_traced(i) for i in multi_index):
        np.ravel_multi_index(_read_tree(tuple(multi_index)), dims, mode, order)  # checks
    axes = range(len(dims)) if order == "C" else range(len(dims) - 1, -1, -1)
    total: Any = None
    stride = 1
    for k in reversed(axes):
        index = P.cast_p(multi_index[k], dtype=np.intp)
        if modes[k] == "wrap":
            index = P.remainder_p(index, dims[k])
        elif modes[k] == "clip":
            index = P.clip_p(index, 0, dims[k] - 1)
        elif modes[k] != "raise":
            raise ValueError("ravel_multi_index: clipmode must be 'clip', 'raise' or 'wrap'")
        term = index * stride
        total = term if total is None else total + term
        stride *= dims[k]
    return total


tril_indices = _on_values(np.tril_indices, "indices")
triu_indices = _on_values(np.triu_indices, "indices")
diag_indices = _on_values(np.diag_indices, "indices")
tril_indices_from = _on_shapes(np.tril_indices_from, "indices")
triu_indices_from = _on_shapes(np.triu_indices_from, "indices")
diag_indices_from = _on_shapes(np.diag_indices_from, "indices")
broadcast_shapes = _on_shapes(np.broadcast_shapes, "a shape")
gcd = _elementwise_values(P.gcd_p, "gcd", "integers")
lcm = _elementwise_values(P.lcm_p, "lcm", "integers")
left_shift = _elementwise_values(P.left_shift_p, "left_shift", "integers")
right_shift = _elementwise_values(P.right_shift_p, "right_shift", "integers")
bitwise_left_shift = left_shift
bitwise_right_shift = right_shift


def isscalar(element: Any) -> bool:
    """``numpy.isscalar``: False for Tensors, as for NumPy arrays of any shape."""
    return bool(np.isscalar(element))
