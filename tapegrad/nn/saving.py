"""Saving and loading models: the ``.tapegrad`` archive (Keras 3 ``.keras``-like) and
weights-only safetensors files. Nothing in a file is ever executed.

The archive is a zip with exactly these members:

* ``metadata.json`` — ``{"format": "tapegrad-model", "version": 1, "tapegrad_version"}``.
* ``config.json`` — ``{"class_name": "Sequential" | "Model", "config", "compile_config"}``:
  the model's `get_config` (nested layer configs; a functional model's ``inbound_nodes``
  and ``input_layers``/``output_layers``). A `Lambda` layer's config holds its function as
  a traced graph (`tapegrad.graph.serialize`) plus ``captured_variables``: the weight keys
  of the Variables the graph reads.
* ``weights.safetensors`` — every weight under ``layers/<key>/<index in layer.weights>``
  where ``<key>`` names a top-level layer by its class and position, Keras 3 style
  (``dense``, ``dense_1``, ``lambda``; a nested model's weights under its own key), so a
  weights file also loads into a fresh model of the same architecture whatever its
  layer names; the large constants of Lambda graphs under ``lambdas/<k>/<n>``; and the
  optimizer's Variables (``iterations`` first) under ``optimizer/<index>``.
* ``optimizer.json`` (compiled models) — the optimizer's ``{"class_name", "config"}``,
  whether it was built, and the name, shape and dtype of each of its Variables.

Loading validates the zip (expected members only, bounded sizes read with a cap),
parses the JSON, rebuilds layers only from the classes of `tapegrad.nn.layers` (and
``custom_objects`` the caller passes), rebuilds each Lambda's function as a replay of its
graph through the primitive table, re-wires functional models, checks and assigns every
weight, and restores the optimizer so training resumes exactly. Every problem with a file
raises ValueError naming it (OSError for I/O).

Writes are atomic: a temporary file in the target directory, flushed and fsynced, then
``os.replace``; a failure leaves any previous file untouched and no temporary file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import struct
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

import numpy as np
import safetensors.numpy

import tapegrad as tg
from tapegrad.graph import Graph, graph_from_dict, graph_to_dict
from tapegrad.graph.ir import values_equal
from tapegrad.graph.serialize import decode_value, encode_value
from tapegrad.graph.trace import trace_checked
from tapegrad.nn import losses as losses_module
from tapegrad.nn import metrics as metrics_module
from tapegrad.nn import optimizers as optimizers_module
from tapegrad.nn.layers.base import KerasTensor, Layer
from tapegrad.nn.layers.core import InputLayer, Lambda
from tapegrad.nn.models.model import Model
from tapegrad.nn.models.sequential import Sequential

FORMAT = "tapegrad-model"
WEIGHTS_FORMAT = "tapegrad-weights"
VERSION = 1
EXTENSIONS = (".tapegrad", ".keras")

_MiB = 1 << 20
#: Largest size (bytes) accepted for each archive member; anything else is refused.
MEMBER_LIMITS = {
    "metadata.json": 1 * _MiB,
    "config.json": 64 * _MiB,
    "optimizer.json": 16 * _MiB,
    "weights.safetensors": 16 * 1024 * _MiB,
}
_REQUIRED = ("metadata.json", "config.json", "weights.safetensors")
_ZIP_MAGIC = b"PK\x03\x04"
# Probe batch sizes for Lambda traces: the graph must not depend on them.
_PROBE_BATCHES = (2, 3)


# -- public API -------------------------------------------------------------------------------
def save_model(model: Model, filepath: str | os.PathLike[str]) -> None:
    """Save architecture, weights and optimizer state to a ``.tapegrad`` archive.

    Args:
        model: A `Sequential` or functional `Model`.
        filepath: Path ending in ``.tapegrad`` (or ``.keras``).

    Raises:
        ValueError: the model cannot be saved (a subclassed model, a Lambda that cannot
            be traced into primitives, a config that is not JSON, ...), naming why.
        OSError: the file cannot be written (any previous file is left untouched).
    """
    path = os.fspath(filepath)
    if not path.endswith(EXTENSIONS):
        raise ValueError(
            f"save_model: the file name must end in {' or '.join(EXTENSIONS)}, got {path!r} "
            "(use save_weights for weights only)"
        )
    saver = _Saver(model)
    config = {"class_name": type(model).__name__, "config": saver.model_config(model, None),
              "compile_config": _compile_config(model)}
    arrays = {**saver.arrays, **_weight_arrays(model)}
    members = {
        "metadata.json": _json_bytes({"format": FORMAT, "version": VERSION,
                                      "tapegrad_version": tg.__version__}),
        "config.json": _json_bytes(config, "config.json"),
    }
    optimizer = getattr(model, "optimizer", None)
    if getattr(model, "compiled", False) and optimizer is not None:
        members["optimizer.json"] = _json_bytes(_optimizer_document(optimizer), "optimizer.json")
        for k, variable in enumerate(optimizer.variables):
            arrays[f"optimizer/{k}"] = np.asarray(variable.numpy())
    members["weights.safetensors"] = _safetensors_bytes(arrays, {"format": FORMAT})
    _atomic_write(path, lambda file: _write_members(file, members))


def load_model(filepath: str | os.PathLike[str], custom_objects: dict[str, Any] | None = None,
               compile: bool = True, safe_mode: bool = True) -> Model:  # noqa: A002
    """Load a model saved by `save_model`; nothing from the file is executed.

    Args:
        filepath: The archive.
        custom_objects: ``{class name: Layer subclass}`` for your own layers (classes you
            pass, never code from the file).
        compile: Recompile with the saved loss/metrics and restore the optimizer state.
        safe_mode: Accepted for Keras compatibility: archives never contain code (a Lambda
            is a graph of primitives), so loading is always safe.

    Returns:
        The model, with its weights (and optimizer state when compiled).

    Raises:
        ValueError: not a tapegrad archive, a corrupt or hostile file (unexpected or
            oversized member, bad JSON, wrong format or version, unknown layer class or
            primitive, a weight of the wrong shape or dtype, ...), naming the problem.
        OSError: the file cannot be read.

    Examples:
        >>> import os, tempfile
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.layers.Input(shape=(2,)), tg.layers.Dense(1)])
        >>> path = os.path.join(tempfile.mkdtemp(), "model.tapegrad")
        >>> model.save(path)
        >>> loaded = tg.models.load_model(path)
        >>> bool(np.array_equal(loaded.predict(np.ones((1, 2)), verbose=0),
        ...                     model.predict(np.ones((1, 2)), verbose=0)))
        True
    """
    del safe_mode  # always safe: see the docstring
    members = _read_archive(os.fspath(filepath))
    metadata = _parse_json(members["metadata.json"], "metadata.json")
    _check_header(metadata, "metadata.json", FORMAT)
    document = _parse_json(members["config.json"], "config.json")
    _expect_keys(document, "config.json", {"class_name", "config", "compile_config"})
    arrays = _load_safetensors(members["weights.safetensors"], "weights.safetensors")
    loader = _Loader(arrays, custom_objects)
    model = loader.model_from_config(document["class_name"], document["config"], "config.json")
    loader.resolve_shared_variables(model)
    _assign_weights(model, arrays, "weights.safetensors", archive=True)
    compile_config = document["compile_config"]
    if compile and compile_config is not None:
        if "optimizer.json" not in members:
            raise ValueError("archive: compile_config is present but optimizer.json is missing")
        optimizer_doc = _parse_json(members["optimizer.json"], "optimizer.json")
        _restore_compiled(model, compile_config, optimizer_doc, arrays)
    return model


def save_weights(model: Layer, filepath: str | os.PathLike[str]) -> None:
    """Save the weights only, as safetensors (keys ``layers/<key>/<index>``, see above)."""
    arrays = _weight_arrays(model)
    data = _safetensors_bytes(arrays, {"format": WEIGHTS_FORMAT, "version": str(VERSION)})
    _atomic_write(os.fspath(filepath), lambda file: file.write(data))


def load_weights(model: Layer, filepath: str | os.PathLike[str]) -> None:
    """Load weights saved by `save_weights` (or from a `save_model` archive).

    Raises:
        ValueError: a missing or unexpected weight, or a shape/dtype mismatch (named).
    """
    path = os.fspath(filepath)
    with open(path, "rb") as file:
        magic = file.read(4)
    if magic == _ZIP_MAGIC:
        members = _read_archive(path)
        _check_header(_parse_json(members["metadata.json"], "metadata.json"), "metadata.json",
                      FORMAT)
        arrays = _load_safetensors(members["weights.safetensors"], "weights.safetensors")
        _assign_weights(model, arrays, path, archive=True)
        return
    with open(path, "rb") as file:
        data = file.read(MEMBER_LIMITS["weights.safetensors"] + 1)
    if len(data) > MEMBER_LIMITS["weights.safetensors"]:
        raise ValueError(f"{path}: larger than the {MEMBER_LIMITS['weights.safetensors']} "
                         "bytes accepted")
    arrays = _load_safetensors(data, path)
    metadata = _safetensors_metadata(data)
    if metadata.get("format", WEIGHTS_FORMAT) != WEIGHTS_FORMAT:
        raise ValueError(f"{path}: format {metadata['format']!r} is not {WEIGHTS_FORMAT!r}")
    if metadata.get("version", str(VERSION)) != str(VERSION):
        raise ValueError(f"{path}: unsupported version {metadata['version']!r} (this tapegrad "
                         f"reads version {VERSION})")
    _assign_weights(model, arrays, path, archive=False)


# -- saving: configs --------------------------------------------------------------------------
class _Saver:
    """Builds the config of a model (and of nested models), tracing every Lambda."""

    def __init__(self, model: Model) -> None:
        self.root = model
        self.arrays: dict[str, np.ndarray] = {}
        self._keys = _layer_keys(model)
        self._lambda_count = 0

    def model_config(self, model: Model, top: Layer | None) -> dict[str, Any]:
        """``model.get_config()`` with Lambda and nested-model entries completed.

        ``top`` is the top-level layer of the saved model that contains ``model`` (None
        for the saved model itself).
        """
        if type(model) is Sequential:
            config = model.get_config()
            pairs = list(zip(model.layers, config["layers"], strict=True))
            if model.inputs == [] and model.layers and model.layers[0].built:
                shapes = getattr(model.layers[0], "_build_shapes", None)
                if shapes is not None:
                    config["build_input_shape"] = _jsonable_shape(shapes)
        elif type(model) is Model and model.inputs:
            config = model.get_config()
            by_name = {layer.name: layer for layer in model.layers}
            if len(by_name) != len(model.layers):
                raise ValueError(f"save_model: model '{model.name}' has two layers with one name")
            pairs = [(by_name[entry["name"]], entry) for entry in config["layers"]]
            _renumber_nodes(config, model.name)
        else:
            raise ValueError(
                f"save_model: '{model.name}' is a {type(model).__name__}; only Sequential and "
                "functional Model architectures can be saved (a subclassed model's call() is "
                "Python code); use save_weights for its weights"
            )
        for layer, entry in pairs:
            owner = top or layer
            if isinstance(layer, Model):
                entry["config"] = self.model_config(layer, owner)
            elif isinstance(layer, Lambda):
                entry["config"] = self.lambda_config(layer, owner)
            _json_bytes(entry["config"], f"the config of layer '{layer.name}'")
        return config

    def lambda_config(self, layer: Lambda, top: Layer) -> dict[str, Any]:
        """The Lambda's config plus its function as a checked graph and its variables."""
        spec = _lambda_input_spec(layer)
        arguments = dict(layer.arguments)

        def function(inputs: Any) -> Any:
            return layer.function(inputs, **arguments)

        try:
            encoded_arguments = encode_value(arguments, f"Lambda '{layer.name}' arguments")
            graph = trace_checked(
                function, (_probe(spec, 1, None),),
                [(_probe(spec, batch, np.random.default_rng(batch)),)
                 for batch in _PROBE_BATCHES],
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
            "captured_variables": [self._variable_key(layer, top, v)
                                   for v in graph.captured_variables or []],
        }
        return config

    def _variable_key(self, layer: Lambda, top: Layer, variable: tg.Variable) -> str:
        """The weight key of a Variable a Lambda reads: the first non-Lambda top-level
        layer holding it, else the first top-level layer holding it."""
        holders = [(key, other, i) for key, other in self._keys
                   for i, weight in enumerate(other.weights) if weight is variable]
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
    return _map_leaves(make, spec, is_leaf=lambda x: isinstance(x, tuple) and len(x) == 2
                       and isinstance(x[1], np.dtype))


