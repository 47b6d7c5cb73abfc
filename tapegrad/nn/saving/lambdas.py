"""Lambda layers in an archive: saved as a checked trace of primitives, loaded as a replay.

A Lambda's function is never stored as code: `LambdaSaver` traces it into a graph of
primitives (checked on probe inputs of several batch sizes) and records the weight keys of
the Variables it reads; `LambdaLoader` rebuilds a `GraphFunction` that replays the graph
and points it at the loaded model's Variables.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.graph import (
    Graph,
    decode_value,
    encode_value,
    graph_from_dict,
    graph_to_dict,
    trace_checked,
    values_equal,
)
from tapegrad.nn.layers.base import KerasTensor, Layer
from tapegrad.nn.layers.core import Lambda
from tapegrad.nn.models.model import Model
from tapegrad.nn.saving.archive import VERSION, ArchiveError, _expect_list, json_sha256
from tapegrad.nn.saving.weights import contains_layer, layer_keys, stored_order

# Probe batch sizes for Lambda traces: the graph must not depend on them.
_PROBE_BATCHES = (2, 3)


class LambdaSaver:
    """Traces the Lambdas of one saved model; their large constants collect in ``arrays``."""

    def __init__(self, model: Model) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._keys = layer_keys(model)
        self._lambda_count = 0
        #: SHA-256 of each Lambda's function and arguments, in config order.
        self.checksums: list[str] = []

    def config(self, layer: Lambda, top: Layer) -> dict[str, Any]:
        """The Lambda's config plus its function as a checked graph and its variables."""
        if callable(getattr(layer, "mask", None)):
            # The mask function is Python code: stored it could not be loaded without
            # running bytecode. A mask tensor is data and is stored.
            raise ValueError(
                f"save_model: Lambda '{layer.name}' has a mask function, which cannot be "
                "saved; give the Lambda a mask tensor or compute the mask in a layer"
            )
        spec = _lambda_input_spec(layer)
        arguments = dict(layer.arguments)

        def function(inputs: Any) -> Any:
            return layer.function(inputs, **arguments)

        try:
            encoded_arguments = encode_value(arguments, f"Lambda '{layer.name}' arguments")
            graph = trace_checked(
                function,
                (_probe(spec, 1, None),),
                [(_probe(spec, batch, np.random.default_rng(batch)),) for batch in _PROBE_BATCHES],
            )
        except Exception as err:  # the user's function may raise anything on a probe
            raise ValueError(
                f"save_model: cannot save Lambda layer '{layer.name}': {err}. A Lambda is "
                "saved as a graph of tapegrad primitives (never as Python code); write its "
                "function with tapegrad.numpy / tapegrad.ops on its input, without Python "
                "branches on values, or make it a Layer subclass"
            ) from err
        document, arrays = graph_to_dict(graph, key_prefix=f"lambdas/{self._lambda_count}/")
        self._lambda_count += 1
        self.arrays.update(arrays)
        config = {**layer.get_config(), "arguments": encoded_arguments}
        config["function"] = {
            "graph": document,
            "captured_variables": [
                self._variable_key(layer, top, v) for v in graph.captured_variables or []
            ],
        }
        self.checksums.append(_lambda_sha256(config["function"], encoded_arguments))
        return config

    def _variable_key(self, layer: Lambda, top: Layer, variable: tg.Variable) -> str:
        """The weight key of a Variable a Lambda reads: the first non-Lambda top-level
        layer holding it, else the first top-level layer holding it."""
        holders = [
            (key, other, i)
            for key, other in self._keys
            for i, weight in enumerate(other.weights)
            if weight is variable
        ]
        if not holders:
            raise ValueError(
                f"save_model: Lambda '{layer.name}' reads Variable '{variable.name}', which is "
                "not a weight of the model (it was not read on the layer's first call)"
            )
        owners = [h for h in holders if not isinstance(h[1], Lambda)] or holders
        key, owner, index = owners[0]
        if owner is top and top is not layer and _shared_inside(top, layer, variable):
            raise ValueError(
                f"save_model: Lambda '{layer.name}' inside model '{top.name}' shares Variable "
                f"'{variable.name}' with another layer of that model; this cannot be saved yet"
            )
        return f"layers/{key}/{index}"


def _shared_inside(container: Layer, layer: Layer, variable: tg.Variable) -> bool:
    for inner in getattr(container, "layers", []):
        if inner is layer:
            continue
        if isinstance(inner, Model):
            if _shared_inside(inner, layer, variable):
                return True
        elif any(w is variable for w in inner.weights):
            return True
    return False


