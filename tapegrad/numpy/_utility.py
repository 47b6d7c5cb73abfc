"""The rest of NumPy's namespace: dtype queries, bit packing, arrays made from functions or
iterables, checked and matrix-shaped conversions.

Dtype queries (``can_cast``, ``promote_types``, ...) read only dtypes, so they work on
traced tensors; ``packbits``, ``unpackbits``, ``bitwise_count`` and ``min_scalar_type``
read values (integers, no gradient). ``fromfunction``, ``fromiter`` and ``frompyfunc``
build their results from what the user's function or iterable gives, so Tensors in it
keep their gradients. tapegrad has no ``matrix`` class: ``asmatrix`` and ``bmat`` give
2-D Tensors, on which ``*`` stays elementwise (use ``@`` for the matrix product).

Examples:
    >>> import tapegrad as tg
    >>> promote_types("float32", "int64"), can_cast(tg.tensor([1.0]), "float64")
    (dtype('float64'), True)
    >>> grid = lambda x: fromfunction(lambda i, j: x * i + j, (2, 3))
    >>> tg.grad(lambda x: grid(x).sum())(tg.tensor(2.0)).numpy()
    array(3., dtype=float32)
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tapegrad.core.floatx import default_float
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import read as _read
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._creation import asarray
from tapegrad.numpy._manipulation import atleast_2d, broadcast_to, reshape, stack
from tapegrad.numpy._math import invert
from tapegrad.numpy._rearranging import block

__all__ = [
    "asarray_chkfinite",
    "asfortranarray",
    "asmatrix",
    "bitwise_count",
    "bitwise_invert",
    "bmat",
    "can_cast",
    "common_type",
    "from_dlpack",
    "fromfunction",
    "fromiter",
    "frompyfunc",
    "isdtype",
    "issubdtype",
    "mask_indices",
    "min_scalar_type",
    "mintypecode",
    "packbits",
    "promote_types",
    "typename",
    "unpackbits",
]

# Queries of dtypes and type codes only: NumPy's own functions serve Tensors' dtypes as they
# are (they never take an array).
promote_types = np.promote_types


def isdtype(dtype: Any, kind: Any) -> bool:
    """``numpy.isdtype``: whether ``dtype`` is of ``kind`` (``"real floating"``, ...)."""
    return bool(np.isdtype(dtype, kind))


def issubdtype(arg1: Any, arg2: Any) -> bool:
    """``numpy.issubdtype``: whether ``arg1`` is lower than ``arg2`` in the type hierarchy."""
    return bool(np.issubdtype(arg1, arg2))


def mintypecode(typechars: Any, typeset: str = "GDFgdf", default: str = "d") -> str:
    """``numpy.mintypecode``: the smallest safe type character."""
    return np.mintypecode(typechars, typeset, default)


def typename(char: str) -> str:
    """``numpy.typename``: the description of a type character."""
    return np.typename(char)


#: NumPy 2's name of ``invert``.
bitwise_invert = invert


def _no_like(name: str, like: Any) -> None:
    if like is not None:
        raise TypeError(
            f"tapegrad.numpy.{name}: like= (NumPy's dispatch to another array type) is not "
            "supported: tapegrad.numpy always makes Tensors"
        )


def _stand_in(x: Any) -> Any:
    """An empty array of ``x``'s dtype for a dtype query (Tensors are not read)."""
    if isinstance(x, Tensor):
        return np.empty((0,), _dtype(x))
    return x


def can_cast(from_: Any, to: Any, casting: str = "safe") -> bool:
    """``numpy.can_cast``: a Tensor stands for its dtype.

    Examples:
        >>> import tapegrad as tg
        >>> can_cast(tg.tensor([1.0]), "int32")
        False
    """
    return bool(np.can_cast(_dtype(from_) if isinstance(from_, Tensor) else from_, to, casting))


def common_type(*arrays: Any) -> type:
    """``numpy.common_type`` of arrays or Tensors (from their dtypes).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> common_type(tg.tensor([1.0]), np.array([1], np.int8))
        <class 'numpy.float64'>
    """
    return np.common_type(*[np.asarray(_stand_in(a)) for a in arrays])


def min_scalar_type(a: Any, /) -> np.dtype:
    """``numpy.min_scalar_type`` (reads the value: the answer depends on it)."""
    return np.min_scalar_type(_read(a))


