"""Image preprocessing layers (Keras 3): `CenterCrop` and the augmentations `RandomFlip`,
`RandomCrop`, `RandomContrast` and `RandomBrightness`.

The random layers draw through `tapegrad.random` with its own `SeedGenerator` (``generator``,
as Keras names it), so a compiled training step draws new flips every run. As in Keras,
a random layer called directly (no ``training`` argument, outside `fit`) is active;
`predict` and `evaluate` run it in inference mode, where it returns its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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


def _window(images: Any, axis: int, start: Any, length: int) -> Any:
    """``images[..., start : start + length, ...]`` along ``axis`` for a drawn (traced)
    ``start``: a 0/1 selection matrix applied with `tensordot` (no data-dependent slice)."""
    size = shape_of(images)[axis]
    positions = np.arange(size)
    wanted = tnp.expand_dims(tnp.arange(length) + start, -1)  # (length, 1)
    selection = tnp.asarray(tnp.equal(wanted, positions), dtype=images.dtype)
    return tnp.moveaxis(tnp.tensordot(images, selection, axes=([axis], [1])), -1, axis)


class RandomCrop(Layer):
    """Crops a random ``height x width`` window of the images while training (one window
    for the whole batch, as Keras draws it).

    As in Keras 3.15: images not larger than the window on both sides are cropped to the
    window's aspect ratio around the centre and resized to it instead, and in inference
    the images are returned unchanged.

    Args:
        height: Window height.
        width: Window width.
        seed: Seed of the layer's generator.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.RandomCrop(2, 3, seed=0)(np.ones((4, 5, 6, 3), np.float32)).shape
        (4, 2, 3, 3)
    """

    _check_input_shape = False

    def __init__(
        self,
        height: int,
        width: int,
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.height = check_positive_int(owner, "height", height)
        self.width = check_positive_int(owner, "width", width)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.data_format = normalize_data_format(data_format, owner)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def _start(self, size: int, length: int) -> Any:
        drawn = random.uniform((), 0.0, float(size - length + 1), seed=self.generator)
        return tnp.asarray(tnp.floor(drawn), dtype="int64")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        h_axis, w_axis = _image_axes(self, shape, self.data_format)
        if training is False:
            return inputs
        images = tnp.asarray(inputs, dtype=self.dtype)
        height, width = shape[h_axis], shape[w_axis]
        if height > self.height and width > self.width:
            images = _window(images, h_axis, self._start(height, self.height), self.height)
            return _window(images, w_axis, self._start(width, self.width), self.width)
        # Keras' path for small images: the aspect-ratio window's corner, the target size.
        crop_h = max(min(height, int(width * self.height / self.width)), 1)
        crop_w = max(min(width, int(height * self.width / self.height)), 1)
        top, left = int((height - crop_h) / 2), int((width - crop_w) / 2)
        index = [slice(None)] * len(shape)
        index[h_axis] = slice(top, top + self.height)
        index[w_axis] = slice(left, left + self.width)
        images = images[tuple(index)]
        if tuple(shape_of(images)) != self.compute_output_shape(shape):
            resize = Resizing(self.height, self.width, data_format=self.data_format)
            images = resize.call(images)
        return images

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape with height and width replaced (the training shape)."""
        shape = list(input_shape)
        h_axis, w_axis = _image_axes(self, tuple(shape), self.data_format)
        shape[h_axis], shape[w_axis] = self.height, self.width
        return tuple(shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "height": self.height,
            "width": self.width,
            "seed": self.seed,
            "data_format": self.data_format,
        }


def image_pair(
    owner: str, name: str, value: Any, bounds: tuple[float, float]
) -> tuple[float, float]:
    """Keras' ``_set_factor``: ``f`` gives ``[max(-f, low), f]``, a pair is sorted."""
    bad = ValueError(
        f"{owner}: {name} must be a number or a pair of numbers in [{bounds[0]}, "
        f"{bounds[1]}], got {value!r}"
    )
    if isinstance(value, list | tuple):
        if len(value) != 2 or value[0] > bounds[1] or value[1] < bounds[0]:
            raise bad
        low, high = sorted(float(v) for v in value)
        return low, high
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise bad
    if not bounds[0] <= value <= bounds[1]:
        raise bad
    return max(-abs(float(value)), bounds[0]), abs(float(value))


