"""Confusion-matrix metrics (Keras' ``keras/src/metrics/confusion_metrics.py``): precision,
recall, the four cell counts and AUC, from weighted counts at fixed thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.nn.losses import squeeze_or_expand_to_same_rank
from tapegrad.nn.metrics.metric import Metric, _divide_no_nan
from tapegrad.nn.validation import (
    check_bool,
    check_int,
    check_name,
    check_non_negative_int,
    check_positive_int,
)


def _thresholds(thresholds: Any, default: float, owner: str) -> list[float]:
    try:
        values = (
            [default]
            if thresholds is None
            else [float(t) for t in np.atleast_1d(np.asarray(thresholds, dtype=np.float64))]
        )
    except (TypeError, ValueError):
        raise ValueError(
            f"{owner}: thresholds must be numbers in [0, 1], got {thresholds!r}"
        ) from None
    if not values:
        raise ValueError(f"{owner}: thresholds must not be empty, got {thresholds!r}")
    if thresholds is not None and any(not 0.0 <= t <= 1.0 for t in values):
        raise ValueError(f"{owner}: thresholds must be in [0, 1], got {thresholds!r}")
    return values


def _filter_top_k(x: Any, k: int) -> Any:
    """Keep the ``k`` largest entries of the last axis; the others become -1e10."""
    order = tnp.argsort(-x, axis=-1, kind="stable")
    ranks = tnp.argsort(order, axis=-1, kind="stable")
    return tnp.where(ranks < k, x, -1e10)


def confusion_counts(
    y_true: Any,
    y_pred: Any,
    thresholds: np.ndarray,
    sample_weight: Any,
    dtype: str,
    top_k: int | None = None,
    class_id: int | None = None,
    owner: str = "metric",
    multi_label: bool = False,
    label_weights: Any = None,
) -> dict[str, Any]:
    """Weighted true/false positives/negatives at each threshold (``pred > threshold``):
    shape ``(thresholds,)``, or ``(thresholds, labels)`` with ``multi_label`` (the last
    axis holds the labels); ``label_weights`` weighs each label's entries."""
    y_pred = tnp.asarray(y_pred, dtype=dtype)
    y_true = tnp.asarray(y_true, dtype=dtype)
    given = (tuple(y_true.shape), tuple(y_pred.shape))
    y_pred, y_true = squeeze_or_expand_to_same_rank(y_pred, y_true)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            f"{owner}: y_true and y_pred need equal shapes, got "
            f"y_true.shape={given[0]} and y_pred.shape={given[1]}"
        )
    weights = None
    if sample_weight is not None:
        weights = tnp.expand_dims(tnp.asarray(sample_weight, dtype=dtype), -1)
        _, weights = squeeze_or_expand_to_same_rank(y_true, weights, expand_rank_1=False)
    if top_k is not None:
        y_pred = _filter_top_k(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim < 2:
            raise ValueError(
                f"{owner}: class_id needs y_pred of shape (batch, num_classes), "
                f"got {tuple(y_pred.shape)}"
            )
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if label_weights is not None:
        per_label = tnp.broadcast_to(tnp.asarray(label_weights, dtype=dtype), y_pred.shape)
        weights = per_label if weights is None else weights * per_label
    # (1, entries[, labels]) against thresholds on the first axis.
    flat = (1, -1, y_pred.shape[-1]) if multi_label else (1, -1)
    if weights is not None:
        weights = tnp.reshape(tnp.broadcast_to(weights, y_pred.shape), flat)
    cut = tnp.reshape(tnp.asarray(thresholds, dtype=dtype), (-1,) + (1,) * (len(flat) - 1))
    predicted = tnp.reshape(y_pred, flat) > cut
    actual = tnp.reshape(y_true != 0, flat)
    cells = {
        "tp": (actual, predicted),
        "fp": (~actual, predicted),
        "fn": (actual, ~predicted),
        "tn": (~actual, ~predicted),
    }
    counts = {}
    for key, (label, pred) in cells.items():
        hits = (label & pred).astype(dtype)
        counts[key] = tnp.sum(hits if weights is None else hits * weights, axis=1)
    return counts


class _ConfusionMetric(Metric):
    """Accumulates confusion-matrix cells per threshold."""

    _CELLS: tuple[str, ...] = ()
    _NAMES = {
        "tp": "true_positives",
        "fp": "false_positives",
        "tn": "true_negatives",
        "fn": "false_negatives",
    }

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        _thresholds(thresholds, 0.5, type(self).__name__)  # refuses bad ones before use
        if thresholds is not None:  # JSON-friendly Python floats in the config
            thresholds = (
                float(thresholds)
                if np.ndim(thresholds) == 0
                else [float(t) for t in np.ravel(thresholds)]
            )
        self.init_thresholds = thresholds
        # With top_k, every kept prediction counts as positive (Keras' default).
        default = 0.5 if top_k is None else -1e10
        self.thresholds = _thresholds(thresholds, default, type(self).__name__)
        self.top_k = check_positive_int(type(self).__name__, "top_k", top_k, allow_none=True)
        self.class_id = check_non_negative_int(
            type(self).__name__, "class_id", class_id, allow_none=True
        )
        self._cells = {
            cell: self.add_variable((len(self.thresholds),), name=self._NAMES[cell])
            for cell in self._CELLS
        }

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        counts = confusion_counts(
            y_true,
            y_pred,
            np.asarray(self.thresholds),
            sample_weight,
            self.dtype,
            self.top_k,
            self.class_id,
            type(self).__name__,
        )
        for cell, variable in self._cells.items():
            variable.assign_add(counts[cell])

    def _scalar_if_single(self, per_threshold: Any) -> Any:
        return per_threshold[0] if len(self.thresholds) == 1 else per_threshold

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "thresholds": self.init_thresholds,
            "top_k": self.top_k,
            "class_id": self.class_id,
        }


