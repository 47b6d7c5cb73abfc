"""Sequential: a plain stack of layers, each feeding the next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tapegrad.nn.layers.base import KerasTensor, Layer
from tapegrad.nn.layers.core import InputLayer
from tapegrad.nn.models.model import Model, check_unique_names


class Sequential(Model):
    """A linear stack of layers (Keras 3 ``keras.Sequential``), with or without `Input`.

    Args:
        layers: Layers in order; the first may be an `InputLayer` (or `Input(...)`
            tensor), or declare ``input_shape=``; otherwise the model builds on first call.
        name: Model name.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.layers.Input(shape=(4,)), tg.layers.Dense(2)])
        >>> model(np.ones((3, 4), np.float32)).shape
        (3, 2)
    """

    def __init__(
        self, layers: Sequence[Any] | None = None, name: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        self._stack: list[Layer] = []
        self._input: KerasTensor | None = None
        self._output: KerasTensor | None = None
        if layers is not None and not isinstance(layers, list | tuple):
            raise TypeError(
                f"Sequential '{self.name}': `layers` must be a list of layers, got "
                f"{type(layers).__name__}"
            )
        for layer in layers or []:
            self.add(layer, rebuild=False)
        if self._input is not None and self._stack:
            self._build_graph()

    def add(self, layer: Any, rebuild: bool = True) -> None:
        """Append a layer (or an `Input` tensor, as the first element).

        Args:
            layer: A `Layer`, or an `Input` tensor / `InputLayer` as the first element.
            rebuild: Wire the new layer into the model's graph now (Keras 3's argument);
                with False, the next ``add`` or the first call does it.
        """
        if isinstance(layer, KerasTensor):
            if self._stack or self._input is not None:
                raise ValueError(f"Sequential '{self.name}': Input must come first")
            self._input = layer
            return
        if isinstance(layer, InputLayer):
            if self._stack or self._input is not None:
                raise ValueError(f"Sequential '{self.name}': InputLayer must come first")
            self._input = layer.output
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential '{self.name}': expected a Layer, got {type(layer).__name__}"
            )
        check_unique_names(self, [*self._stack, layer])
        if not self._stack and self._input is None and layer._declared_input_shape:
            self._input = InputLayer(shape=layer._declared_input_shape).output
        wired = self._functional and self._output is not None
        self._stack.append(layer)
        self._functional = False
        self.built = False
        if not rebuild or self._input is None:
            return
        if wired:
            # Only the new layer is called on the wired graph's output: adding n layers
            # one by one (as loading does) calls each layer once, not n times.
            assert self._output is not None
            with self.open_name_scope():  # its weights' paths start with the model's
                self._output = layer(self._output)
            self._init_graph(self._input, self._output)
            self._functional = True
        else:
            self._build_graph()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        layer = self._stack.pop()
        if self._input is not None and self._stack:
            self._build_graph()
        else:
            self._functional, self._output = False, None
        return layer

    def _build_graph(self) -> None:
        """With a known input shape, wire the stack as a functional graph (shapes known)."""
        out: Any = self._input
        with self.open_name_scope():  # the layers' weight paths start with the model's
            for layer in self._stack:
                out = layer(out)
        self._init_graph(self._input, out)
        self._output = out
        self._functional = True

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        # A plain loop even when wired as a graph: same layers, same order, less overhead.
        if self._input is not None:
            self._check_input(self._input, inputs)
        out = inputs
        for layer in self._stack:
            out = layer(out, training=training)
        return out

    def _maybe_build(self, inputs: Any) -> None:
        self.built = True

    def _sublayers(self) -> list[Layer]:
        return list(self._stack)

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "name": self.name,
            "trainable": self.trainable,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()}
                for layer in self._stack
            ],
        }
        if self._input is not None:
            config["input_shape"] = list(self._input.shape[1:])
            config["input_dtype"] = self._input.dtype.name
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> Sequential:
        """A new Sequential (fresh weights) from `get_config` (Keras' signature).

        Args:
            config: ``model.get_config()``.
            custom_objects: ``{name: class or function}`` for your own layers,
                activations, ... (registered ones need none).

        Returns:
            The model.

        Examples:
            >>> import tapegrad as tg
            >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2)])
            >>> Sequential.from_config(model.get_config()).output_shape
            (None, 2)
        """
        # tapegrad.nn.saving builds on the models: looked up when called.
        from tapegrad.nn.saving import model_from_config

        return model_from_config(config, custom_objects, cls=cls)
