"""Metrics (Keras 3 ``keras.metrics``): stateful accumulators over batches.

A metric keeps its state in non-trainable `tapegrad.Variable`s: ``update_state(y_true,
y_pred, sample_weight=None)`` adds a batch, ``result()`` reads the value so far (a
Tensor), ``reset_state()`` starts over. Calling a metric updates it and returns the
result. Updates are written with `tapegrad.numpy`, like the rest of ``tapegrad.nn``.

Examples:
    >>> from tapegrad.nn import metrics
    >>> m = metrics.SparseCategoricalAccuracy()
    >>> m.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]])
    >>> m.update_state([1], [[0.3, 0.7]])
    >>> round(float(m.result()), 4)
    0.6667
    >>> m.reset_state(); float(m.result())
    0.0
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn import initializers
from tapegrad.nn import losses as losses_module
from tapegrad.nn.losses import squeeze_or_expand_to_same_rank
from tapegrad.nn.validation import (
    check_bool,
    check_function_arguments,
    check_int,
    check_name,
    check_non_negative_int,
    check_positive_int,
)


def _divide_no_nan(a: Any, b: Any) -> Any:
    zero = b == 0
    return tnp.where(zero, 0.0, a / tnp.where(zero, 1.0, b))


def _snake_case(name: str) -> str:
    # Keras' to_snake_case: "TopKCategoricalAccuracy" -> "top_k_categorical_accuracy".
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _float32(x: Any) -> Any:
    return tnp.asarray(x).astype("float32")


# -- base and reduction metrics ----------------------------------------------------------

class Metric:
    """Base class of stateful metrics.

    Subclasses create their state with `add_variable` in ``__init__`` and implement
    ``update_state`` and ``result``.

    Args:
        name: Name (default: the class name in snake_case).
        dtype: dtype of the state and the result (default float32).

    Examples:
        >>> class Count(Metric):
        ...     def __init__(self, name="count", dtype=None):
        ...         super().__init__(name=name, dtype=dtype)
        ...         self.n = self.add_variable((), name="n")
        ...     def update_state(self, values):
        ...         self.n.assign_add(float(np.size(values)))
        ...     def result(self):
        ...         return self.n.value
        >>> c = Count()
        >>> float(c([1, 2, 3])), [v.name for v in c.variables]
        (3.0, ['count/n'])
    """

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = check_name(type(self).__name__, name) or _snake_case(type(self).__name__)
        self.dtype = np.dtype(dtype or "float32").name
        self._variables: list[tg.Variable] = []

    def add_variable(self, shape: Sequence[int], initializer: Any = "zeros", dtype: Any = None,
                     name: str | None = None) -> tg.Variable:
        """Create a non-trainable state Variable (part of `variables`)."""
        dtype = np.dtype(dtype or self.dtype)
        value = initializers.get(initializer)(tuple(shape), dtype=dtype)
        variable = tg.Variable(np.asarray(value, dtype=dtype), trainable=False,
                               name=f"{self.name}/{name or 'variable'}", dtype=dtype)
        self._variables.append(variable)
        return variable

    @property
    def variables(self) -> list[tg.Variable]:
        """The state Variables."""
        return list(self._variables)

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate statistics from one batch (override)."""
        raise NotImplementedError(f"{type(self).__name__}.update_state is not implemented")

    def result(self) -> Any:
        """The metric's value from the accumulated state (override)."""
        raise NotImplementedError(f"{type(self).__name__}.result is not implemented")

    def reset_state(self) -> None:
        """Zero every state Variable."""
        for variable in self._variables:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``update_state(...)`` then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-friendly)."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """Rebuild a metric (with fresh state) from `get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


def reduce_to_samplewise_values(values: Any, sample_weight: Any, reduce_fn: Callable[..., Any],
                                dtype: Any) -> tuple[Any, Any]:
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
        values, sample_weight = reduce_to_samplewise_values(values, sample_weight, tnp.mean,
                                                            self.dtype)
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

    def __init__(self, fn: Callable[..., Any], name: str | None = None, dtype: Any = None,
                 **kwargs: Any) -> None:
        # A function is named by __name__, a Loss object by its name.
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: `fn` must be callable, got {fn!r}")
        check_name(type(self).__name__, name)
        default = getattr(fn, "__name__", None) or getattr(fn, "name", None)
        super().__init__(name=name or default or "mean_metric_wrapper", dtype=dtype)
        if type(self).__module__ == __name__:  # a built-in metric: its arguments are known
            check_function_arguments(type(self).__name__, kwargs)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        values = self._fn(y_true, y_pred, **self._fn_kwargs)
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is MeanMetricWrapper:
            config["fn"] = losses_module.serialize(self._fn)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        config = dict(config)
        if "fn" in config:
            config["fn"] = _deserialize_function(config["fn"])
        return cls(**config)


# -- accuracy functions and metrics ------------------------------------------------------

def accuracy(y_true: Any, y_pred: Any) -> Any:
    """1.0 where ``y_true == y_pred`` exactly, else 0.0.

    Examples:
        >>> accuracy([1, 2, 3], [1, 2, 4]).numpy()
        array([1., 1., 0.], dtype=float32)
    """
    y_pred = tnp.asarray(y_pred)
    y_true = tnp.asarray(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    return _float32(tnp.equal(y_true, y_pred))


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> Any:
    """1.0 where ``(y_pred > threshold)`` equals the 0/1 target, elementwise.

    Examples:
        >>> binary_accuracy([[1.0], [0.0]], [[0.7], [0.6]]).numpy()
        array([[1.],
               [0.]], dtype=float32)
    """
    y_pred = tnp.asarray(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype("float32")
    y_true = tnp.asarray(y_true, dtype=y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    predicted = (y_pred > threshold).astype(y_pred.dtype)
    return _float32(tnp.equal(y_true, predicted))


def _sparse_label_tensor(name: str, y_true: Any, y_pred: Any) -> Any:
    y_true = tnp.asarray(y_true)
    given = tuple(y_true.shape)
    if y_true.ndim == y_pred.ndim and y_true.ndim and y_true.shape[-1] == 1:
        y_true = tnp.squeeze(y_true, axis=-1)
    if tuple(y_true.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(f"{name}: y_true of shape {given} does not fit y_pred of shape "
                         f"{tuple(y_pred.shape)}: integer labels need shape "
                         f"{tuple(y_pred.shape[:-1])} (one-hot targets need a categorical "
                         "metric)")
    return y_true


def categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    """1.0 where the arg-max of one-hot ``y_true`` equals the arg-max of ``y_pred``.

    Examples:
        >>> categorical_accuracy([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]]).numpy()
        array([1., 0.], dtype=float32)
    """
    y_true, y_pred = tnp.asarray(y_true), tnp.asarray(y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"categorical_accuracy: y_true and y_pred need equal shapes, got "
                         f"y_true.shape={tuple(y_true.shape)} and y_pred.shape="
                         f"{tuple(y_pred.shape)} (integer labels need "
                         "sparse_categorical_accuracy)")
    return _float32(tnp.equal(ops.argmax(y_true, axis=-1), ops.argmax(y_pred, axis=-1)))


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    """1.0 where the integer label equals the arg-max of ``y_pred``.

    Examples:
        >>> sparse_categorical_accuracy([[1], [0]], [[0.2, 0.8], [0.3, 0.7]]).numpy()
        array([1., 0.], dtype=float32)
    """
    y_pred = tnp.asarray(y_pred)
    labels = _sparse_label_tensor("sparse_categorical_accuracy", y_true, y_pred)
    return _float32(tnp.equal(labels, ops.argmax(y_pred, axis=-1)))


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5,
                                      from_sorted_ids: bool = False) -> Any:
    """1.0 where the integer label is among the ``k`` largest predictions.

    Ties at the k-th score count as hits (as ``in_top_k``).

    Args:
        y_true: Integer labels.
        y_pred: Scores of shape ``(..., num_classes)``; with ``from_sorted_ids=True``,
            class ids sorted by decreasing score instead.
        k: How many top predictions count.
        from_sorted_ids: Whether ``y_pred`` holds sorted class ids.

    Examples:
        >>> sparse_top_k_categorical_accuracy([2, 0], [[0.1, 0.5, 0.4], [0.1, 0.5, 0.4]],
        ...                                   k=2).numpy()
        array([1., 0.], dtype=float32)
    """
    y_pred = tnp.asarray(y_pred)
    name = "sparse_top_k_categorical_accuracy"
    if from_sorted_ids:
        labels = _sparse_label_tensor(name, y_true, y_pred)
        hits = tnp.any(tnp.equal(y_pred[..., :k], tnp.expand_dims(labels, -1)), axis=-1)
        return _float32(hits)
    labels = np.asarray(_sparse_label_tensor(name, y_true, y_pred)).astype(np.int64)
    num_classes = y_pred.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"{name}: labels must be in [0, {num_classes}) for {num_classes} "
                         f"classes, got labels in [{labels.min()}, {labels.max()}]")
    target = tnp.take_along_axis(y_pred, labels[..., None], axis=-1)
    higher = tnp.sum((y_pred > target).astype("int32"), axis=-1)
    return _float32(higher < k)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> Any:
    """1.0 where the one-hot target's class is among the ``k`` largest predictions.

    Examples:
        >>> top_k_categorical_accuracy([[0, 0, 1]], [[0.5, 0.3, 0.2]], k=2).numpy()
        array([0.], dtype=float32)
    """
    y_true = tnp.asarray(y_true)
    return sparse_top_k_categorical_accuracy(ops.argmax(y_true, axis=-1), y_pred, k=k)


class Accuracy(MeanMetricWrapper):
    """How often predictions equal labels exactly (see `accuracy`).

    Examples:
        >>> float(Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]]))
        0.75
    """

    def __init__(self, name: str = "accuracy", dtype: Any = None) -> None:
        super().__init__(accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often thresholded predictions match binary labels (see `binary_accuracy`).

    Args:
        threshold: Predictions above it count as 1 (use 0.0 for logits).

    Examples:
        >>> float(BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]))
        0.75
    """

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None,
                 threshold: float = 0.5) -> None:
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=threshold)


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of predictions matches one-hot labels.

    Examples:
        >>> float(CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8],
        ...                                                     [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, name: str = "categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the arg-max of predictions matches integer labels.

    Examples:
        >>> float(SparseCategoricalAccuracy()([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, name: str = "sparse_categorical_accuracy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the one-hot target is among the ``k`` top predictions.

    Examples:
        >>> float(TopKCategoricalAccuracy(k=1)([[0, 0, 1], [0, 1, 0]],
        ...                                    [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, k: int = 5, name: str = "top_k_categorical_accuracy",
                 dtype: Any = None) -> None:
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` top predictions.

    Examples:
        >>> float(SparseTopKCategoricalAccuracy(k=1)([2, 1], [[0.1, 0.9, 0.8],
        ...                                                   [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(self, k: int = 5, name: str = "sparse_top_k_categorical_accuracy",
                 dtype: Any = None, from_sorted_ids: bool = False) -> None:
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k,
                         from_sorted_ids=from_sorted_ids)


# -- regression, probabilistic and hinge metrics -----------------------------------------

class MeanSquaredError(MeanMetricWrapper):
    """Mean of squared errors over all samples seen.

    Examples:
        >>> float(MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(losses_module.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of absolute errors over all samples seen.

    Examples:
        >>> float(MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(losses_module.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean absolute percentage error over all samples seen.

    Examples:
        >>> float(MeanAbsolutePercentageError()([[2.0]], [[1.0]]))
        50.0
    """

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(losses_module.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean squared logarithmic error over all samples seen.

    Examples:
        >>> float(MeanSquaredLogarithmicError()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(self, name: str = "mean_squared_logarithmic_error", dtype: Any = None) -> None:
        super().__init__(losses_module.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(MeanMetricWrapper):
    """Mean log-cosh error over all samples seen.

    Examples:
        >>> float(LogCoshError()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(self, name: str = "logcosh", dtype: Any = None) -> None:
        super().__init__(losses_module.log_cosh, name=name, dtype=dtype)


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence over all samples seen.

    Examples:
        >>> round(float(KLDivergence()([[1.0, 0.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(self, name: str = "kl_divergence", dtype: Any = None) -> None:
        super().__init__(losses_module.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """Mean Poisson loss over all samples seen.

    Examples:
        >>> round(float(Poisson()([[0.0]], [[2.0]])), 4)
        2.0
    """

    def __init__(self, name: str = "poisson", dtype: Any = None) -> None:
        super().__init__(losses_module.poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """Mean hinge loss over all samples seen.

    Examples:
        >>> float(Hinge()([[1.0]], [[0.25]]))
        0.75
    """

    def __init__(self, name: str = "hinge", dtype: Any = None) -> None:
        super().__init__(losses_module.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """Mean squared hinge loss over all samples seen.

    Examples:
        >>> float(SquaredHinge()([[1.0]], [[0.5]]))
        0.25
    """

    def __init__(self, name: str = "squared_hinge", dtype: Any = None) -> None:
        super().__init__(losses_module.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """Mean categorical hinge loss over all samples seen.

    Examples:
        >>> round(float(CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.8]])), 4)
        0.5
    """

    def __init__(self, name: str = "categorical_hinge", dtype: Any = None) -> None:
        super().__init__(losses_module.categorical_hinge, name=name, dtype=dtype)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """Cosine similarity along ``axis`` (1 for aligned vectors; the loss is its negative).

    Examples:
        >>> cosine_similarity([[1.0, 0.0]], [[3.0, 0.0]]).numpy()
        array([1.], dtype=float32)
    """
    return -losses_module.cosine_similarity(y_true, y_pred, axis=axis)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity between targets and predictions.

    Examples:
        >>> round(float(CosineSimilarity()([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]])), 4)
        0.5
    """

    def __init__(self, name: str = "cosine_similarity", dtype: Any = None,
                 axis: int = -1) -> None:
        super().__init__(cosine_similarity, name=name, dtype=dtype, axis=axis)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the mean squared error over all values seen.

    Examples:
        >>> float(RootMeanSquaredError()([[0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]))
        0.5
    """

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = tnp.asarray(y_pred, dtype=self.dtype)
        y_true = tnp.asarray(y_true, dtype=self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        super().update_state(tnp.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self) -> Any:
        return tnp.sqrt(super().result())


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy (see `tapegrad.nn.losses.binary_crossentropy`).

    Examples:
        >>> round(float(BinaryCrossentropy(from_logits=True)([[1.0]], [[0.0]])), 4)
        0.6931
    """

    def __init__(self, name: str = "binary_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0.0) -> None:
        super().__init__(losses_module.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy (see `tapegrad.nn.losses.categorical_crossentropy`).

    Examples:
        >>> round(float(CategoricalCrossentropy()([[0.0, 1.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(self, name: str = "categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, label_smoothing: float = 0.0,
                 axis: int = -1) -> None:
        super().__init__(losses_module.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical cross-entropy of integer labels.

    Examples:
        >>> round(float(SparseCategoricalCrossentropy()([1], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(self, name: str = "sparse_categorical_crossentropy", dtype: Any = None,
                 from_logits: bool = False, axis: int = -1) -> None:
        super().__init__(losses_module.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, axis=axis)


# -- confusion-matrix metrics ------------------------------------------------------------

def _thresholds(thresholds: Any, default: float, owner: str) -> list[float]:
    try:
        values = [default] if thresholds is None else \
            [float(t) for t in np.atleast_1d(np.asarray(thresholds, dtype=np.float64))]
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: thresholds must be numbers in [0, 1], got "
                         f"{thresholds!r}") from None
    if not values:
        raise ValueError(f"{owner}: thresholds must not be empty, got {thresholds!r}")
    if thresholds is not None and any(not 0.0 <= t <= 1.0 for t in values):
        raise ValueError(f"{owner}: thresholds must be in [0, 1], got {thresholds!r}")
    return values


def _filter_top_k(x: Any, k: int) -> Any:
    """Keep the ``k`` largest entries of the last axis; the others become -1e10."""
    order = tnp.argsort(-x, axis=-1, kind="stable")
    ranks = tnp.argsort(order, axis=-1, kind="stable")
    return tnp.where(ranks < k, x, -1e10)


def _confusion_counts(y_true: Any, y_pred: Any, thresholds: np.ndarray, sample_weight: Any,
                      dtype: str, top_k: int | None = None, class_id: int | None = None,
                      owner: str = "metric") -> dict[str, Any]:
    """Weighted true/false positives/negatives at each threshold (``pred > threshold``)."""
    y_pred = tnp.asarray(y_pred, dtype=dtype)
    y_true = tnp.asarray(y_true, dtype=dtype)
    given = (tuple(y_true.shape), tuple(y_pred.shape))
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"{owner}: y_true and y_pred need equal shapes, got "
                         f"y_true.shape={given[0]} and y_pred.shape={given[1]}")
    weights = None
    if sample_weight is not None:
        weights = tnp.expand_dims(tnp.asarray(sample_weight, dtype=dtype), -1)
        _, weights = squeeze_or_expand_to_same_rank(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(f"{owner}: class_id needs y_pred of shape (batch, num_classes), "
                             f"got {tuple(y_pred.shape)}")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if weights is not None:
        weights = tnp.reshape(tnp.broadcast_to(weights, y_pred.shape), (1, -1))
    predicted = tnp.reshape(y_pred, (1, -1)) > tnp.asarray(thresholds, dtype=dtype)[:, None]
    actual = tnp.reshape(y_true != 0, (1, -1))
    cells = {"tp": (actual, predicted), "fp": (~actual, predicted),
             "fn": (actual, ~predicted), "tn": (~actual, ~predicted)}
    counts = {}
    for key, (label, pred) in cells.items():
        hits = (label & pred).astype(dtype)
        counts[key] = tnp.sum(hits if weights is None else hits * weights, axis=1)
    return counts


class _ConfusionMetric(Metric):
    """Accumulates confusion-matrix cells per threshold."""

    _CELLS: tuple[str, ...] = ()
    _NAMES = {"tp": "true_positives", "fp": "false_positives", "tn": "true_negatives",
              "fn": "false_negatives"}

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(name=name, dtype=dtype)
        _thresholds(thresholds, 0.5, type(self).__name__)  # refuses bad ones before use
        if thresholds is not None:  # JSON-friendly Python floats in the config
            thresholds = float(thresholds) if np.ndim(thresholds) == 0 else \
                [float(t) for t in np.ravel(thresholds)]
        self.init_thresholds = thresholds
        # With top_k, every kept prediction counts as positive (Keras' default).
        default = 0.5 if top_k is None else -1e10
        self.thresholds = _thresholds(thresholds, default, type(self).__name__)
        self.top_k = check_positive_int(type(self).__name__, "top_k", top_k, allow_none=True)
        self.class_id = check_non_negative_int(type(self).__name__, "class_id", class_id,
                                               allow_none=True)
        self._cells = {cell: self.add_variable((len(self.thresholds),), name=self._NAMES[cell])
                       for cell in self._CELLS}

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        counts = _confusion_counts(y_true, y_pred, np.asarray(self.thresholds), sample_weight,
                                   self.dtype, self.top_k, self.class_id, type(self).__name__)
        for cell, variable in self._cells.items():
            variable.assign_add(counts[cell])

    def _scalar_if_single(self, per_threshold: Any) -> Any:
        return per_threshold[0] if len(self.thresholds) == 1 else per_threshold

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds,
                "top_k": self.top_k, "class_id": self.class_id}


class Precision(_ConfusionMetric):
    """``true_positives / (true_positives + false_positives)`` at each threshold.

    Args:
        thresholds: Threshold(s) in ``[0, 1]``; a prediction above it is positive
            (default 0.5). A list gives one precision per threshold.
        top_k: Only the ``k`` largest predictions of each sample may be positive.
        class_id: Only this class (last axis index) is scored.
        name: Name.
        dtype: dtype of the state.

    Examples:
        >>> float(Precision()([0, 1, 1, 1], [1, 0, 1, 1]))
        0.6666666865348816
    """

    _CELLS = ("tp", "fp")

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str = "precision", dtype: Any = None) -> None:
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self) -> Any:
        tp, fp = self._cells["tp"], self._cells["fp"]
        return self._scalar_if_single(_divide_no_nan(tp, tp + fp))


class Recall(_ConfusionMetric):
    """``true_positives / (true_positives + false_negatives)`` at each threshold.

    Args:
        thresholds: Threshold(s) in ``[0, 1]`` (default 0.5).
        top_k: Only the ``k`` largest predictions of each sample may be positive.
        class_id: Only this class (last axis index) is scored.
        name: Name.
        dtype: dtype of the state.

    Examples:
        >>> float(Recall()([0, 1, 1, 1], [1, 0, 1, 1]))
        0.6666666865348816
    """

    _CELLS = ("tp", "fn")

    def __init__(self, thresholds: Any = None, top_k: int | None = None,
                 class_id: int | None = None, name: str = "recall", dtype: Any = None) -> None:
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self) -> Any:
        tp, fn = self._cells["tp"], self._cells["fn"]
        return self._scalar_if_single(_divide_no_nan(tp, tp + fn))


class _ConfusionCount(_ConfusionMetric):
    """The weighted count of one confusion-matrix cell at each threshold."""

    def __init__(self, thresholds: Any = None, name: str | None = None,
                 dtype: Any = None) -> None:
        super().__init__(thresholds, name=name, dtype=dtype)

    def result(self) -> Any:
        return self._scalar_if_single(self._cells[self._CELLS[0]].value)

    def get_config(self) -> dict[str, Any]:
        return {**Metric.get_config(self), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The weighted number of true positives (predictions above ``thresholds``, default 0.5).

    Examples:
        >>> float(TruePositives()([0, 1, 1, 1], [1, 0, 1, 1]))
        2.0
    """

    _CELLS = ("tp",)


class FalsePositives(_ConfusionCount):
    """The weighted number of false positives (predictions above ``thresholds``, default 0.5).

    Examples:
        >>> float(FalsePositives()([0, 1, 0, 0], [0, 0, 1, 1]))
        2.0
    """

    _CELLS = ("fp",)


class TrueNegatives(_ConfusionCount):
    """The weighted number of true negatives (predictions above ``thresholds``, default 0.5).

    Examples:
        >>> float(TrueNegatives()([0, 1, 0, 0], [0, 0, 1, 0]))
        2.0
    """

    _CELLS = ("tn",)


class FalseNegatives(_ConfusionCount):
    """The weighted number of false negatives (predictions above ``thresholds``, default 0.5).

    Examples:
        >>> float(FalseNegatives()([0, 1, 1, 1], [0, 1, 0, 0]))
        2.0
    """

    _CELLS = ("fn",)


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at fixed thresholds.

    Args:
        num_thresholds: Number of thresholds (evenly spaced in ``[0, 1]``, default 200).
        curve: ``"ROC"`` or ``"PR"``.
        summation_method: ``"interpolation"`` (trapezoids; Davis-Goadrich for PR),
            ``"minoring"`` or ``"majoring"``.
        name: Name.
        dtype: dtype of the state.
        thresholds: Explicit thresholds in ``[0, 1]`` (replaces ``num_thresholds``).
        from_logits: Whether predictions are logits (a sigmoid is applied).

    Examples:
        >>> float(AUC(num_thresholds=3)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]))
        0.75
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC",
                 summation_method: str = "interpolation", name: str | None = None,
                 dtype: Any = None, thresholds: Sequence[float] | None = None,
                 from_logits: bool = False) -> None:
        super().__init__(name=check_name("AUC", name) or "auc", dtype=dtype)
        check_int("AUC", "num_thresholds", num_thresholds, minimum=2)
        check_bool("AUC", "from_logits", from_logits)
        if not isinstance(curve, str) or curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if not isinstance(summation_method, str) or summation_method.lower() not in (
                "interpolation", "minoring", "majoring"):
            raise ValueError(f"AUC: summation_method must be 'interpolation', 'minoring' or "
                             f"'majoring', got {summation_method!r}")
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self.from_logits = from_logits
        self._init_thresholds = None if thresholds is None else sorted(
            _thresholds(thresholds, 0.5, "AUC"))
        if thresholds is None:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        else:
            inner = list(self._init_thresholds)
        # The end points sit just outside [0, 1] so predictions of exactly 0 or 1 count.
        self.thresholds = [0.0 - 1e-7] + inner + [1.0 + 1e-7]
        self.num_thresholds = len(self.thresholds)
        self._cells = {cell: self.add_variable((self.num_thresholds,), name=name_)
                       for cell, name_ in _ConfusionMetric._NAMES.items()}

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = ops.sigmoid(tnp.asarray(y_pred)) if self.from_logits else y_pred
        counts = _confusion_counts(y_true, y_pred, np.asarray(self.thresholds), sample_weight,
                                   self.dtype, owner="AUC")
        for cell, variable in self._cells.items():
            variable.assign_add(counts[cell])

    def _interpolate_pr_auc(self) -> Any:
        tp, fp, fn = (self._cells[c].value for c in ("tp", "fp", "fn"))
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, tnp.maximum(dp, 0.0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = tnp.where(both, _divide_no_nan(p[:-1], tnp.maximum(p[1:], 0.0)), 1.0)
        increment = _divide_no_nan(slope * (dtp + intercept * tnp.log(ratio)),
                                   tnp.maximum(tp[1:] + fn[1:], 0.0))
        return tnp.sum(increment)

    def result(self) -> Any:
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = (self._cells[c].value for c in ("tp", "fp", "tn", "fn"))
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = tnp.minimum(y[:-1], y[1:])
        else:
            heights = tnp.maximum(y[:-1], y[1:])
        return tnp.sum((x[:-1] - x[1:]) * heights)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_thresholds": self.num_thresholds,
                "curve": self.curve, "summation_method": self.summation_method,
                "thresholds": self._init_thresholds, "from_logits": self.from_logits}


# -- lookup and serialization --------------------------------------------------------------

_CLASSES: tuple[type[Metric], ...] = (
    Mean, Sum, MeanMetricWrapper, Accuracy, BinaryAccuracy, CategoricalAccuracy,
    SparseCategoricalAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
    MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, RootMeanSquaredError, CosineSimilarity, LogCoshError,
    KLDivergence, Poisson, Hinge, SquaredHinge, CategoricalHinge, BinaryCrossentropy,
    CategoricalCrossentropy, SparseCategoricalCrossentropy, Precision, Recall, AUC,
    TruePositives, FalsePositives, TrueNegatives, FalseNegatives,
)
_BY_NAME: dict[str, type[Metric]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({
    "acc": Accuracy, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError, "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError, "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy, "rmse": RootMeanSquaredError, "logcosh": LogCoshError,
})
_FUNCTIONS = {fn.__name__: fn for fn in (
    accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy,
    top_k_categorical_accuracy, sparse_top_k_categorical_accuracy, cosine_similarity)}


def _lookup(name: str) -> type[Metric]:
    if name not in _BY_NAME or name in ("MeanMetricWrapper", "mean_metric_wrapper"):
        known = ", ".join(sorted(n for n in _BY_NAME if n.islower()))
        raise ValueError(f"Could not interpret metric identifier {name!r}; known names: "
                         f"{known}")
    return _BY_NAME[name]


def _deserialize_function(config: Any) -> Callable[..., Any]:
    name = config.get("config") if isinstance(config, dict) else config
    if isinstance(name, str) and name in _FUNCTIONS:
        return _FUNCTIONS[name]
    return losses_module.deserialize(config)


def serialize(metric: Metric) -> dict[str, Any]:
    """A JSON-friendly description ``{"module", "class_name", "config"}`` of a metric.

    Examples:
        >>> serialize(BinaryAccuracy(threshold=0.3))["config"]
        {'name': 'binary_accuracy', 'dtype': 'float32', 'threshold': 0.3}
    """
    if isinstance(metric, Metric):
        return {"module": __name__, "class_name": type(metric).__name__,
                "config": metric.get_config(), "registered_name": None}
    return losses_module.serialize(metric)


def deserialize(config: Any) -> Any:
    """A metric (with fresh state) from `serialize`'s output or a name.

    Examples:
        >>> deserialize(serialize(Precision(thresholds=0.7))).thresholds
        [0.7]
    """
    if isinstance(config, str):
        return _lookup(config)()
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not deserialize metric {config!r}: expected a name or a dict "
                         "with 'class_name' and 'config'")
    if config["class_name"] == "function":
        return _deserialize_function(config)
    cls = MeanMetricWrapper if config["class_name"] == "MeanMetricWrapper" else \
        _lookup(config["class_name"])
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier: Any) -> Metric | None:
    """A `Metric` for a name, function, class, instance or serialized dict.

    As in Keras' ``compile``, a metric made from a string is named after it, and a plain
    function (or a loss) is wrapped in a `MeanMetricWrapper`. ``"accuracy"`` and
    ``"acc"`` give exact-match `Accuracy`; a trainer picks the binary, categorical or
    sparse variant with `resolve_accuracy`.

    Args:
        identifier: ``"mae"``, ``"AUC"``, ``"sparse_categorical_accuracy"``, a function
            ``fn(y_true, y_pred)``, a `Metric` class or instance, or a dict from
            `serialize`; ``None`` gives ``None``.

    Returns:
        A `Metric` (the same instance when one is given), or ``None``.

    Examples:
        >>> m = get("mae")
        >>> type(m).__name__, m.name
        ('MeanAbsoluteError', 'mae')
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS and identifier not in _BY_NAME:
            return MeanMetricWrapper(_FUNCTIONS[identifier], name=identifier)
        return _lookup(identifier)(name=identifier)
    if isinstance(identifier, dict):
        found = deserialize(identifier)
        return found if isinstance(found, Metric) else MeanMetricWrapper(found)
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


ACCURACY_NAMES = ("accuracy", "acc")


def _crossentropy_kind(loss: Any) -> str | None:
    """``"binary"``, ``"categorical"`` or ``"sparse"`` for a cross-entropy loss, else None."""
    if isinstance(loss, str):
        try:
            loss = losses_module.get(loss)
        except ValueError:
            return None
    fn = getattr(loss, "fn", loss)
    kinds = {losses_module.binary_crossentropy: "binary",
             losses_module.categorical_crossentropy: "categorical",
             losses_module.sparse_categorical_crossentropy: "sparse"}
    return kinds.get(fn) if callable(fn) else None


def resolve_accuracy(loss: Any = None, y_true_shape: Sequence[int] | None = None,
                     y_pred_shape: Sequence[int] | None = None,
                     name: str = "accuracy") -> Metric:
    """The accuracy metric ``"accuracy"`` means for this loss and these shapes.

    A cross-entropy loss decides: binary -> `BinaryAccuracy` (threshold 0 when the loss
    takes logits, 0.5 otherwise), categorical -> `CategoricalAccuracy`, sparse ->
    `SparseCategoricalAccuracy`. Otherwise Keras 3's shape rule applies: a last
    prediction axis of size 1 (or 1-D predictions) is binary; labels of lower rank than
    the predictions, or with a last axis of 1 against several classes, are sparse;
    anything else is categorical.

    Args:
        loss: The compiled loss (name, function or `Loss`), or ``None``.
        y_true_shape: Shape of a batch of targets.
        y_pred_shape: Shape of a batch of predictions.
        name: Name of the returned metric.

    Returns:
        A `BinaryAccuracy`, `CategoricalAccuracy` or `SparseCategoricalAccuracy`.

    Examples:
        >>> type(resolve_accuracy("sparse_categorical_crossentropy", (8,), (8, 10))).__name__
        'SparseCategoricalAccuracy'
        >>> type(resolve_accuracy("mse", (8, 1), (8, 1))).__name__
        'BinaryAccuracy'
        >>> type(resolve_accuracy(None, (8, 10), (8, 10))).__name__
        'CategoricalAccuracy'
    """
    kind = _crossentropy_kind(loss)
    if kind == "binary":
        from_logits = bool(getattr(loss, "_fn_kwargs", {}).get("from_logits", False))
        return BinaryAccuracy(name=name, threshold=0.0 if from_logits else 0.5)
    if kind is None:
        if y_true_shape is None or y_pred_shape is None:
            raise ValueError(f"resolve_accuracy: cannot choose the accuracy for loss {loss!r} "
                             "without the shapes of y_true and y_pred")
        t_shape, p_shape = tuple(y_true_shape), tuple(y_pred_shape)
        if len(p_shape) <= 1 or p_shape[-1] == 1:
            return BinaryAccuracy(name=name)
        sparse = len(t_shape) < len(p_shape) or (len(t_shape) > 0 and t_shape[-1] == 1)
        kind = "sparse" if sparse else "categorical"
    if kind == "sparse":
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)


__all__ = [
    "ACCURACY_NAMES", "AUC", "Accuracy", "BinaryAccuracy", "BinaryCrossentropy",
    "CategoricalAccuracy", "CategoricalCrossentropy", "CategoricalHinge", "CosineSimilarity",
    "FalseNegatives", "FalsePositives", "Hinge", "KLDivergence", "LogCoshError", "Mean",
    "MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanMetricWrapper",
    "MeanSquaredError", "MeanSquaredLogarithmicError", "Metric", "Poisson", "Precision",
    "Recall", "RootMeanSquaredError", "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy", "SparseTopKCategoricalAccuracy", "SquaredHinge", "Sum",
    "TopKCategoricalAccuracy", "TrueNegatives", "TruePositives", "accuracy",
    "binary_accuracy", "categorical_accuracy", "cosine_similarity", "deserialize", "get",
    "resolve_accuracy", "serialize", "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy", "top_k_categorical_accuracy",
]
