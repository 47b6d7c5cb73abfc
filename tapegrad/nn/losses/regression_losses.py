"""Per-sample regression losses: squared, absolute, percentage and logarithmic errors,
cosine similarity, Huber and log-cosh (one value per sample; the last axis is reduced).
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import backend, ops
from tapegrad.nn.losses.loss import prediction_pair


def mean_squared_error(y_true: Any, y_pred: Any) -> Any:
    """``mean((y_true - y_pred) ** 2, axis=-1)``.

    Args:
        y_true: Targets, shape ``(batch, d0, ..., dN)``.
        y_pred: Predictions, same shape (or one that broadcasts).

    Returns:
        Per-sample losses, shape ``(batch, d0, ..., dN-1)``.

    Examples:
        >>> mean_squared_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy()
        array([1.], dtype=float32)
    """
    y_true, y_pred = prediction_pair("mean_squared_error", y_true, y_pred)
    return tnp.mean(tnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """``mean(|y_true - y_pred|, axis=-1)``.

    Examples:
        >>> mean_absolute_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy()
        array([1.], dtype=float32)
    """
    y_true, y_pred = prediction_pair("mean_absolute_error", y_true, y_pred)
    return tnp.mean(tnp.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    """``100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|, axis=-1)``.

    Examples:
        >>> mean_absolute_percentage_error([[2.0, 4.0]], [[1.0, 4.0]]).numpy()
        array([25.], dtype=float32)
    """
    y_true, y_pred = prediction_pair("mean_absolute_percentage_error", y_true, y_pred)
    diff = tnp.abs((y_true - y_pred) / tnp.maximum(tnp.abs(y_true), backend.epsilon()))
    return 100.0 * tnp.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Any:
    """``mean((log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps))) ** 2, axis=-1)``.

    Examples:
        >>> mean_squared_logarithmic_error([[0.0]], [[np.e - 1]]).numpy().round(4)
        array([1.], dtype=float32)
    """
    y_true, y_pred = prediction_pair("mean_squared_logarithmic_error", y_true, y_pred)
    first = tnp.log1p(tnp.maximum(y_pred, backend.epsilon()))
    second = tnp.log1p(tnp.maximum(y_true, backend.epsilon()))
    return tnp.mean(tnp.square(first - second), axis=-1)


def _l2_normalize(x: Any, axis: int) -> Any:
    norm = tnp.sqrt(tnp.sum(tnp.square(x), axis=axis, keepdims=True))
    return x / tnp.maximum(norm, backend.epsilon())


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """Negative cosine similarity along ``axis``: -1 for aligned vectors, 1 for opposite.

    Examples:
        >>> cosine_similarity([[1.0, 0.0]], [[2.0, 0.0]]).numpy()
        array([-1.], dtype=float32)
    """
    y_true, y_pred = prediction_pair("cosine_similarity", y_true, y_pred)
    return -tnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    """Huber loss: quadratic for errors up to ``delta``, linear beyond, mean over the last axis.

    Examples:
        >>> huber([[0.0, 0.0]], [[0.5, 3.0]]).numpy()
        array([1.3125], dtype=float32)
    """
    y_true, y_pred = prediction_pair("huber", y_true, y_pred)
    error = y_pred - y_true
    abs_error = tnp.abs(error)
    quadratic = 0.5 * tnp.square(error)
    linear = delta * abs_error - 0.5 * delta * delta
    return tnp.mean(tnp.where(abs_error <= delta, quadratic, linear), axis=-1)


def log_cosh(y_true: Any, y_pred: Any) -> Any:
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, stable for large errors.

    Examples:
        >>> log_cosh([[0.0]], [[1.0]]).numpy().round(4)
        array([0.4338], dtype=float32)
    """
    y_true, y_pred = prediction_pair("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    # log(cosh(x)) = x + softplus(-2x) - log(2): no overflow of cosh.
    return tnp.mean(x + ops.softplus(-2.0 * x) - float(np.log(2.0)), axis=-1)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