def _renumber_nodes(config: dict[str, Any], model_name: str) -> None:
    """Make node indices in tensor references count the listed ``inbound_nodes`` only.

    A layer may have been called outside the model (its node list is longer than what
    the config lists); references use the layer's own numbering, re-ranked here.
    """
    refs: list[list[Any]] = []
    for entry in config["layers"]:
        for node in entry["inbound_nodes"]:
            _collect_refs(node["args"], refs)
    _collect_refs(config["output_layers"], refs)
    _collect_refs(config["input_layers"], refs)
    used: dict[str, set[int]] = {}
    for name, node_index, _ in refs:
        used.setdefault(name, set()).add(node_index)
    ranks = {name: {old: new for new, old in enumerate(sorted(indices))}
             for name, indices in used.items()}
    for entry in config["layers"]:
        listed = len(entry["inbound_nodes"])
        if entry["class_name"] != "InputLayer" and listed != len(used.get(entry["name"], ())):
            raise ValueError(
                f"save_model: the graph of model '{model_name}' cannot be serialized (layer "
                f"'{entry['name']}' lists {listed} calls)"
            )
    for ref in refs:
        ref[1] = ranks[ref[0]][ref[1]]


def _is_ref(value: Any) -> bool:
    return (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:]))


def _collect_refs(structure: Any, out: list[list[Any]]) -> None:
    if _is_ref(structure):
        out.append(structure)
    elif isinstance(structure, list):
        for item in structure:
            _collect_refs(item, out)
    elif isinstance(structure, dict):
        for item in structure.values():
            _collect_refs(item, out)


