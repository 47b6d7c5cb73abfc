"""Argument checks shared by layers, optimizers, losses, metrics and the training loops.

Every check names its owner (``"Dense 'dense_2'"``, ``"Adam"``, ``"fit"``), the argument and
the offending value, in Keras 3's wording ("Received an invalid value for `units`, expected
a positive integer. Received: units=2.5"), and returns the value normalised to a plain
Python type (so configs stay JSON-serialisable: ``np.int64(3)`` becomes ``3``).

Constructors run on `load_model` too (``from_config``), so these checks also refuse a
tampered config before any weight is allocated.

Examples:
    >>> from tapegrad.nn.validation import check_positive_int, check_probability
    >>> check_positive_int("Dense 'd'", "units", 3)
    3
    >>> check_probability("Dropout 'd'", "rate", 0.5)
    0.5
    >>> check_positive_int("Dense 'd'", "units", 2.5)
    Traceback (most recent call last):
    ...
    ValueError: Dense 'd': received an invalid value for `units`, expected a positive \
integer. Received: units=2.5
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "check_bool",
    "check_call_inputs",
    "check_choice",
    "check_constraint",
    "check_function_arguments",
    "check_int",
    "check_int_tuple",
    "check_layer_arguments",
    "check_name",
    "check_non_negative_int",
    "check_number",
    "check_positive_int",
    "check_probability",
    "check_shape",
    "layer_owner",
    "require_rank",
]

# dtype kinds a layer can compute on: bool, signed/unsigned int, float, complex.
_NUMERIC_KINDS = "biufc"


def layer_owner(layer: Any) -> str:
    """How messages name a layer: its class and name (``"Dense 'dense_2'"``)."""
    return f"{type(layer).__name__} '{getattr(layer, 'name', '?')}'"


def _invalid(owner: str, name: str, expected: str, value: Any) -> ValueError:
    return ValueError(
        f"{owner}: received an invalid value for `{name}`, expected {expected}. "
        f"Received: {name}={value!r}"
    )


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but True as a unit count or a step is a mistake.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)


def check_int(
    owner: str, name: str, value: Any, minimum: int | None = None, allow_none: bool = False
) -> int | None:
    """``value`` as an ``int`` (Python or NumPy integer, not bool or float) ``>= minimum``.

    Args:
        owner: Who checks (used in the message).
        name: The argument's name.
        value: The value to check.
        minimum: Smallest allowed value (None: no bound).
        allow_none: Whether None passes (and is returned).

    Returns:
        ``int(value)``, or None when allowed.

    Examples:
        >>> import numpy as np
        >>> check_int("Conv2D 'c'", "groups", np.int64(2), minimum=1)
        2
    """
    if value is None and allow_none:
        return None
    if not _is_int(value) or (minimum is not None and value < minimum):
        expected = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
            minimum, f"an integer >= {minimum}"
        )
        raise _invalid(owner, name, expected + (" or None" if allow_none else ""), value)
    return int(value)


def check_positive_int(owner: str, name: str, value: Any, allow_none: bool = False) -> Any:
    """``value`` as an ``int >= 1`` (see `check_int`)."""
    return check_int(owner, name, value, minimum=1, allow_none=allow_none)


def check_non_negative_int(owner: str, name: str, value: Any, allow_none: bool = False) -> Any:
    """``value`` as an ``int >= 0`` (see `check_int`)."""
    return check_int(owner, name, value, minimum=0, allow_none=allow_none)


def check_number(
    owner: str,
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """``value`` as a finite ``float`` in the interval from ``low`` to ``high``.

    Args:
        owner: Who checks (used in the message).
        name: The argument's name.
        value: A real number (Python or NumPy; not bool, not NaN or infinite).
        low: Lower bound (None: unbounded).
        high: Upper bound (None: unbounded).
        low_open: Whether ``low`` itself is excluded.
        high_open: Whether ``high`` itself is excluded.
        allow_none: Whether None passes (and is returned).

    Returns:
        ``float(value)``, or None when allowed.

    Examples:
        >>> check_number("Adam", "epsilon", 1e-7, low=0)
        1e-07
        >>> check_number("Adam", "beta_1", [], low=0, high=1, high_open=True)
        Traceback (most recent call last):
        ...
        ValueError: Adam: received an invalid value for `beta_1`, expected a number in \
