"""Model: functional (``Model(inputs, outputs)``) and subclassed models, with training.

A functional model keeps the graph of layer calls recorded by `KerasTensor`s and replays
it in topological order; a subclassed model is a `Layer` whose ``call`` the user writes.
Both get ``compile``/``fit``/``evaluate``/``predict`` from `Trainer`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.nn.layers.base import (
    KerasTensor,
    Layer,
    Node,
    _flatten,
    _map_structure,
    shape_of,
)
from tapegrad.nn.layers.core import InputLayer
from tapegrad.nn.trainer import Trainer


class Model(Trainer, Layer):
    """A trainable stack of layers: functional or subclassed (Keras 3 ``keras.Model``).

    Args:
        inputs: For the functional API, the `Input` tensor(s) (a KerasTensor, list or dict).
        outputs: The KerasTensor(s) computed from them.
        name: Model name.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> inputs = tg.layers.Input(shape=(3,))
        >>> hidden = tg.layers.Dense(4, activation="relu")(inputs)
        >>> model = tg.Model(inputs, tg.layers.Dense(1)(hidden))
        >>> model.predict(np.ones((2, 3)), verbose=0).shape
        (2, 1)
    """

    def __init__(
        self, inputs: Any = None, outputs: Any = None, name: str | None = None, **kwargs: Any
    ) -> None:
        trainable = kwargs.pop("trainable", True)
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._init_trainer()
        self._functional = inputs is not None
        if self._functional:
            if outputs is None:
                raise ValueError(f"Model '{self.name}': outputs are required with inputs")
            self._init_graph(inputs, outputs)

    # -- functional graph ---------------------------------------------------------------
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        flat_inputs = _flatten(inputs)
        self._several_inputs = len(flat_inputs) > 1
        if not flat_inputs or not _flatten(outputs):
            raise ValueError(
                f"Model '{self.name}': needs at least one input and one output, "
                f"got inputs={inputs!r} and outputs={outputs!r}"[:300]
            )
        for tensor in flat_inputs + _flatten(outputs):
            if not isinstance(tensor, KerasTensor):
                raise TypeError(
                    f"Model '{self.name}': inputs and outputs must be KerasTensors (from "
                    f"tapegrad.layers.Input and layer calls), got {type(tensor).__name__}"
                )
        self._graph_nodes = _topological_nodes(_flatten(outputs))
        input_layers = [t.history[0] for t in flat_inputs]
        for node in self._graph_nodes:
            for tensor in node.flat_inputs:
                if tensor.history is None:
                    raise ValueError(f"Model '{self.name}': a tensor has no producing layer")
        used_inputs = {
            id(t.history[0])
            for n in self._graph_nodes
            for t in n.flat_inputs
            if isinstance(t.history[0], InputLayer)
        }
        missing = [
            layer.name
            for layer in _reachable_inputs(_flatten(outputs))
            if id(layer) not in {id(x) for x in input_layers}
        ]
        if missing:
            raise ValueError(
                f"Model '{self.name}': outputs depend on Input(s) {missing} that are not "
                "in the model's inputs"
            )
        del used_inputs
        self._layers = _unique_layers([*input_layers, *(n.layer for n in self._graph_nodes)])
        check_unique_names(self, self._layers)
        self.built = True
        self._build_shapes = None

    @property
    def layers(self) -> list[Layer]:
        """The model's layers (functional: in graph order, inputs first)."""
        if self._functional:
            return list(self._layers)
        return self._sublayers()

    @property
    def inputs(self) -> list[KerasTensor]:
        return _flatten(self._inputs_struct) if self._functional else []

    @property
    def outputs(self) -> list[KerasTensor]:
        return _flatten(self._outputs_struct) if self._functional else []

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not self._functional:
            raise NotImplementedError(f"Model '{self.name}': a subclassed model must define call()")
        values: dict[int, Any] = {}
        for tensor, value in zip(
            _flatten(self._inputs_struct),
            _flatten_inputs(inputs, self._inputs_struct, self.name),
            strict=True,
        ):
            self._check_input(tensor, value)
            values[id(tensor)] = value
        for node in self._graph_nodes:
            args = _map_structure(
                lambda t: values[id(t)] if isinstance(t, KerasTensor) else t, node.inputs
            )
            out = node.layer(args, **node.call_kwargs)
            for tensor, value in zip(node.outputs, _flatten(out), strict=True):
                values[id(tensor)] = value
        return _map_structure(lambda t: values[id(t)], self._outputs_struct)

    def _check_input(self, tensor: KerasTensor, value: Any) -> None:
        got = shape_of(value)
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
        inputs = args[0] if args else kwargs.get("inputs")
        if (
            self._functional
            and self._several_inputs
            and not isinstance(inputs, list | tuple | dict)
        ):
            raise ValueError(
                f"Model '{self.name}' has {len(_flatten(self._inputs_struct))} inputs; "
                "pass a list of arrays"
            )
        return super().__call__(*args, **kwargs)

    def _maybe_build(self, inputs: Any) -> None:
        if self._functional:
            self.built = True
            return
        super()._maybe_build(inputs)

    # -- configuration --------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """Functional models: layers and their connections (Keras' layout)."""
        if not self._functional:
            return {"name": self.name, "trainable": self.trainable}
        index = {id(layer): i for i, layer in enumerate(self._layers)}
        layers = []
        for layer in self._layers:
            inbound = []
            for node in layer._inbound_nodes:
                if node not in self._graph_nodes:
                    continue
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


