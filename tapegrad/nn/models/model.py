"""Model: functional (``Model(inputs, outputs)``) and subclassed models, with training.

A functional model keeps the graph of layer and op calls recorded by `KerasTensor`s and
replays it in topological order; a subclassed model is a `Layer` whose ``call`` the user
writes. Both get ``compile``/``fit``/``evaluate``/``predict`` from `Trainer`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.nn.layers.base import KerasTensor, Layer, _flatten, _map_structure, unique_name
from tapegrad.nn.layers.core import InputLayer
from tapegrad.nn.layers.operation import OpLayer
from tapegrad.nn.models.functional import (
    adjust_input,
    reachable_inputs,
    standardize_inputs,
    topological_nodes,
    unique_layers,
)
from tapegrad.nn.trainer import Trainer


class Model(Trainer, Layer):
    """A trainable graph of layers: functional or subclassed (Keras 3 ``keras.Model``).

    Functional: ``Model(inputs, outputs)`` where ``inputs`` are `Input` tensors (one, a
    list or a dict keyed by name) and ``outputs`` the tensors computed from them (one, a
    list or a dict) by layers, ops and Python operators. Subclassed: define ``call`` (and
    create layers in ``__init__``), or build the graph in ``__init__`` and pass it to
    ``super().__init__(inputs, outputs)``.

    Args:
        inputs: The `Input` tensor(s) of a functional model.
        outputs: The KerasTensor(s) computed from them.
        name: Model name.
        trainable: Whether the weights are trained.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> inputs = tg.Input(shape=(3,), name="features")
        >>> hidden = tg.layers.Dense(4, activation="relu")(inputs)
        >>> outputs = tg.layers.Dense(1, name="score")(hidden + tg.ops.mean(hidden))
        >>> model = tg.Model(inputs, outputs)
        >>> model.predict(np.ones((2, 3)), verbose=0).shape
        (2, 1)
        >>> model.input_names, model.output_names
        (['features'], ['score'])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        inputs = kwargs.pop("inputs", args[0] if args else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        if len(args) > 2:
            raise TypeError(
                f"Model: at most two positional arguments (inputs, outputs), got {len(args)}"
            )
        trainable = kwargs.pop("trainable", True)
        if type(self) is Model and inputs is not None and kwargs.get("name") is None:
            kwargs["name"] = unique_name("Functional")  # Keras 3's default name
        super().__init__(trainable=trainable, **kwargs)
        self._init_trainer()
        self._functional = inputs is not None
        if self._functional:
            if outputs is None:
                raise ValueError(f"Model '{self.name}': outputs are required with inputs")
            self._init_graph(inputs, outputs)
        elif outputs is not None:
            raise ValueError(f"Model '{self.name}': inputs are required with outputs")

    # -- functional graph ---------------------------------------------------------------
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        flat_inputs = _flatten(inputs)
        flat_outputs = _flatten(outputs)
        if not flat_inputs or not flat_outputs:
            raise ValueError(
                f"Model '{self.name}': needs at least one input and one output, "
                f"got inputs={inputs!r} and outputs={outputs!r}"[:300]
            )
        for which, flat in (("inputs", flat_inputs), ("outputs", flat_outputs)):
            for tensor in flat:
                if not isinstance(tensor, KerasTensor):
                    raise ValueError(
                        f"Model '{self.name}': all `{which}` values must be KerasTensors "
                        "(from tapegrad.Input and layer or op calls), got "
                        f"{type(tensor).__name__}"
                    )
        for tensor in flat_inputs:
            if tensor.history is None or not isinstance(tensor.history[0], InputLayer):
                raise ValueError(
                    f"Model '{self.name}': the input {tensor!r} is not an Input tensor "
                    "(made by tapegrad.Input)"
                )
        if len({id(t) for t in flat_inputs}) != len(flat_inputs):
            raise ValueError(f"Model '{self.name}': an input is listed twice")
        if isinstance(inputs, dict):
            wrong = {k: t.name for k, t in inputs.items() if k != t.name}
            if wrong:
                # Keras warns; data dicts are keyed by the keys, names then differ.
                import warnings

                warnings.warn(
                    f"Model '{self.name}': when `inputs` is a dict, its keys should be the "
                    f"Input names; got keys mapping to other names: {wrong}",
                    stacklevel=3,
                )
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self._flat_inputs = flat_inputs
        self._graph_nodes = topological_nodes(flat_outputs)
        input_layers = [t.history[0] for t in flat_inputs]  # type: ignore[index]
        known = {id(layer) for layer in input_layers}
        missing = [layer.name for layer in reachable_inputs(flat_outputs) if id(layer) not in known]
        if missing:
            raise ValueError(
                f"Model '{self.name}': outputs depend on Input(s) {missing} that are not "
                "in the model's inputs"
            )
        self._operations = unique_layers([*input_layers, *(n.layer for n in self._graph_nodes)])
        # Saved for attribute tracking (weights): ops have none, but nested models do.
        self._layers = list(self._operations)
        check_unique_names(self, self._operations)
        self._several_inputs = len(flat_inputs) > 1
        self.built = True
        self._build_shapes = None

    @property
    def layers(self) -> list[Layer]:
        """The model's layers (functional: in graph order, inputs first; no op nodes)."""
        if self._functional:
            return [op for op in self._operations if not isinstance(op, OpLayer)]
        return self._sublayers()

    @layers.setter
    def layers(self, _: Any) -> None:
        raise AttributeError(
            "`Model.layers` attribute is reserved and should not be used. Please use another name."
        )

    @property
    def summary_type(self) -> str:
        """The type a summary shows: ``Functional`` for a graph model (as Keras)."""
        if type(self) is Model and self._functional:
            return "Functional"
        return type(self).__name__

    @property
    def operations(self) -> list[Layer]:
        """Every node of the graph: layers and op nodes (Keras 3's ``operations``)."""
        if self._functional:
            return list(self._operations)
        return self._sublayers()

    @property
    def inputs(self) -> list[KerasTensor]:
        """The Input tensors, flat (dicts by sorted key)."""
        return _flatten(self._inputs_struct) if self._functional else []

    @property
    def outputs(self) -> list[KerasTensor]:
        """The output tensors, flat (dicts by sorted key)."""
        return _flatten(self._outputs_struct) if self._functional else []

    @property
    def input(self) -> Any:
        """The inputs as given to the constructor (a tensor, list or dict); a subclassed
        model: its first call's symbolic input, as any layer."""
        if not self._functional:
            return Layer.input.fget(self)  # type: ignore[attr-defined]
        return self._inputs_struct

    @property
    def output(self) -> Any:
        """The outputs as given to the constructor (a tensor, list or dict); a subclassed
        model: its first call's symbolic output, as any layer."""
        if not self._functional:
            return Layer.output.fget(self)  # type: ignore[attr-defined]
        return self._outputs_struct

    @property
    def input_names(self) -> list[str]:
        """The names of the Input tensors, in `inputs` order."""
        return [str(t.name) for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """Names of the layers producing the outputs, in `outputs` order (as Keras 3)."""
        return [t.history[0].name for t in self.outputs]  # type: ignore[index]

    @property
    def input_shape(self) -> Any:
        """The Inputs' shapes (one shape for a single input)."""
        self._require_graph("input_shape")
        shapes = _map_structure(lambda t: t.shape, self._inputs_struct)
        return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        """The outputs' shapes (one shape for a single output)."""
        self._require_graph("output_shape")
        shapes = _map_structure(lambda t: t.shape, self._outputs_struct)
        return shapes[0] if isinstance(shapes, list) and len(shapes) == 1 else shapes

    def _require_graph(self, what: str) -> None:
        if not self._functional:
            raise AttributeError(
                f"Model '{self.name}' has no `{what}`: it is not a functional model (no "
                "Input); call it on data, or build it with tapegrad.Input"
            )

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name (unique) or index (Keras' rules and errors).

        Args:
            name: The layer's name.
            index: Its position in `layers`.

        Returns:
            The layer.
        """
        if index is not None and name is not None:
            raise ValueError(
                f"Provide only a layer name or a layer index. Received: index={index}, name={name}."
            )
        layers = self.layers
        if index is not None:
            if len(layers) <= index:
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(layers)} layers."
                )
            return layers[index]
        if name is not None:
            for layer in layers:
                if layer.name == name:
                    return layer
            raise ValueError(
                f"No such layer: {name}. Existing layers are: {[x.name for x in layers]}."
            )
        raise ValueError("Provide either a layer name or layer index at `get_layer`.")

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not self._functional:
            raise NotImplementedError(f"Model '{self.name}': a subclassed model must define call()")
        # (Every step runs this: the common cases skip the structure walks.)
        if not self._several_inputs and type(inputs) is tg.Tensor:
            tensor = self._flat_inputs[0]
            shape = inputs.shape
            if not (
                len(shape) == tensor.ndim
                and shape[1:] == tensor.shape[1:]
                and inputs.dtype == tensor.dtype
            ):
                inputs = adjust_input(self, tensor, inputs)
            values: dict[int, Any] = {id(tensor): inputs}
        else:
            flat = standardize_inputs(self, inputs)
            values = {id(t): v for t, v in zip(self._flat_inputs, flat, strict=True)}

        def value_of(t: Any) -> Any:
            return values[id(t)] if isinstance(t, KerasTensor) else t

        for node in self._graph_nodes:
            first = node.inputs
            args = (
                values[id(first)] if type(first) is KerasTensor else _map_structure(value_of, first)
            )
            layer = node.layer
            if type(layer) is OpLayer:
                out = layer.call(args)  # (an op: no build, shape check or training flag)
            elif node.symbolic_arguments:  # symbolic tensors in other arguments too
                rest = _map_structure(value_of, list(node.call_args))
                out = layer(args, *rest, **_map_structure(value_of, node.call_kwargs))
            else:
                out = layer(args, *node.call_args, **node.call_kwargs)
            produced = node.outputs
            if len(produced) == 1 and not isinstance(out, list | tuple | dict):
                values[id(produced[0])] = out
            else:
                for tensor, value in zip(produced, _flatten(out), strict=True):
                    values[id(tensor)] = value
        outputs = self._outputs_struct
        if isinstance(outputs, list) and len(outputs) == 1:
            return values[id(outputs[0])]  # Keras unpacks a one-element output list
        return _map_structure(lambda t: values[id(t)], outputs)

    def _check_input(self, tensor: KerasTensor, value: Any) -> None:
        got = tuple(value.shape) if hasattr(value, "shape") else np.shape(value)
        expected = tensor.shape
        if got[1:] == expected[1:] and len(got) == len(expected):
            return  # (the check of every step: two tuple comparisons)
        if len(got) != len(expected) or any(
            e is not None and e != g for e, g in zip(expected[1:], got[1:], strict=True)
        ):
            raise ValueError(
                f"Input '{tensor.name}' of model '{self.name}' expects shape {expected}, "
                f"got {tuple(got)}"
            )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._functional and isinstance(args[0] if args else kwargs.get("inputs"), dict):
            # Dict data keyed by input name: matched here, the layer machinery sees a list.
            inputs = args[0] if args else kwargs.pop("inputs")
            if not any(isinstance(x, KerasTensor) for x in _flatten(inputs)):
                ordered = standardize_inputs(self, inputs)
                args = (ordered if self._several_inputs else ordered[0], *args[1:])
        return super().__call__(*args, **kwargs)

    def _maybe_build(self, inputs: Any) -> None:
        if self._functional:
            self.built = True
            return
        super()._maybe_build(inputs)

    # -- configuration --------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Functional models: layers, op nodes and their connections (Keras' layout)."""
        if not self._functional:
            return {"name": self.name, "trainable": self.trainable}
        index = {id(layer): i for i, layer in enumerate(self._operations)}
        graph_nodes = {id(node) for node in self._graph_nodes}
        layers = []
        for layer in self._operations:
            inbound = []
            for node in layer._inbound_nodes:
                if id(node) not in graph_nodes:
                    continue
                if node.call_args or node.symbolic_arguments:
                    raise ValueError(
                        f"Model '{self.name}': layer '{layer.name}' is called with more than "
                        "one positional argument or with symbolic keyword arguments; such a "
                        "call cannot be saved in a config yet (pass its tensors as one list "
                        "in the first argument to save the model)"
                    )
                inbound.append(
                    {
                        "args": _map_structure(
                            lambda t: _tensor_ref(t) if isinstance(t, KerasTensor) else t,
                            node.inputs,
                        ),
                        "kwargs": node.call_kwargs,
                    }
                )
            layers.append(
                {
                    "class_name": type(layer).__name__,
                    "name": layer.name,
                    "config": layer.get_config(),
                    "inbound_nodes": inbound,
                    "index": index[id(layer)],
                }
            )
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layers,
            "input_layers": _map_structure(_tensor_ref, self._inputs_struct),
            "output_layers": _map_structure(_tensor_ref, self._outputs_struct),
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> Any:
        """A new model (fresh weights) from `get_config` (Keras' signature); a subclass's
        config goes to its constructor, as in Keras."""
        if not {"layers", "input_layers", "output_layers"} <= set(config):
            return super().from_config(config)
        # tapegrad.nn.saving builds on the models: looked up when called.
        from tapegrad.nn.saving import model_from_config

        return model_from_config(config, custom_objects, cls=cls)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as JSON (Keras' ``to_json``; ``kwargs`` go to `json.dumps`);
        `tapegrad.models.model_from_json` rebuilds it."""
        from tapegrad.nn.saving import model_to_json

        return model_to_json(self, **kwargs)


def check_unique_names(model: Layer, layers: list[Layer]) -> None:
    """Refuse two different layers of one name: saved configs refer to layers by name."""
    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) > 1:
            raise ValueError(
                f"Model '{model.name}': the name \"{name}\" is used {names.count(name)} times "
                "in the model. All layer names should be unique."
            )


def _tensor_ref(tensor: KerasTensor) -> list[Any]:
    layer, node_index, out_index = tensor.history  # type: ignore[misc]
    return [layer.name, node_index, out_index]
