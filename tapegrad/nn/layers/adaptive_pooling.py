"""Adaptive pooling layers (Keras 3): `AdaptiveAveragePooling1D/2D/3D` and
`AdaptiveMaxPooling1D/2D/3D` pool any spatial size to a fixed ``output_size`` (the
computation is `tapegrad.ops.adaptive_average_pool` / `adaptive_max_pool`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad import ops
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format
from tapegrad.nn.validation import layer_owner


class _AdaptivePooling(Layer):
    """Pools each window of an even split of the spatial axes; subclassed by rank and
    reduction."""

    rank = 1
    _op = staticmethod(ops.adaptive_average_pool)
    _check_input_shape = False

    def __init__(self, output_size: Any, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        sizes = (output_size,) * self.rank if isinstance(output_size, int) else output_size
        if (
            not isinstance(sizes, list | tuple)
            or len(sizes) != self.rank
            or not all(isinstance(s, int | np.integer) and s > 0 for s in sizes)
        ):
            raise ValueError(
                f"{owner}: output_size must be a positive int or {self.rank} of them, got "
                f"{output_size!r}"
            )
        self.output_size = tuple(int(s) for s in sizes)
        self.data_format = normalize_data_format(data_format, owner)

    def call(self, inputs: Any) -> Any:
        shape = tuple(shape_of(inputs))
        if len(shape) != self.rank + 2:
            raise ValueError(
                f"{layer_owner(self)}: expects inputs with {self.rank} spatial axes, a batch "
                f"and a channel axis ({self.rank + 2} dims), got shape {shape}"
            )
        return self._op(inputs, output_size=self.output_size, data_format=self.data_format)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """``(batch, *output_size, channels)`` (or channels first)."""
        if self.data_format == "channels_last":
            return (input_shape[0], *self.output_size, input_shape[-1])
        return (input_shape[0], input_shape[1], *self.output_size)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "output_size": list(self.output_size),
            "data_format": self.data_format,
        }


class AdaptiveAveragePooling1D(_AdaptivePooling):
    """Average pooling of ``(batch, steps, channels)`` to ``output_size`` steps.

    Args:
        output_size: The output length.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
        >>> tg.layers.AdaptiveAveragePooling1D(3)(x).numpy().ravel()
        array([0.5, 2.5, 4.5], dtype=float32)
    """

    rank = 1


class AdaptiveAveragePooling2D(_AdaptivePooling):
    """Average pooling of images to ``output_size`` (an int or ``(height, width)``).

    Args:
        output_size: The output height and width.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.AdaptiveAveragePooling2D((2, 3))(np.ones((1, 7, 9, 4))).shape
        (1, 2, 3, 4)
    """

    rank = 2


class AdaptiveAveragePooling3D(_AdaptivePooling):
    """Average pooling of volumes to ``output_size`` (an int or 3 ints).

    Args:
        output_size: The output size of the three spatial axes.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.AdaptiveAveragePooling3D(2)(np.ones((1, 4, 5, 6, 2))).shape
        (1, 2, 2, 2, 2)
    """

    rank = 3


class AdaptiveMaxPooling1D(_AdaptivePooling):
    """Max pooling of ``(batch, steps, channels)`` to ``output_size`` steps.

    Args:
        output_size: The output length.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(6, dtype=np.float32).reshape(1, 6, 1)
        >>> tg.layers.AdaptiveMaxPooling1D(3)(x).numpy().ravel()
        array([1., 3., 5.], dtype=float32)
    """

    rank = 1
    _op = staticmethod(ops.adaptive_max_pool)


class AdaptiveMaxPooling2D(_AdaptivePooling):
    """Max pooling of images to ``output_size`` (an int or ``(height, width)``).

    Args:
        output_size: The output height and width.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.AdaptiveMaxPooling2D(2)(np.ones((1, 5, 5, 3))).shape
        (1, 2, 2, 3)
    """

    rank = 2
    _op = staticmethod(ops.adaptive_max_pool)


class AdaptiveMaxPooling3D(_AdaptivePooling):
    """Max pooling of volumes to ``output_size`` (an int or 3 ints).

    Args:
        output_size: The output size of the three spatial axes.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.AdaptiveMaxPooling3D((1, 2, 3))(np.ones((1, 4, 5, 6, 2))).shape
        (1, 1, 2, 3, 2)
    """

    rank = 3
    _op = staticmethod(ops.adaptive_max_pool)


__all__ = [
    "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",
]
