"""The deterministic initializers: `Constant`, `Zeros`, `Ones`, `Identity`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.nn.initializers.initializer import Initializer, _dtype, _shape


class Constant(Initializer):
    """Every element is ``value``.

    Args:
        value: A Python scalar.

    Examples:
        >>> Constant(3.0)((2,))
        array([3., 3.], dtype=float32)
    """

    def __init__(self, value: float = 0.0) -> None:
        self.value = value

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.full(_shape(shape), self.value, dtype=_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class Zeros(Initializer):
    """All zeros.

    Examples:
        >>> Zeros()((2,), dtype="int32")
        array([0, 0], dtype=int32)
    """

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.zeros(_shape(shape), dtype=_dtype(dtype))


class Ones(Initializer):
    """All ones.

    Examples:
        >>> Ones()((2,))
        array([1., 1.], dtype=float32)
    """

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        return np.ones(_shape(shape), dtype=_dtype(dtype))


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only).

    Args:
        gain: Multiplier of the identity.

    Examples:
        >>> Identity(2.0)((2, 3))
        array([[2., 0., 0.],
               [0., 2., 0.]], dtype=float32)
    """

    def __init__(self, gain: float = 1.0) -> None:
        self.gain = gain

    def __call__(self, shape: int | Sequence[int], dtype: Any = None) -> np.ndarray:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(
                f"Identity: can only initialize 2-D matrices, got shape {shape} "
                f"of rank {len(shape)}"
            )
        return (self.gain * np.eye(*shape)).astype(_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}
