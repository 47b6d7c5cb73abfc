"""`pack_x_y_sample_weight` (Keras 3's ``keras.utils``); its inverse,
`unpack_x_y_sample_weight`, is the trainer's (`tapegrad.nn.trainers.data_adapters`)."""

from __future__ import annotations

from typing import Any


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """Pack ``x``, ``y`` and ``sample_weight`` as a step's ``data``, Keras' way.

    Without ``y``: ``x`` itself, unless ``x`` is a tuple or list, which is wrapped as
    ``(x,)`` so that it is not taken for ``(x, y)`` when unpacked.

    Args:
        x: Inputs.
        y: Targets, or None.
        sample_weight: Weights, or None.

    Returns:
        ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.

    Examples:
        >>> pack_x_y_sample_weight([1, 2]), pack_x_y_sample_weight(1), pack_x_y_sample_weight(1, 2)
        (([1, 2],), 1, (1, 2))
    """
    if y is None:
        return (x,) if isinstance(x, list | tuple) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


__all__ = ["pack_x_y_sample_weight"]
