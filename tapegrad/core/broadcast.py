"""Reducing broadcast cotangents back to an argument's shape (`unbroadcast`, aka sum_to)."""

from __future__ import annotations

from typing import Any

from tapegrad.core.primitive import PRIMITIVES
from tapegrad.core.tensor import shape_of

# The primitives are found in the table by name at call time: their VJP rules use
# `unbroadcast`, so their modules import this one.


def unbroadcast(g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` over the axes that broadcasting added or stretched to reach ``shape``.

    Works on arrays and Tensors alike (through the primitives), so it is differentiable.

    Args:
        g: Cotangent in the broadcast (output) shape.
        shape: The shape of the argument that was broadcast.

    Returns:
        ``g`` summed to ``shape``.

    Examples:
        >>> import numpy as np
        >>> unbroadcast(np.ones((2, 3)), (3,))
        array([2., 2., 2.])
        >>> unbroadcast(np.ones((2, 3)), (2, 1)).shape
        (2, 1)
    """
    g_shape = shape_of(g)
    if g_shape == shape:
        return g
    lead = len(g_shape) - len(shape)
    stretched = tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and g_shape[lead + i] != 1
    )
    if not stretched:  # only leading axes were added (a bias): one sum, no reshape
        return PRIMITIVES["sum"](g, axis=tuple(range(lead)), keepdims=False)
    summed = PRIMITIVES["sum"](g, axis=tuple(range(lead)) + stretched, keepdims=True)
    return PRIMITIVES["reshape"](summed, shape=shape)


def broadcast_tangent(t: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast a tangent in an argument's shape to the output shape of an elementwise op."""
    if shape_of(t) == shape:
        return t
    return PRIMITIVES["broadcast_to"](t, shape=shape)
