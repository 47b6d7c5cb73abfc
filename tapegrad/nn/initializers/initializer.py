"""The base class `Initializer`, `compute_fans`, and the shape and dtype normalization the
initializers share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad import backend


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, int | np.integer) else tuple(int(s) for s in shape)


def _dtype(dtype: Any) -> np.dtype:
    return np.dtype(backend.floatx() if dtype is None else dtype)


def compute_fans(
    shape: Sequence[int],
    input_axes: Sequence[int] | None = None,
    output_axes: Sequence[int] | None = None,
) -> tuple[int, int]:
    """Fan-in and fan-out of a weight shape (dense ``(in, out)`` or conv ``(..., in, out)``).

    Args:
        shape: The weight's shape.
        input_axes: With ``output_axes``, the axes whose sizes multiply into the fan-in
            (an `EinsumDense` kernel's layout, say); by default the layout is guessed.
        output_axes: With ``input_axes``, the axes of the fan-out.

    Returns:
        ``(fan_in, fan_out)``.

    Examples:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
        >>> compute_fans((4, 2, 8), input_axes=[0], output_axes=[1, 2])
        (4, 16)
    """
    if input_axes is not None and output_axes is not None:
        shape = tuple(shape)
        try:
            fan_in = math.prod(shape[axis] for axis in input_axes)
            fan_out = math.prod(shape[axis] for axis in output_axes)
        except (IndexError, TypeError):
            raise ValueError(
                f"compute_fans: input_axes={input_axes!r} and output_axes={output_axes!r} "
                f"must be lists of axes of the shape {shape}"
            ) from None
        return int(fan_in), int(fan_out)
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and `get_config`.

    Examples:
        >>> class Twos(Initializer):
        ...     def __call__(self, shape, dtype=None):
        ...         return np.full(shape, 2, dtype=dtype or "float32")
        >>> Twos()((2,))
        array([2., 2.], dtype=float32)
    """

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__}.__call__ is not implemented")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-friendly)."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """Rebuild an initializer from `get_config`'s output."""
        return cls(**config)

    def clone(self) -> Initializer:
        """A new instance with the same configuration."""
        return type(self).from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
