"""The compile configuration and the optimizer: saved with the model, restored on load.

What the user passed to ``compile`` is stored as given where it is a name (``"accuracy"``,
``"sparse_categorical_crossentropy"``), so that loading calls ``compile`` with the same
arguments and the trainer resolves them exactly as it did before saving (``"accuracy"``
against the loss and the data's shapes); objects are stored by their configs. The jit
setting and the loss weights come along. Optimizer hyper-parameters read from a file are
type- and range-checked before the optimizer is built.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from tapegrad.nn import losses as losses_module
from tapegrad.nn import metrics as metrics_module
from tapegrad.nn import optimizers as optimizers_module
from tapegrad.nn.models.model import Model
from tapegrad.nn.saving.archive import ArchiveError, _expect_keys, _expect_list, _is_json
from tapegrad.nn.saving.weights import check_array

_COMPILE_KEYS = {"loss", "loss_weights", "metrics"}
# Written since archive version 2; version 1 archives have only _COMPILE_KEYS.
_COMPILE_KEYS_V2 = _COMPILE_KEYS | {"jit_compile"}


def compile_config(model: Model) -> dict[str, Any] | None:
    if not getattr(model, "compiled", False):
        return None
    config: dict[str, Any] = {
        "loss": None,
        "loss_weights": None,
        "metrics": [],
        "jit_compile": getattr(model, "jit_compile", "auto"),
    }
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
    """A loss/metric as JSON that ``module.deserialize`` accepts, or None (with a warning).

    Names stay names: ``compile`` resolves them (``"accuracy"`` against the loss), so the
    loaded model is compiled with the same strings."""

    def one(value: Any) -> Any:
        encoded = value if isinstance(value, str) else module.serialize(value)
        try:
            module.deserialize(encoded)
        except ValueError:
            # A custom function or class is saved by name, as Keras saves it: loading finds
            # it among the registered objects or the custom_objects given, or warns.
            if not (isinstance(encoded, dict) and isinstance(encoded.get("class_name"), str)):
                raise
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
    warnings.warn(
        f"save_model: the {what} {item!r} cannot be saved; the loaded model will "
        f"be compiled without it",
        stacklevel=3,
    )
    return None


def optimizer_document(optimizer: Any) -> dict[str, Any]:
    try:
        serialized = optimizers_module.serialize(optimizer)
    except (ValueError, TypeError) as err:
        raise ValueError(f"save_model: the optimizer cannot be saved: {err}") from err
    return {
        "optimizer": serialized,
        "built": bool(optimizer.built),
        "variables": [
            {"name": str(v.name), "shape": list(v.shape), "dtype": v.dtype.name}
            for v in optimizer.variables
        ],
    }


def restore_compiled(
    model: Model, compile_config: Any, optimizer_doc: Any, arrays: dict[str, np.ndarray]
) -> None:
    where = "config.json compile_config"
    if not isinstance(compile_config, dict) or set(compile_config) != _COMPILE_KEYS:
        _expect_keys(compile_config, where, _COMPILE_KEYS_V2)
    _expect_keys(optimizer_doc, "optimizer.json", {"optimizer", "built", "variables"})
    optimizer = _optimizer_from_file(optimizer_doc["optimizer"])
    jit_compile = compile_config.get("jit_compile", "auto")
    if (
        jit_compile not in ("auto", True, False)
        or isinstance(jit_compile, int | float)
        and not isinstance(jit_compile, bool)
    ):
        raise ArchiveError(
            f"{where}.jit_compile: expected 'auto', true or false, got {jit_compile!r}"
        )
    loss = _loss_or_metric(compile_config["loss"], losses_module, "loss")
    metrics = [
        m
        for m in (
            _loss_or_metric(spec, metrics_module, "metric")
            for spec in _expect_list(compile_config["metrics"], f"{where}.metrics")
        )
        if m is not None
    ]
    loss_weights = _loss_weights(compile_config["loss_weights"], f"{where}.loss_weights")
    model.compile(
        optimizer=optimizer,
        loss=loss,
        loss_weights=loss_weights,
        metrics=metrics or None,
        jit_compile=jit_compile,
    )
    if optimizer_doc["built"] is True:
        optimizer.build(list(model.trainable_weights))
    specs = _expect_list(optimizer_doc["variables"], "optimizer.json variables")
    variables = optimizer.variables
    if len(specs) != len(variables):
        raise ArchiveError(
            f"optimizer.json: {len(specs)} saved optimizer variables, but the rebuilt "
            f"optimizer has {len(variables)} (the model's trainable weights differ)"
        )
    for k, (spec, variable) in enumerate(zip(specs, variables, strict=True)):
        key = f"optimizer/{k}"
        if key not in arrays:
            name = spec.get("name") if isinstance(spec, dict) else None
            raise ArchiveError(
                f"weights.safetensors: optimizer variable {key!r} ({name}) is missing"
            )
        check_array(arrays[key], variable, key, "weights.safetensors")
        variable.assign(arrays[key])


def _loss_or_metric(encoded: Any, module: Any, what: str) -> Any:
    """What to pass to ``compile`` for a stored loss or metric: names as they are (checked
    that they resolve), configs deserialized; None (with a warning) when it cannot be."""
    if encoded is None:
        return None

    def one(value: Any) -> Any:
        if isinstance(value, str):
            if not (what == "metric" and value in metrics_module.ACCURACY_NAMES):
                module.get(value)  # raises for an unknown name
            return value
        if isinstance(value, dict):
            return module.deserialize(value)
        raise TypeError(f"expected a name or a config object, got {type(value).__name__}")

    try:
        if isinstance(encoded, list):
            return [one(e) for e in encoded]
        if isinstance(encoded, dict) and "class_name" not in encoded:
            return {k: one(v) for k, v in encoded.items()}
        return one(encoded)
    except (ValueError, TypeError, KeyError, AttributeError) as err:
        warnings.warn(
            f"load_model: the saved {what} cannot be restored ({err}); compile the "
            "model again to train it",
            stacklevel=4,
        )
        return None


def _loss_weights(value: Any, where: str) -> Any:
    def number(x: Any) -> bool:
        return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)

    if value is None:
        return None
    if isinstance(value, list) and all(number(x) for x in value):
        return value
    if isinstance(value, dict) and all(isinstance(k, str) and number(x) for k, x in value.items()):
        return value
    raise ArchiveError(
        f"{where}: expected null, a list of numbers or an object of numbers, got {value!r}"[:300]
    )


# Hyper-parameters an optimizer config may hold, with the range a file's value must lie
# in: (kind, low, high, low inclusive, high inclusive). The constructors accept what a
# program passes; a file is checked before they run.
_REAL = ("real", -math.inf, math.inf, True, True)
_OPTIMIZER_FIELDS: dict[str, tuple[str, float, float, bool, bool]] = {
    "learning_rate": ("real", 0.0, math.inf, True, False),
    "weight_decay": ("real", 0.0, math.inf, True, False),
    "clipnorm": ("real", 0.0, math.inf, False, False),
    "global_clipnorm": ("real", 0.0, math.inf, False, False),
    "clipvalue": ("real", 0.0, math.inf, False, False),
    "momentum": ("real", 0.0, 1.0, True, True),
    "beta_1": ("real", 0.0, 1.0, True, False),
    "beta_2": ("real", 0.0, 1.0, True, False),
    "rho": ("real", 0.0, 1.0, True, False),
    "epsilon": ("real", 0.0, math.inf, True, False),
    "initial_accumulator_value": ("real", 0.0, math.inf, True, False),
    "nesterov": ("bool", 0, 0, True, True),
    "amsgrad": ("bool", 0, 0, True, True),
    "centered": ("bool", 0, 0, True, True),
    "use_ema": ("bool", 0, 0, True, True),
    "ema_momentum": ("real", 0.0, 1.0, True, True),
    "ema_overwrite_frequency": ("real", 1.0, math.inf, True, False),
    "loss_scale_factor": ("real", 0.0, math.inf, False, False),
    "gradient_accumulation_steps": ("real", 0.0, math.inf, True, False),
    # Ftrl
    "learning_rate_power": ("real", -math.inf, 0.0, False, True),
    "l1_regularization_strength": ("real", 0.0, math.inf, True, False),
    "l2_regularization_strength": ("real", 0.0, math.inf, True, False),
    "l2_shrinkage_regularization_strength": ("real", 0.0, math.inf, True, False),
    "beta": ("real", 0.0, math.inf, True, False),
    # Adafactor
    "beta_2_decay": _REAL,
    "epsilon_1": ("real", 0.0, math.inf, True, False),
    "epsilon_2": ("real", 0.0, math.inf, True, False),
    "clip_threshold": ("real", 0.0, math.inf, False, False),
    "relative_step": ("bool", 0, 0, True, True),
    # Muon
    "adam_beta_1": ("real", 0.0, 1.0, True, False),
    "adam_beta_2": ("real", 0.0, 1.0, True, False),
    "adam_weight_decay": ("real", 0.0, math.inf, True, False),
    "exclude_layers": ("strings", 0, 0, True, True),
    "exclude_embeddings": ("bool", 0, 0, True, True),
    "muon_a": _REAL,
    "muon_b": _REAL,
    "muon_c": _REAL,
    "adam_lr_ratio": ("real", 0.0, math.inf, True, False),
    "ns_steps": ("real", 0.0, math.inf, True, False),
    "rms_rate": ("real", 0.0, math.inf, True, False),
    # ScheduleFreeAdamW
    "warmup_steps": ("real", 0.0, math.inf, True, False),
    # LossScaleOptimizer (its inner_optimizer is checked as an optimizer of its own)
    "initial_scale": ("real", 0.0, math.inf, False, False),
    "dynamic_growth_steps": ("real", 1.0, math.inf, True, False),
}
# May be null (off).
_OPTIONAL = {
    "weight_decay",
    "clipnorm",
    "global_clipnorm",
    "clipvalue",
    "ema_overwrite_frequency",
    "loss_scale_factor",
    "gradient_accumulation_steps",
    "adam_weight_decay",
    "rms_rate",
}


def _optimizer_from_file(document: Any) -> Any:
    """The optimizer of ``optimizer.json``, its hyper-parameters checked first."""
    where = "optimizer.json optimizer"
    if not isinstance(document, dict) or not isinstance(document.get("config", {}), dict):
        raise ArchiveError(f"{where}: expected {{'class_name', 'config'}}")
    name = document.get("class_name")
    for field, value in (document.get("config") or {}).items():
        if field == "name":
            if not isinstance(value, str):
                raise ArchiveError(f"{where}.config.name: expected a string, got {value!r}")
            continue
        if field == "learning_rate" and isinstance(value, dict):
            _check_schedule(value, f"{where}.config.learning_rate")
            continue
        if field == "inner_optimizer":
            _optimizer_from_file(value)  # checked (and built) as an optimizer of its own
            continue
        if field == "optimizer_map":  # MultiOptimizer's: each optimizer checked as above
            _check_optimizer_map(value, f"{where}.config.optimizer_map")
            continue
        spec = _OPTIMIZER_FIELDS.get(field)
        if spec is None:
            raise ArchiveError(
                f"{where}.config: unknown hyper-parameter {field!r} of optimizer {name!r}"
            )
        if value is None and field in _OPTIONAL:
            continue
        _check_value(value, spec, f"{where}.config.{field} (optimizer {name!r})")
    try:
        return optimizers_module.deserialize(document)
    except Exception as err:  # a constructor's own check: name the optimizer
        raise ArchiveError(f"{where}: cannot rebuild optimizer {name!r}: {err}") from err


def _check_optimizer_map(document: Any, where: str) -> None:
    config = document.get("config") if isinstance(document, dict) else None
    inner = config.get("optimizer_map") if isinstance(config, dict) else None
    if not isinstance(inner, dict) or "default_optimizer" not in config:
        raise ArchiveError(f"{where}: expected an OptimizerMap's {{'class_name', 'config'}}")
    for optimizer in [config["default_optimizer"], *inner.values()]:
        _optimizer_from_file(optimizer)


def _check_value(value: Any, spec: tuple[str, float, float, bool, bool], where: str) -> None:
    kind, low, high, low_closed, high_closed = spec
    if kind == "strings":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ArchiveError(f"{where}: expected a list of strings, got {value!r}"[:300])
        return
    if kind == "bool":
        if not isinstance(value, bool):
            raise ArchiveError(f"{where}: expected true or false, got {value!r}"[:300])
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ArchiveError(f"{where}: expected a number, got {value!r}"[:300])
    if (
        not math.isfinite(value)
        or value < low
        or value > high
        or (value == low and not low_closed)
        or (value == high and not high_closed)
    ):
        interval = f"{'[' if low_closed else '('}{low}, {high}{']' if high_closed else ')'}"
        raise ArchiveError(f"{where}: {value!r} is outside {interval}")


def _check_schedule(document: dict[str, Any], where: str) -> None:
    """A learning-rate schedule's config: numbers finite, booleans, a name; nothing else."""
    config = document.get("config")
    if not isinstance(document.get("class_name"), str) or not isinstance(config, dict):
        raise ArchiveError(f"{where}: expected {{'class_name', 'config'}}")
    for field, value in config.items():
        if field == "name" or isinstance(value, bool) or value is None:
            continue
        if isinstance(value, list) and field not in ("boundaries", "values"):
            raise ArchiveError(f"{where}.config.{field}: expected a number, got a list")
        values = value if isinstance(value, list) else [value]
        for item in values:
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ArchiveError(f"{where}.config.{field}: expected numbers, got {value!r}"[:300])
            _check_value(item, _REAL, f"{where}.config.{field}")
            if abs(item) > 1e15:
                raise ArchiveError(f"{where}.config.{field}: {item!r} is out of range")