class Precision(_ConfusionMetric):
    """``true_positives / (true_positives + false_positives)`` at each threshold.

    Args:
        thresholds: Threshold(s) in ``[0, 1]``; a prediction above it is positive
            (default 0.5). A list gives one precision per threshold.
        top_k: Only the ``k`` largest predictions of each sample may be positive.
        class_id: Only this class (last axis index) is scored.
        name: Name.
        dtype: dtype of the state.

    Examples:
        >>> float(Precision()([0, 1, 1, 1], [1, 0, 1, 1]))
        0.6666666865348816
    """

    _CELLS = ("tp", "fp")

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str = "precision",
        dtype: Any = None,
    ) -> None:
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self) -> Any:
        tp, fp = self._cells["tp"], self._cells["fp"]
        return self._scalar_if_single(_divide_no_nan(tp, tp + fp))


class Recall(_ConfusionMetric):
    """``true_positives / (true_positives + false_negatives)`` at each threshold.

    Args:
        thresholds: Threshold(s) in ``[0, 1]`` (default 0.5).
        top_k: Only the ``k`` largest predictions of each sample may be positive.
        class_id: Only this class (last axis index) is scored.
        name: Name.
        dtype: dtype of the state.

    Examples:
        >>> float(Recall()([0, 1, 1, 1], [1, 0, 1, 1]))
        0.6666666865348816
    """

    _CELLS = ("tp", "fn")

    def __init__(
        self,
        thresholds: Any = None,
        top_k: int | None = None,
        class_id: int | None = None,
        name: str = "recall",
        dtype: Any = None,
    ) -> None:
        super().__init__(thresholds, top_k, class_id, name=name, dtype=dtype)

    def result(self) -> Any:
        tp, fn = self._cells["tp"], self._cells["fn"]
        return self._scalar_if_single(_divide_no_nan(tp, tp + fn))