def _lambda_input_spec(layer: Lambda) -> Any:
    """The structure of (per-example shape, dtype) of the layer's last input."""
    nodes = getattr(layer, "_inbound_nodes", [])
    if nodes:
        return _map_leaves(lambda t: _spec_of(t, layer), nodes[-1].inputs)
    shapes = getattr(layer, "_build_shapes", None)
    if shapes is None:
        raise ValueError(
            f"save_model: Lambda '{layer.name}' has never been called, so its input shape is "
            "unknown; build the model (an Input, or a call on data) before saving"
        )
    return _map_shapes(lambda s: (tuple(s[1:]), layer.dtype), shapes)


def _spec_of(tensor: Any, layer: Lambda) -> tuple[tuple[Any, ...], np.dtype]:
    if not isinstance(tensor, KerasTensor):
        raise ValueError(
            f"save_model: Lambda '{layer.name}' was called with a {type(tensor).__name__}; "
            "only tensors can be inputs of a saved Lambda"
        )
    return tuple(tensor.shape[1:]), tensor.dtype


def _probe(spec: Any, batch: int, rng: np.random.Generator | None) -> Any:
    """Inputs for a trace: zeros (``rng`` None) or seeded random values; unknown axes and
    the batch axis get size ``batch``."""

    def make(leaf: tuple[tuple[Any, ...], np.dtype]) -> np.ndarray:
        shape = (batch,) + tuple(batch if d is None else int(d) for d in leaf[0])
        dtype = np.dtype(leaf[1])
        if rng is None:
            return np.zeros(shape, dtype)
        if dtype.kind in "fc":
            return rng.standard_normal(shape).astype(dtype)
        if dtype.kind == "b":
            return rng.random(shape) < 0.5
        return rng.integers(0, 3, shape).astype(dtype)

    return _map_leaves(
        make,
        spec,
        is_leaf=lambda x: isinstance(x, tuple) and len(x) == 2 and isinstance(x[1], np.dtype),
    )


def _map_leaves(
    func: Callable[[Any], Any], structure: Any, is_leaf: Callable[[Any], bool] | None = None
) -> Any:
    if is_leaf is not None and is_leaf(structure):
        return func(structure)
    if isinstance(structure, list):
        return [_map_leaves(func, s, is_leaf) for s in structure]
    if isinstance(structure, tuple):
        return tuple(_map_leaves(func, s, is_leaf) for s in structure)
    if isinstance(structure, dict):
        return {k: _map_leaves(func, v, is_leaf) for k, v in structure.items()}
    return func(structure)


def _map_shapes(func: Callable[[Any], Any], shapes: Any) -> Any:
    if isinstance(shapes, tuple | list) and all(
        d is None or isinstance(d, int | np.integer) for d in shapes
    ):
        return func(shapes)
    if isinstance(shapes, list | tuple):
        return type(shapes)(_map_shapes(func, s) for s in shapes)
    if isinstance(shapes, dict):
        return {k: _map_shapes(func, v) for k, v in shapes.items()}
    raise ValueError(f"save_model: unexpected input shape {shapes!r}")


class GraphFunction:
    """A Lambda's function rebuilt from its saved graph: replays the graph's primitives.

    The Lambda's ``arguments`` were fixed when the function was traced: calling with
    other values raises instead of silently ignoring them.
    """

    def __init__(
        self, graph: Graph, variables: list[tg.Variable], arguments: dict[str, Any]
    ) -> None:
        self.graph = graph
        self.variables = variables
        self.arguments = arguments

    def __call__(self, inputs: Any, **arguments: Any) -> Any:
        if not values_equal(arguments, self.arguments):
            raise ValueError(
                "this Lambda was loaded from a graph traced with arguments "
                f"{self.arguments}; it cannot run with {arguments}"
            )
        return self.graph(inputs, variables=self.variables)


