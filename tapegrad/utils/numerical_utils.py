"""`to_categorical` and `normalize` (Keras 3's ``keras.utils`` numerical utilities)."""

from __future__ import annotations

from typing import Any

import numpy as np


def to_categorical(x: Any, num_classes: int | None = None) -> Any:
    """One-hot encode integer class labels (Keras' ``keras.utils.to_categorical``).

    A trailing axis of size 1 is replaced by the classes axis, as in Keras. NumPy input
    (or lists) gives a float64 NumPy array, as Keras does; a tapegrad Tensor gives a
    float Tensor (`tapegrad.ops.one_hot`).

    Args:
        x: Integer labels in ``[0, num_classes)``, any shape.
        num_classes: Number of classes (default: ``max(x) + 1``).

    Returns:
        The one-hot array, of shape ``x.shape + (num_classes,)``.

    Raises:
        ValueError: Labels that are not integers, negative, or not below ``num_classes``.

    Examples:
        >>> to_categorical([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]])
        >>> to_categorical([[1], [0]]).shape
        (2, 2)
    """
    import tapegrad as tg

    if isinstance(x, tg.Tensor):
        labels = x
        if len(labels.shape) > 1 and labels.shape[-1] == 1:
            labels = tg.numpy.squeeze(labels, axis=-1)
        if num_classes is None:
            num_classes = int(np.max(labels.numpy())) + 1
        return tg.ops.one_hot(labels, _check_classes(num_classes))
    raw = np.asarray(x)
    if raw.size and (raw.dtype.kind not in "biuf" or not np.all(np.mod(raw, 1) == 0)):
        raise ValueError(f"to_categorical: labels must be integers, got {raw.ravel()[:5]!r}")
    labels = raw.astype("int64")
    shape = labels.shape
    if shape and shape[-1] == 1 and len(shape) > 1:
        shape = tuple(shape[:-1])
    labels = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(np.max(labels)) + 1 if labels.size else 0
    num_classes = _check_classes(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(
            f"to_categorical: label {bad} is outside [0, {num_classes}) (num_classes={num_classes})"
        )
    categorical = np.zeros((labels.shape[0], num_classes))
    categorical[np.arange(labels.shape[0]), labels] = 1
    return categorical.reshape(shape + (num_classes,))


def normalize(x: Any, axis: int = -1, order: int = 2) -> Any:
    """Divide ``x`` by its ``order``-norm along ``axis`` (Keras' ``keras.utils.normalize``).

    NumPy input: zero norms are left as 1 (the vector stays zero), as Keras does. A tapegrad
    Tensor: Keras' ``ops.normalize`` (the norm floored at `tapegrad.backend.epsilon`),
    differentiable.

    Args:
        x: An array or Tensor.
        axis: The axis to normalize along.
        order: The norm's order (2: Euclidean).

    Returns:
        The normalized array (NumPy in, NumPy out) or Tensor.

    Examples:
        >>> normalize(np.array([[3.0, 4.0], [0.0, 0.0]]))
        array([[0.6, 0.8],
               [0. , 0. ]])
    """
    import tapegrad as tg

    if isinstance(x, tg.Tensor):
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"normalize: order must be an int >= 1, got order={order!r}")
        eps = tg.backend.epsilon()
        if order == 2:  # Keras' special case: x * rsqrt(sum(x**2)), capped at 1 / eps
            square_sum = tg.numpy.sum(tg.numpy.square(x), axis=axis, keepdims=True)
            return x * tg.numpy.minimum(1.0 / tg.numpy.sqrt(square_sum), 1.0 / eps)
        norm = tg.numpy.linalg.norm(x, ord=order, axis=axis, keepdims=True)
        return x / tg.numpy.maximum(norm, eps)
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis or -1)


def _check_classes(num_classes: Any) -> int:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int | np.integer):
        raise ValueError(f"to_categorical: num_classes must be a positive int, got {num_classes!r}")
    if num_classes < 1:
        raise ValueError(f"to_categorical: num_classes must be positive, got {num_classes}")
    return int(num_classes)


__all__ = ["normalize", "to_categorical"]
