"""Losses (Keras 3 ``keras.losses``): per-sample functions and reducing `Loss` objects.

The snake_case functions (`mean_squared_error`, `sparse_categorical_crossentropy`, ...)
return one value per sample (the last axis is reduced). A `Loss` object calls one of
them, weights the values by ``sample_weight`` and reduces them (``reduction``, default
``"sum_over_batch_size"``: the mean over all values). All are differentiable Tensors
built from `tapegrad.ops`.

Dtypes: ``dtype=None`` (the default) computes in ``y_pred``'s float dtype, so float64
inputs give float64 losses (Keras would cast to ``floatx()``); pass ``dtype="float32"``
to force one.

Examples:
    >>> import numpy as np
    >>> from tapegrad.nn import losses
    >>> y_true, y_pred = np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]])
    >>> losses.mean_squared_error(y_true, y_pred).numpy()
    array([0.5])
    >>> float(losses.get("mse")(y_true, y_pred, sample_weight=[2.0]))
    1.0
"""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.graph.function import is_traced
from tapegrad.nn.validation import check_function_arguments, check_name

EPSILON = 1e-7  # Keras' backend.epsilon(): clips probabilities away from 0 and 1.
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


# -- shapes, dtypes and reduction (Keras' losses/loss.py) ---------------------------------

