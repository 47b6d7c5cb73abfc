"""Per-sample probabilistic losses: the cross-entropies (binary, categorical, sparse with
its label checks), Kullback-Leibler divergence and Poisson.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import backend, ops
from tapegrad.graph import is_traced
from tapegrad.nn.losses.loss import as_float, prediction_pair


def kl_divergence(y_true: Any, y_pred: Any) -> Any:
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred), axis=-1)``.

    Both arguments are clipped to ``[eps, 1]`` first.

    Examples:
        >>> kl_divergence([[0.5, 0.5]], [[0.5, 0.5]]).numpy()
        array([0.], dtype=float32)
    """
    y_true, y_pred = prediction_pair("kl_divergence", y_true, y_pred)
    y_true = tnp.clip(y_true, backend.epsilon(), 1.0)
    y_pred = tnp.clip(y_pred, backend.epsilon(), 1.0)
    return tnp.sum(y_true * tnp.log(y_true / y_pred), axis=-1)


def poisson(y_true: Any, y_pred: Any) -> Any:
    """``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``.

    Examples:
        >>> poisson([[1.0]], [[1.0]]).numpy().round(6)
        array([1.], dtype=float32)
    """
    y_true, y_pred = prediction_pair("poisson", y_true, y_pred)
    return tnp.mean(y_pred - y_true * tnp.log(y_pred + backend.epsilon()), axis=-1)


def binary_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """Binary cross-entropy of 0/1 (or soft) targets, averaged over ``axis``.

    Args:
        y_true: Targets in ``[0, 1]``.
        y_pred: Probabilities, or logits with ``from_logits=True`` (stable).
        from_logits: Whether ``y_pred`` holds logits.
        label_smoothing: Targets move towards 0.5 by this fraction.
        axis: Axis averaged over.

    Returns:
        Per-sample losses.

    Examples:
        >>> binary_crossentropy([[1.0, 0.0]], [[0.0, 0.0]], from_logits=True).numpy().round(4)
        array([0.6931], dtype=float32)
    """
    y_true, y_pred = prediction_pair("binary_crossentropy", y_true, y_pred, same_shape=True)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return tnp.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """Cross-entropy of one-hot (or soft) targets against probabilities or logits.

    Args:
        y_true: One-hot targets, same shape as ``y_pred``.
        y_pred: Probabilities (renormalized along ``axis``), or logits.
        from_logits: Whether ``y_pred`` holds logits.
        label_smoothing: Targets move towards uniform by this fraction.
        axis: The class axis.

    Returns:
        Per-sample losses (``axis`` reduced).

    Examples:
        >>> categorical_crossentropy([[0.0, 1.0]], [[0.5, 0.5]]).numpy().round(4)
        array([0.6931], dtype=float32)
    """
    if isinstance(axis, bool):
        raise ValueError(f"categorical_crossentropy: axis must be an int, got axis={axis}")
    y_true, y_pred = prediction_pair("categorical_crossentropy", y_true, y_pred, same_shape=True)
    if y_pred.shape and y_pred.shape[-1] == 1:
        warnings.warn(
            f"categorical_crossentropy: expected y_pred of shape (batch, "
            f"num_classes) with num_classes > 1, got y_pred.shape={y_pred.shape}; "
            "use binary_crossentropy for a single output unit",
            stacklevel=2,
        )
    if label_smoothing:
        num_classes = y_true.shape[axis]
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / num_classes
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def _checked_label_shape(name: str, labels: Any, pred_shape: tuple[int, ...]) -> Any:
    """Integer labels (an array or a traced Tensor) of shape ``pred_shape[:-1]``, a trailing
    1 dropped; a clear error for another shape or a non-numeric dtype."""
    given = tuple(labels.shape)
    if labels.ndim == len(pred_shape) and labels.ndim and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if tuple(labels.shape) != tuple(pred_shape[:-1]):
        raise ValueError(
            f"{name}: y_true of shape {given} does not fit y_pred of shape "
            f"{tuple(pred_shape)}: integer labels need shape "
            f"{tuple(pred_shape[:-1])} (or {tuple(pred_shape[:-1]) + (1,)})"
        )
    if np.dtype(labels.dtype).kind not in "biuf":
        raise TypeError(f"{name}: labels must be integer class indices, got dtype {labels.dtype}")
    return labels


