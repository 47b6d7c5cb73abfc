"""Model configs: a model's architecture as JSON (saving) and back (loading).

Layers are rebuilt only from the classes of `tapegrad.nn.layers` (and the
``custom_objects`` the caller passes); a functional model is re-wired from its
``inbound_nodes`` by calling the rebuilt layers on symbolic tensors.
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import tree
from tapegrad.nn import layers as layers_module
from tapegrad.nn import object_registration
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.layers.core import InputLayer, KerasMask, Lambda
from tapegrad.nn.models.model import Model
from tapegrad.nn.models.sequential import Sequential
from tapegrad.nn.saving.archive import ArchiveError, _expect_keys, _expect_list, _json_bytes
from tapegrad.nn.saving.lambdas import LambdaLoader, LambdaSaver


class Saver:
    """Builds the config of a model (and of nested models), tracing every Lambda."""

    def __init__(self, model: Model) -> None:
        self.root = model
        self.lambdas = LambdaSaver(model)

    @property
    def arrays(self) -> dict[str, np.ndarray]:
        """The large constants of the traced Lambda graphs, by weight key."""
        return self.lambdas.arrays

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
            # Every node: layers and op nodes (which `layers` leaves out, as Keras does).
            by_name = {layer.name: layer for layer in model.operations}
            if len(by_name) != len(model.operations):
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
                entry["config"] = self.lambdas.config(layer, owner)
            registered = object_registration.get_registered_name(type(layer))
            if registered != type(layer).__name__:  # found by this name when loading
                entry["registered_name"] = registered
            _json_bytes(entry["config"], f"the config of layer '{layer.name}'")
        return config


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
    ranks = {
        name: {old: new for new, old in enumerate(sorted(indices))}
        for name, indices in used.items()
    }
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
    return (
        isinstance(value, list)
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value[1:])
    )


def _collect_refs(structure: Any, out: list[list[Any]]) -> None:
    if _is_ref(structure):
        out.append(structure)
    elif isinstance(structure, list):
        for item in structure:
            _collect_refs(item, out)
    elif isinstance(structure, dict):
        for item in structure.values():
            _collect_refs(item, out)


class Loader:
    """Rebuilds models from configs: registry of layer classes, Lambda graphs, wiring."""

    def __init__(
        self,
        arrays: dict[str, np.ndarray],
        classes: dict[str, type[Layer]],
        lambda_checksums: list[str] | None,
        progress: dict[str, str],
    ) -> None:
        self.arrays = arrays
        self.classes = classes
        self.lambdas = LambdaLoader(arrays, lambda_checksums)
        self.progress = progress  # where loading is, for messages of unexpected errors
        #: Cloning (`clone_model`) makes each layer of a functional config from the
        #: original layer of that name, and may wire the graph to new input tensors.
        self.clone_layer: Any = None
        self.input_tensors: dict[str, Any] = {}
        #: clone_model's ``call_function(layer, *args, **kwargs)``, called instead of the
        #: layer when wiring.
        self.call_layer: Any = None

    def layer_from_entry(self, entry: Any, path: str) -> Layer:
        self.progress["where"] = path
        if not isinstance(entry, dict) or "class_name" not in entry or "config" not in entry:
            raise ArchiveError(f"{path}: a layer entry needs 'class_name' and 'config'")
        class_name, config = entry["class_name"], entry["config"]
        # A user layer's get_config may leave out "name" (Keras loads it): the entry's
        # name, when the file has one, is the layer's.
        if not isinstance(config, dict) or not isinstance(config.get("name", ""), str):
            raise ArchiveError(f"{path}.config: expected an object (with a string 'name')")
        if class_name in ("Sequential", "Model"):
            return self.model_from_config(class_name, config, f"{path}.config")
        if class_name == "Lambda":
            return self.lambdas.from_config(config, f"{path}.config", _construct)
        cls = self.classes.get(class_name) if isinstance(class_name, str) else None
        if cls is None:  # registered (register_keras_serializable) or in a custom-object scope
            found = object_registration.find_custom_object(
                {"class_name": class_name, "registered_name": entry.get("registered_name")}
            )
            cls = found if isinstance(found, type) and issubclass(found, Layer) else None
        if cls is None:
            raise ArchiveError(
                f"{path}: unknown layer class {class_name!r}; known: {sorted(self.classes)} "
                "(register it with tapegrad.saving.register_keras_serializable or pass "
                "custom_objects={name: class} for your own layers)"
            )
        layer = _construct(cls, config, f"{path} ({class_name} '{config.get('name', '')}')")
        if "name" not in config and isinstance(entry.get("name"), str):
            layer.name = entry["name"]
        return layer

    def model_from_config(self, class_name: Any, config: Any, path: str) -> Model:
        if not isinstance(config, dict):
            raise ArchiveError(f"{path}: expected an object")
        if class_name == "Sequential":
            return self._sequential(config, path)
        if class_name == "Model":
            return self._functional(config, path)
        raise ArchiveError(f"{path}: unknown model class {class_name!r} (Sequential or Model)")

    def _sequential(self, config: dict[str, Any], path: str) -> Model:
        entries = _expect_list(config.get("layers"), f"{path}.layers")
        model = _construct(
            Sequential,
            {"name": config.get("name"), "trainable": config.get("trainable", True)},
            path,
        )
        if "input_shape" in config:
            self.progress["where"] = f"{path}.input_shape"
            model.add(
                tg.layers.Input(
                    shape=_shape(config["input_shape"], path),
                    dtype=_dtype(config.get("input_dtype"), path),
                )
            )
        for k, entry in enumerate(entries):
            where = f"{path}.layers[{k}]"
            layer = self.layer_from_entry(entry, where)
            self.progress["where"] = where
            try:  # adding a layer calls it on the model's symbolic input: it builds
                model.add(layer)
            except ArchiveError:
                raise
            except Exception as err:
                raise ArchiveError(
                    f"{where} ({type(layer).__name__} '{layer.name}'): "
                    f"building it fails: {type(err).__name__}: "
                    f"{str(err)[:300]}"
                ) from err
        if "build_input_shape" in config and "input_shape" not in config:
            shape = _shape(config["build_input_shape"], path, batch=True)
            model(tg.tensor(np.zeros((1,) + tuple(shape[1:]), np.float32)))
        return model

    def _functional(self, config: dict[str, Any], path: str) -> Model:
        _expect_keys(config, path, {"name", "trainable", "layers", "input_layers", "output_layers"})
        entries = _expect_list(config["layers"], f"{path}.layers")
        layers: dict[str, Layer] = {}
        inbound: dict[str, list[Any]] = {}
        for k, entry in enumerate(entries):
            where = f"{path}.layers[{k}]"
            if self.clone_layer is not None and isinstance(entry, dict):
                layer = self.clone_layer(entry)
                name = entry.get("name")
            else:
                layer = self.layer_from_entry(entry, where)
                name = layer.name if entry.get("name") == layer.name else None
            if not isinstance(name, str) or name in layers:
                raise ArchiveError(f"{where}: missing, inconsistent or duplicate layer name")
            layers[name] = layer
            inbound[name] = _expect_list(entry.get("inbound_nodes"), f"{where}.inbound_nodes")
        outputs: dict[tuple[str, int], list[Any]] = {
            (name, 0): [self.input_tensors.get(name, layer.output)]
            for name, layer in layers.items()
            if isinstance(layer, InputLayer)
        }
        self._wire(layers, inbound, outputs, path)
        self.progress["where"] = f"{path}.input_layers/output_layers"
        input_refs = _flat_refs(config["input_layers"], f"{path}.input_layers")
        listed = (
            []
            if _is_ref(input_refs)
            else list(input_refs.values() if isinstance(input_refs, dict) else input_refs)
        )
        if len({tuple(r) for r in listed}) != len(listed):
            raise ArchiveError(f"{path}.input_layers: an input is listed twice")
        inputs = _resolve(input_refs, outputs, f"{path}.input_layers")
        model_outputs = _resolve(
            _flat_refs(config["output_layers"], f"{path}.output_layers"),
            outputs,
            f"{path}.output_layers",
        )
        return _construct(
            Model,
            {
                "inputs": inputs,
                "outputs": model_outputs,
                "name": config["name"],
                "trainable": config["trainable"],
            },
            f"{path} (input_layers/output_layers)",
        )

    def _wire(
        self,
        layers: dict[str, Layer],
        inbound: dict[str, list[Any]],
        outputs: dict[tuple[str, int], list[Any]],
        path: str,
    ) -> None:
        """Call each layer on the symbolic tensors its ``inbound_nodes`` name."""
        for name, k, node in _wire_order(inbound, set(outputs), path):
            where = f"{path}: layer '{name}' call {k}"
            args = _resolve(node["args"], outputs, where)
            self.progress["where"] = where
            try:
                if self.call_layer is None:
                    out = layers[name](args, **node["kwargs"])
                else:
                    out = self.call_layer(layers[name], args, **node["kwargs"])
            except ArchiveError:
                raise
            except Exception as err:  # a file can make a layer call fail any way
                raise ArchiveError(
                    f"{where}: the call fails: {type(err).__name__}: {str(err)[:300]}"
                ) from err
            outputs[(name, k)] = tree.flatten(out)


def _wire_order(
    inbound: dict[str, list[Any]], produced: set[tuple[str, int]], path: str
) -> list[tuple[str, int, Any]]:
    """The layer calls of ``inbound`` in an order where each call's inputs (and the same
    layer's earlier call) come first; in linear time, whatever order the file lists them."""
    calls: list[tuple[str, int, Any]] = []
    waiting: dict[tuple[str, int], list[int]] = {}
    unmet: list[int] = []
    for name, nodes in inbound.items():
        for k, node in enumerate(nodes):
            where = f"{path}: layer '{name}' call {k}"
            if (
                not isinstance(node, dict)
                or set(node) != {"args", "kwargs"}
                or not isinstance(node["kwargs"], dict)
            ):
                raise ArchiveError(f"{where}: expected {{'args', 'kwargs'}}")
            args = _flat_refs(node["args"], f"{where}.args")
            refs = (
                [args] if _is_ref(args) else list(args.values() if isinstance(args, dict) else args)
            )
            needs = {(ref[0], ref[1]) for ref in refs} | ({(name, k - 1)} if k else set())
            needs -= produced
            for need in needs:
                waiting.setdefault(need, []).append(len(calls))
            unmet.append(len(needs))
            calls.append((name, k, node))
    ready = [index for index, count in enumerate(unmet) if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:  # the earliest listed ready call first: files in order wire in order
        index = heapq.heappop(ready)
        order.append(calls[index])
        for follower in waiting.pop(calls[index][:2], []):
            unmet[follower] -= 1
            if unmet[follower] == 0:
                heapq.heappush(ready, follower)
    if len(order) != len(calls):
        stuck = next(call for index, call in enumerate(calls) if unmet[index] > 0)
        raise ArchiveError(
            f"{path}: inbound_nodes reference tensors that are never produced "
            f"(layer '{stuck[0]}' call {stuck[1]})"
        )
    return order


def layer_classes(custom_objects: dict[str, Any] | None) -> dict[str, type[Layer]]:
    """The allowed layer classes: `tapegrad.nn.layers.__all__`, plus the Layer subclasses
    of ``custom_objects`` (its functions, losses, metrics... are found through the
    custom-object scope that loading opens)."""
    classes: dict[str, type[Layer]] = {}
    for name in layers_module.__all__:
        value = getattr(layers_module, name, None)
        if isinstance(value, type) and issubclass(value, Layer) and value is not Layer:
            classes[name] = value
    classes.setdefault("KerasMask", KerasMask)  # (a symbolic tensor's _keras_mask node)
    for name, value in object_registration.check_custom_objects(
        custom_objects, "load_model"
    ).items():
        if isinstance(value, type) and issubclass(value, Layer):
            classes[name] = value
            classes.setdefault(value.__name__, value)
    return classes


def _construct(cls: Any, config: dict[str, Any], where: str) -> Any:
    try:
        if cls in (Sequential, Model):
            return cls(**config)
        return cls.from_config(config)
    except ArchiveError:
        raise
    except Exception as err:  # a constructor's check, or worse: name the layer and field
        raise ArchiveError(
            f"{where}: invalid config: {type(err).__name__}: {str(err)[:300]}"
        ) from err


def _flat_refs(structure: Any, where: str) -> Any:
    """``structure`` if it is what the saver writes — a tensor reference, or a non-empty
    flat list (or object) of them — else refused: a layer or model would otherwise be
    wired to nested or plain values that its symbolic probe accepts by chance."""
    if _is_ref(structure):
        return structure
    values = (
        structure
        if isinstance(structure, list)
        else list(structure.values())
        if isinstance(structure, dict)
        else None
    )
    if not values or not all(_is_ref(v) for v in values):
        raise ArchiveError(
            f"{where}: expected a tensor reference [layer name, node, index] "
            f"or a flat list of them, got {str(structure)[:200]}"
        )
    return structure


def _resolve(structure: Any, outputs: dict[tuple[str, int], list[Any]], where: str) -> Any:
    if _is_ref(structure):
        name, node, index = structure
        produced = outputs.get((name, node))
        if produced is None or not 0 <= index < len(produced):
            raise ArchiveError(f"{where}: reference {structure} names no tensor")
        return produced[index]
    if isinstance(structure, list):
        return [_resolve(item, outputs, where) for item in structure]
    if isinstance(structure, dict):
        return {k: _resolve(v, outputs, where) for k, v in structure.items()}
    if structure is None or isinstance(structure, bool | int | float | str):
        return structure
    raise ArchiveError(f"{where}: unexpected value {structure!r}")


def _shape(value: Any, where: str, batch: bool = False) -> tuple[Any, ...]:
    dims = _expect_list(value, where)
    for k, d in enumerate(dims):
        if d is None and (batch and k == 0 or not batch):
            continue
        if isinstance(d, bool) or not isinstance(d, int) or d < 0:
            raise ArchiveError(f"{where}: bad shape {value!r}")
    return tuple(dims)


def _dtype(value: Any, where: str) -> str:
    if value is None:
        return "float32"
    if not isinstance(value, str) or value not in {
        "float16",
        "float32",
        "float64",
        "int32",
        "int64",
        "bool",
        "uint8",
        "int8",
    }:
        raise ArchiveError(f"{where}: bad input dtype {value!r}")
    return value


def _jsonable_shape(shapes: Any) -> Any:
    if isinstance(shapes, tuple | list) and all(
        d is None or isinstance(d, int | np.integer) for d in shapes
    ):
        return [None if d is None else int(d) for d in shapes]
    raise ValueError("save_model: a Sequential built on several inputs cannot be saved")
