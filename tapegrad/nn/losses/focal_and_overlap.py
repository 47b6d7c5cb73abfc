"""Focal cross-entropies, the Dice and Tversky overlap losses and CTC (Keras 3's
``keras.losses``): their per-sample functions and `Loss` classes, registered by name.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import backend, ops
from tapegrad.nn.losses.loss import Loss, as_float, prediction_pair
from tapegrad.nn.losses.losses import LossFunctionWrapper, register_builtin
from tapegrad.nn.validation import check_bool, check_function_arguments, check_number

__all__ = [
    "CTC",
    "BinaryFocalCrossentropy",
    "CategoricalFocalCrossentropy",
    "CategoricalGeneralizedCrossEntropy",
    "Circle",
    "Dice",
    "Tversky",
    "binary_focal_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_generalized_cross_entropy",
    "circle",
    "ctc",
    "dice",
    "tversky",
]


def binary_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """Binary cross-entropy down-weighting easy examples (Lin et al., 2017).

    Each element's cross-entropy is multiplied by ``(1 - p_t) ** gamma`` with
    ``p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)`` and, with class balancing, by
    ``alpha`` for positives and ``1 - alpha`` for negatives; then averaged over ``axis``.

    Args:
        y_true: Targets in ``[0, 1]``.
        y_pred: Probabilities, or logits with ``from_logits=True``.
        apply_class_balancing: Whether to weight by ``alpha`` / ``1 - alpha``.
        alpha: The positive-class weight of class balancing.
        gamma: The focusing parameter (0: plain binary cross-entropy).
        from_logits: Whether ``y_pred`` holds logits.
        label_smoothing: Targets move towards 0.5 by this fraction.
        axis: Axis averaged over.

    Returns:
        Per-sample losses.

    Examples:
        >>> import numpy as np
        >>> binary_focal_crossentropy([[0.0, 1.0]], [[0.4, 0.6]], gamma=2.0).numpy().round(4)
        array([0.0817], dtype=float32)
    """
    y_true, y_pred = prediction_pair("binary_focal_crossentropy", y_true, y_pred, same_shape=True)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        y_pred = ops.sigmoid(y_pred)
    bce = ops.binary_crossentropy(y_true, y_pred, from_logits=False)
    p_t = y_true * y_pred + (1 - y_true) * (1 - y_pred)
    focal_bce = tnp.power(1.0 - p_t, gamma) * bce
    if apply_class_balancing:
        focal_bce = (y_true * alpha + (1 - y_true) * (1 - alpha)) * focal_bce
    return tnp.mean(focal_bce, axis=axis)


def categorical_focal_crossentropy(
    y_true: Any,
    y_pred: Any,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Any:
    """Categorical cross-entropy with each class term weighted by ``alpha * (1 - p) ** gamma``.

    Args:
        y_true: One-hot (or soft) targets, same shape as ``y_pred``.
        y_pred: Probabilities (renormalized along ``axis``), or logits.
        alpha: The weighting factor.
        gamma: The focusing parameter.
        from_logits: Whether ``y_pred`` holds logits.
        label_smoothing: Targets move towards uniform by this fraction.
        axis: The class axis.

    Returns:
        Per-sample losses (``axis`` reduced).

    Examples:
        >>> categorical_focal_crossentropy([[0.0, 1.0]], [[0.5, 0.5]]).numpy().round(4)
        array([0.0433], dtype=float32)
    """
    if isinstance(axis, bool):
        raise ValueError(f"categorical_focal_crossentropy: axis must be an int, got axis={axis}")
    y_true, y_pred = prediction_pair(
        "categorical_focal_crossentropy", y_true, y_pred, same_shape=True
    )
    if y_pred.shape and y_pred.shape[-1] == 1:
        warnings.warn(
            "categorical_focal_crossentropy: expected y_pred of shape (batch, num_classes) "
            f"with num_classes > 1, got y_pred.shape={y_pred.shape}; use "
            "binary_focal_crossentropy for a single output unit",
            stacklevel=2,
        )
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_true.shape[axis]
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    output = y_pred / tnp.sum(y_pred, axis=axis, keepdims=True)
    output = tnp.clip(output, backend.epsilon(), 1.0 - backend.epsilon())
    cce = -y_true * tnp.log(output)
    focal = alpha * tnp.power(1.0 - output, gamma) * cce
    return tnp.sum(focal, axis=axis)


def _axes(axis: Any) -> Any:
    return tuple(axis) if isinstance(axis, list) else axis


def dice(y_true: Any, y_pred: Any, axis: Any = None) -> Any:
    """Dice loss ``1 - 2 * sum(y_true * y_pred) / (sum(y_true) + sum(y_pred) + eps)``.

    Args:
        y_true: Targets (masks) in ``[0, 1]``.
        y_pred: Predicted probabilities, same shape.
        axis: Axes summed over; ``None`` (Keras' default) sums over everything, giving
            one value for the whole batch.

    Returns:
        The loss, with ``axis`` reduced.

    Examples:
        >>> float(dice([[1.0, 0.0]], [[1.0, 0.0]])) < 1e-6
        True
    """
    y_true, y_pred = prediction_pair("dice", y_true, y_pred)
    axis = _axes(axis)
    intersection = tnp.sum(y_true * y_pred, axis=axis)
    total = tnp.sum(y_true, axis=axis) + tnp.sum(y_pred, axis=axis) + backend.epsilon()
    return 1 - 2.0 * intersection / total


def tversky(
    y_true: Any, y_pred: Any, alpha: float = 0.5, beta: float = 0.5, axis: Any = None
) -> Any:
    """Tversky loss ``1 - TP / (TP + alpha * FP + beta * FN + eps)`` (soft counts).

    As in Keras, ``FP = sum((1 - y_pred) * y_true)`` and ``FN = sum(y_pred * (1 - y_true))``.
    ``alpha = beta = 0.5`` gives the Dice loss.

    Args:
        y_true: Targets (masks) in ``[0, 1]``.
        y_pred: Predicted probabilities, same shape.
        alpha: Weight of the ``FP`` term.
        beta: Weight of the ``FN`` term.
        axis: Axes summed over; ``None`` sums over everything.

    Returns:
        The loss, with ``axis`` reduced.

    Examples:
        >>> round(float(tversky([[1.0, 0.0]], [[0.5, 0.5]])), 4)
        0.5
    """
    y_true, y_pred = prediction_pair("tversky", y_true, y_pred)
    axis = _axes(axis)
    intersection = tnp.sum(y_true * y_pred, axis=axis)
    fp = tnp.sum((1 - y_pred) * y_true, axis=axis)
    fn = tnp.sum(y_pred * (1 - y_true), axis=axis)
    return 1 - intersection / (intersection + fp * alpha + fn * beta + backend.epsilon())


def ctc(y_true: Any, y_pred: Any) -> Any:
    """CTC loss of integer label sequences padded with 0 against per-step logits.

    The blank class is 0 (Keras' ``mask_index``); each label's length is its count of
    nonzero entries; every example uses all ``y_pred`` time steps.

    Args:
        y_true: Integer labels ``(batch, max_label_length)``, 0-padded.
        y_pred: Logits ``(batch, time, num_classes)``.

    Returns:
        ``(batch,)`` losses.

    Examples:
        >>> import numpy as np
        >>> logits = np.array([[[0.0, 5.0], [5.0, 0.0]]], np.float32)
        >>> float(ctc(np.array([[1]]), logits)[0]) < 0.1
        True
    """
    y_true = tnp.asarray(y_true)
    y_pred = as_float(y_pred)
    if y_true.ndim != 2:
        raise ValueError(
            "ctc: targets `y_true` must have shape (batch_size, max_length) of integer "
            f"labels, got y_true.shape={tuple(y_true.shape)}"
        )
    if y_pred.ndim != 3:
        raise ValueError(
            "ctc: logits `y_pred` must have shape (batch_size, max_length, num_classes), "
            f"got y_pred.shape={tuple(y_pred.shape)}"
        )
    labels = tnp.astype(y_true, "int32")
    label_length = tnp.sum(tnp.astype(labels != 0, "int32"), axis=-1)
    input_length = tnp.full((y_pred.shape[0],), y_pred.shape[1], dtype=np.int32)
    return ops.ctc_loss(labels, y_pred, label_length, input_length, mask_index=0)


def categorical_generalized_cross_entropy(y_true: Any, y_pred: Any, q: float) -> Any:
    """Generalized cross-entropy (Zhang & Sabuncu, 2018), robust to noisy labels:
    ``(1 - p ** q) / q`` with ``p`` the predicted probability of the true class.

    Args:
        y_true: Integer class labels ``(batch,)``.
        y_pred: Probabilities ``(batch, num_classes)``.
        q: In ``(0, 1)``; towards 0 the loss approaches cross-entropy, at 1 it is MAE-like.

    Returns:
        Per-sample losses.

    Examples:
        >>> import numpy as np
        >>> categorical_generalized_cross_entropy(
        ...     np.array([1]), np.array([[0.75, 0.25]], np.float32), q=0.5).numpy()
        array([1.], dtype=float32)
    """
    y_pred = as_float(y_pred)
    labels = tnp.asarray(y_true).astype(np.int64)
    classes = tnp.arange(y_pred.shape[-1])
    one_hot = (labels[..., None] == classes).astype(y_pred.dtype)
    p = tnp.sum(y_pred * one_hot, axis=-1)
    return (1 - tnp.power(p, q)) / q


# Stands in for -inf in the masked log-sum-exps: exp() of it is exactly 0, like -inf, but
# its gradients stay finite when a row has no positive (or no negative) pair.
_NEG_LARGE = -1e9


def circle(
    y_true: Any,
    y_pred: Any,
    ref_labels: Any = None,
    ref_embeddings: Any = None,
    remove_diagonal: bool = True,
    gamma: float = 80.0,
    margin: float = 0.4,
) -> Any:
    """Circle loss (Sun et al., 2020) of L2-normalized embeddings, on cosine distances.

    Pairs with equal labels are positives (without the self-pairs when
    ``remove_diagonal``), others negatives; each sample's loss is
    ``softplus(logsumexp(pos) + logsumexp(neg))`` of the margin-weighted distances.

    Args:
        y_true: Integer labels ``(batch,)``.
        y_pred: Embeddings ``(batch, dim)``, L2-normalized.
        ref_labels: Labels of the reference embeddings (default ``y_true``).
        ref_embeddings: Reference embeddings (default ``y_pred``).
        remove_diagonal: Whether a sample is not its own positive.
        gamma: Scale factor.
        margin: Relaxation margin.

    Returns:
        Per-sample losses ``(batch,)`` (0 where a sample has no positive or no negative).

    Examples:
        >>> import numpy as np
        >>> emb = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32)
        >>> circle([0, 0, 1], emb).numpy().round(4)
        array([0., 0., 0.], dtype=float32)
    """
    y_pred = as_float(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(
            f"circle: embeddings `y_pred` must have shape (batch_size, dim), got "
            f"y_pred.shape={tuple(y_pred.shape)}"
        )
    labels = tnp.reshape(tnp.asarray(y_true).astype(np.int64), (-1, 1))
    ref_embeddings = y_pred if ref_embeddings is None else as_float(ref_embeddings)
    ref_labels = (
        labels
        if ref_labels is None
        else tnp.reshape(tnp.asarray(ref_labels).astype(np.int64), (-1, 1))
    )
    distances = tnp.maximum(1 - tnp.matmul(y_pred, tnp.transpose(ref_embeddings)), 0.0)
    positive = labels == tnp.transpose(ref_labels)
    negative = ~positive
    if remove_diagonal:
        positive = positive & ~tnp.eye(labels.shape[0], ref_labels.shape[0], dtype=bool)
    pos_weights = tnp.maximum((margin + distances) * positive.astype(distances.dtype), 0.0)
    neg_weights = tnp.maximum((1 + margin - distances) * negative.astype(distances.dtype), 0.0)
    pos_terms = -gamma * pos_weights * (margin - distances)
    neg_terms = gamma * neg_weights * (1 - margin - distances)
    p_loss = ops.logsumexp(tnp.where(positive, pos_terms, _NEG_LARGE), axis=1)
    n_loss = ops.logsumexp(tnp.where(negative, neg_terms, _NEG_LARGE), axis=1)
    return ops.softplus(p_loss + n_loss)


class BinaryFocalCrossentropy(LossFunctionWrapper):
    """Binary focal cross-entropy (see `binary_focal_crossentropy`).

    Args:
        apply_class_balancing, alpha, gamma, from_logits, label_smoothing, axis: As in
            `binary_focal_crossentropy`.
        reduction, name, dtype: See `Loss`.

    Examples:
        >>> loss = BinaryFocalCrossentropy(gamma=2.0, from_logits=True)
        >>> round(float(loss([[0.0, 1.0]], [[-1.0, 1.0]])), 4)
        0.0227
    """

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        owner = type(self).__name__
        check_bool(owner, "apply_class_balancing", apply_class_balancing)
        check_number(owner, "alpha", alpha)
        check_number(owner, "gamma", gamma, low=0.0)
        check_function_arguments(
            owner, {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis}
        )
        super().__init__(
            binary_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            apply_class_balancing=apply_class_balancing,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class CategoricalFocalCrossentropy(LossFunctionWrapper):
    """Categorical focal cross-entropy (see `categorical_focal_crossentropy`).

    Args:
        alpha, gamma, from_logits, label_smoothing, axis: As in
            `categorical_focal_crossentropy`.
        reduction, name, dtype: See `Loss`.

    Examples:
        >>> loss = CategoricalFocalCrossentropy()
        >>> round(float(loss([[0.0, 1.0], [1.0, 0.0]], [[0.5, 0.5], [0.9, 0.1]])), 4)
        0.0218
    """

    def __init__(
        self,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        owner = type(self).__name__
        check_number(owner, "alpha", alpha)
        check_number(owner, "gamma", gamma, low=0.0)
        check_function_arguments(
            owner, {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis}
        )
        super().__init__(
            categorical_focal_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            alpha=alpha,
            gamma=gamma,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


def _check_axis(owner: str, axis: Any) -> Any:
    items = axis if isinstance(axis, list | tuple) else [axis]
    if axis is not None and not all(isinstance(a, int) and not isinstance(a, bool) for a in items):
        raise ValueError(f"{owner}: `axis` must be None, an int or a list of ints, got {axis!r}")
    return list(axis) if isinstance(axis, tuple) else axis


class Dice(LossFunctionWrapper):
    """The Dice loss (see `dice`).

    Args:
        reduction, name: See `Loss`.
        axis: Axes summed over (``None``: all).
        dtype: See `Loss`.

    Examples:
        >>> loss = Dice(axis=[1])
        >>> round(float(loss([[1.0, 0.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]])), 4)
        0.1667
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "dice",
        axis: Any = None,
        dtype: Any = None,
    ) -> None:
        axis = _check_axis(type(self).__name__, axis)
        super().__init__(dice, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Tversky(LossFunctionWrapper):
    """The Tversky loss (see `tversky`).

    Args:
        alpha: Weight of false positives.
        beta: Weight of false negatives.
        reduction, name: See `Loss`.
        axis: Axes summed over (``None``: all).
        dtype: See `Loss`.

    Examples:
        >>> round(float(Tversky(alpha=0.7, beta=0.3)([[1.0, 0.0]], [[0.5, 0.5]])), 4)
        0.5
    """

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        reduction: str | None = "sum_over_batch_size",
        name: str = "tversky",
        axis: Any = None,
        dtype: Any = None,
    ) -> None:
        owner = type(self).__name__
        check_number(owner, "alpha", alpha)
        check_number(owner, "beta", beta)
        axis = _check_axis(owner, axis)
        super().__init__(
            tversky, reduction=reduction, name=name, dtype=dtype, alpha=alpha, beta=beta, axis=axis
        )


