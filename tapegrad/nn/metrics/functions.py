"""Per-sample metric functions: the accuracy family and cosine similarity.

The built-in `MeanMetricWrapper` subclasses average them; their names are also valid
``fn`` entries of a `MeanMetricWrapper` config.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn import losses as losses_module
from tapegrad.nn.losses import squeeze_or_expand_to_same_rank


def _float32(x: Any) -> Any:
    return tnp.asarray(x).astype("float32")


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
        raise ValueError(
            f"{name}: y_true of shape {given} does not fit y_pred of shape "
            f"{tuple(y_pred.shape)}: integer labels need shape "
            f"{tuple(y_pred.shape[:-1])} (one-hot targets need a categorical "
            "metric)"
        )
    return y_true


def categorical_accuracy(y_true: Any, y_pred: Any) -> Any:
    """1.0 where the arg-max of one-hot ``y_true`` equals the arg-max of ``y_pred``.

    Examples:
        >>> categorical_accuracy([[0, 1], [1, 0]], [[0.2, 0.8], [0.3, 0.7]]).numpy()
        array([1., 0.], dtype=float32)
    """
    y_true, y_pred = tnp.asarray(y_true), tnp.asarray(y_pred)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            f"categorical_accuracy: y_true and y_pred need equal shapes, got "
            f"y_true.shape={tuple(y_true.shape)} and y_pred.shape="
            f"{tuple(y_pred.shape)} (integer labels need "
            "sparse_categorical_accuracy)"
        )
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


def sparse_top_k_categorical_accuracy(
    y_true: Any, y_pred: Any, k: int = 5, from_sorted_ids: bool = False
) -> Any:
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
        raise ValueError(
            f"{name}: labels must be in [0, {num_classes}) for {num_classes} "
            f"classes, got labels in [{labels.min()}, {labels.max()}]"
        )
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


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """Cosine similarity along ``axis`` (1 for aligned vectors; the loss is its negative).

    Examples:
        >>> cosine_similarity([[1.0, 0.0]], [[3.0, 0.0]]).numpy()
        array([1.], dtype=float32)
    """
    return -losses_module.cosine_similarity(y_true, y_pred, axis=axis)
