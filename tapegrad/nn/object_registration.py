"""Registered custom objects (Keras 3's ``keras.saving`` object registration).

A config names an object by a string, never by code: built-in classes and functions by
their name, your own ones by the name you register them under
(`register_keras_serializable`: ``"package>name"``) or pass as ``custom_objects``
(`CustomObjectScope`, ``load_model(..., custom_objects=...)``). Every ``get`` and
``deserialize`` of tapegrad (activations, losses, metrics, initializers, regularizers,
layers, optimizers) looks an unknown name up here, so a custom function or class is found
wherever a config or a string names it, and nothing from a file is ever executed.

This module imports nothing from tapegrad: the registries below it use it.

Examples:
    >>> def scaled_relu(x):
    ...     return 2.0 * x
    >>> with CustomObjectScope({"scaled_relu": scaled_relu}):
    ...     get_registered_object("scaled_relu") is scaled_relu
    True
    >>> get_registered_object("scaled_relu") is None
    True
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

# Keras' GLOBAL_CUSTOM_OBJECTS / GLOBAL_CUSTOM_NAMES: "package>name" -> object, and back.
_GLOBAL_CUSTOM_OBJECTS: dict[str, Any] = {}
_GLOBAL_CUSTOM_NAMES: dict[Any, str] = {}
# The objects of the custom-object scopes open in this thread (Keras keeps them per
# thread too): the innermost scope's dict, merged over the outer ones'.
_SCOPE = threading.local()


class CustomObjectScope:
    """Makes ``custom_objects`` known to every deserialization inside a ``with`` block.

    Args:
        custom_objects: ``{name: class or function}`` (``None`` is an empty dict). Inside
            nested scopes the inner names are added to the outer ones'.

    Raises:
        TypeError: ``custom_objects`` is not a dict with string keys.

    Examples:
        >>> import tapegrad as tg
        >>> def double(x):
        ...     return 2.0 * x
        >>> with CustomObjectScope({"double": double}):
        ...     layer = tg.layers.Dense(1, activation="double")
        >>> layer.activation is double
        True
    """

    def __init__(self, custom_objects: dict[str, Any] | None) -> None:
        self.custom_objects = check_custom_objects(custom_objects, "CustomObjectScope")
        self._backup: dict[str, Any] | None = None

    def __enter__(self) -> CustomObjectScope:
        self._backup = _scope_objects()
        _SCOPE.objects = {**self._backup, **self.custom_objects}
        return self

    def __exit__(self, *exc_info: Any) -> None:
        _SCOPE.objects = self._backup or {}


custom_object_scope = CustomObjectScope


def check_custom_objects(custom_objects: Any, owner: str) -> dict[str, Any]:
    """``custom_objects`` as a dict, or a TypeError naming ``owner`` and the bad value.

    Examples:
        >>> check_custom_objects(None, "load_model")
        {}
    """
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, dict) or not all(
        isinstance(key, str) for key in custom_objects
    ):
        raise TypeError(
            f"{owner}: custom_objects must be a dict {{name: class or function}}, "
            f"got {str(custom_objects)[:200]}"
        )
    return dict(custom_objects)


def _scope_objects() -> dict[str, Any]:
    return getattr(_SCOPE, "objects", {})


def get_custom_objects() -> dict[str, Any]:
    """The live global dict of registered objects; editing it registers or removes them.

    Returns:
        The dict itself (not a copy), as Keras returns it.

    Examples:
        >>> class Shift:
        ...     def get_config(self):
        ...         return {}
        >>> get_custom_objects()["Shift"] = Shift
        >>> get_registered_object("Shift") is Shift
        True
        >>> del get_custom_objects()["Shift"]
    """
    return _GLOBAL_CUSTOM_OBJECTS


def register_keras_serializable(
    package: str = "Custom", name: str | None = None
) -> Callable[[Any], Any]:
    """Register a class or function under ``"package>name"``, so configs that name it
    load without ``custom_objects``.

    Args:
        package: The first part of the registered name.
        name: The second part (default: the object's ``__name__``).

    Returns:
        A decorator that registers its argument and returns it unchanged.

    Raises:
        ValueError: (from the decorator) a class without a ``get_config`` method.

    Examples:
        >>> import tapegrad as tg
        >>> @register_keras_serializable(package="doc")
        ... class Twice(tg.layers.Layer):
        ...     def call(self, x):
        ...         return 2.0 * x
        >>> get_registered_name(Twice), get_registered_object("doc>Twice") is Twice
        ('doc>Twice', True)
    """
    if not isinstance(package, str) or (name is not None and not isinstance(name, str)):
        raise TypeError(
            "register_keras_serializable: package and name must be strings, got "
            f"package={package!r}, name={name!r}"
        )

    def decorator(arg: Any) -> Any:
        registered_name = f"{package}>{name if name is not None else arg.__name__}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(
                f"register_keras_serializable: cannot register the class {arg.__name__}: it "
                "has no get_config() method"
            )
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        return arg

    return decorator


def get_registered_name(obj: Any) -> str:
    """The name ``obj`` is registered under, else its ``__name__``.

    Examples:
        >>> def f(x):
        ...     return x
        >>> get_registered_name(f)
        'f'
    """
    try:
        return _GLOBAL_CUSTOM_NAMES[obj]
    except (KeyError, TypeError):  # TypeError: an unhashable object is never registered
        return obj.__name__


def get_registered_object(
    name: Any,
    custom_objects: dict[str, Any] | None = None,
    module_objects: dict[str, Any] | None = None,
) -> Any:
    """The object registered or passed under ``name``, else None (Keras' lookup order:
    the open scopes, the global registry, ``custom_objects``, ``module_objects``).

    Args:
        name: The name to look up.
        custom_objects: Extra ``{name: object}``, usually the user's.
        module_objects: Extra ``{name: object}``, usually a library's built-ins.

    Returns:
        The object, or None.

    Examples:
        >>> get_registered_object("relu", module_objects={"relu": max}) is max
        True
    """
    if not isinstance(name, str):
        return None
    for objects in (_scope_objects(), _GLOBAL_CUSTOM_OBJECTS, custom_objects, module_objects):
        if objects and name in objects:
            return objects[name]
    return None


def find_custom_object(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """The registered or passed object a config names, else None.

    Looks ``config`` up when it is a string; for a ``{"class_name", "config",
    "registered_name"}`` dict, its registered name, then (for ``"function"``) the function
    name or the class name; then, when nothing is found, a registered object whose
    ``__name__`` is that name (configs written without a registered name).

    Examples:
        >>> def cube(x):
        ...     return x**3
        >>> with CustomObjectScope({"cube": cube}):
        ...     find_custom_object({"class_name": "function", "config": "cube"}) is cube
        True
    """
    if isinstance(config, str):
        names = [config]
    elif isinstance(config, dict):
        class_name = config.get("class_name")
        plain = config.get("config") if class_name == "function" else class_name
        names = [config.get("registered_name"), plain]
    else:
        return None
    for name in names:
        found = get_registered_object(name, custom_objects)
        if found is not None:
            return found
    plain_name = names[-1]
    if isinstance(plain_name, str):
        for obj, registered in list(_GLOBAL_CUSTOM_NAMES.items()):
            if registered.split(">")[-1] == plain_name or getattr(obj, "__name__", "") == (
                plain_name
            ):
                return obj
    return None


__all__ = [
    "CustomObjectScope",
    "check_custom_objects",
    "custom_object_scope",
    "find_custom_object",
    "get_custom_objects",
    "get_registered_name",
    "get_registered_object",
    "register_keras_serializable",
]