class CTC(LossFunctionWrapper):
    """The CTC loss (see `ctc`): labels ``(batch, max_length)`` 0-padded, logits
    ``(batch, time, num_classes)`` with class 0 the blank.

    Args:
        reduction, name, dtype: See `Loss`.

    Examples:
        >>> import numpy as np
        >>> logits = np.zeros((1, 3, 3), np.float32)
        >>> round(float(CTC()(np.array([[1, 2]]), logits)), 4)  # 5 of 27 paths give "1 2"
        1.6864
    """

    def __init__(
        self, reduction: str | None = "sum_over_batch_size", name: str = "ctc", dtype: Any = None
    ) -> None:
        super().__init__(ctc, reduction=reduction, name=name, dtype=dtype)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        # Labels (batch, length) and logits (batch, time, classes): no rank matching.
        return self.fn(y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return Loss.get_config(self)


class CategoricalGeneralizedCrossEntropy(LossFunctionWrapper):
    """Generalized cross-entropy of integer labels (see
    `categorical_generalized_cross_entropy`).

    Args:
        q: In ``(0, 1)``.
        reduction, name, dtype: See `Loss`.

    Examples:
        >>> import numpy as np
        >>> loss = CategoricalGeneralizedCrossEntropy(q=0.5)
        >>> round(float(loss(np.array([0, 1]), np.array([[1.0, 0.0], [0.75, 0.25]]))), 4)
        0.5
    """

    def __init__(
        self,
        q: float = 0.5,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_generalized_cross_entropy",
        dtype: Any = None,
    ) -> None:
        check_number(type(self).__name__, "q", q, low=0.0, high=1.0, low_open=True, high_open=True)
        super().__init__(
            categorical_generalized_cross_entropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            q=q,
        )


class Circle(LossFunctionWrapper):
    """The Circle loss (see `circle`); as in Keras, the mean reductions average over the
    samples whose loss is positive only.

    Args:
        gamma: Scale factor.
        margin: Relaxation margin.
        remove_diagonal: Whether a sample is not its own positive.
        reduction, name, dtype: See `Loss`.

    Examples:
        >>> import numpy as np
        >>> emb = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], np.float32)
        >>> round(float(Circle()([0, 0, 1], emb)), 4)
        19.2
    """

    def __init__(
        self,
        gamma: float = 80.0,
        margin: float = 0.4,
        remove_diagonal: bool = True,
        reduction: str | None = "sum_over_batch_size",
        name: str = "circle",
        dtype: Any = None,
    ) -> None:
        owner = type(self).__name__
        check_number(owner, "gamma", gamma, low=0.0)
        check_number(owner, "margin", margin)
        check_bool(owner, "remove_diagonal", remove_diagonal)
        super().__init__(
            circle,
            reduction=reduction,
            name=name,
            dtype=dtype,
            gamma=gamma,
            margin=margin,
            remove_diagonal=remove_diagonal,
        )

    def call(self, y_true: Any, y_pred: Any) -> Any:
        # Labels (batch,) and embeddings (batch, dim): no rank matching.
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _mask(self, y_true: Any, y_pred: Any) -> Any:
        # Keras masks the samples without a positive loss out of the reduction.
        return self.fn(y_true, y_pred, **self._fn_kwargs) > 0


for _fn, _cls in (
    (binary_focal_crossentropy, BinaryFocalCrossentropy),
    (categorical_focal_crossentropy, CategoricalFocalCrossentropy),
    (dice, Dice),
    (tversky, Tversky),
    (ctc, CTC),
    (circle, Circle),
    (categorical_generalized_cross_entropy, CategoricalGeneralizedCrossEntropy),
):
    register_builtin(_fn, _cls)
