"""`tapegrad.saving` (Keras 3's ``keras.saving``): saving, loading and (de)serialization.

Objects are described by ``{"module", "class_name", "config", "registered_name"}`` dicts,
as in Keras. Nothing is ever rebuilt from code in a config: a class or function is found
by name among tapegrad's built-ins, the objects registered with
`register_keras_serializable` and the ``custom_objects`` given (or a `custom_object_scope`).

Examples:
    >>> import tapegrad as tg
    >>> config = tg.saving.serialize_keras_object(tg.layers.Dense(2, name="d"))
    >>> config["class_name"], config["config"]["units"]
    ('Dense', 2)
    >>> tg.saving.deserialize_keras_object(config).name
    'd'
"""

from __future__ import annotations

import importlib
import inspect
import types
from typing import Any

import numpy as np

from tapegrad.nn.object_registration import (
    CustomObjectScope,
    check_custom_objects,
    custom_object_scope,
    find_custom_object,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
)
from tapegrad.nn.saving import load_model, load_weights, save_model, save_weights

# Keras names tapegrad does not have, with why (read by tapegrad.keras_coverage).
UNSUPPORTED: dict[str, str] = {
    "KerasFileEditor": "not implemented yet (it edits Keras's own .keras / .weights.h5 files)",
}
# Keras names tapegrad has, with how they differ (read by tapegrad.keras_coverage).
DIFFERS: dict[str, str] = {
    "load_model": "reads tapegrad archives (not Keras's .keras files); never runs code from "
    "the file, so safe_mode changes nothing",
    "save_model": "writes a tapegrad archive; zipped=False (a folder) is refused",
    "save_weights": "one safetensors file; max_shard_size is refused",
    "load_weights": "skip_mismatch=True is refused (a mismatch raises, naming the weight); "
    "adds verify=",
    "serialize_keras_object": "a lambda is refused (tapegrad never saves code)",
    "deserialize_keras_object": "never rebuilds code: functions and classes are found by "
    "name (built in, registered or custom_objects); safe_mode changes nothing",
}
_PLAIN = (str, int, float, bool)
_MODEL_CLASSES = ("Sequential", "Model", "Functional")
# The built-in namespaces a config's class may come from, in the order they are tried
# when its "module" does not say (Keras writes "keras.layers", tapegrad its own modules).
_KINDS = (
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "initializers",
    "regularizers",
    "activations",
)


def serialize_keras_object(obj: Any) -> Any:
    """A JSON-compatible description of ``obj`` (Keras' format).

    Plain values, lists, tuples and dicts are kept (their items serialized); NumPy arrays
    and Tensors become ``{"class_name": "__numpy__" | "__tensor__", ...}``; a named
    function becomes ``{"class_name": "function", "config": its name, ...}``; an object
    with ``get_config`` becomes ``{"module", "class_name", "config", "registered_name"}``
    (a model: its architecture, Lambdas as graphs).

    Args:
        obj: The object.

    Returns:
        The description.

    Raises:
        ValueError: A ``lambda`` (tapegrad never saves code: use a named, registered
            function) or an object without ``get_config``.

    Examples:
        >>> import tapegrad as tg
        >>> serialize_keras_object(tg.regularizers.L2(0.5))["config"]
        {'l2': 0.5}
        >>> serialize_keras_object((1, [2.0, None]))
        (1, [2.0, None])
    """
    from tapegrad.nn.models import Model
    from tapegrad.nn.saving.model_config import model_to_config

    if obj is None or isinstance(obj, _PLAIN):
        return obj
    if isinstance(obj, list | tuple):
        items = [serialize_keras_object(item) for item in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray) or _is_tensor(obj):
        array = np.asarray(obj)
        return {
            "class_name": "__numpy__" if isinstance(obj, np.ndarray) else "__tensor__",
            "config": {"value": array.tolist(), "dtype": array.dtype.name},
        }
    if isinstance(obj, Model):
        return model_to_config(obj)
    if isinstance(obj, types.FunctionType | types.BuiltinFunctionType):
        if obj.__name__ == "<lambda>":
            raise ValueError(
                "serialize_keras_object: a lambda cannot be serialized (tapegrad never saves "
                "code); use a named function, registered with register_keras_serializable "
                "or passed as custom_objects when loading"
            )
        return {
            "module": obj.__module__,
            "class_name": "function",
            "config": obj.__name__,
            "registered_name": _registered_or_none(obj),
        }
    if not callable(getattr(obj, "get_config", None)):
        raise ValueError(
            f"serialize_keras_object: cannot serialize {type(obj).__name__} {obj!r:.100}: it "
            "has no get_config() method"
        )
    return {
        "module": type(obj).__module__,
        "class_name": type(obj).__name__,
        "config": serialize_keras_object(obj.get_config()),
        "registered_name": _registered_or_none(type(obj)),
    }


