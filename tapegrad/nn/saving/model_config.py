"""A model's architecture as a config or JSON string and back, and `clone_model`
(Keras 3's ``model.to_json``, ``models.model_from_json``, ``Model.from_config``,
``models.clone_model``).

The config is the one `save_model` writes in ``config.json`` (a `Lambda` as a graph of
primitives, never code); no weights. Rebuilding uses the built-in layer classes, the
registered ones (`register_keras_serializable`) and the ``custom_objects`` given.
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from typing import Any

from tapegrad import tree
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.layers.core import Input, InputLayer, Lambda
from tapegrad.nn.models.model import Model
from tapegrad.nn.models.sequential import Sequential
from tapegrad.nn.object_registration import CustomObjectScope
from tapegrad.nn.saving.config import Loader, Saver, layer_classes

_MODEL_CLASSES = ("Sequential", "Model", "Functional")


def model_to_config(model: Model) -> dict[str, Any]:
    """``{"module", "class_name", "config", "registered_name"}`` of a Sequential or
    functional model, JSON-compatible (Keras' ``serialize_keras_object(model)``).

    Args:
        model: A `Sequential` or functional `Model`.

    Returns:
        The config; its Lambdas hold their functions as graphs.

    Raises:
        ValueError: A subclassed model, or a Lambda whose graph holds constants too large
            for a config (`save_model` stores those in the archive).

    Examples:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2)])
        >>> model_to_config(model)["class_name"]
        'Sequential'
    """
    saver = Saver(model)
    config = saver.model_config(model, None)
    if saver.arrays:
        raise ValueError(
            f"to_json: model '{model.name}' has Lambda layers whose graphs hold large "
            f"constants ({sorted(saver.arrays)[:3]}...), which a config cannot hold; save "
            "the model with model.save(path) instead"
        )
    return {
        "module": "tapegrad",
        "class_name": type(model).__name__,
        "config": config,
        "registered_name": None,
    }


def model_from_config(
    config: dict[str, Any],
    custom_objects: dict[str, Any] | None = None,
    cls: type[Model] | None = None,
) -> Model:
    """A new model (fresh weights) from `model_to_config`'s output or ``get_config()``.

    Args:
        config: ``{"class_name": "Sequential" | "Model" | "Functional", "config": ...}``
            (what `model_to_config` and Keras' ``to_json`` write), or the bare
            ``get_config()`` of a model of class ``cls``.
        custom_objects: ``{name: class or function}`` for your own layers, activations,
            initializers, ... (names registered with `register_keras_serializable`
            need none).
        cls: The class of a bare ``get_config()`` (`Model.from_config`).

    Returns:
        The model.

    Raises:
        ValueError: A config that does not describe a model (naming the field), or an
            unknown layer class.

    Examples:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2)])
        >>> model_from_config(model_to_config(model)).output_shape
        (None, 2)
    """
    if cls is not None:
        class_name = "Sequential" if issubclass(cls, Sequential) else "Model"
        inner = config
    elif isinstance(config, dict) and config.get("class_name") in _MODEL_CLASSES:
        class_name = "Model" if config["class_name"] == "Functional" else config["class_name"]
        inner = config.get("config")
    else:
        raise ValueError(
            "model_from_config: expected {'class_name': 'Sequential' | 'Model', "
            f"'config': ...}}, got {str(config)[:200]}"
        )
    _check_lambdas(inner)
    classes = layer_classes(custom_objects)
    with CustomObjectScope(custom_objects):
        loader = Loader({}, classes, None, {"where": "config"})
        model = loader.model_from_config(class_name, inner, "config")
        loader.lambdas.resolve_shared_variables(model)
    return model


def _check_lambdas(config: Any) -> None:
    """Refuse, with the way out, a `Lambda` whose config has no function: ``get_config``
    leaves it out (tapegrad never writes code); `model_to_config` adds it as a graph."""
    layers = config.get("layers") if isinstance(config, dict) else None
    for entry in layers if isinstance(layers, list) else []:
        inner = entry.get("config") if isinstance(entry, dict) else None
        if not isinstance(inner, dict):
            continue
        if entry.get("class_name") == "Lambda" and "function" not in inner:
            raise ValueError(
                f"from_config: the Lambda layer '{inner.get('name')}' has no function in this "
                "config (get_config() leaves it out: tapegrad never writes code); rebuild from "
                "model.to_json() or tapegrad.nn.saving.model_to_config(model), which hold it as "
                "a graph, or use tapegrad.models.clone_model(model)"
            )
        _check_lambdas(inner)


def model_to_json(model: Model, **kwargs: Any) -> str:
    """`model_to_config` as a JSON string (``kwargs`` go to `json.dumps`).

    Examples:
        >>> import tapegrad as tg
        >>> text = model_to_json(tg.Sequential([tg.Input((3,)), tg.layers.Dense(2)]))
        >>> text.startswith('{"module": "tapegrad", "class_name": "Sequential"')
        True
    """
    return json.dumps(model_to_config(model), **kwargs)


def model_from_json(json_string: str, custom_objects: dict[str, Any] | None = None) -> Model:
    """A new model (fresh weights) from `model_to_json`'s string (Keras'
    ``keras.models.model_from_json``).

    Args:
        json_string: The JSON text.
        custom_objects: ``{name: class or function}`` for your own objects.

    Returns:
        The model.

    Raises:
        ValueError: Not JSON, or not a model's config.

    Examples:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2, name="out")])
        >>> model_from_json(model_to_json(model)).layers[-1].name
        'out'
    """
    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as err:
        raise ValueError(f"model_from_json: not a JSON string: {err}") from err
    return model_from_config(config, custom_objects)


def clone_model(
    model: Model,
    input_tensors: Any = None,
    clone_function: Callable[[Layer], Layer] | None = None,
    call_function: Callable[..., Any] | None = None,
    recursive: bool = False,
    **kwargs: Any,
) -> Model:
    """A new model with the same architecture and new layers (fresh weights), Keras'
    ``keras.models.clone_model``.

    Args:
        model: A `Sequential` or functional `Model` (a subclassed model is rebuilt with
            ``type(model).from_config(model.get_config())``, as Keras does, and takes
            none of the other arguments).
        input_tensors: Optional symbolic tensors (from `Input`) to build the clone on, in
            the structure of the model's inputs; a Sequential cloned on them becomes a
            functional `Model`.
        clone_function: ``f(layer) -> new layer`` applied to every layer but the inputs
            (default: ``layer.__class__.from_config(layer.get_config())``; a `Lambda`
            keeps its function; a nested model is cloned). Returning the layer itself
            shares it (and its weights) with the original. A layer used several times
            is cloned once.
        call_function: Functional models only: ``f(layer, *args, **kwargs)`` called
            instead of ``layer(*args, **kwargs)`` when the clone is wired (to insert layers
            or change call arguments).
        recursive: Clone the layers of nested Sequential and functional models with
            ``clone_function`` too (else a nested model goes to ``clone_function``
            whole).
        **kwargs: Refused (named).

    Returns:
        The clone, not compiled.

    Raises:
        ValueError: Arguments a model kind does not take (as in Keras), or
            ``input_tensors`` that do not match the model's inputs.

    Examples:
        >>> import tapegrad as tg
        >>> model = tg.Sequential([tg.Input((3,)), tg.layers.Dense(2)])
        >>> clone = clone_model(model)
        >>> clone.layers[0] is model.layers[0], clone.output_shape
        (False, (None, 2))
    """
    cache = kwargs.pop("cache", None)
    if kwargs:
        raise ValueError(f"clone_model: unexpected keyword argument(s) {tuple(kwargs)}")
    if not isinstance(model, Model):
        raise ValueError(f"clone_model: expected a Model, got {type(model).__name__}")
    if clone_function is not None and not callable(clone_function):
        raise ValueError(f"clone_model: clone_function must be callable, got {clone_function!r}")
    if call_function is not None and not callable(call_function):
        raise ValueError(f"clone_model: call_function must be callable, got {call_function!r}")
    functional = type(model) is Model and bool(model.inputs)
    if type(model) is Sequential or functional:
        clone = _wrapped_clone_function(clone_function, call_function, recursive, cache)
        if type(model) is Sequential:
            if call_function is not None:
                raise ValueError(
                    "clone_model: call_function is not supported with Sequential models (their "
                    "layers are listed, not called, when the model is made); use it with "
                    "functional models"
                )
            return _clone_sequential(model, input_tensors, clone)
        return _clone_functional(model, input_tensors, clone, call_function)
    if clone_function is not None or input_tensors is not None or call_function is not None:
        raise ValueError(
            f"clone_model: '{model.name}' is a subclassed {type(model).__name__}: "
            "clone_function, call_function and input_tensors are only supported for "
            "Sequential and functional models (a subclassed model's call() is Python code)"
        )
    with CustomObjectScope({type(model).__name__: type(model)}):
        return type(model).from_config(model.get_config())


def _wrapped_clone_function(
    clone_function: Any, call_function: Any, recursive: bool, cache: dict[int, Any] | None
) -> Callable[[Layer], Layer]:
    """Keras' wrapper: one clone per layer (shared layers stay shared), nested models
    cloned layer by layer when ``recursive``."""
    cache = {} if cache is None else cache
    clone = clone_function or _clone_layer

    def wrapped(layer: Layer) -> Layer:
        if id(layer) in cache:
            return cache[id(layer)]
        nested = isinstance(layer, Model) and (type(layer) is Sequential or type(layer) is Model)
        if recursive and nested:
            result = clone_model(
                layer,
                clone_function=clone,
                call_function=None if type(layer) is Sequential else call_function,
                recursive=True,
                cache=cache,
            )
        else:
            result = _checked(clone(layer), layer)
        cache[id(layer)] = result
        return result

    return wrapped


def _clone_functional(
    model: Model, input_tensors: Any, clone: Callable[[Layer], Layer], call_function: Any
) -> Model:
    by_name = {layer.name: layer for layer in model.layers}
    config = model.get_config()
    loader = Loader({}, layer_classes(None), None, {"where": "clone_model"})

    def clone_entry(entry: dict[str, Any]) -> Layer:
        original = by_name.get(entry.get("name"))
        if original is None:  # an op of the functional graph (x + y, ops.mean on inputs)
            return loader.layer_from_entry(entry, f"clone_model: {entry.get('name')}")
        if isinstance(original, InputLayer):
            return InputLayer.from_config(original.get_config())
        return clone(original)

    loader.clone_layer = clone_entry
    loader.call_layer = call_function
    if input_tensors is not None:
        loader.input_tensors = _input_overrides(model, config, input_tensors)
    return loader.model_from_config("Model", config, "clone_model")


def _clone_sequential(model: Sequential, input_tensors: Any, clone: Callable[..., Any]) -> Model:
    layers = [clone(layer) for layer in model.layers]
    if input_tensors is not None:
        flat = tree.flatten(input_tensors)
        if len(flat) != 1:
            raise ValueError(
                f"clone_model: Sequential '{model.name}' takes one input, got {len(flat)} "
                "input_tensors"
            )
        outputs = flat[0]
        for layer in layers:
            outputs = layer(outputs)
        return Model(flat[0], outputs, name=model.name)
    clone_of = Sequential(name=model.name, trainable=model.trainable)
    if model.inputs:
        shape, dtype = tuple(model.inputs[0].shape[1:]), model.inputs[0].dtype
        clone_of.add(Input(shape=shape, dtype=dtype))
    for layer in layers:
        clone_of.add(layer)
    return clone_of


def _clone_layer(layer: Layer) -> Layer:
    """Keras' default: a new layer of the same class and config (fresh weights)."""
    if isinstance(layer, Model):
        return clone_model(layer)
    if isinstance(layer, Lambda):  # its function is Python, not config: reuse it
        config = layer.get_config()
        config.pop("arguments", None)
        return Lambda(layer.function, arguments=dict(layer.arguments), **config)
    with CustomObjectScope(_held_objects(layer)):
        return type(layer).from_config(layer.get_config())


