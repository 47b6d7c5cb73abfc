"""Reduction metrics (Keras' ``keras/src/metrics/reduction_metrics.py``): `Sum`, `Mean` and
`MeanMetricWrapper`, the mean of a per-sample function that most built-in metrics are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tapegrad.numpy as tnp
from tapegrad.nn import losses as losses_module
from tapegrad.nn.layers.layer_masks import get_keras_mask
from tapegrad.nn.losses import squeeze_or_expand_to_same_rank
from tapegrad.nn.losses.loss import apply_mask
from tapegrad.nn.metrics.functions import (
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    cosine_similarity,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from tapegrad.nn.metrics.metric import Metric, _divide_no_nan
from tapegrad.nn.validation import check_function_arguments, check_name

# The public module written into configs; the built-in metrics live in its submodules.
_MODULE = "tapegrad.nn.metrics"


def reduce_to_samplewise_values(
    values: Any, sample_weight: Any, reduce_fn: Callable[..., Any], dtype: Any
) -> tuple[Any, Any]:
    """Per-sample values (and weights) from per-element ones (Keras' rule).

    Values are reduced with ``reduce_fn`` over the axes the weights lack, multiplied by
    the broadcast weights, then reduced to one value per sample (axis 0).
    """
    values = tnp.asarray(values).astype(dtype)
    if sample_weight is not None:
        sample_weight = tnp.asarray(sample_weight, dtype=dtype)
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        weight_ndim, values_ndim = sample_weight.ndim, values.ndim
        if values_ndim > weight_ndim:
            values = reduce_fn(values, axis=tuple(range(weight_ndim, values_ndim)))
        sample_weight = tnp.broadcast_to(sample_weight, values.shape)
        values = values * sample_weight
        if weight_ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, weight_ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of all values seen.

    Examples:
        >>> m = Sum()
        >>> m.update_state([1.0, 3.0, 5.0], sample_weight=[1.0, 0.0, 1.0])
        >>> float(m.result())
        6.0
    """

    def __init__(self, name: str = "sum", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, _ = reduce_to_samplewise_values(values, sample_weight, tnp.sum, self.dtype)
        self.total.assign_add(tnp.sum(values))

    def result(self) -> Any:
        return self.total.value


class Mean(Metric):
    """The (weighted) mean of all values seen: ``sum(w * v) / sum(w)``.

    Examples:
        >>> m = Mean()
        >>> m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1.0, 1.0, 0.0, 0.0])
        >>> float(m.result())
        2.0
    """

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable((), name="total")
        self.count = self.add_variable((), name="count")

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, sample_weight = reduce_to_samplewise_values(
            values, sample_weight, tnp.mean, self.dtype
        )
        self.total.assign_add(tnp.sum(values))
        if sample_weight is not None:
            self.count.assign_add(tnp.sum(sample_weight))
        else:
            self.count.assign_add(float(values.shape[0]) if values.ndim else 1.0)

    def result(self) -> Any:
        return _divide_no_nan(self.total, self.count)


class MeanMetricWrapper(Mean):
    """The mean of a per-sample function ``fn(y_true, y_pred, **kwargs)`` over all samples.

    Args:
        fn: Per-sample function (a loss function, an accuracy function, ...).
        name: Name (default: ``fn``'s name).
        dtype: dtype of the state.
        **kwargs: Keyword arguments passed to ``fn``.

    Examples:
        >>> m = MeanMetricWrapper(losses_module.mean_absolute_error)
        >>> m.name, float(m([[0.0, 2.0]], [[1.0, 1.0]]))
        ('mean_absolute_error', 1.0)
    """

    def __init__(
        self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None, **kwargs: Any
    ) -> None:
        # A function is named by __name__, a Loss object by its name.
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: `fn` must be callable, got {fn!r}")
        check_name(type(self).__name__, name)
        default = getattr(fn, "__name__", None) or getattr(fn, "name", None)
        super().__init__(name=name or default or "mean_metric_wrapper", dtype=dtype)
        if type(self).__module__.startswith(_MODULE + "."):  # a built-in: arguments known
            check_function_arguments(type(self).__name__, kwargs)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        mask = get_keras_mask(y_pred)  # Keras 3: masked predictions are left out
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        if mask is not None:
            if sample_weight is not None:
                sample_weight = tnp.asarray(sample_weight, dtype=tnp.asarray(values).dtype)
            sample_weight = apply_mask(sample_weight, mask, tnp.asarray(values).dtype, "sum")
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:
            config["fn"] = _serialize_function(self._fn)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        config = dict(config)
        if "fn" in config:
            config["fn"] = _deserialize_function(config["fn"])
        return cls(**config)


_FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        accuracy,
        binary_accuracy,
        categorical_accuracy,
        sparse_categorical_accuracy,
        top_k_categorical_accuracy,
        sparse_top_k_categorical_accuracy,
        cosine_similarity,
        # Keras' keras.metrics also exports these loss functions (the same objects).
        losses_module.binary_crossentropy,
        losses_module.binary_focal_crossentropy,
        losses_module.categorical_crossentropy,
        losses_module.categorical_focal_crossentropy,
        losses_module.categorical_hinge,
        losses_module.hinge,
        losses_module.huber,
        losses_module.kl_divergence,
        losses_module.log_cosh,
        losses_module.mean_absolute_error,
        losses_module.mean_absolute_percentage_error,
        losses_module.mean_squared_error,
        losses_module.mean_squared_logarithmic_error,
        losses_module.poisson,
        losses_module.sparse_categorical_crossentropy,
        losses_module.squared_hinge,
    )
}


def _deserialize_function(config: Any) -> Callable[..., Any]:
    name = config.get("config") if isinstance(config, dict) else config
    if isinstance(name, str) and name in _FUNCTIONS:
        return _FUNCTIONS[name]
    return losses_module.deserialize(config)


def _serialize_function(fn: Any) -> Any:
    """`tapegrad.nn.losses.serialize` of ``fn``; a metric function is named by the public
    module, ``tapegrad.nn.metrics``, as a loss function is by ``tapegrad.nn.losses``."""
    config = losses_module.serialize(fn)
    if isinstance(config, dict) and _FUNCTIONS.get(getattr(fn, "__name__", "")) is fn:
        config["module"] = _MODULE
    return config