def _on_values(result: Any) -> Any:
    return Tensor._wrap(result) if isinstance(result, np.ndarray) else result


def bitwise_count(x: Any, /, out: None = None, **kwargs: Any) -> Any:
    """``numpy.bitwise_count``: the number of 1-bits of integers (no gradient).

    Examples:
        >>> import tapegrad as tg
        >>> bitwise_count(tg.tensor([3, 8])).numpy()
        array([2, 1], dtype=uint8)
    """
    if out is not None:
        raise TypeError(
            "tapegrad.numpy.bitwise_count: out= is not supported (Tensors are immutable)"
        )
    result = np.bitwise_count(_read(x), **kwargs)
    return _on_values(result) if isinstance(x, Tensor) else result


def packbits(a: Any, /, axis: int | None = None, bitorder: str = "big") -> Any:
    """``numpy.packbits`` of a boolean or integer array or Tensor (uint8, no gradient)."""
    result = np.packbits(_read(a), axis=axis, bitorder=bitorder)
    return _on_values(result) if isinstance(a, Tensor) else result


def unpackbits(
    a: Any, /, axis: int | None = None, count: int | None = None, bitorder: str = "big"
) -> Any:
    """``numpy.unpackbits`` of a uint8 array or Tensor (no gradient)."""
    result = np.unpackbits(_read(a), axis=axis, count=count, bitorder=bitorder)
    return _on_values(result) if isinstance(a, Tensor) else result


def mask_indices(n: int, mask_func: Callable[..., Any], k: int = 0) -> tuple[np.ndarray, ...]:
    """``numpy.mask_indices``: the indices where ``mask_func(ones((n, n)), k)`` is nonzero
    (``mask_func`` may be a tapegrad.numpy function such as ``tnp.triu``).

    Examples:
        >>> import tapegrad.numpy as tnp
        >>> mask_indices(2, tnp.triu)
        (array([0, 0, 1]), array([0, 1, 1]))
    """
    return np.mask_indices(n, lambda m, k: np.asarray(_read(mask_func(m, k))), k)


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Tensor:
    """``numpy.from_dlpack``: a Tensor holding a copy of another library's array."""
    return Tensor(np.array(np.from_dlpack(x, device=device, copy=copy), copy=True))


def asarray_chkfinite(a: Any, dtype: Any = None, order: Any = None) -> Any:
    """``asarray(a, dtype)``, refusing infinities and NaNs as NumPy does (differentiable).

    Raises:
        ValueError: ``a`` holds an infinity or a NaN.

    Examples:
        >>> import numpy as np
        >>> asarray_chkfinite([1.0, np.inf])
        Traceback (most recent call last):
        ...
        ValueError: array must not contain infs or NaNs
    """
    out = asarray(a, dtype)
    if _dtype(out).kind in "fc" and not np.isfinite(_read(out)).all():
        raise ValueError("array must not contain infs or NaNs")
    return out


def asfortranarray(a: Any, dtype: Any = None, *, like: Any = None) -> Any:
    """``asarray(a, dtype)``: Tensors have no memory order to change (differentiable)."""
    _no_like("asfortranarray", like)
    return asarray(a, dtype)


def asmatrix(data: Any, dtype: Any = None) -> Any:
    """``data`` as a 2-D Tensor (differentiable): NumPy's ``matrix`` is always 2-D.

    tapegrad has no matrix class: ``*`` stays elementwise on the result (``@`` is the
    matrix product, as NumPy recommends for arrays).

    Examples:
        >>> asmatrix([1.0, 2.0]).shape
        (1, 2)
    """
    return atleast_2d(asarray(data, dtype))


# Wrappers between the user's call and `bmat` (the namespace's, tapegrad.symbolic's).
_OWN_FILES = (os.path.dirname(__file__), os.path.join(os.path.dirname(__file__), "..", "symbolic"))


def _caller_frame() -> Any:
    """The frame of the code that called into tapegrad.numpy (as NumPy's bmat reads its
    caller's variables; tapegrad's wrappers are skipped)."""
    own = tuple(os.path.normpath(p) for p in _OWN_FILES)
    frame = sys._getframe(1)
    while frame.f_back is not None and os.path.normpath(frame.f_code.co_filename).startswith(own):
        frame = frame.f_back
    return frame