def _compile_config(model: Model) -> dict[str, Any] | None:
    if not getattr(model, "compiled", False):
        return None
    config: dict[str, Any] = {"loss": None, "loss_weights": None, "metrics": []}
    loss = getattr(model, "loss", None)
    if loss is not None:
        config["loss"] = _serialized_or_none(loss, losses_module, "loss")
    loss_weights = getattr(model, "_loss_weights", None)
    config["loss_weights"] = loss_weights if _is_json(loss_weights) else None
    for spec in getattr(model, "_metric_specs", None) or []:
        encoded = _serialized_or_none(spec, metrics_module, "metric")
        if encoded is not None:
            config["metrics"].append(encoded)
    return config


def _serialized_or_none(item: Any, module: Any, what: str) -> Any:
    """A loss/metric as JSON that ``module.deserialize`` accepts, or None (with a warning)."""
    def one(value: Any) -> Any:
        encoded = value if isinstance(value, str) else module.serialize(value)
        module.deserialize(encoded)
        return encoded

    try:
        if isinstance(item, list | tuple):
            encoded: Any = [one(v) for v in item]
        elif isinstance(item, dict):
            encoded = {k: one(v) for k, v in item.items()}
        else:
            encoded = one(item)
        if _is_json(encoded):
            return encoded
    except (ValueError, TypeError):
        pass
    warnings.warn(f"save_model: the {what} {item!r} cannot be saved; the loaded model will "
                  f"be compiled without it", stacklevel=3)
    return None


