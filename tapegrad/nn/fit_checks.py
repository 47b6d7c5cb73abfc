"""Argument checks of `compile`, `fit`, `evaluate`, `predict` and the ``*_on_batch``
methods, run before any batch is drawn.

Each check raises with the method, the argument and the offending value, in Keras 3's
wording where Keras has one, instead of training on a silently changed argument
(``batch_size=0`` as 32, ``epochs=2.5``) or failing inside NumPy halfway through an epoch
(a ``sample_weight`` of the wrong length, ``x`` of strings). The trainer calls them with its
own arguments by name (``check_fit(self, locals())``), so its signature stays the only list.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> model = tg.Sequential([tg.layers.Input(shape=(2,)), tg.layers.Dense(1)])
    >>> model.compile("sgd", "mse")
    >>> model.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=0, verbose=0)
    Traceback (most recent call last):
    ...
    ValueError: Sequential 'sequential...' fit(): received an invalid value for \
`batch_size`, expected a positive integer or None. Received: batch_size=0
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from tapegrad.nn import metrics as metrics_module
from tapegrad.nn.trainers.data_adapters import (
    is_array_data,
    is_pandas,
    is_stream,
    unrecognized_message,
)
from tapegrad.nn.validation import (
    check_bool,
    check_non_negative_int,
    check_number,
    check_positive_int,
)

__all__ = ["check_batch", "check_compile", "check_evaluate", "check_fit", "check_predict"]

_NUMERIC_KINDS = "biufc"


def check_fit(model: Any, arguments: dict[str, Any]) -> None:
    """Check `fit`'s arguments (its locals at entry) before training starts.

    Args:
        model: The model being trained (named in messages).
        arguments: ``fit``'s arguments by name.

    Raises:
        ValueError: A value out of range, data of mismatched lengths, no samples, missing
            targets, a ``class_weight`` without a weight for a class present in ``y``.
        TypeError: Data that are not arrays of numbers.
    """
    owner = _owner(model, "fit")
    a = arguments
    check_positive_int(owner, "batch_size", a["batch_size"], allow_none=True)
    check_non_negative_int(owner, "epochs", a["epochs"])
    check_non_negative_int(owner, "initial_epoch", a["initial_epoch"])
    check_positive_int(owner, "steps_per_epoch", a["steps_per_epoch"], allow_none=True)
    check_positive_int(owner, "validation_batch_size", a["validation_batch_size"], allow_none=True)
    check_positive_int(owner, "validation_freq", a["validation_freq"])
    _check_verbose(owner, a["verbose"])
    check_bool(owner, "shuffle", a["shuffle"])
    _check_callbacks(owner, a["callbacks"])
    split = check_number(
        owner, "validation_split", a["validation_split"], low=0.0, high=1.0, high_open=True
    )
    check_positive_int(owner, "validation_steps", a["validation_steps"], allow_none=True)
    if is_stream(a["x"]):  # a PyDataset or a generator: checked batch by batch
        if split:
            raise ValueError(
                f"{owner}: `validation_split` is only supported for Tensors or NumPy "
                f"arrays, found the input of type {type(a['x']).__name__}"
            )
        n = 0
    else:
        n = _check_xy(model, owner, a["x"], a["y"], a["sample_weight"], "x", "y")
    if a["class_weight"] is not None:
        _check_class_weight(owner, a["class_weight"], a["y"])
    validation = a["validation_data"]
    if validation is not None and not is_stream(validation):
        if not isinstance(validation, tuple | list) or len(validation) not in (2, 3):
            raise ValueError(
                f"{owner}: `validation_data` must be a tuple (x_val, y_val) or (x_val, y_val, "
                f"sample_weight_val), a PyDataset or a generator, got {_describe(validation)}"
            )
        _check_xy(
            model,
            owner,
            validation[0],
            validation[1],
            validation[2] if len(validation) == 3 else None,
            "validation_data[0]",
            "validation_data[1]",
        )
    elif validation is None and split:
        split_at = int(math.floor(n * (1.0 - split)))  # as fit splits (the last samples)
        if split_at in (0, n):
            raise ValueError(
                f"{owner}: training data contains {n} samples, which is not sufficient to "
                f"split it into a validation and training set as specified by "
                f"`validation_split={split}`. Either provide more data, or a different value "
                "for the `validation_split` argument."
            )


def check_evaluate(model: Any, arguments: dict[str, Any]) -> None:
    """Check `evaluate`'s arguments (its locals at entry) before the first batch.

    Args:
        model: The model being evaluated (named in messages).
        arguments: ``evaluate``'s arguments by name.
    """
    owner = _owner(model, "evaluate")
    a = arguments
    check_bool(owner, "return_dict", a["return_dict"])
    check_positive_int(owner, "batch_size", a["batch_size"], allow_none=True)
    check_positive_int(owner, "steps", a["steps"], allow_none=True)
    _check_verbose(owner, a["verbose"])
    _check_callbacks(owner, a["callbacks"])
    if not is_stream(a["x"]):
        _check_xy(model, owner, a["x"], a["y"], a["sample_weight"], "x", "y")


def check_predict(model: Any, arguments: dict[str, Any]) -> None:
    """Check `predict`'s arguments (its locals at entry) before the first batch.

    Args:
        model: The model predicting (named in messages).
        arguments: ``predict``'s arguments by name.
    """
    owner = _owner(model, "predict")
    a = arguments
    check_positive_int(owner, "batch_size", a["batch_size"], allow_none=True)
    check_positive_int(owner, "steps", a["steps"], allow_none=True)
    _check_verbose(owner, a["verbose"])
    _check_callbacks(owner, a["callbacks"])
    if not is_stream(a["x"]):
        _check_samples(owner, "x", a["x"])


def check_batch(model: Any, method: str, arguments: dict[str, Any]) -> None:
    """Check the data of ``train_on_batch`` / ``test_on_batch`` / ``predict_on_batch``.

    Args:
        model: The model (named in messages).
        method: The method's name.
        arguments: The method's arguments by name (``x``, and ``y``, ``sample_weight``,
            ``class_weight`` where it has them).
    """
    owner = _owner(model, method)
    if "return_dict" in arguments:
        check_bool(owner, "return_dict", arguments["return_dict"])
    if "y" not in arguments:
        _check_samples(owner, "x", arguments["x"])
        return
    _check_xy(
        model, owner, arguments["x"], arguments["y"], arguments.get("sample_weight"), "x", "y"
    )
    if arguments.get("class_weight") is not None:
        _check_class_weight(owner, arguments["class_weight"], arguments["y"])


# Keras 3 compile arguments tapegrad accepts at their defaults only.
_COMPILE_DEFAULTS = {"steps_per_execution": 1, "auto_scale_loss": True}


def check_compile(model: Any, arguments: dict[str, Any]) -> None:
    """Check `compile`'s arguments (its locals at entry) before anything is configured.

    Args:
        model: The model being compiled (named in messages).
        arguments: ``compile``'s arguments by name.
    """
    owner = _owner(model, "compile")
    for name in ("metrics", "weighted_metrics"):
        value = arguments[name]
        if value is not None and not isinstance(value, list | tuple | dict):
            raise ValueError(
                f"{owner}: expected `{name}` argument to be a list, tuple, or "
                f"dict. Received instead: {name}={value!r} of type "
                f"{type(value).__name__}"
            )
        entries = list(value.values()) if isinstance(value, dict) else list(value or [])
        for entry in entries:
            for spec in entry if isinstance(entry, list | tuple) else [entry]:
                # Resolved now, not at the end of the first training step (after an update).
                if spec is not None and spec not in ("accuracy", "acc"):
                    metrics_module.get(spec)
    weights = arguments["loss_weights"]
    if weights is not None:
        values = (
            list(weights.values())
            if isinstance(weights, dict)
            else list(weights)
            if isinstance(weights, list | tuple)
            else None
        )
        if values is None:
            raise ValueError(
                f"{owner}: `loss_weights` must be a list or a dict of numbers "
                f"(one per output), got {_describe(weights)}"
            )
        for value in values:
            check_number(owner, "loss_weights", value)
        outputs = getattr(model, "outputs", None)
        if isinstance(weights, list | tuple) and outputs and len(weights) != len(outputs):
            raise ValueError(
                f"{owner}: `loss_weights` has {len(weights)} entries but the "
                f"model has {len(outputs)} outputs"
            )
    loss, outputs = arguments["loss"], getattr(model, "outputs", None)
    if isinstance(loss, list | tuple) and outputs and len(loss) != len(outputs):
        raise ValueError(
            f"{owner}: `loss` is a list of {len(loss)} losses but the model has "
            f"{len(outputs)} output(s). Received: loss={loss!r}"
        )
    check_bool(owner, "run_eagerly", arguments["run_eagerly"])
    extra = dict(arguments.get("kwargs") or {})
    unknown = sorted(set(extra) - set(_COMPILE_DEFAULTS))
    if unknown:
        raise TypeError(f"{owner}: got unexpected arguments {unknown}")
    for name, value in extra.items():
        if value != _COMPILE_DEFAULTS[name]:
            raise NotImplementedError(
                f"{owner}: `{name}={value!r}` is not supported by "
                f"tapegrad (only the default {_COMPILE_DEFAULTS[name]!r})"
            )


# -- helpers ---------------------------------------------------------------------------------
def _owner(model: Any, method: str) -> str:
    return f"{type(model).__name__} '{getattr(model, 'name', '?')}' {method}()"


def _describe(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def _check_verbose(owner: str, verbose: Any) -> None:
    if isinstance(verbose, str) and verbose == "auto":
        return
    if isinstance(verbose, bool | np.bool_) or (
        isinstance(verbose, numbers.Integral) and int(verbose) in (0, 1, 2)
    ):
        return
    raise ValueError(
        f"{owner}: received an invalid value for `verbose`, expected 'auto', "
        f"0, 1 or 2. Received: verbose={verbose!r}"
    )


def _check_callbacks(owner: str, callbacks: Any) -> None:
    if callbacks is not None and not isinstance(callbacks, list | tuple):
        raise TypeError(
            f"{owner}: `callbacks` must be a list of Callback instances, got {_describe(callbacks)}"
        )


def _arrays(structure: Any) -> list[tuple[str, Any]]:
    """The arrays of one data argument, as the trainer splits it (top level only)."""
    if isinstance(structure, dict):
        return [(f"[{key!r}]", value) for key, value in structure.items()]
    if isinstance(structure, list | tuple):
        return [(f"[{i}]", value) for i, value in enumerate(structure)]
    return [("", structure)]


def _shape_and_kind(owner: str, name: str, value: Any) -> tuple[tuple[int, ...], str]:
    if value is None:
        raise ValueError(f"{owner}: `{name}` is None; expected an array of numbers")
    if is_pandas(value):
        value = value.to_numpy()
    if isinstance(value, str | bytes):
        raise TypeError(
            f"{owner}: `{name}` must be an array of numbers, got the string {value!r}"[:200]
        )
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is None or not isinstance(dtype, np.dtype):
        try:
            array = np.asarray(value)
        except (ValueError, TypeError) as err:
            raise TypeError(
                f"{owner}: `{name}` cannot be converted to an array of numbers ({err})"
            ) from None
        shape, dtype = array.shape, array.dtype
    if dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{owner}: `{name}` must be an array of numbers, got an array of "
            f"dtype {dtype} and shape {tuple(shape)}"
        )
    if len(shape) == 0:
        raise ValueError(
            f"{owner}: `{name}` must have a batch axis (one entry per sample), "
            f"got a scalar {_describe(value)}"
        )
    return tuple(shape), dtype.kind


def _check_samples(owner: str, name: str, data: Any) -> int:
    """The number of samples of ``data`` (all its arrays agree, at least one sample)."""
    if data is None:
        raise ValueError(f"{owner}: `{name}` is None; expected input data")
    if not is_array_data(data) and not isinstance(data, str | bytes):
        raise TypeError(unrecognized_message(owner, data).replace("x=", f"{name}=", 1))
    arrays = _arrays(data)
    if not arrays:
        raise ValueError(
            f"{owner}: `{name}` is an empty {type(data).__name__}; expected input data"
        )
    counts = {
        f"{name}{part}": _shape_and_kind(owner, f"{name}{part}", value)[0][0]
        for part, value in arrays
    }
    if len(set(counts.values())) > 1:
        raise ValueError(
            f"{owner}: data cardinality is ambiguous: make sure all arrays "
            f"contain the same number of samples. Received: {counts}"
        )
    n = next(iter(counts.values()))
    if n == 0:
        raise ValueError(f"{owner}: `{name}` has 0 samples; expected at least one")
    return n


def _needs_targets(model: Any) -> bool:
    """Whether the model's loss reads ``y``: the trainer's own steps and loss do."""
    uses_compiled_loss = getattr(model, "_uses_compiled_loss", None)
    return bool(uses_compiled_loss and uses_compiled_loss())


def _check_xy(
    model: Any, owner: str, x: Any, y: Any, sample_weight: Any, x_name: str, y_name: str
) -> int:
    n = _check_samples(owner, x_name, x)
    if y is None:
        if _needs_targets(model):
            raise ValueError(
                f"{owner}: the loss {_loss_name(model)} needs targets, but `{y_name}` is None"
            )
    else:
        m = _check_samples(owner, y_name, y)
        if m != n:
            raise ValueError(
                f"{owner}: data cardinality is ambiguous: `{x_name}` has {n} "
                f"samples but `{y_name}` has {m}. Make sure all arrays contain "
                "the same number of samples."
            )
    if sample_weight is not None:
        shape, _ = _shape_and_kind(owner, "sample_weight", sample_weight)
        if shape[0] != n:
            raise ValueError(
                f"{owner}: `sample_weight` has {shape[0]} entries but `{x_name}` "
                f"has {n} samples; give one weight per sample"
            )
        weights = np.asarray(sample_weight, dtype=np.float64)
        if not np.all(np.isfinite(weights)):
            raise ValueError(
                f"{owner}: `sample_weight` must be finite, got non-finite "
                f"values at {np.argwhere(~np.isfinite(weights))[:5].tolist()}"
            )
    return n


def _loss_name(model: Any) -> str:
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return repr(loss)
    return getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__


def _check_class_weight(owner: str, class_weight: Any, y: Any) -> None:
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"{owner}: `class_weight` must be a dict mapping class indices to "
            f"weights, got {_describe(class_weight)}"
        )
    for key, weight in class_weight.items():
        if not isinstance(key, numbers.Integral) or isinstance(key, bool) or key < 0:
            raise ValueError(
                f"{owner}: `class_weight` keys must be class indices (integers "
                f">= 0), got key {key!r}"
            )
        check_number(owner, f"class_weight[{key}]", weight, low=0.0)
    if y is None:
        return
    if isinstance(y, list | tuple | dict):
        raise ValueError(
            f"{owner}: `class_weight` is only supported for models with a single output"
        )
    labels = np.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] > 1:  # one-hot targets: the class is the argmax
        labels = labels.argmax(-1)
    labels = labels.reshape(-1)
    if labels.dtype.kind == "f" and not np.all(labels == np.round(labels)):
        raise ValueError(
            f"{owner}: `class_weight` needs integer class labels (or one-hot "
            "targets) in y, got non-integer values"
        )
    present = {int(c) for c in np.unique(labels)}
    missing = sorted(present - {int(k) for k in class_weight})
    if missing:
        raise ValueError(
            f"{owner}: `class_weight` has no weight for class(es) {missing[:10]} found in y; "
            f"expected a dict with a weight for every class. Received: "
            f"class_weight={class_weight!r}"[:400]
        )