[0, 1). Received: beta_1=[]
    """
    if value is None and allow_none:
        return None
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool | np.bool_)
        and math.isfinite(value)
    )
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        if low is not None and high is not None:
            expected = (
                f"a number in {'(' if low_open else '['}{low:g}, "
                f"{high:g}{')' if high_open else ']'}"
            )
        elif low is not None:
            expected = f"a number {'>' if low_open else '>='} {low:g}"
        elif high is not None:
            expected = f"a number {'<' if high_open else '<='} {high:g}"
        else:
            expected = "a finite number"
        raise _invalid(owner, name, expected + (" or None" if allow_none else ""), value)
    return float(value)


def check_probability(owner: str, name: str, value: Any, include_one: bool = False) -> float:
    """``value`` as a float in [0, 1) (a drop rate, a decay), or [0, 1] with ``include_one``.

    Examples:
        >>> check_probability("Adam", "beta_2", 0.999)
        0.999
    """
    result = check_number(owner, name, value, low=0.0, high=1.0, high_open=not include_one)
    return float(result)  # type: ignore[arg-type]


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``value`` as a ``bool`` (Python or NumPy bool only: ``"False"`` is not False).

    Examples:
        >>> check_bool("Dense 'd'", "use_bias", False)
        False
    """
    if not isinstance(value, bool | np.bool_):
        raise _invalid(owner, name, "True or False", value)
    return bool(value)