def _draw(layer: Any, shape: tuple[int, ...], low: float, high: float) -> Any:
    """Uniform draws in ``[low, high)`` from the layer's generator (constant if equal)."""
    if low == high:
        return tnp.full(shape, low, dtype=layer.dtype)
    return random.uniform(shape, low, high, layer.dtype, layer.generator)


def _value_range(owner: str, value_range: Any) -> list[float]:
    if not isinstance(value_range, Sequence) or len(value_range) != 2:
        raise ValueError(f"{owner}: value_range must be a pair (low, high), got {value_range!r}")
    return sorted(float(v) for v in value_range)


class RandomContrast(Layer):
    """Scales each image's deviations from its per-channel mean by a random factor while
    training, then clips to ``value_range`` (Keras' ``RandomContrast``).

    Args:
        factor: ``f`` draws factors in ``[1, 1 + f]`` (Keras 3.15's bounds clip the lower
            end at 0); ``(lower, upper)`` draws in ``[1 - lower, 1 + upper]``.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.array([[[[100.0], [110.0]]]], np.float32)
        >>> out = tg.layers.RandomContrast((0.5, 0.5), seed=0)(x).numpy().ravel()
        >>> bool(5.0 <= out[1] - out[0] <= 15.0)
        True
    """

    _check_input_shape = False

    def __init__(
        self, factor: Any, value_range: Any = (0, 255), seed: int | None = None, **kwargs: Any
    ) -> None:
        data_format = kwargs.pop("data_format", None)
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.factor = image_pair(owner, "factor", factor, (0.0, 1.0))
        self.value_range = _value_range(owner, value_range)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.data_format = normalize_data_format(data_format, owner)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        h_axis, w_axis = _image_axes(self, shape, self.data_format)
        if training is False:
            return inputs
        images = tnp.asarray(inputs, dtype=self.dtype)
        draw_shape = (1, 1, 1) if len(shape) == 3 else (shape[0], 1, 1, 1)
        factor = _draw(self, draw_shape, 1.0 - self.factor[0], 1.0 + self.factor[1])
        mean = tnp.mean(images, axis=(h_axis, w_axis), keepdims=True)
        return tnp.clip((images - mean) * factor + mean, *self.value_range)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "value_range": list(self.value_range),
            "seed": self.seed,
            "data_format": self.data_format,
        }


class RandomBrightness(Layer):
    """Adds a random offset, a fraction of ``value_range``'s width, to each image while
    training, then clips to ``value_range`` (Keras' ``RandomBrightness``).

    Args:
        factor: ``f`` draws fractions in ``[-f, f]``; ``(lower, upper)`` in that range;
            within [-1, 1].
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.RandomBrightness((0.1, 0.1), value_range=(0, 1))
        >>> layer(np.full((1, 1, 2, 1), 0.5, np.float32)).numpy().ravel()
        array([0.6, 0.6], dtype=float32)
    """

    _check_input_shape = False

    def __init__(
        self, factor: Any, value_range: Any = (0, 255), seed: int | None = None, **kwargs: Any
    ) -> None:
        data_format = kwargs.pop("data_format", None)
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.factor = image_pair(owner, "factor", factor, (-1.0, 1.0))
        self.value_range = _value_range(owner, value_range)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.data_format = normalize_data_format(data_format, owner)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        _image_axes(self, shape, self.data_format)
        if training is False:
            return inputs
        images = tnp.asarray(inputs, dtype=self.dtype)
        draw_shape = (1, 1, 1) if len(shape) == 3 else (shape[0], 1, 1, 1)
        delta = _draw(self, draw_shape, *self.factor) * (self.value_range[1] - self.value_range[0])
        return tnp.clip(images + delta, *self.value_range)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "value_range": list(self.value_range),
            "seed": self.seed,
            "data_format": self.data_format,
        }


__all__ = ["CenterCrop", "RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip"]