def _sparse_labels(
    name: str, y_true: Any, pred_shape: tuple[int, ...], ignore_class: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Integer labels of shape ``pred_shape[:-1]`` and the mask of non-ignored ones, checked."""
    if is_traced(y_true):
        return _traced_sparse_labels(name, y_true, pred_shape, ignore_class)
    labels = _checked_label_shape(name, np.asarray(y_true), pred_shape)
    num_classes = pred_shape[-1] if pred_shape else 0
    valid = None if ignore_class is None else labels != ignore_class
    if valid is None and labels.dtype == np.int64:
        # The common case, on every step: the op checks the range, with the same message.
        return labels, None
    checked = labels if valid is None else labels[valid]
    if labels.dtype.kind == "f":
        fractional = checked[checked != np.round(checked)]
        if fractional.size:
            raise ValueError(
                f"{name}: labels must be integer class indices in "
                f"[0, {num_classes}) for {num_classes} classes; got {labels.dtype} "
                f"labels with non-integral values, e.g. {fractional.flat[0]!r} "
                f"(labels range over [{checked.min()}, {checked.max()}])"
            )
    if checked.size and (checked.min() < 0 or checked.max() >= num_classes):
        raise ValueError(
            f"{name}: labels must be in [0, {num_classes}) for {num_classes} "
            f"classes, got labels in [{checked.min()}, {checked.max()}]"
        )
    ints = np.where(valid, labels, 0) if valid is not None else labels
    return ints.astype(np.int64), valid


def _traced_sparse_labels(
    name: str, y_true: Any, pred_shape: tuple[int, ...], ignore_class: int | None
) -> tuple[Any, Any]:
    """`_sparse_labels` inside a traced function: shapes and dtypes are checked now; the
    range check happens when the step runs (in the cross-entropy primitive)."""
    labels = _checked_label_shape(name, y_true, pred_shape)
    valid = None if ignore_class is None else labels != ignore_class
    if valid is not None:
        labels = tnp.where(valid, labels, 0)
    # Values are checked when the step runs, by the cross-entropy's `class_indices` op.
    return labels, valid


def sparse_categorical_crossentropy(
    y_true: Any,
    y_pred: Any,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> Any:
    """Cross-entropy of integer class labels against probabilities or logits.

    Args:
        y_true: Integer labels (an integral float dtype is accepted), shape
            ``y_pred.shape[:-1]`` or with a trailing 1.
        y_pred: Probabilities (renormalized along ``axis``), or logits.
        from_logits: Whether ``y_pred`` holds logits.
        ignore_class: A label value to skip (its loss is 0; `SparseCategoricalCrossentropy`
            also leaves it out of the mean).
        axis: The class axis.

    Returns:
        Per-sample losses.

    Raises:
        ValueError: For labels outside ``[0, num_classes)``, non-integral float labels
            or a shape that does not fit ``y_pred``; the message names the range.

    Examples:
        >>> sparse_categorical_crossentropy([1], [[0.0, 0.0]], from_logits=True).numpy().round(4)
        array([0.6931], dtype=float32)
    """
    y_pred = as_float(y_pred)
    if axis not in (-1, y_pred.ndim - 1):
        y_pred = tnp.moveaxis(y_pred, axis, -1)
    labels, valid = _sparse_labels(
        "sparse_categorical_crossentropy", y_true, tuple(y_pred.shape), ignore_class
    )
    losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits)
    return losses if valid is None else tnp.where(valid, losses, 0.0)


kld = KLD = kl_divergence
bce = BCE = binary_crossentropy