def bmat(obj: Any, ldict: dict[str, Any] | None = None, gdict: dict[str, Any] | None = None) -> Any:
    """``numpy.bmat``: a 2-D Tensor built from blocks (differentiable).

    ``obj`` is a nested list of blocks, or a string ``"A, B; C, D"`` whose names are looked
    up in ``ldict`` and ``gdict`` (default: the caller's variables), as NumPy does.

    Examples:
        >>> import numpy as np
        >>> a = np.eye(2)
        >>> bmat("a, a; a, a").shape
        (4, 4)
    """
    if isinstance(obj, str):
        if gdict is None:
            frame = _caller_frame()
            ldict, gdict = frame.f_locals, frame.f_globals
        names = {**gdict, **(ldict or {})}
        rows = [[names[n.strip()] for n in row.split(",")] for row in obj.split(";")]
        return block([[atleast_2d(x) for x in row] for row in rows])
    if isinstance(obj, list | tuple) and obj and isinstance(obj[0], list | tuple):
        return block([[atleast_2d(x) for x in row] for row in obj])
    if isinstance(obj, list | tuple):
        return block([atleast_2d(x) for x in obj])
    return asmatrix(obj)


def fromfunction(
    function: Callable[..., Any], shape: Any, *, dtype: Any = float, like: Any = None, **kwargs: Any
) -> Any:
    """``function(*grids)`` over the index grids of ``shape`` (differentiable in what
    ``function`` captures). ``dtype=float`` (NumPy's default) means floatx.

    Examples:
        >>> fromfunction(lambda i, j: i + j, (2, 2)).numpy()
        array([[0., 1.],
               [1., 2.]], dtype=float32)
    """
    _no_like("fromfunction", like)
    dtype = default_float() if dtype is float else np.dtype(dtype)
    grids = np.indices(tuple(shape), dtype=dtype)
    return function(*[Tensor._wrap(g) for g in grids], **kwargs)


def fromiter(iter: Iterable[Any], dtype: Any, count: int = -1, *, like: Any = None) -> Any:  # noqa: A002
    """A 1-D Tensor of the items of ``iter`` (the first ``count`` if ``count >= 0``); items
    that are Tensors keep their gradients.

    Examples:
        >>> fromiter((i * i for i in range(4)), float).numpy()
        array([0., 1., 4., 9.])
    """
    _no_like("fromiter", like)
    items = list(itertools.islice(iter, None if count < 0 else count))
    if count >= 0 and len(items) < count:
        raise ValueError(
            f"iterator too short: Expected {count} but iterator had only {len(items)} items."
        )
    if any(isinstance(item, Tensor) for item in items):
        return stack(items).astype(dtype)
    return Tensor._wrap(np.fromiter(items, dtype, len(items)))


def frompyfunc(
    func: Callable[..., Any], /, nin: int, nout: int, *, identity: Any = None
) -> Callable[..., Any]:
    """A NumPy "ufunc" calling ``func`` on each element of its broadcast arguments.

    Given Tensors, each element is a 0-d Tensor, and the results are stacked back into
    Tensors of the broadcast shape, so gradients flow through ``func`` (NumPy would return
    object arrays). Without Tensors, NumPy's ``frompyfunc`` runs.

    Examples:
        >>> import tapegrad as tg
        >>> square = frompyfunc(lambda v: v * v, 1, 1)
        >>> tg.grad(lambda x: square(x).sum())(tg.tensor([1.0, 2.0])).numpy()
        array([2., 4.], dtype=float32)
    """
    plain = np.frompyfunc(func, nin, nout, identity=identity)

    def call(*args: Any) -> Any:
        if len(args) != nin:
            raise TypeError(f"frompyfunc: the function takes {nin} arguments, got {len(args)}")
        if not any(isinstance(a, Tensor) for a in args):
            return plain(*args)
        shape = np.broadcast_shapes(*[_shape(a) for a in args])
        flat = [reshape(broadcast_to(asarray(a), shape), (-1,)) for a in args]
        size = int(np.prod(shape, dtype=np.int64))
        results = [func(*[f[i] for f in flat]) for i in range(size)]
        if nout == 1:
            return reshape(stack(results), shape)
        return tuple(reshape(stack([r[j] for r in results]), shape) for j in range(nout))

    call.__name__ = call.__qualname__ = getattr(func, "__name__", "frompyfunc")
    call.__doc__ = f"``{call.__name__}`` on each element ({nin} in, {nout} out)."
    return call