def _optimizer_document(optimizer: Any) -> dict[str, Any]:
    try:
        serialized = optimizers_module.serialize(optimizer)
    except (ValueError, TypeError) as err:
        raise ValueError(f"save_model: the optimizer cannot be saved: {err}") from err
    return {
        "optimizer": serialized,
        "built": bool(optimizer.built),
        "variables": [{"name": str(v.name), "shape": list(v.shape), "dtype": v.dtype.name}
                      for v in optimizer.variables],
    }


# -- loading: configs -------------------------------------------------------------------------
class GraphFunction:
    """A Lambda's function rebuilt from its saved graph: replays the graph's primitives.

    The Lambda's ``arguments`` were fixed when the function was traced: calling with
    other values raises instead of silently ignoring them.
    """

    def __init__(self, graph: Graph, variables: list[tg.Variable],
                 arguments: dict[str, Any]) -> None:
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


class _Loader:
    """Rebuilds models from configs: registry of layer classes, Lambda graphs, wiring."""

    def __init__(self, arrays: dict[str, np.ndarray], custom_objects: dict[str, Any] | None):
        self.arrays = arrays
        self.classes = _layer_classes(custom_objects)
        # (lambda layer, its graph function, the weight key of each graph variable)
        self.lambdas: list[tuple[Lambda, GraphFunction, list[str]]] = []

    def layer_from_entry(self, entry: Any, path: str) -> Layer:
        if not isinstance(entry, dict) or "class_name" not in entry or "config" not in entry:
            raise ValueError(f"{path}: a layer entry needs 'class_name' and 'config'")
        class_name, config = entry["class_name"], entry["config"]
        if not isinstance(config, dict) or not isinstance(config.get("name"), str):
            raise ValueError(f"{path}.config: expected an object with a string 'name'")
        if class_name in ("Sequential", "Model"):
            return self.model_from_config(class_name, config, f"{path}.config")
        if class_name == "Lambda":
            return self.lambda_from_config(config, f"{path}.config")
        cls = self.classes.get(class_name) if isinstance(class_name, str) else None
        if cls is None:
            raise ValueError(
                f"{path}: unknown layer class {class_name!r}; known: {sorted(self.classes)} "
                "(pass custom_objects={name: class} for your own layers)"
            )
        return _construct(cls, config, f"{path} ({class_name} '{config['name']}')")

    def model_from_config(self, class_name: Any, config: Any, path: str) -> Model:
        if not isinstance(config, dict):
            raise ValueError(f"{path}: expected an object")
        if class_name == "Sequential":
            return self._sequential(config, path)
        if class_name == "Model":
            return self._functional(config, path)
        raise ValueError(f"{path}: unknown model class {class_name!r} (Sequential or Model)")

    def _sequential(self, config: dict[str, Any], path: str) -> Model:
        entries = _expect_list(config.get("layers"), f"{path}.layers")
        layers: list[Any] = []
        if "input_shape" in config:
            layers.append(tg.layers.Input(shape=_shape(config["input_shape"], path),
                                          dtype=_dtype(config.get("input_dtype"), path)))
        layers += [self.layer_from_entry(e, f"{path}.layers[{k}]")
                   for k, e in enumerate(entries)]
        model = _construct(Sequential, {"layers": layers, "name": config.get("name"),
                                        "trainable": config.get("trainable", True)}, path)
        if "build_input_shape" in config and "input_shape" not in config:
            shape = _shape(config["build_input_shape"], path, batch=True)
            model(tg.tensor(np.zeros((1,) + tuple(shape[1:]), np.float32)))
        return model

    def _functional(self, config: dict[str, Any], path: str) -> Model:
        _expect_keys(config, path, {"name", "trainable", "layers", "input_layers",
                                    "output_layers"})
        entries = _expect_list(config["layers"], f"{path}.layers")
        layers: dict[str, Layer] = {}
        inbound: dict[str, list[Any]] = {}
        for k, entry in enumerate(entries):
            where = f"{path}.layers[{k}]"
            layer = self.layer_from_entry(entry, where)
            if not isinstance(entry.get("name"), str) or entry["name"] != layer.name \
                    or layer.name in layers:
                raise ValueError(f"{where}: missing, inconsistent or duplicate layer name")
            layers[layer.name] = layer
            inbound[layer.name] = _expect_list(entry.get("inbound_nodes"),
                                               f"{where}.inbound_nodes")
        outputs: dict[tuple[str, int], list[Any]] = {
            (name, 0): [layer.output] for name, layer in layers.items()
            if isinstance(layer, InputLayer)}
        pending = [(name, k, node) for name, nodes in inbound.items()
                   for k, node in enumerate(nodes)]
        while pending:
            remaining = []
            for name, k, node in pending:
                where = f"{path}: layer '{name}' call {k}"
                if not isinstance(node, dict) or set(node) != {"args", "kwargs"} \
                        or not isinstance(node["kwargs"], dict):
                    raise ValueError(f"{where}: expected {{'args', 'kwargs'}}")
                earlier_call_pending = k > 0 and (name, k - 1) not in outputs
                if earlier_call_pending or not _resolvable(node["args"], outputs):
                    remaining.append((name, k, node))
                    continue
                args = _resolve(node["args"], outputs, where)
                try:
                    out = layers[name](args, **node["kwargs"])
                except (TypeError, ValueError) as err:
                    raise ValueError(f"{where}: the call fails: {err}") from err
                outputs[(name, k)] = list(_leaves(out))
            if len(remaining) == len(pending):
                raise ValueError(
                    f"{path}: inbound_nodes reference tensors that are never produced "
                    f"(layer '{remaining[0][0]}')"
                )
            pending = remaining
        inputs = _resolve(config["input_layers"], outputs, f"{path}.input_layers")
        model_outputs = _resolve(config["output_layers"], outputs, f"{path}.output_layers")
        return _construct(Model, {"inputs": inputs, "outputs": model_outputs,
                                  "name": config["name"], "trainable": config["trainable"]},
                          path)

    def lambda_from_config(self, config: dict[str, Any], path: str) -> Lambda:
        config = dict(config)
        function = config.pop("function", None)
        if not isinstance(function, dict) or set(function) != {"graph", "captured_variables"}:
            raise ValueError(f"{path}.function: expected {{'graph', 'captured_variables'}}")
        try:
            graph = graph_from_dict(function["graph"], {k: v for k, v in self.arrays.items()
                                                         if k.startswith("lambdas/")})
        except ValueError as err:
            raise ValueError(f"{path}.function (Lambda '{config['name']}'): {err}") from err
        keys = _expect_list(function["captured_variables"], f"{path}.captured_variables")
        specs = graph.variable_inputs
        if len(keys) != len(specs) or not all(isinstance(k, str) for k in keys):
            raise ValueError(f"{path}.captured_variables: expected {len(specs)} weight keys")
        variables = [tg.Variable(np.zeros(s.shape, s.dtype), name=s.name) for s in specs]
        arguments = decode_value(config.get("arguments", {}), f"{path}.arguments")
        if not isinstance(arguments, dict):
            raise ValueError(f"{path}.arguments: expected an object")
        config["arguments"] = arguments
        graph_function = GraphFunction(graph, variables, arguments)
        layer = _construct(Lambda, {**config, "function": graph_function}, path)
        layer.captured_variables = list(variables)
        self.lambdas.append((layer, graph_function, keys))
        return layer

    def resolve_shared_variables(self, model: Model) -> None:
        """Point each Lambda at the Variables of other layers it shared when saved."""
        keyed = _layer_keys(model)
        by_key = dict(keyed)
        for layer, graph_function, keys in self.lambdas:
            top_key = next(key for key, top in keyed if top is layer or _contains(top, layer))
            for j, key in enumerate(keys):
                owner_key, index = _parse_key(key)
                if owner_key == top_key:
                    continue  # the Lambda's own Variable: its value comes with the weights
                owner = by_key.get(owner_key)
                if owner is None or index >= len(owner.weights):
                    raise ValueError(f"Lambda '{layer.name}': captured variable {key!r} "
                                     "is not a weight of the model")
                variable = owner.weights[index]
                if variable.shape != graph_function.variables[j].shape or \
                        variable.dtype != graph_function.variables[j].dtype:
                    raise ValueError(f"Lambda '{layer.name}': captured variable {key!r} has "
                                     "another shape or dtype than its graph reads")
                graph_function.variables[j] = variable
            layer.captured_variables = list(graph_function.variables)


