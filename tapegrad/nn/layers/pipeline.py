"""`Pipeline` (Keras 3): preprocessing layers applied one after the other, as one layer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tapegrad.nn.layers.base import Layer
from tapegrad.nn.layers.serialization import deserialize, serialize
from tapegrad.nn.validation import layer_owner


class Pipeline(Layer):
    """Applies ``layers`` in order (Keras' ``Pipeline``, for preprocessing and
    augmentation chains).

    As in Keras, a direct call runs the layers in training mode (``training=True``):
    random augmentations are active; `predict` passes ``training=False``.

    Args:
        layers: The layers.
        name: Layer name.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> pipeline = tg.layers.Pipeline(
        ...     [tg.layers.Rescaling(1 / 255), tg.layers.CenterCrop(2, 2)]
        ... )
        >>> pipeline(np.full((1, 4, 4, 3), 255.0, np.float32)).shape
        (1, 2, 2, 3)
    """

    _check_input_shape = False

    def __init__(self, layers: Sequence[Layer], name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        layers = list(layers) if isinstance(layers, list | tuple) else None
        if layers is None or not all(isinstance(layer, Layer) for layer in layers):
            raise ValueError(f"{layer_owner(self)}: layers must be a list of layers")
        self.pipeline_layers = layers

    @property
    def layers(self) -> list[Layer]:
        """The layers, in order."""
        return list(self.pipeline_layers)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        training = True if training is None else training
        for layer in self.pipeline_layers:
            inputs = layer(inputs, training=training)
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "layers": [serialize(layer) for layer in self.pipeline_layers],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Pipeline:
        config = dict(config)
        layers = config.get("layers")
        if not isinstance(layers, list | tuple):
            raise ValueError(
                "Pipeline.from_config: the config needs 'layers', a list of serialized layers"
            )
        config["layers"] = [deserialize(layer) for layer in layers]
        return cls(**config)


__all__ = ["Pipeline"]