def standardize_reduction(reduction: str | None) -> str | None:
    """Check a ``reduction`` argument against `REDUCTIONS`."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"Invalid value for argument `reduction`: expected one of "
                         f"{REDUCTIONS}, got reduction={reduction!r}")
    return reduction


def _as_float(x: Any, dtype: Any = None) -> Any:
    if isinstance(x, tg.Tensor):  # (every step: the predictions, then the losses)
        kind = x.dtype
        if (kind.kind == "f" and dtype is None) or kind == dtype:
            return x
    x = tnp.asarray(x)
    if dtype is not None:
        return tnp.asarray(x, dtype=dtype)
    return x if x.dtype.kind == "f" else x.astype("float32")


def squeeze_or_expand_to_same_rank(x1: Any, x2: Any, expand_rank_1: bool = True) -> Any:
    """Match ranks that differ by one through a trailing size-1 axis (Keras' rule).

    ``(N,)`` against ``(N, 1)`` becomes ``(N, 1)`` and ``(N, 1)``; ``(N, T)`` against
    ``(N, T, 1)`` becomes ``(N, T)`` and ``(N, T)``. Anything else is returned as is.

    Examples:
        >>> import tapegrad as tg
        >>> a, b = squeeze_or_expand_to_same_rank(tg.tensor([1.0, 2.0]), tg.tensor([[1.0], [2.0]]))
        >>> a.shape, b.shape
        ((2, 1), (2, 1))
    """
    rank1, rank2 = len(x1.shape), len(x2.shape)
    if rank1 == rank2 + 1 and x1.shape[-1] == 1:
        if rank2 == 1 and expand_rank_1:
            x2 = tnp.expand_dims(x2, -1)
        else:
            x1 = tnp.squeeze(x1, axis=-1)
    elif rank2 == rank1 + 1 and x2.shape[-1] == 1:
        if rank1 == 1 and expand_rank_1:
            x1 = tnp.expand_dims(x1, -1)
        else:
            x2 = tnp.squeeze(x2, axis=-1)
    return x1, x2


def _pair(name: str, y_true: Any, y_pred: Any, same_shape: bool = False) -> tuple[Any, Any]:
    """``y_true`` and ``y_pred`` as float Tensors of one dtype and matching ranks, checked."""
    y_pred = _as_float(y_pred)
    y_true = tnp.asarray(y_true)
    shapes = (tuple(y_true.shape), tuple(y_pred.shape))
    if y_true.dtype != y_pred.dtype:
        y_true = y_true.astype(y_pred.dtype)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if same_shape:
        fits = y_true.shape == y_pred.shape
    else:
        try:
            np.broadcast_shapes(y_true.shape, y_pred.shape)
            fits = True
        except ValueError:
            fits = False
    if not fits:
        need = "equal shapes" if same_shape else "shapes that broadcast"
        raise ValueError(f"{name}: y_true and y_pred need {need}, got "
                         f"y_true.shape={shapes[0]} and y_pred.shape={shapes[1]}")
    return y_true, y_pred


def _divide_no_nan(a: Any, b: Any) -> Any:
    zero = b == 0
    return tnp.where(zero, 0.0, a / tnp.where(zero, 1.0, b))


def apply_mask(sample_weight: Any, mask: Any, dtype: Any, reduction: str | None) -> Any:
    """Merge a validity mask into the sample weights (Keras' rule).

    For mean reductions, valid entries get weight ``total / valid`` so that the mean
    runs over the valid entries only.
    """
    if mask is None:
        return sample_weight
    mask = tnp.asarray(mask).astype(dtype)
    if reduction in ("sum_over_batch_size", "mean"):
        mask = mask * _divide_no_nan(float(mask.size), tnp.sum(mask))
    if sample_weight is None:
        return mask
    mask, sample_weight = squeeze_or_expand_to_same_rank(mask, sample_weight)
    return sample_weight * mask


def reduce_values(values: Any, sample_weight: Any = None,
                  reduction: str | None = "sum_over_batch_size") -> Any:
    """Reduce (already weighted) loss values: sum, mean, or none.

    Examples:
        >>> float(reduce_values(tnp.asarray([1.0, 2.0, 3.0]), reduction="sum"))
        6.0
    """
    if reduction in (None, "none") or values.shape in ((), (0,)):
        return values
    total = tnp.sum(values)
    if reduction == "sum":
        return total
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return _divide_no_nan(total, tnp.sum(sample_weight))
    return total / values.size if values.size else total * 0.0


def reduce_weighted_values(values: Any, sample_weight: Any = None, mask: Any = None,
                           reduction: str | None = "sum_over_batch_size",
                           dtype: Any = None, name: str = "loss") -> Any:
    """Weight per-sample losses by ``sample_weight`` (and ``mask``), then reduce them.

    Args:
        values: Per-sample (or per-element) loss values.
        sample_weight: Weights broadcastable to ``values`` (Keras' rank matching applies:
            ``(N,)`` weights fit ``(N, 1)`` values and vice versa).
        mask: Optional boolean validity mask of ``values``' shape.
        reduction: One of `REDUCTIONS`.
        dtype: Computation dtype (default: ``values``' float dtype).
        name: Used in error messages.

    Returns:
        A scalar Tensor, or the weighted values for ``reduction="none"``/``None``.

    Examples:
        >>> float(reduce_weighted_values([1.0, 3.0], sample_weight=[1.0, 0.0]))
        0.5
    """
    reduction = standardize_reduction(reduction)
    values = _as_float(values, dtype)
    if sample_weight is not None:
        sample_weight = tnp.asarray(sample_weight, dtype=values.dtype)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        try:
            np.broadcast_shapes(values.shape, sample_weight.shape)
        except ValueError:
            raise ValueError(f"{name}: sample_weight of shape {tuple(sample_weight.shape)} "
                             f"does not broadcast to the per-sample losses of shape "
                             f"{tuple(values.shape)}") from None
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


# -- per-sample loss functions -----------------------------------------------------------

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
    y_true, y_pred = _pair("mean_squared_error", y_true, y_pred)
    return tnp.mean(tnp.square(y_true - y_pred), axis=-1)


def mean_absolute_error(y_true: Any, y_pred: Any) -> Any:
    """``mean(|y_true - y_pred|, axis=-1)``.

    Examples:
        >>> mean_absolute_error([[0.0, 2.0]], [[1.0, 1.0]]).numpy()
        array([1.], dtype=float32)
    """
    y_true, y_pred = _pair("mean_absolute_error", y_true, y_pred)
    return tnp.mean(tnp.abs(y_true - y_pred), axis=-1)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> Any:
    """``100 * mean(|(y_true - y_pred) / max(|y_true|, eps)|, axis=-1)``.

    Examples:
        >>> mean_absolute_percentage_error([[2.0, 4.0]], [[1.0, 4.0]]).numpy()
        array([25.], dtype=float32)
    """
    y_true, y_pred = _pair("mean_absolute_percentage_error", y_true, y_pred)
    diff = tnp.abs((y_true - y_pred) / tnp.maximum(tnp.abs(y_true), EPSILON))
    return 100.0 * tnp.mean(diff, axis=-1)


def mean_squared_logarithmic_error(y_true: Any, y_pred: Any) -> Any:
    """``mean((log(1 + max(y_pred, eps)) - log(1 + max(y_true, eps))) ** 2, axis=-1)``.

    Examples:
        >>> mean_squared_logarithmic_error([[0.0]], [[np.e - 1]]).numpy().round(4)
        array([1.], dtype=float32)
    """
    y_true, y_pred = _pair("mean_squared_logarithmic_error", y_true, y_pred)
    first = tnp.log1p(tnp.maximum(y_pred, EPSILON))
    second = tnp.log1p(tnp.maximum(y_true, EPSILON))
    return tnp.mean(tnp.square(first - second), axis=-1)


def _l2_normalize(x: Any, axis: int) -> Any:
    norm = tnp.sqrt(tnp.sum(tnp.square(x), axis=axis, keepdims=True))
    return x / tnp.maximum(norm, EPSILON)


def cosine_similarity(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """Negative cosine similarity along ``axis``: -1 for aligned vectors, 1 for opposite.

    Examples:
        >>> cosine_similarity([[1.0, 0.0]], [[2.0, 0.0]]).numpy()
        array([-1.], dtype=float32)
    """
    y_true, y_pred = _pair("cosine_similarity", y_true, y_pred)
    return -tnp.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def huber(y_true: Any, y_pred: Any, delta: float = 1.0) -> Any:
    """Huber loss: quadratic for errors up to ``delta``, linear beyond, mean over the last axis.

    Examples:
        >>> huber([[0.0, 0.0]], [[0.5, 3.0]]).numpy()
        array([1.3125], dtype=float32)
    """
    y_true, y_pred = _pair("huber", y_true, y_pred)
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
    y_true, y_pred = _pair("log_cosh", y_true, y_pred)
    x = y_pred - y_true
    # log(cosh(x)) = x + softplus(-2x) - log(2): no overflow of cosh.
    return tnp.mean(x + ops.softplus(-2.0 * x) - float(np.log(2.0)), axis=-1)


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
    y_true, y_pred = _pair("hinge", y_true, y_pred)
    return tnp.mean(tnp.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0), axis=-1)


def squared_hinge(y_true: Any, y_pred: Any) -> Any:
    """``mean(max(1 - y_true * y_pred, 0) ** 2, axis=-1)``; 0/1 labels become -1/1.

    Examples:
        >>> squared_hinge([[1.0]], [[0.5]]).numpy()
        array([0.25], dtype=float32)
    """
    y_true, y_pred = _pair("squared_hinge", y_true, y_pred)
    margin = tnp.maximum(1.0 - _hinge_labels(y_true) * y_pred, 0.0)
    return tnp.mean(tnp.square(margin), axis=-1)


def categorical_hinge(y_true: Any, y_pred: Any) -> Any:
    """``max(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` (one-hot targets).

    Examples:
        >>> categorical_hinge([[0.0, 1.0]], [[0.3, 0.8]]).numpy()
        array([0.5], dtype=float32)
    """
    y_true, y_pred = _pair("categorical_hinge", y_true, y_pred, same_shape=True)
    positive = tnp.sum(y_true * y_pred, axis=-1)
    negative = tnp.max((1.0 - y_true) * y_pred, axis=-1)
    return tnp.maximum(negative - positive + 1.0, 0.0)


def kl_divergence(y_true: Any, y_pred: Any) -> Any:
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred), axis=-1)``.

    Both arguments are clipped to ``[eps, 1]`` first.

    Examples:
        >>> kl_divergence([[0.5, 0.5]], [[0.5, 0.5]]).numpy()
        array([0.], dtype=float32)
    """
    y_true, y_pred = _pair("kl_divergence", y_true, y_pred)
    y_true = tnp.clip(y_true, EPSILON, 1.0)
    y_pred = tnp.clip(y_pred, EPSILON, 1.0)
    return tnp.sum(y_true * tnp.log(y_true / y_pred), axis=-1)


def poisson(y_true: Any, y_pred: Any) -> Any:
    """``mean(y_pred - y_true * log(y_pred + eps), axis=-1)``.

    Examples:
        >>> poisson([[1.0]], [[1.0]]).numpy().round(6)
        array([1.], dtype=float32)
    """
    y_true, y_pred = _pair("poisson", y_true, y_pred)
    return tnp.mean(y_pred - y_true * tnp.log(y_pred + EPSILON), axis=-1)


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> Any:
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
    y_true, y_pred = _pair("binary_crossentropy", y_true, y_pred, same_shape=True)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    return tnp.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> Any:
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
    y_true, y_pred = _pair("categorical_crossentropy", y_true, y_pred, same_shape=True)
    if y_pred.shape and y_pred.shape[-1] == 1:
        warnings.warn(f"categorical_crossentropy: expected y_pred of shape (batch, "
                      f"num_classes) with num_classes > 1, got y_pred.shape={y_pred.shape}; "
                      "use binary_crossentropy for a single output unit", stacklevel=2)
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
        raise ValueError(f"{name}: y_true of shape {given} does not fit y_pred of shape "
                         f"{tuple(pred_shape)}: integer labels need shape "
                         f"{tuple(pred_shape[:-1])} (or {tuple(pred_shape[:-1]) + (1,)})")
    if np.dtype(labels.dtype).kind not in "biuf":
        raise TypeError(f"{name}: labels must be integer class indices, got dtype "
                        f"{labels.dtype}")
    return labels


def _sparse_labels(name: str, y_true: Any, pred_shape: tuple[int, ...],
                   ignore_class: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
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
            raise ValueError(f"{name}: labels must be integer class indices in "
                             f"[0, {num_classes}) for {num_classes} classes; got {labels.dtype} "
                             f"labels with non-integral values, e.g. {fractional.flat[0]!r} "
                             f"(labels range over [{checked.min()}, {checked.max()}])")
    if checked.size and (checked.min() < 0 or checked.max() >= num_classes):
        raise ValueError(f"{name}: labels must be in [0, {num_classes}) for {num_classes} "
                         f"classes, got labels in [{checked.min()}, {checked.max()}]")
    ints = np.where(valid, labels, 0) if valid is not None else labels
    return ints.astype(np.int64), valid


def _traced_sparse_labels(name: str, y_true: Any, pred_shape: tuple[int, ...],
                          ignore_class: int | None) -> tuple[Any, Any]:
    """`_sparse_labels` inside a traced function: shapes and dtypes are checked now; the
    range check happens when the step runs (in the cross-entropy primitive)."""
    labels = _checked_label_shape(name, y_true, pred_shape)
    valid = None if ignore_class is None else labels != ignore_class
    if valid is not None:
        labels = tnp.where(valid, labels, 0)
    # Values are checked when the step runs, by the cross-entropy's `class_indices` op.
    return labels, valid


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> Any:
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
    y_pred = _as_float(y_pred)
    if axis not in (-1, y_pred.ndim - 1):
        y_pred = tnp.moveaxis(y_pred, axis, -1)
    labels, valid = _sparse_labels("sparse_categorical_crossentropy", y_true,
                                   tuple(y_pred.shape), ignore_class)
    losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits=from_logits)
    return losses if valid is None else tnp.where(valid, losses, 0.0)


mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kl_divergence
bce = BCE = binary_crossentropy


# -- Loss objects ------------------------------------------------------------------------

def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class Loss:
    """Base class: ``call(y_true, y_pred)`` gives per-sample values; ``__call__`` reduces.

    Args:
        name: Name of the loss (default: the class name in snake_case).
        reduction: ``"sum_over_batch_size"`` (mean over all values, the default),
            ``"sum"``, ``"mean"`` (same as the default), ``"mean_with_sample_weight"``
            (sum divided by the sum of the weights), ``"none"`` or ``None``.
        dtype: Computation dtype (default: ``y_pred``'s float dtype).

    Examples:
        >>> class Absolute(Loss):
        ...     def call(self, y_true, y_pred):
        ...         return tnp.abs(tnp.asarray(y_pred) - y_true)
        >>> float(Absolute(reduction="sum")([0.0, 0.0], [1.0, -2.0]))
        3.0
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: Any = None) -> None:
        self.name = check_name(type(self).__name__, name) or _snake_case(type(self).__name__)
        self.reduction = standardize_reduction(reduction)
        self.dtype = None if dtype is None else np.dtype(dtype).name

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        """The weighted, reduced loss (a Tensor; a scalar unless ``reduction="none"``).

        Args:
            y_true: Targets.
            y_pred: Predictions.
            sample_weight: Optional per-sample weights (broadcastable to the per-sample
                losses).
        """
        y_pred = _as_float(y_pred, self.dtype)
        values = self.call(y_true, y_pred)
        return reduce_weighted_values(values, sample_weight, self._mask(y_true, y_pred),
                                      self.reduction, self.dtype, self.name)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        """Per-sample loss values (override)."""
        raise NotImplementedError(f"{type(self).__name__}.call is not implemented")

    def _mask(self, y_true: Any, y_pred: Any) -> Any:
        """Validity mask of the per-sample values (``None``: all valid)."""
        return None

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-friendly)."""
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """Rebuild a loss from `get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class LossFunctionWrapper(Loss):
    """A `Loss` around a per-sample function ``fn(y_true, y_pred, **kwargs)``.

    Args:
        fn: The per-sample loss function.
        reduction: See `Loss`.
        name: Name (default: ``fn``'s name).
        dtype: See `Loss`.
        **kwargs: Keyword arguments passed to ``fn``.

    Examples:
        >>> loss = LossFunctionWrapper(huber, delta=0.5)
        >>> loss.name, float(loss([[0.0]], [[2.0]]))
        ('huber', 0.875)
    """

    def __init__(self, fn: Callable[..., Any], reduction: str | None = "sum_over_batch_size",
                 name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: `fn` must be callable, got {fn!r}")
        check_name(type(self).__name__, name)
        super().__init__(name=name or getattr(fn, "__name__", None), reduction=reduction,
                         dtype=dtype)
        if type(self).__module__ == __name__:  # a built-in loss: its arguments are known
            check_function_arguments(type(self).__name__, kwargs)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_true = tnp.asarray(y_true)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), **self._fn_kwargs}
        if type(self) is LossFunctionWrapper:
            config["fn"] = serialize(self.fn)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        config = dict(config)
        if "fn" in config:
            config["fn"] = deserialize(config["fn"])
        return cls(**config)


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors (see `mean_squared_error`).

    Examples:
        >>> float(MeanSquaredError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_squared_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors (see `mean_absolute_error`).

    Examples:
        >>> float(MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_absolute_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error (see `mean_absolute_percentage_error`).

    Examples:
        >>> float(MeanAbsolutePercentageError()([[2.0]], [[1.0]]))
        50.0
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_absolute_percentage_error", dtype: Any = None) -> None:
        super().__init__(mean_absolute_percentage_error, reduction=reduction, name=name,
                         dtype=dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared logarithmic error (see `mean_squared_logarithmic_error`).

    Examples:
        >>> float(MeanSquaredLogarithmicError()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "mean_squared_logarithmic_error", dtype: Any = None) -> None:
        super().__init__(mean_squared_logarithmic_error, reduction=reduction, name=name,
                         dtype=dtype)


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity (see `cosine_similarity`).

    Examples:
        >>> float(CosineSimilarity()([[0.0, 1.0]], [[0.0, 3.0]]))
        -1.0
    """

    def __init__(self, axis: int = -1, reduction: str | None = "sum_over_batch_size",
                 name: str = "cosine_similarity", dtype: Any = None) -> None:
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype,
                         axis=axis)


class Huber(LossFunctionWrapper):
    """Huber loss (see `huber`).

    Args:
        delta: Where the loss turns from quadratic to linear.

    Examples:
        >>> float(Huber(delta=1.0)([[0.0]], [[3.0]]))
        2.5
    """

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size",
                 name: str = "huber_loss", dtype: Any = None) -> None:
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the error (see `log_cosh`).

    Examples:
        >>> float(LogCosh()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "log_cosh",
                 dtype: Any = None) -> None:
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class Hinge(LossFunctionWrapper):
    """Hinge loss for -1/1 (or 0/1) labels (see `hinge`).

    Examples:
        >>> float(Hinge()([[1.0]], [[0.25]]))
        0.75
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "hinge",
                 dtype: Any = None) -> None:
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss (see `squared_hinge`).

    Examples:
        >>> float(SquaredHinge()([[1.0]], [[0.5]]))
        0.25
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "squared_hinge", dtype: Any = None) -> None:
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss (see `categorical_hinge`).

    Examples:
        >>> round(float(CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.8]])), 4)
        0.5
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_hinge", dtype: Any = None) -> None:
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence (see `kl_divergence`).

    Examples:
        >>> round(float(KLDivergence()([[1.0, 0.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size",
                 name: str = "kl_divergence", dtype: Any = None) -> None:
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss (see `poisson`).

    Examples:
        >>> round(float(Poisson()([[0.0]], [[2.0]])), 4)
        2.0
    """

    def __init__(self, reduction: str | None = "sum_over_batch_size", name: str = "poisson",
                 dtype: Any = None) -> None:
        super().__init__(poisson, reduction=reduction, name=name, dtype=dtype)


class BinaryCrossentropy(LossFunctionWrapper):
    """Binary cross-entropy (see `binary_crossentropy`).

    Args:
        from_logits: Whether predictions are logits (stable) rather than probabilities.
        label_smoothing: Targets move towards 0.5 by this fraction.
        axis: Axis averaged over.

    Examples:
        >>> round(float(BinaryCrossentropy(from_logits=True)([[1.0]], [[0.0]])), 4)
        0.6931
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "binary_crossentropy", dtype: Any = None) -> None:
        super().__init__(binary_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class CategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy of one-hot targets (see `categorical_crossentropy`).

    Args:
        from_logits: Whether predictions are logits rather than probabilities.
        label_smoothing: Targets move towards uniform by this fraction.
        axis: The class axis.

    Examples:
        >>> round(float(CategoricalCrossentropy()([[0.0, 1.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "categorical_crossentropy", dtype: Any = None) -> None:
        super().__init__(categorical_crossentropy, reduction=reduction, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class SparseCategoricalCrossentropy(LossFunctionWrapper):
    """Cross-entropy of integer labels (see `sparse_categorical_crossentropy`).

    Args:
        from_logits: Whether predictions are logits rather than probabilities.
        ignore_class: A label value to skip: it contributes 0 and mean reductions average
            over the other labels only (padding tokens, unlabeled pixels).

    Examples:
        >>> loss = SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)
        >>> round(float(loss([1, -1], [[0.0, 0.0], [5.0, 0.0]])), 4)
        0.6931
    """

    def __init__(self, from_logits: bool = False, ignore_class: int | None = None,
                 reduction: str | None = "sum_over_batch_size",
                 name: str = "sparse_categorical_crossentropy", dtype: Any = None) -> None:
        super().__init__(sparse_categorical_crossentropy, reduction=reduction, name=name,
                         dtype=dtype, from_logits=from_logits, ignore_class=ignore_class)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        # Integer labels skip the wrapper's rank matching: (N, 1) labels are handled below.
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def _mask(self, y_true: Any, y_pred: Any) -> Any:
        ignore_class = self._fn_kwargs["ignore_class"]
        if ignore_class is None:
            return None
        labels = np.asarray(y_true)
        if labels.ndim == y_pred.ndim and labels.ndim and labels.shape[-1] == 1:
            labels = labels[..., 0]
        return labels != ignore_class


# -- lookup and serialization --------------------------------------------------------------

_FUNCTIONS: dict[Callable[..., Any], type[Loss]] = {
    mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    cosine_similarity: CosineSimilarity, huber: Huber, log_cosh: LogCosh, hinge: Hinge,
    squared_hinge: SquaredHinge, categorical_hinge: CategoricalHinge,
    kl_divergence: KLDivergence, poisson: Poisson, binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}
_BY_NAME: dict[str, Any] = {fn.__name__: fn for fn in _FUNCTIONS}
_BY_NAME.update({cls.__name__: cls for cls in _FUNCTIONS.values()})
_BY_NAME.update({"Loss": Loss, "LossFunctionWrapper": LossFunctionWrapper})
_BY_NAME.update({
    "mse": mse, "MSE": mse, "mae": mae, "MAE": mae, "mape": mape, "MAPE": mape,
    "msle": msle, "MSLE": msle, "kld": kld, "KLD": kld, "bce": bce, "BCE": bce,
    "huber_loss": huber,
})


def _lookup(name: str) -> Any:
    if name not in _BY_NAME or name in ("Loss", "LossFunctionWrapper"):
        known = ", ".join(sorted(n for n in _BY_NAME if n.islower()))
        raise ValueError(f"Could not interpret loss identifier {name!r}; known names: {known}")
    return _BY_NAME[name]


def serialize(loss: Any) -> Any:
    """A JSON-friendly description of a `Loss` or a loss function (``None`` stays).

    Examples:
        >>> serialize(Huber(delta=2.0))["config"]["delta"]
        2.0
        >>> serialize(mse)["config"]
        'mean_squared_error'
    """
    if loss is None:
        return None
    if isinstance(loss, Loss):
        return {"module": __name__, "class_name": type(loss).__name__,
                "config": loss.get_config(), "registered_name": None}
    name = getattr(loss, "__name__", repr(loss))
    module = __name__ if _BY_NAME.get(name) is loss else getattr(loss, "__module__", None)
    return {"module": module, "class_name": "function", "config": name,
            "registered_name": "function"}


def deserialize(config: Any) -> Any:
    """A `Loss` instance (or loss function) from `serialize`'s output or a name.

    Examples:
        >>> deserialize(serialize(Huber(delta=2.0)))
        Huber(name='huber_loss', reduction='sum_over_batch_size', dtype=None, delta=2.0)
        >>> deserialize("mse") is mean_squared_error
        True
    """
    if isinstance(config, str):
        found = _lookup(config)
        return found() if inspect.isclass(found) else found
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not deserialize loss {config!r}: expected a name or a dict "
                         "with 'class_name' and 'config'")
    if config["class_name"] == "function":
        name = config.get("config")
        if config.get("module") not in (None, __name__, "keras.losses") or \
                not isinstance(name, str) or name not in _BY_NAME:
            raise ValueError(f"Cannot deserialize the custom loss function {name!r}: tapegrad "
                             "never restores code; subclass Loss and implement get_config")
        return _BY_NAME[name]
    if config["class_name"] == "LossFunctionWrapper":
        return LossFunctionWrapper.from_config(dict(config.get("config") or {}))
    return _lookup(config["class_name"]).from_config(dict(config.get("config") or {}))


def get(identifier: Any) -> Loss | None:
    """A ready-to-call `Loss` for a name, function, class, instance or serialized dict.

    Unlike ``keras.losses.get``, which returns the bare function for a snake_case name,
    this returns the `Loss` that Keras' ``compile`` builds from it (weighting and
    reduction included): ``get("mse")`` is a `MeanSquaredError` named ``"mse"``, and a
    custom function is wrapped in a `LossFunctionWrapper`.

    Args:
        identifier: ``"sparse_categorical_crossentropy"``, ``"mse"``, ``"Huber"``, a loss
            function, a `Loss` class or instance, or a dict from `serialize`; ``None``
            gives ``None``.

    Returns:
        A `Loss` instance (the same instance when one is given), or ``None``.

    Examples:
        >>> loss = get("sparse_categorical_crossentropy")
        >>> type(loss).__name__, loss.name
        ('SparseCategoricalCrossentropy', 'sparse_categorical_crossentropy')
        >>> get("mse").name
        'mse'
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    name = identifier if isinstance(identifier, str) else None
    if isinstance(identifier, str | dict):
        identifier = deserialize(identifier)
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        identifier = identifier()
    if isinstance(identifier, Loss):
        return identifier
    if callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier](name=name or identifier.__name__)
    if callable(identifier):
        return LossFunctionWrapper(identifier, name=name)
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}")


__all__ = [
    "BCE", "KLD", "MAE", "MAPE", "MSE", "MSLE", "REDUCTIONS", "BinaryCrossentropy",
    "CategoricalCrossentropy", "CategoricalHinge", "CosineSimilarity", "Hinge", "Huber",
    "KLDivergence", "LogCosh", "Loss", "LossFunctionWrapper", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError",
    "Poisson", "SparseCategoricalCrossentropy", "SquaredHinge", "bce", "binary_crossentropy",
    "categorical_crossentropy", "categorical_hinge", "cosine_similarity", "deserialize",
    "get", "hinge", "huber", "kl_divergence", "kld", "log_cosh", "mae", "mape",
    "mean_absolute_error", "mean_absolute_percentage_error", "mean_squared_error",
    "mean_squared_logarithmic_error", "mse", "msle", "poisson", "reduce_weighted_values",
    "serialize", "sparse_categorical_crossentropy", "squared_hinge",
]
