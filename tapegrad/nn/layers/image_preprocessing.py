"""Image preprocessing layers (Keras 3): `CenterCrop` and the `RandomFlip` augmentation.

`RandomFlip` draws through `tapegrad.random` with its own `SeedGenerator` (``generator``,
as Keras names it), so a compiled training step draws new flips every run. As in Keras,
a random layer called directly (no ``training`` argument, outside `fit`) is active;
`predict` and `evaluate` run it in inference mode, where it returns its inputs.
"""

from __future__ import annotations

from typing import Any

import tapegrad.numpy as tnp
from tapegrad import random
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format
from tapegrad.nn.layers.preprocessing import Resizing
from tapegrad.nn.validation import check_choice, check_int, check_positive_int, layer_owner


def _image_axes(layer: Layer, shape: tuple[Any, ...], data_format: str) -> tuple[int, int]:
    """The height and width axes of a batch of images or of one image."""
    if len(shape) not in (3, 4):
        raise ValueError(
            f"{layer_owner(layer)}: expects images (batch, height, width, channels) or one "
            f"image (height, width, channels) ({data_format}), got shape {shape}"
        )
    rank = len(shape)
    return (rank - 2, rank - 1) if data_format == "channels_first" else (rank - 3, rank - 2)


class CenterCrop(Layer):
    """Crops the centre ``height x width`` window of images; an image smaller than that
    on either side is instead resized to it, cropped to the target aspect ratio first
    (Keras' rule).

    Args:
        height: Output height.
        width: Output width.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
        >>> tg.layers.CenterCrop(2, 2)(x).numpy()[0, :, :, 0]
        array([[ 5.,  6.],
               [ 9., 10.]], dtype=float32)
    """

    _check_input_shape = False

    def __init__(self, height: int, width: int, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.height = check_positive_int(owner, "height", height)
        self.width = check_positive_int(owner, "width", width)
        self.data_format = normalize_data_format(data_format, owner)

    def call(self, inputs: Any) -> Any:
        shape = tuple(shape_of(inputs))
        h_axis, w_axis = _image_axes(self, shape, self.data_format)
        inputs = tnp.asarray(inputs, dtype=self.dtype)
        h_diff, w_diff = shape[h_axis] - self.height, shape[w_axis] - self.width
        if h_diff < 0 or w_diff < 0:
            resize = Resizing(
                self.height,
                self.width,
                crop_to_aspect_ratio=True,
                data_format=self.data_format,
                dtype=self.dtype,
            )
            return resize.call(inputs)
        index = [slice(None)] * len(shape)
        top, left = int(h_diff / 2), int(w_diff / 2)
        index[h_axis] = slice(top, top + self.height)
        index[w_axis] = slice(left, left + self.width)
        return inputs[tuple(index)]

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape with height and width replaced."""
        shape = list(input_shape)
        h_axis, w_axis = _image_axes(self, tuple(shape), self.data_format)
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "data_format": self.data_format,
        }


class RandomFlip(Layer):
    """Flips each image of a batch with probability 1/2 while training.

    Args:
        mode: ``"horizontal"`` (left-right), ``"vertical"`` (up-down) or
            ``"horizontal_and_vertical"`` (as Keras: one draw per image flips it both
            ways or not at all).
        seed: Seed of the layer's generator.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Call arguments:
        inputs: Images ``(batch, height, width, channels)`` or one image.
        training: Whether to flip (default True when called directly, as in Keras).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.arange(4, dtype=np.float32).reshape(1, 1, 4, 1)
        >>> layer = tg.layers.RandomFlip("horizontal", seed=0)
        >>> sorted({tuple(layer(x).numpy().ravel().tolist()) for _ in range(20)})
        [(0.0, 1.0, 2.0, 3.0), (3.0, 2.0, 1.0, 0.0)]
        >>> layer(x, training=False).numpy().ravel()
        array([0., 1., 2., 3.], dtype=float32)
    """

    _check_input_shape = False

    def __init__(
        self,
        mode: str = "horizontal_and_vertical",
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.mode = check_choice(
            owner, "mode", mode, ("horizontal", "vertical", "horizontal_and_vertical")
        )
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.data_format = normalize_data_format(data_format, owner)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        h_axis, w_axis = _image_axes(self, shape, self.data_format)
        inputs = tnp.asarray(inputs, dtype=self.dtype)
        if training is False:
            return inputs
        draw_shape = (1, 1, 1) if len(shape) == 3 else (shape[0], 1, 1, 1)
        flips = random.uniform(draw_shape, dtype=self.dtype, seed=self.generator) <= 0.5
        outputs = inputs
        if self.mode in ("horizontal", "horizontal_and_vertical"):
            outputs = tnp.where(flips, tnp.flip(outputs, axis=w_axis), outputs)
        if self.mode in ("vertical", "horizontal_and_vertical"):
            outputs = tnp.where(flips, tnp.flip(outputs, axis=h_axis), outputs)
        return outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "mode": self.mode,
            "seed": self.seed,
            "data_format": self.data_format,
        }


__all__ = ["CenterCrop", "RandomFlip"]