class _ConfusionCount(_ConfusionMetric):
    """The weighted count of one confusion-matrix cell at each threshold."""

    def __init__(self, thresholds: Any = None, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(thresholds, name=name, dtype=dtype)

    def result(self) -> Any:
        return self._scalar_if_single(self._cells[self._CELLS[0]].value)

    def get_config(self) -> dict[str, Any]:
        return {**Metric.get_config(self), "thresholds": self.init_thresholds}


class TruePositives(_ConfusionCount):
    """The weighted number of true positives (predictions above ``thresholds``, default 0.5).

    Examples:
        >>> float(TruePositives()([0, 1, 1, 1], [1, 0, 1, 1]))
        2.0
    """

    _CELLS = ("tp",)


class FalsePositives(_ConfusionCount):
    """The weighted number of false positives (predictions above ``thresholds``, default 0.5).

    Examples:
        >>> float(FalsePositives()([0, 1, 0, 0], [0, 0, 1, 1]))
        2.0
    """

    _CELLS = ("fp",)


class TrueNegatives(_ConfusionCount):
    """The weighted number of true negatives (predictions above ``thresholds``, default 0.5).

    Examples:
        >>> float(TrueNegatives()([0, 1, 0, 0], [0, 0, 1, 0]))
        2.0
    """

    _CELLS = ("tn",)


class FalseNegatives(_ConfusionCount):
    """The weighted number of false negatives (predictions above ``thresholds``, default 0.5).

    Examples:
        >>> float(FalseNegatives()([0, 1, 1, 1], [0, 1, 0, 0]))
        2.0
    """

    _CELLS = ("fn",)


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at fixed thresholds.

    Args:
        num_thresholds: Number of thresholds (evenly spaced in ``[0, 1]``, default 200).
        curve: ``"ROC"`` or ``"PR"``.
        summation_method: ``"interpolation"`` (trapezoids; Davis-Goadrich for PR),
            ``"minoring"`` or ``"majoring"``.
        name: Name.
        dtype: dtype of the state.
        thresholds: Explicit thresholds in ``[0, 1]`` (replaces ``num_thresholds``).
        multi_label: Treat the last axis as independent labels: one curve per label (the
            counts have shape ``(thresholds, labels)``), the result their mean (or their
            ``label_weights``-weighted mean). Otherwise all entries form one curve.
        num_labels: Number of labels with ``multi_label`` (default: taken from the first
            batch).
        label_weights: Non-negative weight per label: weighs the labels' entries in the
            counts, or (``multi_label``) the labels' AUCs in the mean.
        from_logits: Whether predictions are logits (a sigmoid is applied).

    Examples:
        >>> float(AUC(num_thresholds=3)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9]))
        0.75
        >>> auc = AUC(num_thresholds=3, multi_label=True)
        >>> float(auc([[0, 1], [1, 0]], [[0.2, 0.9], [0.8, 0.4]]))
        1.0
    """

    def __init__(
        self,
        num_thresholds: int = 200,
        curve: str = "ROC",
        summation_method: str = "interpolation",
        name: str | None = None,
        dtype: Any = None,
        thresholds: Sequence[float] | None = None,
        multi_label: bool = False,
        num_labels: int | None = None,
        label_weights: Any = None,
        from_logits: bool = False,
    ) -> None:
        super().__init__(name=check_name("AUC", name) or "auc", dtype=dtype)
        check_int("AUC", "num_thresholds", num_thresholds, minimum=2)
        check_bool("AUC", "from_logits", from_logits)
        self.multi_label = check_bool("AUC", "multi_label", multi_label)
        self.num_labels = check_int("AUC", "num_labels", num_labels, minimum=1, allow_none=True)
        self.label_weights = None if label_weights is None else np.asarray(label_weights, float)
        if self.label_weights is not None and (self.label_weights < 0).any():
            raise ValueError(f"AUC: label_weights must be non-negative, got {label_weights!r}")
        if not isinstance(curve, str) or curve.upper() not in ("ROC", "PR"):
            raise ValueError(f"AUC: curve must be 'ROC' or 'PR', got {curve!r}")
        if not isinstance(summation_method, str) or summation_method.lower() not in (
            "interpolation",
            "minoring",
            "majoring",
        ):
            raise ValueError(
                f"AUC: summation_method must be 'interpolation', 'minoring' or "
                f"'majoring', got {summation_method!r}"
            )
        self.curve = curve.upper()
        self.summation_method = summation_method.lower()
        self.from_logits = from_logits
        self._init_thresholds = (
            None if thresholds is None else sorted(_thresholds(thresholds, 0.5, "AUC"))
        )
        if thresholds is None:
            if num_thresholds <= 1:
                raise ValueError(f"AUC: num_thresholds must be > 1, got {num_thresholds}")
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        else:
            inner = list(self._init_thresholds)
        # The end points sit just outside [0, 1] so predictions of exactly 0 or 1 count.
        self.thresholds = [0.0 - 1e-7] + inner + [1.0 + 1e-7]
        self.num_thresholds = len(self.thresholds)
        self._cells: dict[str, Any] = {}
        if not self.multi_label or self.num_labels is not None:
            self._build_cells()

    def _build_cells(self) -> None:
        # Keras builds a multi-label AUC's counts once the number of labels is known.
        shape = (self.num_thresholds,) + ((self.num_labels,) if self.multi_label else ())
        self._cells = {
            cell: self.add_variable(shape, name=name_)
            for cell, name_ in _ConfusionMetric._NAMES.items()
        }

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = ops.sigmoid(tnp.asarray(y_pred)) if self.from_logits else tnp.asarray(y_pred)
        if not self._cells:
            self.num_labels = int(y_pred.shape[-1])
            self._build_cells()
        counts = confusion_counts(
            y_true,
            y_pred,
            np.asarray(self.thresholds),
            sample_weight,
            self.dtype,
            owner="AUC",
            multi_label=self.multi_label,
            # Multi-label: label_weights weigh the labels' AUCs instead (result).
            label_weights=None if self.multi_label else self.label_weights,
        )
        for cell, variable in self._cells.items():
            variable.assign_add(counts[cell])

    def _label_mean(self, by_label: Any) -> Any:
        """One number from per-label areas: their mean, or label_weights-weighted mean."""
        if not self.multi_label:
            return by_label
        if self.label_weights is None:
            return tnp.mean(by_label)
        weights = tnp.asarray(self.label_weights, dtype=self.dtype)
        return _divide_no_nan(tnp.sum(by_label * weights), tnp.sum(weights))

    def _interpolate_pr_auc(self) -> Any:
        tp, fp, fn = (self._cells[c].value for c in ("tp", "fp", "fn"))
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, tnp.maximum(dp, 0.0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = tnp.where(both, _divide_no_nan(p[:-1], tnp.maximum(p[1:], 0.0)), 1.0)
        increment = _divide_no_nan(
            slope * (dtp + intercept * tnp.log(ratio)), tnp.maximum(tp[1:] + fn[1:], 0.0)
        )
        return self._label_mean(tnp.sum(increment, axis=0))

    def result(self) -> Any:
        if not self._cells:  # a multi-label AUC before its first batch
            return tnp.asarray(0.0, dtype=self.dtype)
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self._interpolate_pr_auc()
        tp, fp, tn, fn = (self._cells[c].value for c in ("tp", "fp", "tn", "fn"))
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        else:
            x, y = recall, _divide_no_nan(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = tnp.minimum(y[:-1], y[1:])
        else:
            heights = tnp.maximum(y[:-1], y[1:])
        return self._label_mean(tnp.sum((x[:-1] - x[1:]) * heights, axis=0))

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self.from_logits,
        }
        # As Keras: explicit thresholds only (generated ones are rebuilt from the count).
        if self._init_thresholds is not None:
            config["thresholds"] = self._init_thresholds
        return config
