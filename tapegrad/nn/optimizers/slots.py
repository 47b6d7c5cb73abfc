"""Initial values of optimizer Variables, and the names Keras 3 gives slot Variables."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

__all__ = ["make_initial_value", "slot_name"]


def make_initial_value(initializer: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """The initial array of an optimizer Variable.

    Args:
        initializer: ``"zeros"``, ``"ones"``, a number, or ``f(shape, dtype) -> array``.
        shape: The Variable's shape.
        dtype: The Variable's dtype.

    Returns:
        A new array of that shape and dtype.

    Examples:
        >>> make_initial_value(0.5, (2,), np.float32)
        array([0.5, 0.5], dtype=float32)
        >>> make_initial_value("ones", (), np.int64)
        array(1)
    """
    if isinstance(initializer, str):
        fills = {"zeros": 0.0, "ones": 1.0}
        if initializer not in fills:
            raise ValueError(
                f"Optimizer.add_variable: unknown initializer {initializer!r}; use 'zeros', "
                "'ones', a number or a callable (shape, dtype) -> array"
            )
        return np.full(shape, fills[initializer], dtype=dtype)
    if isinstance(initializer, numbers.Number):
        return np.full(shape, initializer, dtype=dtype)
    if callable(initializer):
        return np.asarray(initializer(shape, dtype), dtype=dtype)
    raise TypeError(
        f"Optimizer.add_variable: initializer must be a string, a number or a callable, "
        f"got {type(initializer).__name__}"
    )


def slot_name(reference_variable: Any, name: str | None) -> str:
    """``{path}_{name}`` with ``/`` as ``_`` (Keras 3: ``dense_kernel_momentum``).

    Args:
        reference_variable: The model Variable (its ``path``, else its ``name``).
        name: The slot's name (``"var"`` when None).

    Returns:
        The slot Variable's name.

    Examples:
        >>> import tapegrad as tg
        >>> slot_name(tg.Variable(1.0, name="dense/kernel"), "momentum")
        'dense_kernel_momentum'
    """
    path = getattr(reference_variable, "path", None) or reference_variable.name
    return f"{str(path).replace('/', '_').replace(':', '_')}_{name or 'var'}"
