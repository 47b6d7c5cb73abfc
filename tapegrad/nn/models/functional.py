"""The functional graph: its nodes in order, and data matched to a model's inputs.

Keras 3's ``Functional`` semantics: inputs and outputs are a KerasTensor, a list or a dict
(flattened by sorted key, as ``keras.tree``); data for a model may be a dict keyed by the
`Input` names whatever the model's structure, and an array whose rank differs from its
Input's by a trailing axis of size 1 is squeezed or expanded (``_adjust_input_rank``).
"""

from __future__ import annotations

from typing import Any

import tapegrad as tg
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.layers.core import InputLayer
from tapegrad.nn.layers.keras_tensor import KerasTensor, Node, flatten


def producer(tensor: KerasTensor) -> Node | None:
    """The node computing ``tensor`` (None for an Input's tensor)."""
    layer, node_index, _ = tensor.history  # type: ignore[misc]
    if isinstance(layer, InputLayer):
        return None
    return layer._inbound_nodes[node_index]


def topological_nodes(outputs: list[KerasTensor]) -> list[Node]:
    """Nodes from the inputs to ``outputs``, each after the nodes it depends on.

    Args:
        outputs: The graph's output tensors.

    Returns:
        The nodes in an order where each comes after its inputs' producers.
    """
    order: list[Node] = []
    state: dict[int, int] = {}  # 1 visiting, 2 done
    for tensor in outputs:
        root = producer(tensor)
        if root is None:
            continue
        # An explicit stack: deep graphs (hundreds of op nodes) exceed Python's recursion.
        stack: list[tuple[Node, bool]] = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                state[id(node)] = 2
                order.append(node)
                continue
            mark = state.get(id(node))
            if mark == 2:
                continue
            if mark == 1:
                raise ValueError("the functional graph has a cycle")
            state[id(node)] = 1
            stack.append((node, True))
            for parent_tensor in reversed(node.flat_inputs):
                if parent_tensor.history is None:
                    raise ValueError(
                        f"a tensor ({parent_tensor!r}) has no producing layer: use "
                        "tapegrad.Input for the model's inputs"
                    )
                parent = producer(parent_tensor)
                if parent is not None and state.get(id(parent)) != 2:
                    stack.append((parent, False))
    return order


def reachable_inputs(outputs: list[KerasTensor]) -> list[InputLayer]:
    """The Input layers that ``outputs`` depend on."""
    found: dict[int, InputLayer] = {}
    seen: set[int] = set()
    stack = list(outputs)
    while stack:
        tensor = stack.pop()
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        layer = tensor.history[0]  # type: ignore[index]
        if isinstance(layer, InputLayer):
            found.setdefault(id(layer), layer)
            continue
        stack.extend(producer(tensor).flat_inputs)  # type: ignore[union-attr]
    return list(found.values())


def unique_layers(layers: list[Layer]) -> list[Layer]:
    """``layers`` without repeats, first occurrences kept."""
    seen: dict[int, Layer] = {}
    for layer in layers:
        seen.setdefault(id(layer), layer)
    return list(seen.values())


def standardize_inputs(model: Any, inputs: Any) -> list[Any]:
    """Data for ``model``'s inputs, flat in the order of ``model.inputs`` (Keras 3).

    Args:
        model: A functional model.
        inputs: An array, a list/tuple of arrays, or a dict keyed by input names (the
            model's dict keys, or the `Input` names for a list/single-input model).

    Returns:
        One value per model input, ranks adjusted.
    """
    structure = model._inputs_struct
    names = model.input_names
    if isinstance(inputs, dict):
        expected = list(structure) if isinstance(structure, dict) else names
        unknown = [k for k in inputs if k not in expected]
        missing = [k for k in expected if k not in inputs]
        if unknown or missing:
            problems = ([f"has unknown key(s) {unknown}"] if unknown else []) + (
                [f"the keys {missing} are missing"] if missing else []
            )
            raise ValueError(
                f"Model '{model.name}': the input dict {' and '.join(problems)}; expected "
                f"the keys {sorted(expected)} (got {sorted(map(str, inputs))})"
            )
        if isinstance(structure, dict):
            flat = [inputs[k] for k in sorted(structure)]
        else:
            flat = [inputs[name] for name in names]
    elif isinstance(structure, dict):
        flat = flatten(inputs)
        if len(flat) != len(names) or len(names) > 1 and not isinstance(inputs, list | tuple):
            raise ValueError(
                f"Model '{model.name}': its inputs are a dict with keys {sorted(structure)}; "
                f"pass a dict of arrays (got {type(inputs).__name__})"
            )
    elif isinstance(inputs, list | tuple):
        flat = flatten(inputs)
        if len(flat) != len(names):
            raise ValueError(
                f"Model '{model.name}' has {len(names)} input(s) {names} but was called with "
                f"{len(flat)} arrays"
            )
    else:
        if len(names) != 1:
            raise ValueError(
                f"Model '{model.name}' has {len(names)} inputs {names}; pass a list of arrays "
                "or a dict keyed by input name"
            )
        flat = [inputs]
    return [
        adjust_input(model, tensor, value) for tensor, value in zip(model.inputs, flat, strict=True)
    ]


def adjust_input(model: Any, tensor: KerasTensor, value: Any) -> Any:
    """``value`` checked against the Input ``tensor``: rank adjusted, dtype converted.

    As Keras 3's Functional: one rank more with a trailing axis of 1 is squeezed, one rank
    less where the Input's last axis is 1 is expanded; other mismatches are errors.
    """
    if value is None:
        raise ValueError(
            f"Model '{model.name}': the input '{tensor.name}' is not optional, but None was passed"
        )
    got = tuple(value.shape) if hasattr(value, "shape") else tg.tensor(value).shape
    expected = tensor.shape
    if len(got) == len(expected) + 1 and got and got[-1] == 1:
        value = tg.numpy.squeeze(value, axis=-1)
        got = got[:-1]
    elif len(got) + 1 == len(expected) and expected[-1] == 1:
        value = tg.numpy.expand_dims(value, axis=-1)
        got = (*got, 1)
    if len(got) != len(expected) or any(
        e is not None and e != g for e, g in zip(expected[1:], got[1:], strict=True)
    ):
        raise ValueError(
            f"Model '{model.name}': invalid shape for input '{tensor.name}': expected "
            f"{expected}, got {tuple(got)}"
        )
    dtype = getattr(value, "dtype", None)
    if dtype is not None and dtype != tensor.dtype and dtype.kind in "fiub":
        # As Keras converts data to the Input's dtype (float64 arrays to float32, ...).
        value = tg.ops.cast(value, tensor.dtype)
    return value