def _flatten_inputs(inputs: Any, structure: Any, model: str) -> list[Any]:
    if isinstance(structure, dict):
        if not isinstance(inputs, dict):
            raise ValueError(f"Model '{model}': its inputs are a dict: pass a dict of arrays")
        missing = sorted(set(structure) - set(inputs))
        if missing:
            raise ValueError(
                f"Model '{model}': its inputs are a dict with keys "
                f"{sorted(structure)}; the keys {missing} are missing from the "
                f"data (got keys {sorted(inputs)})"
            )
        return [inputs[k] for k in sorted(structure)]
    if isinstance(structure, list | tuple) and not isinstance(inputs, list | tuple):
        return [inputs]
    flat = _flatten(inputs)
    expected = len(_flatten(structure))
    if len(flat) != expected:
        raise ValueError(
            f"Model '{model}' has {expected} input(s) but was called with {len(flat)} arrays"
        )
    return flat


def _producer(tensor: KerasTensor) -> Node | None:
    layer, node_index, _ = tensor.history  # type: ignore[misc]
    if isinstance(layer, InputLayer):
        return None
    return layer._inbound_nodes[node_index]


def _topological_nodes(outputs: list[KerasTensor]) -> list[Node]:
    """Nodes from the inputs to ``outputs``, each after the nodes it depends on."""
    order: list[Node] = []
    state: dict[int, int] = {}  # 1 visiting, 2 done

    def visit(node: Node) -> None:
        mark = state.get(id(node))
        if mark == 2:
            return
        if mark == 1:
            raise ValueError("the functional graph has a cycle")
        state[id(node)] = 1
        for tensor in node.flat_inputs:
            parent = _producer(tensor)
            if parent is not None:
                visit(parent)
        state[id(node)] = 2
        order.append(node)

    for tensor in outputs:
        node = _producer(tensor)
        if node is not None:
            visit(node)
    return order


def _reachable_inputs(outputs: list[KerasTensor]) -> list[InputLayer]:
    found: dict[int, InputLayer] = {}
    stack = list(outputs)
    while stack:
        tensor = stack.pop()
        layer = tensor.history[0]  # type: ignore[index]
        if isinstance(layer, InputLayer):
            found.setdefault(id(layer), layer)
            continue
        stack.extend(_producer(tensor).flat_inputs)  # type: ignore[union-attr]
    return list(found.values())


def _unique_layers(layers: list[Layer]) -> list[Layer]:
    seen: dict[int, Layer] = {}
    for layer in layers:
        seen.setdefault(id(layer), layer)
    return list(seen.values())


def as_array(x: Any) -> np.ndarray:
    """Plain NumPy view of a Tensor or array-like."""
    return np.asarray(x)
