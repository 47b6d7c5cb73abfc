"""How tapegrad.numpy looks at its arguments: Tensors, arrays, lists and Python scalars.

Shapes and dtypes come from the wrapped array (``Tensor._value``, the Tensor's own
protocol) without reading the values, so they work on traced tensors too. `read` takes the
values, for results whose shape depends on them: a traced tensor has none yet, so reading
it raises `TracerValueError` naming the user's line.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> shape_of(tg.tensor([[1.0, 2.0]])), dtype_of([1, 2]), one_axis(-1, 3)
    ((1, 2), dtype('int64'), 2)
    >>> along(1, 3, slice(1, None))
    (slice(None, None, None), slice(1, None, None), slice(None, None, None))

NumPy's ``array_like``: a nested list or tuple that holds Tensors is one array, stacked
differentiably by `array_like` (every public function gets its array arguments through it,
see `prepare_arguments`):

    >>> x = tg.tensor([1.0, 2.0])
    >>> array_like([x, [3.0, 4.0]])
    Tensor([[1., 2.],
            [3., 4.]], dtype=float32)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import normalize_axis
from tapegrad.core.tensor import Tensor

PY_SCALAR = (bool, int, float, complex)
SEQUENCES = (list, tuple)


def unwrap(x: Any) -> Any:
    """The array a Tensor wraps; anything else as it is."""
    return getattr(x, "_value", x)


def value_of(x: Any) -> np.ndarray:
    """``x``'s array (a Tensor's wrapped one: no check for traced tensors)."""
    return np.asarray(unwrap(x))


def as_array(x: Any) -> Any:
    """Tensors as they are, anything else (lists, scalars) as a NumPy array."""
    return x if isinstance(x, Tensor) else np.asarray(x)


def shape_of(x: Any) -> tuple[int, ...]:
    """The shape of a Tensor, array, nested list or scalar."""
    return np.shape(getattr(x, "_value", x))  # `unwrap` inline: reductions call this per op


def ndim_of(x: Any) -> int:
    """The rank of a Tensor, array, nested list or scalar."""
    return np.ndim(getattr(x, "_value", x))


def dtype_of(x: Any) -> np.dtype:
    """The dtype NumPy gives ``x`` (lists as arrays, Python scalars by NumPy's rule)."""
    raw = unwrap(x)
    return np.asarray(raw).dtype if isinstance(raw, list | tuple) else np.result_type(raw)


def inexact(x: Any) -> bool:
    """Whether ``x`` holds floating or complex numbers (which can be NaN)."""
    return dtype_of(x).kind in "fc"


def one_axis(axis: int, ndim: int) -> int:
    """One axis as a non-negative index."""
    (axis,) = normalize_axis(axis, ndim) or (0,)
    return axis


def reduced_axes(a: Any, axis: Any) -> tuple[int, ...] | None:
    """A reduction's ``axis`` argument as a tuple of non-negative axes (None: all)."""
    return normalize_axis(axis, len(shape_of(a)))


def along(axis: int, ndim: int, item: Any) -> tuple[Any, ...]:
    """An index selecting ``item`` along ``axis`` and everything along the other axes."""
    return (slice(None),) * axis + (item,) + (slice(None),) * (ndim - axis - 1)


def cast_to(x: Any, dtype: np.dtype) -> Any:
    """``x`` in ``dtype``: Tensors and arrays cast differentiably, Python scalars converted."""
    if isinstance(x, PY_SCALAR):
        return dtype.type(x)
    return x if dtype_of(x) == dtype else P.cast_p(x, dtype=dtype)


def no_extra(name: str, **kwargs: Any) -> None:
    """Refuse the NumPy arguments tapegrad does not support (those given as not None)."""
    given = sorted(k for k, v in kwargs.items() if v is not None)
    if given:
        raise TypeError(f"tapegrad.numpy.{name}: unsupported arguments {given}")


def read(x: Any) -> Any:
    """``x``'s values (refused for a traced tensor, naming the user's line)."""
    return np.asarray(x) if isinstance(x, Tensor) else x


def read_tree(x: Any) -> Any:
    """`read` on every leaf of nested lists and tuples."""
    if isinstance(x, list | tuple):
        return type(x)(read_tree(item) for item in x)
    return read(x)


def unwrap_tree(x: Any) -> Any:
    """`unwrap` on every leaf of nested lists and tuples (shapes and dtypes only)."""
    if isinstance(x, list | tuple):
        return type(x)(unwrap_tree(item) for item in x)
    return unwrap(x)


def holds_tensor(seq: Any) -> bool:
    """Whether a (nested) list or tuple holds a Tensor anywhere."""
    return any(isinstance(o, Tensor) or (o.__class__ in SEQUENCES and holds_tensor(o)) for o in seq)


def array_like(x: Any) -> Any:
    """NumPy's ``array_like`` as one array: a nested list or tuple holding Tensors is
    stacked differentiably into one Tensor; anything else is returned as it is.

    Python numbers in it are weakly typed (NumPy's rule), so ``[x, 1.0]`` with a float32
    Tensor ``x`` stays float32.

    Args:
        x: A Tensor, array, Python scalar, or nested list/tuple of them.

    Returns:
        ``x`` itself, or the Tensor stacking it (gradients flow to every Tensor in it).

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor(2.0)
        >>> tg.grad(lambda x: (array_like([x, x * x, 1.0]) * 1.0).sum())(x)
        Tensor(5., dtype=float32)
    """
    if x.__class__ in SEQUENCES and holds_tensor(x):
        leaves: list[Any] = []
        _flatten(x, leaves)
        dtype = np.result_type(*[unwrap(leaf) for leaf in leaves])
        return _stacked(x, dtype)
    return x


def _flatten(seq: Any, leaves: list[Any]) -> None:
    for item in seq:
        if item.__class__ in SEQUENCES:
            _flatten(item, leaves)
        else:
            leaves.append(item)


def _stacked(seq: Any, dtype: np.dtype) -> Any:
    """``seq`` (nested lists of Tensors and values) as one Tensor of ``dtype``."""
    items = []
    for item in seq:
        if item.__class__ in SEQUENCES:
            item = _stacked(item, dtype) if holds_tensor(item) else np.asarray(item, dtype)
        elif isinstance(item, Tensor):
            item = item if item.dtype == dtype else P.cast_p(item, dtype=dtype)
        else:
            item = np.asarray(unwrap(item), dtype)
        items.append(item)
    shapes = {shape_of(item) for item in items}
    if len(shapes) > 1:
        raise ValueError(
            "setting an array element with a sequence: the nested sequence has an "
            f"inhomogeneous shape (items of shapes {sorted(shapes)})"
        )
    (shape,) = shapes
    return P.concatenate_p(*[P.reshape_p(item, shape=(1, *shape)) for item in items], axis=0)


def array_like_first(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with the first one through `array_like` (a function's array argument)."""
    first = array_like(args[0])
    return args if first is args[0] else (first, *args[1:])


def array_like_all(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Every one of ``args`` through `array_like` (a primitive's arguments are all arrays)."""
    return tuple(array_like(a) for a in args)


# Parameter names NumPy documents as ``array_like`` (a list or tuple there is one array).
# (Not ``array``'s ``object``: array() stacks a list itself, differentiably, while a Tensor
# given to it is copied without gradient.)
ARRAY_PARAMETERS = frozenset(
    """a b x y z x1 x2 a1 a2 A v m arr ary array val condition element
    test_elements sample start stop indices fp xp p c ar ar1 ar2 values vals mask dst src
    weights aweights fweights w u seq_of_zeros a_min a_max append prepend to_begin to_end
    fill_value q base default filt f""".split()
)


# Parameters NumPy documents as a sequence of ``array_like`` (each item is one array).
SEQUENCE_PARAMETERS = frozenset("arrays tup choices condlist choicelist keys".split())
# Functions whose sequence parameter is a structure, not a sequence of arrays.
_STRUCTURED = frozenset({"block"})


def argument_preparer(name: str, fn: Any) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """How the public function ``name`` takes ``array_like`` positional arguments.

    A primitive's positional arguments are all arrays; a function's are those named as
    NumPy's array parameters (`ARRAY_PARAMETERS`) and its ``*args``; each item of a
    sequence of arrays (``concatenate``'s ``arrays``, ``select``'s ``condlist``) is one
    array too (``block``'s nesting is its structure). Shapes are left alone.

    Args:
        name: The public name (``block`` keeps its nested lists).
        fn: The function or primitive.

    Returns:
        A rewriter of the positional arguments (see `tapegrad.symbolic.symbolic_aware`),
        or None when no positional argument is an array.

    Examples:
        >>> import tapegrad as tg
        >>> def f(a, shape):
        ...     return a
        >>> prepare = argument_preparer("f", f)
        >>> x = tg.tensor(1.0)
        >>> prepare(([x, x], [2, 3]))[0].shape, argument_preparer("g", lambda shape: 0)
        ((2,), None)
        >>> argument_preparer("stack", lambda arrays: 0)(([[x, x], x],))[0][0].shape
        (2,)
    """
    if isinstance(fn, P.Primitive):
        return array_like_all
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    positions: list[int] = []
    sequences: list[int] = []
    rest = None
    for i, param in enumerate(parameters):
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            rest = i
            break
        if param.kind is inspect.Parameter.KEYWORD_ONLY:
            continue
        if param.name in ARRAY_PARAMETERS:
            positions.append(i)
        elif param.name in SEQUENCE_PARAMETERS and name not in _STRUCTURED:
            sequences.append(i)
    if positions == [0] and not sequences and rest is None:
        return array_like_first
    if sequences == [0] and not positions and rest is None:
        return _each_first
    if not (positions or sequences or rest is not None):
        return None
    return _prepare_from(tuple(positions), tuple(sequences), rest)


def _each_array_like(seq: Any) -> Any:
    """A sequence of ``array_like`` with every item as one array (the sequence itself when
    no item changes)."""
    if seq.__class__ not in SEQUENCES:
        return seq
    for item in seq:
        if item.__class__ in SEQUENCES:
            return type(seq)(array_like(item) for item in seq)
    return seq  # (the common case, a list of arrays: nothing to build)


def _each_first(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """``args`` with each item of the first (a sequence of arrays) through `array_like`."""
    first = _each_array_like(args[0])
    return args if first is args[0] else (first, *args[1:])


def _prepare_from(
    positions: tuple[int, ...], sequences: tuple[int, ...], rest: int | None
) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
    """A rewriter of the arguments at ``positions`` (each one array), at ``sequences``
    (each item one array) and every one from ``rest`` on (each one array)."""

    def prepare(args: tuple[Any, ...]) -> tuple[Any, ...]:
        return tuple(
            array_like(a)
            if i in positions or (rest is not None and i >= rest)
            else _each_array_like(a)
            if i in sequences
            else a
            for i, a in enumerate(args)
        )

    return prepare
