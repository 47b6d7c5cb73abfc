"""Colour layers (Keras 3): `AutoContrast` and the augmentations `RandomInvert`,
`RandomGrayscale`, `RandomColorDegeneration` and `Solarization`.

The random layers draw per image through `tapegrad.random` with their own `SeedGenerator`
(``generator``), are active when called directly and return their inputs in inference
(`predict`, ``training=False``), as in Keras.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops, random
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format
from tapegrad.nn.layers.image_preprocessing import image_pair
from tapegrad.nn.validation import check_int, check_number, layer_owner


def _check_images(layer: Layer, shape: tuple[Any, ...]) -> None:
    if len(shape) not in (3, 4):
        raise ValueError(
            f"{layer_owner(layer)}: expects images (batch, height, width, channels) or one "
            f"image, got shape {shape}"
        )


def _draw(layer: Any, batch: int, low: float, high: float) -> Any:
    if low == high:
        return tnp.full((batch,), low, dtype=layer.dtype)
    return random.uniform((batch,), low, high, layer.dtype, layer.generator)


class RandomInvert(Layer):
    """Inverts images (``value_range[1] - x``) with a random probability while training.

    Args:
        factor: ``f`` draws each image's inversion probability in ``[0, f]`` (Keras'
            bounds); ``(lower, upper)`` in that range; within [0, 1].
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: Seed of the layer's generator.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> out = tg.layers.RandomInvert(seed=0)(np.zeros((100, 1, 1, 1), np.float32)).numpy()
        >>> sorted(set(out.ravel().tolist()))
        [0.0, 255.0]
    """

    _check_input_shape = False

    def __init__(
        self,
        factor: Any = 1.0,
        value_range: Any = (0, 255),
        seed: int | None = None,
        data_format: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        values = list(factor) if isinstance(factor, list | tuple) else [factor]
        if (isinstance(factor, list | tuple) and len(values) != 2) or not all(
            isinstance(v, int | float | np.number) and not isinstance(v, bool) and 0 <= v <= 1
            for v in values
        ):
            raise ValueError(
                f"{owner}: factor must be a number or a pair of numbers in [0, 1], got {factor!r}"
            )
        low, high = sorted(float(v) for v in values) if len(values) == 2 else (0.0, values[0])
        self.factor = (float(low), float(high))
        if not isinstance(value_range, list | tuple) or len(value_range) != 2:
            raise ValueError(f"{owner}: value_range must be (low, high), got {value_range!r}")
        self.value_range = [float(v) for v in value_range]
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.data_format = normalize_data_format(data_format, owner)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        _check_images(self, shape)
        if training is False:
            return inputs
        images = tnp.asarray(inputs, dtype=self.dtype)
        batch = shape[0] if len(shape) == 4 else 1
        probability = _draw(self, batch, *self.factor)
        invert = _draw(self, batch, 0.0, 1.0) < probability
        invert = tnp.reshape(invert, (batch, 1, 1, 1) if len(shape) == 4 else (1, 1, 1))
        return tnp.where(invert, self.value_range[1] - images, images)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "value_range": self.value_range,
            "seed": self.seed,
            "data_format": self.data_format,
        }


class RandomGrayscale(Layer):
    """Turns images grey (luma ``0.2989 R + 0.5870 G + 0.1140 B`` in every channel) with
    probability ``factor`` while training.

    Args:
        factor: Probability per image, in [0, 1].
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> rgb = np.array([[[[255.0, 0.0, 0.0]]]], np.float32)
        >>> tg.layers.RandomGrayscale(1.0)(rgb).numpy().round(2)
        array([[[[76.22, 76.22, 76.22]]]], dtype=float32)
    """

    _check_input_shape = False

    def __init__(
        self,
        factor: float = 0.5,
        data_format: str | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.factor = check_number(owner, "factor", factor, low=0, high=1)
        self.data_format = normalize_data_format(data_format, owner)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        _check_images(self, shape)
        if training is False:
            return inputs
        images = tnp.asarray(inputs, dtype=self.dtype)
        batch = shape[0] if len(shape) == 4 else 1
        apply = _draw(self, batch, 0.0, 1.0) < self.factor
        apply = tnp.reshape(apply, (batch, 1, 1, 1) if len(shape) == 4 else (1, 1, 1))
        grey = ops.image.rgb_to_grayscale(images, data_format=self.data_format)
        return tnp.where(apply, grey, images)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": self.factor,
            "data_format": self.data_format,
            "seed": self.seed,
        }


class AutoContrast(Layer):
    """Stretches each image's channels to the full ``value_range``: per image and
    channel, the smallest value becomes the range's low end and the largest its high end
    (Keras' ``AutoContrast``; a constant channel is left as it is).

    Args:
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.array([[[[50.0], [100.0]], [[150.0], [75.0]]]], np.float32)
        >>> tg.layers.AutoContrast()(x).numpy().ravel().tolist()
        [0.0, 127.5, 255.0, 63.75]
    """

    _check_input_shape = False

    def __init__(self, value_range: Any = (0, 255), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        if not isinstance(value_range, list | tuple) or len(value_range) != 2:
            raise ValueError(f"{owner}: value_range must be (low, high), got {value_range!r}")
        self.value_range = sorted(float(v) for v in value_range)

    def call(self, inputs: Any) -> Any:
        shape = tuple(shape_of(inputs))
        _check_images(self, shape)
        low, high = self.value_range
        images = tnp.asarray(inputs, dtype=self.dtype)
        # In Keras' working range [0, 255], then back.
        scaled = (images - low) * (255.0 / (high - low))
        axes = (1, 2) if len(shape) == 4 else (0, 1)
        smallest = tnp.min(scaled, axis=axes, keepdims=True)
        largest = tnp.max(scaled, axis=axes, keepdims=True)
        spread = largest - smallest
        constant = spread == 0
        # A constant channel would divide by zero (Keras' NaN, then the original value).
        scale = 255.0 / tnp.where(constant, 1.0, spread)
        stretched = tnp.clip((scaled - smallest) * scale, 0.0, 255.0)
        result = stretched * ((high - low) / 255.0) + low
        return tnp.where(constant, images, result)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "value_range": self.value_range}


class RandomColorDegeneration(Layer):
    """Blends each image towards its greyscale version by a random factor while training,
    then clips to ``value_range`` (Keras' ``RandomColorDegeneration``).

    Args:
        factor: ``f`` draws blend factors in ``[-f, f]``; ``(lower, upper)`` in that
            range; within [-1, 1] (negative factors push colours away from grey).
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.RandomColorDegeneration((1.0, 1.0))
        >>> layer(np.array([[[[255.0, 0.0, 0.0]]]], np.float32)).numpy().round(2)
        array([[[[76.22, 76.22, 76.22]]]], dtype=float32)
    """

    _check_input_shape = False

    def __init__(
        self,
        factor: Any,
        value_range: Any = (0, 255),
        data_format: str | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.factor = image_pair(owner, "factor", factor, (-1.0, 1.0))
        if not isinstance(value_range, list | tuple) or len(value_range) != 2:
            raise ValueError(f"{owner}: value_range must be (low, high), got {value_range!r}")
        self.value_range = sorted(float(v) for v in value_range)
        self.data_format = normalize_data_format(data_format, owner)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        _check_images(self, shape)
        if training is False:
            return inputs
        images = tnp.asarray(inputs, dtype=self.dtype)
        batch = shape[0] if len(shape) == 4 else 1
        factor = tnp.reshape(
            _draw(self, batch, *self.factor), (batch, 1, 1, 1) if len(shape) == 4 else (1, 1, 1)
        )
        grey = ops.image.rgb_to_grayscale(images, data_format=self.data_format)
        return tnp.clip(images + factor * (grey - images), *self.value_range)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "factor": list(self.factor),
            "value_range": self.value_range,
            "data_format": self.data_format,
            "seed": self.seed,
        }


def _unit_range(owner: str, name: str, factor: Any) -> tuple[float, float]:
    """Keras' ``Solarization`` factors: ``f`` gives ``(0, f)``, a pair is sorted; in [0, 1]."""
    values = list(factor) if isinstance(factor, list | tuple) else [factor]
    if (isinstance(factor, list | tuple) and len(values) != 2) or not all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool) and 0 <= v <= 1
        for v in values
    ):
        raise ValueError(
            f"{owner}: {name} must be a number or a pair of numbers in [0, 1], got {factor!r}"
        )
    if len(values) == 2:
        low, high = sorted(float(v) for v in values)
        return low, high
    return 0.0, float(values[0])