def _layer_classes(custom_objects: dict[str, Any] | None) -> dict[str, type[Layer]]:
    """The allowed layer classes: `tapegrad.nn.layers.__all__`, plus ``custom_objects``."""
    from tapegrad.nn import layers as layers_module

    classes: dict[str, type[Layer]] = {}
    for name in layers_module.__all__:
        value = getattr(layers_module, name, None)
        if isinstance(value, type) and issubclass(value, Layer) and value is not Layer:
            classes[name] = value
    for name, value in (custom_objects or {}).items():
        if not (isinstance(value, type) and issubclass(value, Layer)):
            raise TypeError(f"load_model: custom_objects[{name!r}] must be a Layer subclass")
        classes[name] = value
    return classes


def _construct(cls: Any, config: dict[str, Any], where: str) -> Any:
    try:
        if cls in (Sequential, Model):
            return cls(**config)
        return cls.from_config(config)
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"{where}: invalid config: {err}") from err


def _resolvable(structure: Any, outputs: dict[tuple[str, int], list[Any]]) -> bool:
    refs: list[list[Any]] = []
    _collect_refs(structure, refs)
    return all((name, node) in outputs for name, node, _ in refs)


def _resolve(structure: Any, outputs: dict[tuple[str, int], list[Any]], where: str) -> Any:
    if _is_ref(structure):
        name, node, index = structure
        produced = outputs.get((name, node))
        if produced is None or not 0 <= index < len(produced):
            raise ValueError(f"{where}: reference {structure} names no tensor")
        return produced[index]
    if isinstance(structure, list):
        return [_resolve(item, outputs, where) for item in structure]
    if isinstance(structure, dict):
        return {k: _resolve(v, outputs, where) for k, v in structure.items()}
    if structure is None or isinstance(structure, bool | int | float | str):
        return structure
    raise ValueError(f"{where}: unexpected value {structure!r}")


