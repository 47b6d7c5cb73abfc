"""`MixUp` (Keras 3): blends each image (and its label) with another image of the batch."""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import random
from tapegrad.nn.layers.base import Layer, shape_of
from tapegrad.nn.layers.conv import normalize_data_format
from tapegrad.nn.validation import check_int, check_number, layer_owner


class MixUp(Layer):
    """MixUp augmentation while training: image ``i`` becomes
    ``w_i * x_i + (1 - w_i) * x_p(i)`` for a random permutation ``p`` of the batch and
    weights ``w ~ Beta(alpha, alpha)``; labels (one-hot) are mixed the same way.

    Call it on images, or as Keras on a dict ``{"images": ..., "labels": ...}`` (the
    result is a dict with both mixed).

    Args:
        alpha: Parameter of the Beta distribution of the weights.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.
        seed: Seed of the layer's generator.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> batch = {"images": np.ones((4, 2, 2, 3), np.float32), "labels": np.eye(4)}
        >>> out = tg.layers.MixUp(seed=0)(batch)
        >>> out["images"].shape, bool(np.allclose(out["labels"].numpy().sum(1), 1.0))
        ((4, 2, 2, 3), True)
    """

    _check_input_shape = False

    def __init__(
        self,
        alpha: float = 0.2,
        data_format: str | None = None,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = layer_owner(self)
        self.alpha = check_number(owner, "alpha", alpha, low=0, low_open=True)
        self.data_format = normalize_data_format(data_format, owner)
        self.seed = check_int(owner, "seed", seed, minimum=0, allow_none=True)
        self.generator = random.SeedGenerator(seed, name=f"{self.name}_generator")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        packed = isinstance(inputs, dict)
        images = inputs["images"] if packed else inputs
        shape = tuple(shape_of(images))
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{layer_owner(self)}: expects images (batch, height, width, channels) or "
                f"one image, got shape {shape}"
            )
        if training is False or len(shape) == 3:  # one image has nothing to mix with
            return inputs
        batch = shape[0]
        order = random.shuffle(np.arange(batch, dtype=np.int64), seed=self.generator)
        weight = random.beta(
            (batch,), self.alpha, self.alpha, dtype=self.dtype, seed=self.generator
        )
        images = tnp.asarray(images, dtype=self.dtype)
        w = tnp.reshape(weight, (batch, 1, 1, 1))
        mixed = w * images + (1.0 - w) * tnp.take(images, order, axis=0)
        if not packed:
            return mixed
        out = dict(inputs)
        out["images"] = mixed
        if "labels" in inputs:
            labels = tnp.asarray(inputs["labels"], dtype=self.dtype)
            w = tnp.reshape(weight, (batch, 1))
            out["labels"] = w * labels + (1.0 - w) * tnp.take(labels, order, axis=0)
        return out

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The input shape(s)."""
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "data_format": self.data_format,
            "seed": self.seed,
        }


__all__ = ["MixUp"]
