"""Weights: the ``layers/<key>/<index>`` keys of a model and their checked assignment."""

from __future__ import annotations

import re

import numpy as np

import tapegrad as tg
from tapegrad.nn.layers.base import Layer
from tapegrad.nn.saving.archive import VERSION, ArchiveError


def stored_order(layer: Layer, version: int = VERSION) -> list[tg.Variable]:
    """A layer's weights in the order a file of ``version`` indexes them.

    Since version 3 that is ``layer.weights`` (Keras 3's order: layer by layer, each layer's
    trainable then non-trainable weights). Versions 1 and 2 were written while ``weights``
    listed every trainable weight first: their indices keep that meaning, so an old file
    never puts a value into another slot of the same shape.
    """
    if version >= 3:
        return layer.weights
    return layer.trainable_weights + layer.non_trainable_weights


def weight_arrays(model: Layer) -> dict[str, np.ndarray]:
    """Every weight under ``layers/<key>/<index>`` (a shared one under each holder)."""
    return {
        f"layers/{key}/{i}": np.asarray(weight.numpy())
        for key, layer in layer_keys(model)
        for i, weight in enumerate(layer.weights)
    }


def layer_keys(model: Layer) -> list[tuple[str, Layer]]:
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


def contains_layer(container: Layer, layer: Layer) -> bool:
    return any(
        inner is layer or contains_layer(inner, layer) for inner in getattr(container, "layers", [])
    )


def assign_weights(
    model: Layer, arrays: dict[str, np.ndarray], source: str, archive: bool, version: int
) -> None:
    expected: dict[str, tg.Variable] = {
        f"layers/{key}/{i}": weight
        for key, layer in layer_keys(model)
        for i, weight in enumerate(stored_order(layer, version))
    }
    stored = {k for k in arrays if k.startswith("layers/")}
    allowed = ("lambdas/", "optimizer/") if archive else ()
    others = sorted(k for k in set(arrays) - stored if not k.startswith(allowed))
    if others:
        raise ArchiveError(f"{source}: unexpected entries {others[:5]}")
    missing, extra = sorted(set(expected) - stored), sorted(stored - set(expected))
    if missing or extra:
        raise ArchiveError(
            f"{source}: the weights do not match model '{model.name}': missing "
            f"{missing[:5]}, unexpected {extra[:5]} (is the model built, with the same layers?)"
        )
    for key, variable in expected.items():
        check_array(arrays[key], variable, key, source)
    for key, variable in expected.items():
        variable.assign(arrays[key])


def check_array(array: np.ndarray, variable: tg.Variable, key: str, source: str) -> None:
    if array.shape != tuple(variable.shape) or array.dtype != variable.dtype:
        raise ArchiveError(
            f"{source}: weight {key!r} ({variable.name}) is stored as "
            f"{array.dtype.name}{list(array.shape)}, but the model expects "
            f"{variable.dtype.name}{list(variable.shape)}"
        )