def _parse_key(key: str) -> tuple[str, int]:
    parts = key.split("/")
    if len(parts) != 3 or parts[0] != "layers" or not parts[2].isdigit():
        raise ValueError(f"weight key {key!r} is not 'layers/<key>/<index>'")
    return parts[1], int(parts[2])


def _restore_compiled(model: Model, compile_config: Any, optimizer_doc: Any,
                      arrays: dict[str, np.ndarray]) -> None:
    _expect_keys(compile_config, "config.json compile_config",
                 {"loss", "loss_weights", "metrics"})
    _expect_keys(optimizer_doc, "optimizer.json", {"optimizer", "built", "variables"})
    try:
        optimizer = optimizers_module.deserialize(optimizer_doc["optimizer"])
    except (TypeError, ValueError, KeyError) as err:
        raise ValueError(f"optimizer.json: cannot rebuild the optimizer: {err}") from err
    loss = _deserialized_or_none(compile_config["loss"], losses_module, "loss")
    metrics = [m for m in (_deserialized_or_none(spec, metrics_module, "metric")
                           for spec in _expect_list(compile_config["metrics"],
                                                    "compile_config.metrics"))
               if m is not None]
    model.compile(optimizer=optimizer, loss=loss, loss_weights=compile_config["loss_weights"],
                  metrics=metrics or None)
    if optimizer_doc["built"] is True:
        optimizer.build(list(model.trainable_weights))
    specs = _expect_list(optimizer_doc["variables"], "optimizer.json variables")
    variables = optimizer.variables
    if len(specs) != len(variables):
        raise ValueError(
            f"optimizer.json: {len(specs)} saved optimizer variables, but the rebuilt "
            f"optimizer has {len(variables)} (the model's trainable weights differ)"
        )
    for k, (spec, variable) in enumerate(zip(specs, variables, strict=True)):
        key = f"optimizer/{k}"
        if key not in arrays:
            name = spec.get("name") if isinstance(spec, dict) else None
            raise ValueError(f"weights.safetensors: optimizer variable {key!r} ({name}) is "
                             "missing")
        _check_array(arrays[key], variable, key, "weights.safetensors")
        variable.assign(arrays[key])


def _deserialized_or_none(encoded: Any, module: Any, what: str) -> Any:
    if encoded is None:
        return None
    try:
        if isinstance(encoded, list):
            return [module.deserialize(e) for e in encoded]
        if isinstance(encoded, dict) and "class_name" not in encoded:
            return {k: module.deserialize(v) for k, v in encoded.items()}
        return module.deserialize(encoded)
    except (ValueError, TypeError, KeyError) as err:
        warnings.warn(f"load_model: the saved {what} cannot be restored ({err}); compile the "
                      "model again to train it", stacklevel=4)
        return None


