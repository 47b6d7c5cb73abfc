"""The compile configuration and the optimizer: saved with the model, restored on load."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tapegrad.nn import losses as losses_module
from tapegrad.nn import metrics as metrics_module
from tapegrad.nn import optimizers as optimizers_module
from tapegrad.nn.models.model import Model
from tapegrad.nn.saving.archive import _expect_keys, _expect_list, _is_json
from tapegrad.nn.saving.weights import _check_array


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

