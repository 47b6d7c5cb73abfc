"""Shared decoding of Keras-style ``{"class_name", "config"}`` dicts (no code is restored)."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tapegrad.nn import object_registration


def deserialize_object(config: Any, kind: str, base: str, lookup: Callable[[str], Any]) -> Any:
    """Rebuild an object of a registry (initializers, regularizers) from its config.

    Args:
        config: A name, or a dict with ``class_name`` and ``config``.
        kind: What is decoded, for messages (``"initializer"``).
        base: The base class users subclass instead of passing functions.
        lookup: Maps a class name (or alias) to the class; raises for unknown names.

    Returns:
        The rebuilt instance.
    """
    custom = rebuild_custom(config, lambda name: _is_known(name, lookup))
    if custom is not None:
        return custom
    if isinstance(config, str):
        return lookup(config)()
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Could not deserialize {kind} {config!r}: expected a name or "
            "a dict with 'class_name' and 'config'"
        )
    if config["class_name"] == "function":
        raise ValueError(
            f"Cannot deserialize the custom {kind} function "
            f"{config.get('config')!r}: tapegrad never restores code; register it "
            "(tapegrad.saving.register_keras_serializable), pass it in custom_objects, or "
            f"subclass {base} and implement get_config"
        )
    return lookup(config["class_name"]).from_config(dict(config.get("config") or {}))


def rebuild_custom(config: Any, is_built_in: Callable[[str], bool]) -> Any:
    """The user's object that ``config`` names, rebuilt; None if it names none.

    The object is found by name among the registered objects and the custom-object
    scopes (`tapegrad.nn.object_registration`); a name the built-in registry knows
    (``is_built_in``) stays the built-in's unless the config carries a registered name.
    A class is rebuilt with ``from_config`` (or called without arguments for a bare
    name); a function is returned as is.

    Args:
        config: A name, or a ``{"class_name", "config", "registered_name"}`` dict.
        is_built_in: Whether a class or function name is a built-in one.

    Returns:
        The object, or None.
    """
    custom = object_registration.find_custom_object(config)
    if custom is None:
        return None
    if isinstance(config, str):
        if is_built_in(config):
            return None
        return custom() if inspect.isclass(custom) else custom
    class_name = config.get("class_name")
    name = config.get("config") if class_name == "function" else class_name
    if not config.get("registered_name") and isinstance(name, str) and is_built_in(name):
        return None
    if class_name == "function" or not inspect.isclass(custom):
        return custom
    return custom.from_config(dict(config.get("config") or {}))


def _is_known(name: str, lookup: Callable[[str], Any]) -> bool:
    try:
        lookup(name)
    except ValueError:
        return False
    return True
