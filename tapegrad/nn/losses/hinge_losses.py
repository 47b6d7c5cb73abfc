"""Per-sample hinge losses for -1/1 (or 0/1) labels: hinge, squared and categorical hinge."""

from __future__ import annotations

from typing import Any

import tapegrad.numpy as tnp
from tapegrad.nn.losses.loss import prediction_pair


def _hinge_labels(y_true: Any) -> Any:
    # Labels in {0, 1} become {-1, 1}; labels already in {-1, 1} are kept (Keras' rule).
    is_binary = tnp.all((y_true == 0) | (y_true == 1))
    return tnp.where(is_binary, 2.0 * y_true - 1.0, y_true)


def hinge(y_true: Any, y_pred: Any) -> Any:
    """``mean(max(1 - y_true * y_pred, 0), axis=-1)``; 0/1 labels are mapped to -1/1.

    Examples:
        >>> hinge([[1.0, 0.0]], [[0.5, -2.0]]).numpy()
        array([0.25], dtype=float32)
    """
    y_true, y_pred = prediction_pair("hinge", y_true, y_pred)
    return tnp.mean(tnp.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Any:
    """``mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1)``; 0/1 labels become -1/1.

    Examples:
        >>> squared_hinge([[1.0]], [[0.5]]).numpy()
        array([0.25], dtype=float32)
    """
    y_true, y_pred = prediction_pair("squared_hinge", y_true, y_pred)
    margin = tnp.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)
    return tnp.mean(tnp.square(margin), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> Any:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` (one-hot targets).

    Examples:
        >>> categorical_hinge([[0.0, 1.0]], [[0.3, 0.8]]).numpy()
        array([0.5], dtype=float32)
    """
    y_true, y_pred = prediction_pair("categorical_hinge", y_true, y_pred, same_shape=True)
    positive = tnp.sum(y_true * y_pred, axis=-1)
    negative = tnp.max((1.0 - y_true) * y_pred, axis=-1)
    return tnp.maximum(negative - positive + 1.0, 0.0)