def check_choice(owner: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` itself when it is one of ``choices`` (strings compared case-sensitively).

    Examples:
        >>> check_choice("Conv2D 'c'", "padding", "same", ("valid", "same"))
        'same'
    """
    choices = tuple(choices)
    if not isinstance(value, str | type(None) | bool | int) or value not in choices:
        raise _invalid(owner, name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_int_tuple(
    owner: str, name: str, value: Any, rank: int, minimum: int = 1
) -> tuple[int, ...]:
    """An int or ``rank`` ints (``kernel_size``, ``strides``, ...) as a tuple of ints.

    Args:
        owner: Who checks (used in the message).
        name: The argument's name.
        value: An int (repeated ``rank`` times) or a sequence of ``rank`` ints.
        rank: How many ints are expected.
        minimum: Smallest allowed entry.

    Returns:
        A tuple of ``rank`` Python ints.

    Examples:
        >>> check_int_tuple("Conv2D 'c'", "kernel_size", 3, rank=2)
        (3, 3)
        >>> check_int_tuple("Conv2D 'c'", "strides", [1, 2], rank=2)
        (1, 2)
    """
    values = (value,) * rank if _is_int(value) else value
    if (
        not isinstance(values, Sequence)
        or isinstance(values, str)
        or len(values) != rank
        or not all(_is_int(v) and v >= minimum for v in values)
    ):
        entry = "positive integer" if minimum == 1 else f"integer >= {minimum}"
        raise _invalid(owner, name, f"a {entry} or a tuple of {rank} such integers", value)
    return tuple(int(v) for v in values)


def check_shape(
    owner: str,
    name: str,
    value: Any,
    minimum: int = 1,
    allow_unknown: bool = False,
    allow_minus_one: bool = False,
) -> tuple[Any, ...]:
    """A shape (sequence of ints ``>= minimum``; None entries and one -1 when allowed).

    Args:
        owner: Who checks (used in the message).
        name: The argument's name.
        value: A list or tuple of dimensions.
        minimum: Smallest allowed dimension.
        allow_unknown: Whether None (an unknown dimension) is allowed.
        allow_minus_one: Whether one entry may be -1 (inferred, as in ``Reshape``).

    Returns:
        The shape as a tuple of Python ints (and Nones).

    Examples:
        >>> check_shape("Reshape 'r'", "target_shape", [2, -1], allow_minus_one=True)
        (2, -1)
    """
    ok = isinstance(value, Sequence) and not isinstance(value, str)
    dims = list(value) if ok else []
    if ok:
        ok = all(
            (d is None and allow_unknown)
            or (_is_int(d) and (d >= minimum or (d == -1 and allow_minus_one)))
            for d in dims
        )
        ok = ok and sum(1 for d in dims if d is not None and d == -1) <= 1
    if not ok:
        entry = "positive integers" if minimum == 1 else f"integers >= {minimum}"
        extra = (" or None" if allow_unknown else "") + (
            " (one may be -1)" if allow_minus_one else ""
        )
        raise _invalid(owner, name, f"a tuple of {entry}{extra}", value)
    return tuple(None if d is None else int(d) for d in dims)


def check_function_arguments(owner: str, arguments: dict[str, Any]) -> None:
    """Check the keyword arguments a built-in loss or metric passes to its function.

    Only the names the built-in losses and metrics use are checked (``from_logits``,
    ``label_smoothing``, ``axis``, ``delta``, ``ignore_class``, ``threshold``, ``k``,
    ``from_sorted_ids``); other names pass through untouched.

    Args:
        owner: Who checks (used in the message).
        arguments: The keyword arguments.

    Examples:
        >>> check_function_arguments("BinaryCrossentropy", {"label_smoothing": 2.0})
        Traceback (most recent call last):
        ...
        ValueError: BinaryCrossentropy: received an invalid value for `label_smoothing`, \
expected a number in [0, 1]. Received: label_smoothing=2.0
    """
    for key, value in arguments.items():
        if key in ("from_logits", "from_sorted_ids"):
            check_bool(owner, key, value)
        elif key == "label_smoothing":
            check_number(owner, key, value, low=0.0, high=1.0)
        elif key == "threshold":
            check_number(owner, key, value)
        elif key == "delta":
            check_number(owner, key, value, low=0.0, low_open=True)
        elif key == "axis":
            check_int(owner, key, value)
        elif key == "ignore_class":
            check_int(owner, key, value, allow_none=True)
        elif key == "k":
            check_positive_int(owner, key, value)


def check_layer_arguments(
    layer: Any, name: Any, trainable: Any, dtype: Any, input_shape: Any
) -> None:
    """Check the arguments every layer takes (``Layer.__init__``), before any is stored.

    Args:
        layer: The layer being constructed (its class names it in messages).
        name: None or a non-empty string.
        trainable: A bool.
        dtype: None or anything ``numpy.dtype`` understands.
        input_shape: None or a shape without the batch axis (None entries allowed).

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Dense(2, name=7)
        Traceback (most recent call last):
        ...
        ValueError: Dense: received an invalid value for `name`, expected a non-empty \
string. Received: name=7
    """
    owner = type(layer).__name__
    check_name(owner, name)
    check_bool(owner, "trainable", trainable)
    if dtype is not None:
        try:
            kind = np.dtype(dtype).kind
        except TypeError:
            kind = "?"  # not understood (an empty kind would pass the `in` test)
        if kind not in _NUMERIC_KINDS:
            raise _invalid(owner, "dtype", "a numeric NumPy dtype or its name", dtype)
    if input_shape is not None:
        check_shape(owner, "input_shape", input_shape, minimum=0, allow_unknown=True)


def check_name(owner: str, name: Any) -> Any:
    """``name`` itself when it is None or a non-empty string.

    Examples:
        >>> check_name("Mean", "loss_mean")
        'loss_mean'
    """
    if name is not None and (not isinstance(name, str) or not name):
        raise _invalid(owner, "name", "a non-empty string", name)
    return name


def check_constraint(layer: Any, name: str, value: Any) -> Any:
    """A weight constraint resolved by `constraints.get`: None, a name, a config or a callable.

    Examples:
        >>> import tapegrad as tg
        >>> type(tg.layers.Dense(2, kernel_constraint="non_neg").kernel_constraint).__name__
        'NonNeg'
        >>> tg.layers.Dense(2, kernel_constraint=3)
        Traceback (most recent call last):
        ...
        ValueError: Dense 'dense...': received an invalid value for `kernel_constraint`, \
expected None, a constraint name or a callable (variable -> new value). Received: \
kernel_constraint=3
    """
    from tapegrad.nn import constraints  # lazily: constraints imports this package's peers

    if isinstance(value, str | dict):
        try:
            return constraints.get(value)
        except ValueError as error:
            raise _invalid(
                layer_owner(layer), name, f"a known constraint ({error})", value
            ) from None
    if value is not None and not callable(value):
        raise _invalid(
            layer_owner(layer),
            name,
            "None, a constraint name or a callable (variable -> new value)",
            value,
        )
    return constraints.get(value)


def require_rank(owner: str, shape: Sequence[Any], min_rank: int, what: str) -> None:
    """Refuse inputs of fewer than ``min_rank`` axes before a layer builds on them.

    Args:
        owner: Who checks (used in the message).
        shape: The input shape (batch axis included).
        min_rank: Fewest axes the layer can compute on.
        what: The layout the layer expects, for the message (``"(..., features)"``).

    Examples:
        >>> require_rank("Dense 'd'", (), 1, "(..., features)")
        Traceback (most recent call last):
        ...
        ValueError: Dense 'd': expected inputs of shape (..., features) (at least 1 axis), \
got shape ()
    """
    if not isinstance(shape, tuple | list) or len(shape) < min_rank:
        axes = "axis" if min_rank == 1 else "axes"
        raise ValueError(
            f"{owner}: expected inputs of shape {what} (at least {min_rank} "
            f"{axes}), got shape {tuple(shape) if shape is not None else None}"
        )


def _leaves(structure: Any) -> Iterable[Any]:
    if isinstance(structure, list | tuple):
        for item in structure:
            yield from _leaves(item)
    elif isinstance(structure, dict):
        for item in structure.values():
            yield from _leaves(item)
    else:
        yield structure


def check_call_inputs(layer: Any, inputs: Any) -> None:
    """Refuse what no layer can compute on — None, text, arrays of objects or strings —
    before the layer builds (instead of an IndexError from inside NumPy).

    Args:
        layer: The layer being called (named in the message).
        inputs: Its first argument (a tensor, array, or a list/tuple/dict of them).

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Dense(2)("abc")
        Traceback (most recent call last):
        ...
        TypeError: Dense 'dense...': inputs must be tensors or arrays of numbers, got the \
string 'abc'
    """
    if type(inputs) is np.ndarray and inputs.dtype.kind in _NUMERIC_KINDS:
        return  # the common case of every fit and predict step, without the walk
    if inputs is None:
        raise TypeError(
            f"{layer_owner(layer)}: inputs must be tensors or arrays of numbers, got None"
        )
    for leaf in _leaves(inputs):
        if isinstance(leaf, str | bytes):
            raise TypeError(
                f"{layer_owner(layer)}: inputs must be tensors or arrays of "
                f"numbers, got the string {leaf!r}"
            )
        dtype = getattr(leaf, "dtype", None)
        if isinstance(dtype, np.dtype) and dtype.kind not in _NUMERIC_KINDS:
            raise TypeError(
                f"{layer_owner(layer)}: inputs must be tensors or arrays of "
                f"numbers, got an array of dtype {dtype} and shape "
                f"{tuple(getattr(leaf, 'shape', ()))}"
            )
