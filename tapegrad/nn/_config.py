"""Shared decoding of Keras-style ``{"class_name", "config"}`` dicts (no code is restored)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
            f"{config.get('config')!r}: tapegrad never restores code; subclass "
            f"{base} and implement get_config"
        )
    return lookup(config["class_name"]).from_config(dict(config.get("config") or {}))