def deserialize_keras_object(
    config: Any,
    custom_objects: dict[str, Any] | None = None,
    safe_mode: bool = True,
    **kwargs: Any,
) -> Any:
    """The object `serialize_keras_object` described (a new instance for classes).

    Args:
        config: A description (or a plain value, list or dict of them). A string is
            replaced by the custom object of that name when there is one (as in Keras).
        custom_objects: ``{name: class or function}`` for your own objects; registered
            ones need none.
        safe_mode: Accepted for Keras compatibility: nothing is ever built from code in a
            config, so deserialization is always safe.
        **kwargs: Keras' ``module_objects`` (``{name: object}`` looked up last).

    Returns:
        The object.

    Raises:
        ValueError: A class or function that is neither built in, registered nor given.

    Examples:
        >>> import tapegrad as tg
        >>> def gain(x):
        ...     return 3.0 * x
        >>> deserialize_keras_object(serialize_keras_object(gain), {"gain": gain}) is gain
        True
    """
    del safe_mode  # always safe: see the docstring
    unknown = set(kwargs) - {"module_objects"}
    if unknown:
        raise TypeError(f"deserialize_keras_object: unexpected arguments {sorted(unknown)}")
    module_objects = kwargs.get("module_objects") or {}
    custom = {**check_custom_objects(module_objects, "deserialize_keras_object")}
    custom.update(check_custom_objects(custom_objects, "deserialize_keras_object"))
    with CustomObjectScope(custom):
        return _deserialize(config)


def _deserialize(config: Any) -> Any:
    if config is None or isinstance(config, int | float | bool):
        return config
    if isinstance(config, str):
        found = get_registered_object(config)
        return config if found is None else found
    if isinstance(config, list | tuple):
        return [_deserialize(item) for item in config]
    if not isinstance(config, dict):
        raise ValueError(f"deserialize_keras_object: cannot parse config {config!r:.200}")
    if "class_name" not in config or "config" not in config:
        return {key: _deserialize(value) for key, value in config.items()}
    class_name, inner = config["class_name"], config["config"]
    if class_name in ("__numpy__", "__tensor__"):
        array = np.array(inner["value"], dtype=inner["dtype"])
        if class_name == "__numpy__":
            return array
        import tapegrad as tg

        return tg.tensor(array)
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    found = find_custom_object(config)
    if found is not None:
        if class_name == "function" or not inspect.isclass(found):
            return found
        return found.from_config(_deserialize_inner(inner))
    if class_name in _MODEL_CLASSES:
        from tapegrad.nn.saving.model_config import model_from_config

        return model_from_config(config)
    if class_name == "function":
        return _built_in_function(config)
    return _built_in_object(config)


def _deserialize_inner(inner: Any) -> Any:
    return inner if not isinstance(inner, dict) else dict(inner)


def _built_in_function(config: dict[str, Any]) -> Any:
    name = config["config"]
    for kind in _kinds(config.get("module"), ("activations", "losses", "metrics")):
        module = importlib.import_module(f"tapegrad.nn.{kind}")
        function = getattr(module, name, None) if isinstance(name, str) else None
        if callable(function) and not inspect.isclass(function) and name in module.__all__:
            return function
    raise ValueError(
        f"deserialize_keras_object: could not locate the function {name!r}: it is not a "
        "built-in activation, loss or metric; register it with "
        "tapegrad.saving.register_keras_serializable or pass it in custom_objects "
        "(tapegrad never loads code from a config)"
    )


def _built_in_object(config: dict[str, Any]) -> Any:
    class_name = config["class_name"]
    for kind in _kinds(config.get("module"), _KINDS):
        module = importlib.import_module(f"tapegrad.nn.{kind}")
        cls = getattr(module, class_name, None) if isinstance(class_name, str) else None
        if inspect.isclass(cls) and class_name in getattr(module, "__all__", ()):
            return module.deserialize(
                {"class_name": class_name, "config": _deserialize_inner(config["config"])}
            )
    raise ValueError(
        f"deserialize_keras_object: could not locate the class {class_name!r}: it is not a "
        "tapegrad class; register it with tapegrad.saving.register_keras_serializable or "
        "pass it in custom_objects"
    )


def _kinds(module: Any, kinds: tuple[str, ...]) -> list[str]:
    """``kinds``, the one the config's ``module`` names first (``"keras.layers"``)."""
    if not isinstance(module, str):
        return list(kinds)
    named = [kind for kind in kinds if kind in module.split(".")]
    return named + [kind for kind in kinds if kind not in named]


def _registered_or_none(obj: Any) -> str | None:
    name = get_registered_name(obj)
    return name if ">" in name and get_registered_object(name) is obj else None


def _is_tensor(obj: Any) -> bool:
    import tapegrad as tg

    return isinstance(obj, tg.Tensor)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.saving", name, UNSUPPORTED)


__all__ = [
    "CustomObjectScope",
    "custom_object_scope",
    "deserialize_keras_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "load_model",
    "load_weights",
    "register_keras_serializable",
    "save_model",
    "save_weights",
    "serialize_keras_object",
]