# -- weights ----------------------------------------------------------------------------------
def _weight_arrays(model: Layer) -> dict[str, np.ndarray]:
    """Every weight under ``layers/<key>/<index>`` (a shared one under each holder)."""
    return {f"layers/{key}/{i}": np.asarray(weight.numpy())
            for key, layer in _layer_keys(model) for i, weight in enumerate(layer.weights)}


def _layer_keys(model: Layer) -> list[tuple[str, Layer]]:
    """Top-level layers keyed by class and position: ``dense``, ``dense_1``, ``lambda``.

    Unlike layer names (numbered process-wide), these keys are the same for every model
    of one architecture, like Keras 3's weight paths.
    """
    layers = getattr(model, "layers", None)
    counts: dict[str, int] = {}
    keyed = []
    for layer in list(layers) if layers is not None else [model]:
        base = re.sub(r"(?<!^)(?=[A-Z])", "_", type(layer).__name__).lower()
        count = counts.get(base, 0)
        counts[base] = count + 1
        keyed.append((base if count == 0 else f"{base}_{count}", layer))
    return keyed


def _contains(container: Layer, layer: Layer) -> bool:
    return any(inner is layer or _contains(inner, layer)
               for inner in getattr(container, "layers", []))


def _assign_weights(model: Layer, arrays: dict[str, np.ndarray], source: str,
                    archive: bool) -> None:
    expected: dict[str, tg.Variable] = {
        f"layers/{key}/{i}": weight
        for key, layer in _layer_keys(model) for i, weight in enumerate(layer.weights)}
    stored = {k for k in arrays if k.startswith("layers/")}
    allowed = ("lambdas/", "optimizer/") if archive else ()
    others = sorted(k for k in set(arrays) - stored if not k.startswith(allowed))
    if others:
        raise ValueError(f"{source}: unexpected entries {others[:5]}")
    missing, extra = sorted(set(expected) - stored), sorted(stored - set(expected))
    if missing or extra:
        raise ValueError(
            f"{source}: the weights do not match model '{model.name}': missing "
            f"{missing[:5]}, unexpected {extra[:5]} (is the model built, with the same layers?)"
        )
    for key, variable in expected.items():
        _check_array(arrays[key], variable, key, source)
    for key, variable in expected.items():
        variable.assign(arrays[key])


def _check_array(array: np.ndarray, variable: tg.Variable, key: str, source: str) -> None:
    if array.shape != tuple(variable.shape) or array.dtype != variable.dtype:
        raise ValueError(
            f"{source}: weight {key!r} ({variable.name}) is stored as "
            f"{array.dtype.name}{list(array.shape)}, but the model expects "
            f"{variable.dtype.name}{list(variable.shape)}"
        )


# -- archive I/O ------------------------------------------------------------------------------
def _atomic_write(path: str, write: Callable[[IO[bytes]], Any]) -> None:
    """Write through ``write(file)`` to a temporary file, fsync, then replace ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.",
                                         suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where directories fsync
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_members(file: IO[bytes], members: dict[str, bytes]) -> None:
    """The zip, members in a fixed order with fixed timestamps (reproducible bytes)."""
    with zipfile.ZipFile(file, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = (zipfile.ZIP_STORED if name.endswith(".safetensors")
                                  else zipfile.ZIP_DEFLATED)
            archive.writestr(info, data)


def _read_archive(path: str) -> dict[str, bytes]:
    """The archive's members, validated: a zip, expected names only, bounded sizes."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path}: not a tapegrad model archive (not a valid zip file: "
                         f"{err})") from err
    except (EOFError, struct.error) as err:
        raise ValueError(f"{path}: truncated or corrupt zip file") from err
    members: dict[str, bytes] = {}
    with archive:
        infos = archive.infolist()
        for info in infos:
            name = info.filename
            if name not in MEMBER_LIMITS:
                raise ValueError(
                    f"{path}: unexpected member {name!r} (an archive holds only "
                    f"{sorted(MEMBER_LIMITS)})"
                )
            if name in members:
                raise ValueError(f"{path}: member {name!r} appears twice")
            if info.flag_bits & 0x1:
                raise ValueError(f"{path}: member {name!r} is encrypted")
            limit = MEMBER_LIMITS[name]
            if info.file_size > limit:
                raise ValueError(f"{path}: member {name!r} is {info.file_size} bytes, more "
                                 f"than the {limit} accepted")
            try:
                with archive.open(info) as stream:
                    data = stream.read(limit + 1)
            except (zipfile.BadZipFile, EOFError, zlib.error, NotImplementedError) as err:
                raise ValueError(f"{path}: member {name!r} is corrupt: {err}") from err
            if len(data) > limit:
                raise ValueError(f"{path}: member {name!r} expands beyond {limit} bytes")
            members[name] = data
    for name in _REQUIRED:
        if name not in members:
            raise ValueError(f"{path}: member {name!r} is missing")
    return members


