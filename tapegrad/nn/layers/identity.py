"""Pass-through layers (Keras 3): `Identity` and `Masking`."""

from __future__ import annotations

from typing import Any

import tapegrad.numpy as tnp
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.validation import check_number, layer_owner


class Identity(Layer):
    """Returns its inputs unchanged (any structure of tensors).

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.Identity()(tg.tensor([1.0, 2.0])).numpy()
        array([1., 2.], dtype=float32)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    _check_input_shape = False

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return input_shape


class Masking(Layer):
    """Marks the time steps whose features all equal ``mask_value`` as padding.

    As in Keras, the output is the input with those steps zeroed (unchanged elsewhere),
    and `compute_mask` gives the ``(batch, time)`` boolean mask that mask-aware layers
    downstream read.

    Args:
        mask_value: The padding value.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.array([[[1.0, 2.0], [0.0, 0.0], [3.0, 0.0]]], np.float32)
        >>> layer = tg.layers.Masking()
        >>> layer.compute_mask(x).numpy()
        array([[ True, False,  True]])
        >>> layer(x).numpy()[0, 2]
        array([3., 0.], dtype=float32)
    """

    _check_input_shape = False

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = check_number(layer_owner(self), "mask_value", mask_value)
        self.supports_masking = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """``(batch, time)``: True where some feature differs from ``mask_value``."""
        return tnp.any(tnp.not_equal(tnp.asarray(inputs), self.mask_value), axis=-1)

    def call(self, inputs: Any) -> Any:
        keep = tnp.any(tnp.not_equal(inputs, self.mask_value), axis=-1, keepdims=True)
        return inputs * tnp.asarray(keep, dtype=inputs.dtype)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


__all__ = ["Identity", "Masking"]
