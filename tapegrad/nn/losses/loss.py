"""The `Loss` base and the rules every loss shares (Keras' ``keras/src/losses/loss.py``):
rank matching of targets and predictions, dtypes, sample weights, masks and reductions.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.layers.layer_masks import get_keras_mask
from tapegrad.nn.validation import check_name

# The default of tapegrad.backend.epsilon(), which the losses read when they run.
EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def standardize_reduction(reduction: str | None) -> str | None:
    """Check a ``reduction`` argument against `REDUCTIONS`."""
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"Invalid value for argument `reduction`: expected one of "
            f"{REDUCTIONS}, got reduction={reduction!r}"
        )
    return reduction


def as_float(x: Any, dtype: Any = None) -> Any:
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


def prediction_pair(
    name: str, y_true: Any, y_pred: Any, same_shape: bool = False
) -> tuple[Any, Any]:
    """``y_true`` and ``y_pred`` as float Tensors of one dtype and matching ranks, checked."""
    y_pred = as_float(y_pred)
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
        raise ValueError(
            f"{name}: y_true and y_pred need {need}, got "
            f"y_true.shape={shapes[0]} and y_pred.shape={shapes[1]}"
        )
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


def reduce_values(
    values: Any, sample_weight: Any = None, reduction: str | None = "sum_over_batch_size"
) -> Any:
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


def reduce_weighted_values(
    values: Any,
    sample_weight: Any = None,
    mask: Any = None,
    reduction: str | None = "sum_over_batch_size",
    dtype: Any = None,
    name: str = "loss",
) -> Any:
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
    values = as_float(values, dtype)
    if sample_weight is not None:
        sample_weight = tnp.asarray(sample_weight, dtype=values.dtype)
    sample_weight = apply_mask(sample_weight, mask, values.dtype, reduction)
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(values, sample_weight)
        try:
            np.broadcast_shapes(values.shape, sample_weight.shape)
        except ValueError:
            raise ValueError(
                f"{name}: sample_weight of shape {tuple(sample_weight.shape)} "
                f"does not broadcast to the per-sample losses of shape "
                f"{tuple(values.shape)}"
            ) from None
        values = values * sample_weight
    return reduce_values(values, sample_weight, reduction)


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

    def __init__(
        self,
        name: str | None = None,
        reduction: str | None = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
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
        # Keras 3: the mask a layer attached to the predictions (Embedding(mask_zero=True)
        # through return_sequences layers) leaves masked steps out of the loss.
        in_mask = get_keras_mask(y_pred)
        y_pred = as_float(y_pred, self.dtype)
        values = self.call(y_true, y_pred)
        mask = self._mask(y_true, y_pred)
        if in_mask is not None:
            mask = in_mask if mask is None else tnp.logical_and(in_mask, mask)
        return reduce_weighted_values(
            values, sample_weight, mask, self.reduction, self.dtype, self.name
        )

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