def _parse_json(data: bytes, member: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate keys")
        return dict(pairs)

    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicates,
                          parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValueError(f"{member}: not valid JSON ({err})") from err


def _json_bytes(document: Any, what: str = "document") -> bytes:
    try:
        return json.dumps(document, allow_nan=False, sort_keys=False).encode("utf-8")
    except (TypeError, ValueError) as err:
        raise ValueError(f"save_model: {what} is not JSON-serializable: {err}") from err


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _check_header(metadata: Any, member: str, expected_format: str) -> None:
    if not isinstance(metadata, dict) or "format" not in metadata or "version" not in metadata:
        raise ValueError(f"{member}: expected an object with 'format' and 'version'")
    if metadata["format"] != expected_format:
        raise ValueError(f"{member}: format {metadata['format']!r} is not {expected_format!r}")
    if metadata["version"] != VERSION or isinstance(metadata["version"], bool):
        raise ValueError(f"{member}: unsupported version {metadata['version']!r} (this "
                         f"tapegrad reads version {VERSION})")


def _safetensors_bytes(arrays: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    try:
        return bytes(safetensors.numpy.save(
            {k: np.array(v, order="C") for k, v in arrays.items()}, metadata=metadata))
    except Exception as err:  # safetensors raises its own (non-ValueError) error type
        raise ValueError(f"cannot store the weights as safetensors: {err}") from err


def _safetensors_header(data: bytes, source: str) -> dict[str, Any]:
    """The JSON header of safetensors data (8-byte little-endian length, then JSON)."""
    if len(data) < 8:
        raise ValueError(f"{source}: truncated safetensors data")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > min(len(data) - 8, 100 * _MiB):
        raise ValueError(f"{source}: corrupt safetensors header (size {header_size})")
    header = _parse_json(data[8:8 + header_size], source)
    if not isinstance(header, dict):
        raise ValueError(f"{source}: corrupt safetensors header")
    return header


def _safetensors_metadata(data: bytes) -> dict[str, Any]:
    metadata = _safetensors_header(data, "safetensors").get("__metadata__") or {}
    return metadata if isinstance(metadata, dict) else {}


def _load_safetensors(data: bytes, source: str) -> dict[str, np.ndarray]:
    _safetensors_header(data, source)
    try:
        arrays = safetensors.numpy.load(data)
    except Exception as err:  # safetensors raises its own (non-ValueError) error type
        raise ValueError(f"{source}: corrupt safetensors data: {err}") from err
    return {k: np.asarray(v) for k, v in arrays.items()}


# -- small helpers ----------------------------------------------------------------------------
def _expect_keys(value: Any, where: str, keys: set[str]) -> None:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: expected an object, got {type(value).__name__}")
    if set(value) != keys:
        missing, extra = sorted(keys - set(value)), sorted(set(value) - keys)
        raise ValueError(f"{where}: missing keys {missing}, unexpected keys {extra}")


def _expect_list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _shape(value: Any, where: str, batch: bool = False) -> tuple[Any, ...]:
    dims = _expect_list(value, where)
    for k, d in enumerate(dims):
        if d is None and (batch and k == 0 or not batch):
            continue
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise ValueError(f"{where}: bad shape {value!r}")
    return tuple(dims)


def _dtype(value: Any, where: str) -> str:
    if value is None:
        return "float32"
    if not isinstance(value, str) or value not in {"float16", "float32", "float64", "int32",
                                                   "int64", "bool", "uint8", "int8"}:
        raise ValueError(f"{where}: bad input dtype {value!r}")
    return value


def _jsonable_shape(shapes: Any) -> Any:
    if isinstance(shapes, tuple | list) and all(d is None or isinstance(d, int | np.integer)
                                                for d in shapes):
        return [None if d is None else int(d) for d in shapes]
    raise ValueError("save_model: a Sequential built on several inputs cannot be saved")


def _map_leaves(func: Callable[[Any], Any], structure: Any,
                is_leaf: Callable[[Any], bool] | None = None) -> Any:
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
    if isinstance(shapes, tuple | list) and all(d is None or isinstance(d, int | np.integer)
                                                for d in shapes):
        return func(shapes)
    if isinstance(shapes, list | tuple):
        return type(shapes)(_map_shapes(func, s) for s in shapes)
    if isinstance(shapes, dict):
        return {k: _map_shapes(func, v) for k, v in shapes.items()}
    raise ValueError(f"save_model: unexpected input shape {shapes!r}")


def _leaves(structure: Any) -> list[Any]:
    if isinstance(structure, list | tuple):
        return [leaf for item in structure for leaf in _leaves(item)]
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _leaves(structure[key])]
    return [structure]


__all__ = ["GraphFunction", "load_model", "load_weights", "save_model", "save_weights"]