def _held_objects(layer: Layer) -> dict[str, Any]:
    """The user's functions and objects a layer holds (its activation, initializers...),
    by the names its config gives them: the clone finds them without registration."""
    held: dict[str, Any] = {}
    for value in vars(layer).values():
        if isinstance(value, types.FunctionType):
            held[value.__name__] = value
        elif callable(getattr(value, "get_config", None)) and not isinstance(value, Layer):
            held[type(value).__name__] = type(value)
    return held


def _checked(new: Any, original: Layer) -> Layer:
    if not isinstance(new, Layer):
        raise ValueError(
            f"clone_model: clone_function must return a Layer, got {type(new).__name__} for "
            f"layer '{original.name}'"
        )
    return new


def _input_overrides(model: Model, config: dict[str, Any], input_tensors: Any) -> dict[str, Any]:
    refs = tree.flatten(config["input_layers"]) if config["input_layers"] else []
    names = [refs[k] for k in range(0, len(refs), 3)]
    given = (
        [input_tensors[key] for key in sorted(input_tensors)]
        if isinstance(input_tensors, dict)
        else tree.flatten(input_tensors)
    )
    if len(given) != len(names):
        raise ValueError(
            f"clone_model: model '{model.name}' has {len(names)} inputs, got {len(given)} "
            "input_tensors"
        )
    return dict(zip(names, given, strict=True))


__all__ = [
    "clone_model",
    "model_from_config",
    "model_from_json",
    "model_to_config",
    "model_to_json",
]
