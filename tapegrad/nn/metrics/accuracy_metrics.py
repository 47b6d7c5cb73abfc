"""Accuracy metrics (Keras' ``keras/src/metrics/accuracy_metrics.py``), and the choice of
the one ``"accuracy"`` means for a loss and the shapes of the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tapegrad.nn import losses as losses_module
from tapegrad.nn.metrics.functions import (
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from tapegrad.nn.metrics.metric import Metric
from tapegrad.nn.metrics.reduction_metrics import MeanMetricWrapper


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

    def __init__(
        self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5
    ) -> None:
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

    def __init__(
        self, k: int = 5, name: str = "top_k_categorical_accuracy", dtype: Any = None
    ) -> None:
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` top predictions.

    Examples:
        >>> float(SparseTopKCategoricalAccuracy(k=1)([2, 1], [[0.1, 0.9, 0.8],
        ...                                                   [0.05, 0.95, 0]]))
        0.5
    """

    def __init__(
        self,
        k: int = 5,
        name: str = "sparse_top_k_categorical_accuracy",
        dtype: Any = None,
        from_sorted_ids: bool = False,
    ) -> None:
        super().__init__(
            sparse_top_k_categorical_accuracy,
            name=name,
            dtype=dtype,
            k=k,
            from_sorted_ids=from_sorted_ids,
        )


ACCURACY_NAMES = ("accuracy", "acc")


def _crossentropy_kind(loss: Any) -> str | None:
    """``"binary"``, ``"categorical"`` or ``"sparse"`` for a cross-entropy loss, else None."""
    if isinstance(loss, str):
        try:
            loss = losses_module.get(loss)
        except ValueError:
            return None
    fn = getattr(loss, "fn", loss)
    kinds = {
        losses_module.binary_crossentropy: "binary",
        losses_module.categorical_crossentropy: "categorical",
        losses_module.sparse_categorical_crossentropy: "sparse",
    }
    return kinds.get(fn) if callable(fn) else None


def resolve_accuracy(
    loss: Any = None,
    y_true_shape: Sequence[int] | None = None,
    y_pred_shape: Sequence[int] | None = None,
    name: str = "accuracy",
) -> Metric:
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
            raise ValueError(
                f"resolve_accuracy: cannot choose the accuracy for loss {loss!r} "
                "without the shapes of y_true and y_pred"
            )
        t_shape, p_shape = tuple(y_true_shape), tuple(y_pred_shape)
        if len(p_shape) <= 1 or p_shape[-1] == 1:
            return BinaryAccuracy(name=name)
        sparse = len(t_shape) < len(p_shape) or (len(t_shape) > 0 and t_shape[-1] == 1)
        kind = "sparse" if sparse else "categorical"
    if kind == "sparse":
        return SparseCategoricalAccuracy(name=name)
    return CategoricalAccuracy(name=name)