class Solarization(Layer):
    """Adds a random offset to each image and inverts the pixels above a random
    threshold, while training (Keras' ``Solarization``).

    Working in ``[0, 255]``: ``y = clip(x + a, 0, 255)``, then ``y`` below the threshold
    ``t`` and ``255 - y`` from it on. As in Keras 3.15, ``a`` is drawn in
    ``[addition_factor[0], addition_factor[1] * 255]`` and ``t`` in
    ``[threshold_factor[0], threshold_factor[1] * 255]`` (so the defaults invert every
    pixel).

    Args:
        addition_factor: ``f`` (``(0, f)``) or ``(lower, upper)``, within [0, 1].
        threshold_factor: Like ``addition_factor``.
        value_range: ``(low, high)`` of the pixel values (default ``(0, 255)``).
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.Solarization(value_range=(0, 1))  # threshold 0: all inverted
        >>> out = layer(np.array([[[[0.2], [0.9]]]], np.float32)).numpy().ravel()
        >>> [round(float(v), 4) for v in out]
        [0.8, 0.1]
    """

    _check_input_shape = False

    def __init__(
        self,
        addition_factor: Any = 0.0,
        threshold_factor: Any = 0.0,
        value_range: Any = (0, 255),
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.addition_factor = _unit_range(owner, "addition_factor", addition_factor)
        self.threshold_factor = _unit_range(owner, "threshold_factor", threshold_factor)
        if not isinstance(value_range, list | tuple) or len(value_range) != 2:
            raise ValueError(f"{owner}: value_range must be (low, high), got {value_range!r}")
        self.value_range = sorted(float(v) for v in value_range)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        _check_images(self, shape)
        images = tnp.asarray(inputs, dtype=self.dtype)
        if training is False:
            return images
        batch = shape[0] if len(shape) == 4 else 1
        draw_shape = (batch, 1, 1, 1) if len(shape) == 4 else (1, 1, 1)
        additions = tnp.reshape(
            _draw(self, batch, self.addition_factor[0], self.addition_factor[1] * 255), draw_shape
        )
        thresholds = tnp.reshape(
            _draw(self, batch, self.threshold_factor[0], self.threshold_factor[1] * 255),
            draw_shape,
        )
        low, high = self.value_range
        scaled = (images - low) * (255.0 / (high - low))
        shifted = tnp.clip(scaled + additions, 0.0, 255.0)
        solarized = tnp.where(shifted < thresholds, shifted, 255.0 - shifted)
        return solarized * ((high - low) / 255.0) + low

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "addition_factor": list(self.addition_factor),
            "threshold_factor": list(self.threshold_factor),
            "value_range": self.value_range,
            "seed": self.seed,
        }


__all__ = [
    "AutoContrast",
    "RandomColorDegeneration",
    "RandomGrayscale",
    "RandomInvert",
    "Solarization",
]
