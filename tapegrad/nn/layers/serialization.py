"""`serialize` / `deserialize` of one layer (Keras' ``keras.layers.serialize``).

Wrappers (`Bidirectional`, `TimeDistributed`) keep the layers they wrap in their configs
this way. Classes are looked up among `tapegrad.nn.layers`' exported layers (and the
caller's ``custom_objects``): a config never names code to import.
"""

from __future__ import annotations

from typing import Any

from tapegrad.nn import object_registration
from tapegrad.nn.layers.base import Layer


def serialize(layer: Layer) -> dict[str, Any]:
    """A layer's class name and config, as a JSON-compatible dict.

    Args:
        layer: The layer.

    Returns:
        ``{"class_name": ..., "config": layer.get_config()}``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.layers.serialize(tg.layers.Dense(2, name="d"))["class_name"]
        'Dense'
    """
    if not isinstance(layer, Layer):
        raise TypeError(f"layers.serialize: expected a Layer, got {type(layer).__name__}")
    config = {"class_name": type(layer).__name__, "config": layer.get_config()}
    registered = object_registration.get_registered_name(type(layer))
    if registered != type(layer).__name__:  # registered: found by this name again
        config["registered_name"] = registered
    return config


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Layer:
    """A new layer from `serialize` output.

    Args:
        config: ``{"class_name": ..., "config": {...}}``.
        custom_objects: ``{class name: Layer subclass}`` for your own layers.

    Returns:
        The layer (not built: its weights are created on its first call).

    Examples:
        >>> import tapegrad as tg
        >>> layer = tg.layers.deserialize(tg.layers.serialize(tg.layers.Dense(2, name="d")))
        >>> layer.units, layer.name
        (2, 'd')
    """
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(
            "layers.deserialize: expected {'class_name': ..., 'config': {...}}, "
            f"got {config!r}"[:200]
        )
    class_name = config.get("class_name")
    cls = (
        (custom_objects or {}).get(class_name)
        or _layer_class(class_name)
        or _registered_layer_class(config, custom_objects)
    )
    if cls is None:
        raise ValueError(
            f"layers.deserialize: unknown layer class {class_name!r} "
            "(pass custom_objects={name: class} for your own layers)"
        )
    return cls.from_config(dict(config["config"]))


def _registered_layer_class(
    config: dict[str, Any], custom_objects: dict[str, Any] | None
) -> type[Layer] | None:
    """A Layer subclass registered (``register_keras_serializable``) or in a custom-object
    scope under the config's registered name or class name."""
    found = object_registration.find_custom_object(config, custom_objects)
    return found if isinstance(found, type) and issubclass(found, Layer) else None


def _layer_class(name: Any) -> type[Layer] | None:
    # The package imports this module: look its names up when called, not at import.
    import tapegrad.nn.layers as layers_module

    if not isinstance(name, str) or name not in layers_module.__all__:
        return None
    value = getattr(layers_module, name)
    return value if isinstance(value, type) and issubclass(value, Layer) else None


__all__ = ["deserialize", "serialize"]
