"""Intersection-over-union metrics (Keras' ``keras/src/metrics/iou_metrics.py``): a
confusion matrix accumulated over batches, and the IoU of chosen classes from it.

The confusion matrix is kept in ``dtype`` (float32 by default, where Keras defaults to an
integer matrix), so fractional sample weights count as given.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import backend
from tapegrad.nn.metrics.metric import Metric
from tapegrad.nn.validation import check_bool, check_int, check_number, check_positive_int

__all__ = ["BinaryIoU", "IoU", "MeanIoU", "OneHotIoU", "OneHotMeanIoU"]


class _IoUBase(Metric):
    """Accumulates the ``(num_classes, num_classes)`` confusion matrix (rows: true class)."""

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        check_positive_int(owner, "num_classes", num_classes)
        check_int(owner, "ignore_class", ignore_class, allow_none=True)
        check_bool(owner, "sparse_y_true", sparse_y_true)
        check_bool(owner, "sparse_y_pred", sparse_y_pred)
        check_int(owner, "axis", axis)
        self.num_classes = num_classes
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable((num_classes, num_classes), name="total_confusion_matrix")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch to the confusion matrix; labels outside ``[0, num_classes)`` and
        ``ignore_class`` are skipped."""
        if not self.sparse_y_true:
            y_true = tnp.argmax(tnp.asarray(y_true), axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = tnp.argmax(tnp.asarray(y_pred), axis=self.axis)
        y_true = tnp.reshape(tnp.asarray(y_true).astype(np.int64), (-1,))
        y_pred = tnp.reshape(tnp.asarray(y_pred).astype(np.int64), (-1,))
        if tuple(y_true.shape) != tuple(y_pred.shape):
            raise ValueError(
                f"{type(self).__name__}: y_true and y_pred need the same number of labels, "
                f"got {y_true.shape[0]} and {y_pred.shape[0]}"
            )
        weight = tnp.asarray(1.0 if sample_weight is None else sample_weight, dtype=self.dtype)
        weight = tnp.broadcast_to(
            tnp.reshape(weight, (-1,)) if weight.ndim else weight, y_true.shape
        )
        valid = (y_true >= 0) & (y_true < self.num_classes) & (y_pred >= 0)
        valid = valid & (y_pred < self.num_classes)
        if self.ignore_class is not None:
            valid = valid & (y_true != self.ignore_class)
        weight = tnp.where(valid, weight, 0.0)
        classes = tnp.arange(self.num_classes)
        true_one_hot = (y_true[:, None] == classes[None, :]).astype(self.dtype)
        pred_one_hot = (y_pred[:, None] == classes[None, :]).astype(self.dtype)
        current = tnp.matmul(tnp.transpose(true_one_hot), pred_one_hot * weight[:, None])
        self.total_cm.assign(self.total_cm + current)


class IoU(_IoUBase):
    """Mean IoU ``TP / (TP + FP + FN)`` over ``target_class_ids`` (classes never seen, with
    a zero denominator, are left out of the mean).

    Args:
        num_classes: Number of classes.
        target_class_ids: The classes whose IoU is averaged.
        name: Name of the metric.
        dtype: dtype of the confusion matrix (float32 by default).
        ignore_class: A true label to skip (e.g. a void class).
        sparse_y_true: Whether ``y_true`` holds class ids (else one-hot / scores).
        sparse_y_pred: Whether ``y_pred`` holds class ids (else scores, argmax taken).
        axis: The class axis of non-sparse inputs.

    Examples:
        >>> m = IoU(num_classes=2, target_class_ids=[0])
        >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
        >>> round(float(m.result()), 4)   # class 0: 1 / (1 + 1 + 1)
        0.3333
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids: Sequence[int],
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ) -> None:
        super().__init__(
            num_classes=num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )
        ids = list(target_class_ids)
        if not ids or any(
            isinstance(i, bool) or not isinstance(i, int | np.integer) or not 0 <= i < num_classes
            for i in ids
        ):
            raise ValueError(
                f"{type(self).__name__}: `target_class_ids` must be class ids in "
                f"[0, {num_classes}), got {target_class_ids!r}"
            )
        self.target_class_ids = [int(i) for i in ids]

    def result(self) -> Any:
        """The mean IoU of the target classes."""
        cm = self.total_cm.value
        true_positives = tnp.diagonal(cm)
        denominator = tnp.sum(cm, axis=0) + tnp.sum(cm, axis=1) - true_positives
        ids = np.asarray(self.target_class_ids)
        true_positives = true_positives[ids]
        denominator = denominator[ids]
        valid = denominator > 1e-9
        iou = tnp.where(valid, true_positives / (denominator + backend.epsilon()), 0.0)
        count = tnp.sum(valid.astype(self.dtype))
        return tnp.sum(iou) / (count + backend.epsilon())

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class BinaryIoU(IoU):
    """IoU of a binary task: predictions ``>= threshold`` are class 1.

    Args:
        target_class_ids: Which of the classes 0 and 1 are averaged.
        threshold: The decision threshold on ``y_pred``.
        name: Name of the metric.
        dtype: dtype of the confusion matrix.

    Examples:
        >>> m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
        >>> m.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7])
        >>> round(float(m.result()), 4)
        0.3333
    """

    def __init__(
        self,
        target_class_ids: Sequence[int] = (0, 1),
        threshold: float = 0.5,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_classes=2, target_class_ids=target_class_ids, name=name, dtype=dtype)
        self.threshold = check_number(type(self).__name__, "threshold", threshold)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Threshold ``y_pred``, then add the batch."""
        y_pred = tnp.asarray(y_pred, dtype="float32") >= self.threshold
        super().update_state(y_true, y_pred, sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
            "name": self.name,
            "dtype": self.dtype,
        }


class MeanIoU(IoU):
    """IoU averaged over all ``num_classes`` classes (semantic segmentation's mIoU).

    Args:
        num_classes: Number of classes.
        name, dtype, ignore_class, sparse_y_true, sparse_y_pred, axis: As in `IoU`.

    Examples:
        >>> m = MeanIoU(num_classes=2)
        >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
        >>> round(float(m.result()), 4)
        0.3333
    """

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_true: bool = True,
        sparse_y_pred: bool = True,
        axis: int = -1,
    ) -> None:
        check_positive_int(type(self).__name__, "num_classes", num_classes)
        super().__init__(
            num_classes=num_classes,
            target_class_ids=list(range(num_classes)),
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class OneHotIoU(IoU):
    """`IoU` for one-hot ``y_true`` and score ``y_pred`` (argmax over ``axis``).

    Examples:
        >>> m = OneHotIoU(num_classes=3, target_class_ids=[0, 2])
        >>> m.update_state([[0, 0, 1], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7]])
        >>> round(float(m.result()), 4)   # class 0: 0 / 1, class 2: 1 / 2
        0.25
    """

    def __init__(
        self,
        num_classes: int,
        target_class_ids: Sequence[int],
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ) -> None:
        super().__init__(
            num_classes=num_classes,
            target_class_ids=target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """`MeanIoU` for one-hot ``y_true`` and score ``y_pred`` (argmax over ``axis``).

    Examples:
        >>> m = OneHotMeanIoU(num_classes=3)
        >>> m.update_state([[0, 0, 1], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7]])
        >>> round(float(m.result()), 4)
        0.25
    """

    def __init__(
        self,
        num_classes: int,
        name: str | None = None,
        dtype: Any = None,
        ignore_class: int | None = None,
        sparse_y_pred: bool = False,
        axis: int = -1,
    ) -> None:
        super().__init__(
            num_classes=num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["sparse_y_true"]
        return config
