"""One axis argument checked as NumPy checks it (not wrapped modulo the rank)."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
from numpy.lib.array_utils import normalize_axis_index


def axis_index(axis: Any, ndim: int, op: str) -> int:
    """``axis`` as an index in ``[0, ndim)``; NumPy's ``AxisError`` when out of bounds.

    Args:
        axis: An integer axis, negative counting from the end.
        ndim: The rank of the array it indexes.
        op: The function's name, which prefixes the message.

    Returns:
        The non-negative axis.

    Examples:
        >>> axis_index(-1, 3, "concatenate")
        2
        >>> axis_index(3, 2, "concatenate")
        Traceback (most recent call last):
        ...
        numpy.exceptions.AxisError: concatenate: axis 3 is out of bounds for array of \
dimension 2
    """
    try:
        index = operator.index(axis)
    except TypeError:
        raise TypeError(f"{op}: axis must be an integer, got {axis!r}") from None
    return int(normalize_axis_index(index, ndim, msg_prefix=op))


def axis_indices(axes: Any, ndim: int, op: str) -> list[int]:
    """Several axes (an int or a sequence), each checked by `axis_index`, none repeated.

    Examples:
        >>> axis_indices((0, -1), 3, "expand_dims")
        [0, 2]
    """
    given = [axes] if isinstance(axes, int | np.integer) else list(axes)
    indices = [axis_index(axis, ndim, op) for axis in given]
    if len(set(indices)) != len(indices):
        raise ValueError(f"{op}: repeated axis in {tuple(given)}")
    return indices


def dimension(value: Any, op: str, what: str = "shape entries") -> int:
    """A shape entry (or other count) as an int: a float (``3.0``) is refused, as in NumPy.

    Examples:
        >>> dimension(np.int64(3), "reshape")
        3
    """
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{op}: {what} must be integers, got {value!r}") from None
