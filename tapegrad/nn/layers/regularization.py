"""Noise and dropout layers (Keras 3): `SpatialDropout1D/2D/3D`, `GaussianNoise`,
`GaussianDropout`, `AlphaDropout`.

Each layer draws through `tapegrad.random` with its own `SeedGenerator`
(``seed_generator``, as Keras names it): the draw advances the generator's state, so a
compiled training step draws new noise every time it runs, and saving a model keeps the
state. Outside training every layer returns its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import random
from tapegrad.nn import regularizers
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format
from tapegrad.nn.validation import check_int, check_number, check_shape, layer_owner

# SELU's constants: AlphaDropout keeps a SELU network's mean and variance.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class _RandomLayer(Layer):
    """A layer that draws from its own seed generator while training."""

    _check_input_shape = False

    def __init__(self, seed: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = check_int(layer_owner(self), "seed", seed, minimum=0, allow_none=True)
        self.seed_generator = random.SeedGenerator(seed, name=f"{self.name}_seed_generator")

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape."""
        return tuple(input_shape)


class _SpatialDropout(_RandomLayer):
    """Drops whole channels: one keep/drop draw per (example, channel)."""

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    rank = 1

    def __init__(
        self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(seed, **kwargs)
        owner = layer_owner(self)
        self.rate = check_number(owner, "rate", rate, low=0, high=1, high_open=True)
        self.data_format = normalize_data_format(data_format, owner)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        shape = tuple(shape_of(inputs))
        if len(shape) != self.rank + 2:
            raise ValueError(
                f"{layer_owner(self)}: expects inputs with {self.rank} spatial axes, a batch "
                f"and a channel axis ({self.rank + 2} dims), got shape {shape}"
            )
        if not training or self.rate == 0:
            return inputs
        ones = (1,) * self.rank
        if self.data_format == "channels_first":
            noise_shape = (shape[0], shape[1], *ones)
        else:
            noise_shape = (shape[0], *ones, shape[-1])
        return random.dropout(inputs, self.rate, noise_shape, seed=self.seed_generator)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "rate": self.rate, "seed": self.seed}
        # Keras 3's spatial dropouts leave "trainable" out of their configs.
        config.pop("trainable", None)
        if self.rank > 1:
            config["data_format"] = self.data_format
        return config


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole feature maps of ``(batch, steps, channels)``: a dropped channel is
    zero at every step (the kept ones are scaled by ``1 / (1 - rate)``).

    Args:
        rate: Fraction of the channels to drop, in [0, 1).
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> out = tg.layers.SpatialDropout1D(0.5, seed=1)(np.ones((2, 4, 3)), training=True)
        >>> bool((out.numpy() == out.numpy()[:, :1]).all())  # the same at every step
        True
    """

    rank = 1

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(rate, None, seed, **kwargs)


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of images (one draw per example and channel).

    Args:
        rate: Fraction of the channels to drop, in [0, 1).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> out = tg.layers.SpatialDropout2D(0.5, seed=0)(np.ones((2, 3, 3, 4)), training=True)
        >>> sorted(set(out.numpy().ravel().tolist())) <= [0.0, 2.0]
        True
    """

    rank = 2

    def __init__(
        self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(rate, data_format, seed, **kwargs)


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole feature maps of volumes (one draw per example and channel).

    Args:
        rate: Fraction of the channels to drop, in [0, 1).
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.layers.SpatialDropout3D(0.5)(np.ones((1, 2, 2, 2, 3))).shape
        (1, 2, 2, 2, 3)
    """

    rank = 3

    def __init__(
        self, rate: float, data_format: str | None = None, seed: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(rate, data_format, seed, **kwargs)


class GaussianNoise(_RandomLayer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` while training.

    Args:
        stddev: Standard deviation of the noise, in [0, 1] (Keras' bounds).
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> layer = tg.layers.GaussianNoise(0.1, seed=0)
        >>> out = layer(np.zeros((1000,), np.float32), training=True).numpy()
        >>> bool(0.08 < out.std() < 0.12), layer(np.zeros(2, np.float32)).numpy()
        (True, array([0., 0.], dtype=float32))
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(self, stddev: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed, **kwargs)
        self.stddev = check_number(layer_owner(self), "stddev", stddev, low=0, high=1)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.stddev == 0:
            return inputs
        noise = random.normal(
            shape_of(inputs), 0.0, self.stddev, dtype=_float_dtype(inputs), seed=self.seed_generator
        )
        return inputs + noise

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(_RandomLayer):
    """Multiplies the inputs by Gaussian noise of mean 1 and standard deviation
    ``sqrt(rate / (1 - rate))`` while training.

    Args:
        rate: The equivalent dropout rate, in [0, 1).
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> out = tg.layers.GaussianDropout(0.5, seed=0)(np.ones(1000), training=True).numpy()
        >>> bool(0.9 < out.mean() < 1.1), bool(0.9 < out.std() < 1.1)
        (True, True)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(seed, **kwargs)
        self.rate = check_number(layer_owner(self), "rate", rate, low=0, high=1, high_open=True)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = random.normal(
            shape_of(inputs), 1.0, stddev, dtype=_float_dtype(inputs), seed=self.seed_generator
        )
        return inputs * noise

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(_RandomLayer):
    """Dropout for SELU networks: dropped inputs are set to SELU's negative saturation
    value, then an affine map restores the inputs' mean and variance.

    Args:
        rate: Fraction of the inputs to drop, in [0, 1).
        noise_shape: Optional shape of the keep mask (None entries take the input's size).
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> x = np.random.default_rng(0).standard_normal(20000)
        >>> out = tg.layers.AlphaDropout(0.2, seed=0)(x, training=True).numpy()
        >>> bool(abs(out.mean()) < 0.05), bool(abs(out.std() - 1) < 0.05)
        (True, True)
    """

    # Keras 3: the output keeps the input's mask.
    supports_masking = True

    def __init__(
        self,
        rate: float,
        noise_shape: Sequence[int | None] | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(seed, **kwargs)
        owner = layer_owner(self)
        self.rate = check_number(owner, "rate", rate, low=0, high=1, high_open=True)
        self.noise_shape = (
            None
            if noise_shape is None
            else check_shape(owner, "noise_shape", noise_shape, allow_unknown=True)
        )

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training or self.rate == 0:
            return inputs
        shape = tuple(shape_of(inputs))
        noise_shape = shape
        if self.noise_shape is not None:
            if len(self.noise_shape) != len(shape):
                raise ValueError(
                    f"{layer_owner(self)}: noise_shape {self.noise_shape} must have the "
                    f"inputs' rank, got inputs of shape {shape}"
                )
            noise_shape = tuple(
                s if n is None else n for n, s in zip(self.noise_shape, shape, strict=True)
            )
        dtype = _float_dtype(inputs)
        uniform = random.uniform(noise_shape, dtype=dtype, seed=self.seed_generator)
        kept = tnp.asarray(uniform >= self.rate, dtype=dtype)
        alpha_p = -_SELU_ALPHA * _SELU_SCALE
        a = ((1 - self.rate) * (1 + self.rate * alpha_p**2)) ** -0.5
        b = -a * alpha_p * self.rate
        return a * (inputs * kept + alpha_p * (1 - kept)) + b

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
        }


def _float_dtype(inputs: Any) -> np.dtype:
    dtype = np.dtype(inputs.dtype)
    return dtype if dtype.kind == "f" else np.dtype("float32")


__all__ = [
    "AlphaDropout",
    "GaussianDropout",
    "GaussianNoise",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
]


class ActivityRegularization(Layer):
    """Passes its inputs through and adds ``l1 * sum(|x|) + l2 * sum(x**2)`` of them,
    divided by the batch size, to the losses (Keras 3's layer, through `Layer.add_loss`).

    Args:
        l1: L1 factor (a number >= 0).
        l2: L2 factor (a number >= 0).

    Examples:
        >>> import tapegrad as tg
        >>> layer = tg.layers.ActivityRegularization(l2=0.5)
        >>> layer(tg.tensor([[1.0, 2.0], [3.0, 0.0]])).numpy()
        array([[1., 2.],
               [3., 0.]], dtype=float32)
        >>> [float(loss) for loss in layer.losses]  # 0.5 * (1 + 4 + 9) / 2
        [3.5]
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs: Any) -> None:
        kwargs.pop("activity_regularizer", None)  # Keras' get_config leaves it out too
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.l1 = check_number(owner, "l1", l1, low=0)
        self.l2 = check_number(owner, "l2", l2, low=0)
        self.activity_regularizer = regularizers.L1L2(l1=self.l1, l2=self.l2)
        self.supports_masking = True

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("activity_regularizer", None)
        return {**config, "l1": self.l1, "l2": self.l2}