class LambdaLoader:
    """Rebuilds Lambdas from their graphs, then re-links the Variables they share."""

    def __init__(self, arrays: dict[str, np.ndarray], checksums: list[str] | None) -> None:
        self.arrays = arrays
        self.checksums = checksums  # None: not verified (version 1, or verify=False)
        # (lambda layer, its graph function, the weight key of each graph variable)
        self.lambdas: list[tuple[Lambda, GraphFunction, list[str]]] = []

    def from_config(
        self,
        config: dict[str, Any],
        path: str,
        construct: Callable[[Any, dict[str, Any], str], Any],
    ) -> Lambda:
        config = dict(config)
        function = config.pop("function", None)
        if not isinstance(function, dict) or set(function) != {"graph", "captured_variables"}:
            raise ArchiveError(f"{path}.function: expected {{'graph', 'captured_variables'}}")
        self._verify(function, config.get("arguments", {}), config["name"], path)
        try:
            graph = graph_from_dict(
                function["graph"],
                {k: v for k, v in self.arrays.items() if k.startswith("lambdas/")},
            )
        except Exception as err:  # the graph decoder's checks, or worse: name the Lambda
            raise ArchiveError(
                f"{path}.function (Lambda '{config['name']}'): "
                f"{type(err).__name__}: {str(err)[:300]}"
            ) from err
        keys = _expect_list(function["captured_variables"], f"{path}.captured_variables")
        specs = graph.variable_inputs
        if len(keys) != len(specs) or not all(isinstance(k, str) for k in keys):
            raise ArchiveError(f"{path}.captured_variables: expected {len(specs)} weight keys")
        variables = [tg.Variable(np.zeros(s.shape, s.dtype), name=s.name) for s in specs]
        arguments = decode_value(config.get("arguments", {}), f"{path}.arguments")
        if not isinstance(arguments, dict):
            raise ArchiveError(f"{path}.arguments: expected an object")
        config["arguments"] = arguments
        graph_function = GraphFunction(graph, variables, arguments)
        layer = construct(Lambda, {**config, "function": graph_function}, path)
        layer.captured_variables = list(variables)
        self.lambdas.append((layer, graph_function, keys))
        return layer

    def _verify(self, function: Any, arguments: Any, name: str, path: str) -> None:
        if self.checksums is None:
            return
        index = len(self.lambdas)
        if index >= len(self.checksums):
            raise ArchiveError(
                f"{path}: Lambda '{name}' (graph {index}) has no checksum in "
                "metadata.json (the file was altered)"
            )
        if _lambda_sha256(function, arguments) != self.checksums[index]:
            raise ArchiveError(
                f"{path}.function: the graph of Lambda '{name}' (graph {index}) does not match "
                "its SHA-256 checksum (the file was altered or corrupted); load with "
                "verify=False to skip the check"
            )

    def check_all_verified(self) -> None:
        """Refuse a checksum list longer than the Lambdas found (one was removed)."""
        if self.checksums is not None and len(self.checksums) != len(self.lambdas):
            raise ArchiveError(
                f"config.json: {len(self.lambdas)} Lambda graphs, but "
                f"metadata.json lists {len(self.checksums)} checksums"
            )

    def resolve_shared_variables(self, model: Model, version: int = VERSION) -> None:
        """Point each Lambda at the Variables of other layers it shared when saved (keys
        index weights in the order of format ``version``: `stored_order`)."""
        keyed = layer_keys(model)
        by_key = dict(keyed)
        for layer, graph_function, keys in self.lambdas:
            top_key = next(key for key, top in keyed if top is layer or contains_layer(top, layer))
            for j, key in enumerate(keys):
                owner_key, index = _parse_key(key)
                if owner_key == top_key:
                    continue  # the Lambda's own Variable: its value comes with the weights
                owner = by_key.get(owner_key)
                weights = [] if owner is None else stored_order(owner, version)
                if index >= len(weights):
                    raise ArchiveError(
                        f"Lambda '{layer.name}': captured variable {key!r} "
                        "is not a weight of the model"
                    )
                variable = weights[index]
                if (
                    variable.shape != graph_function.variables[j].shape
                    or variable.dtype != graph_function.variables[j].dtype
                ):
                    raise ArchiveError(
                        f"Lambda '{layer.name}': captured variable {key!r} has "
                        "another shape or dtype than its graph reads"
                    )
                graph_function.variables[j] = variable
            layer.captured_variables = list(graph_function.variables)


def _parse_key(key: str) -> tuple[str, int]:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "layers" or not parts[2].isdigit():
        raise ArchiveError(f"weight key {key!r} is not 'layers/<key>/<index>'")
    return parts[1], int(parts[2])


def _lambda_sha256(function: Any, arguments: Any) -> str:
    """The checksum of a Lambda's stored function (graph, variable keys) and arguments."""
    try:
        return json_sha256({"function": function, "arguments": arguments})
    except (TypeError, ValueError, RecursionError) as err:
        raise ArchiveError(f"a Lambda's function cannot be checksummed: {err}") from err
