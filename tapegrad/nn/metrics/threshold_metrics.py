"""Metrics at a constraint (Keras' ``SensitivitySpecificityBase`` family): the best value
of one rate over the thresholds where another reaches a target. `PrecisionAtRecall`,
`RecallAtPrecision`, `SensitivityAtSpecificity`, `SpecificityAtSensitivity`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad.nn.metrics.confusion_metrics import confusion_counts
from tapegrad.nn.metrics.metric import Metric, _divide_no_nan
from tapegrad.nn.validation import check_non_negative_int, check_number, check_positive_int

__all__ = [
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
]


class _AtConstraint(Metric):
    """Confusion counts at ``num_thresholds`` evenly spaced thresholds in ``[0, 1]``."""

    # The constructor argument holding the target value (``"recall"``, ...).
    _VALUE = ""

    def __init__(
        self,
        value: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        self.value = check_number(owner, self._VALUE, value, low=0.0, high=1.0)
        self.num_thresholds = check_positive_int(owner, "num_thresholds", num_thresholds)
        self.class_id = check_non_negative_int(owner, "class_id", class_id, allow_none=True)
        if num_thresholds == 1:
            self.thresholds = [0.5]
        else:
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self.thresholds = [0.0, *inner, 1.0]
        size = (len(self.thresholds),)
        self.true_positives = self.add_variable(size, name="true_positives")
        self.false_positives = self.add_variable(size, name="false_positives")
        self.true_negatives = self.add_variable(size, name="true_negatives")
        self.false_negatives = self.add_variable(size, name="false_negatives")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch's weighted counts at every threshold (``y_pred > threshold``)."""
        counts = confusion_counts(
            y_true,
            y_pred,
            np.asarray(self.thresholds),
            sample_weight,
            self.dtype,
            class_id=self.class_id,
            owner=type(self).__name__,
        )
        self.true_positives.assign_add(counts["tp"])
        self.false_positives.assign_add(counts["fp"])
        self.true_negatives.assign_add(counts["tn"])
        self.false_negatives.assign_add(counts["fn"])

    def _rates(self) -> dict[str, Any]:
        tp, fp = self.true_positives.value, self.false_positives.value
        tn, fn = self.true_negatives.value, self.false_negatives.value
        return {
            "recall": _divide_no_nan(tp, tp + fn),
            "precision": _divide_no_nan(tp, tp + fp),
            "specificity": _divide_no_nan(tn, tn + fp),
        }

    def _best(self, constrained: Any, dependent: Any) -> Any:
        # The best dependent rate where the constrained one reaches the target; 0 if none.
        feasible = constrained >= self.value
        return tnp.maximum(tnp.max(tnp.where(feasible, dependent, 0.0)), 0.0)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "class_id": self.class_id,
            "num_thresholds": self.num_thresholds,
            self._VALUE: self.value,
        }


class SensitivityAtSpecificity(_AtConstraint):
    """The best sensitivity (recall) over thresholds with specificity ``>= specificity``.

    Args:
        specificity: The target specificity, in ``[0, 1]``.
        num_thresholds: Number of evenly spaced thresholds in ``[0, 1]``.
        class_id: Only this class (last axis index) is scored.
        name: Name of the metric.
        dtype: dtype of the state.

    Examples:
        >>> m = SensitivityAtSpecificity(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0.0, 0.3, 0.8, 0.3, 0.8])
        >>> float(m.result())
        0.5
    """

    _VALUE = "specificity"

    def __init__(
        self,
        specificity: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(specificity, num_thresholds, class_id, name=name, dtype=dtype)
        self.specificity = self.value

    def result(self) -> Any:
        """The sensitivity at the target specificity."""
        rates = self._rates()
        return self._best(rates["specificity"], rates["recall"])


class SpecificityAtSensitivity(_AtConstraint):
    """The best specificity over thresholds with sensitivity ``>= sensitivity``.

    Args:
        sensitivity: The target sensitivity, in ``[0, 1]``.
        num_thresholds, class_id, name, dtype: As in `SensitivityAtSpecificity`.

    Examples:
        >>> m = SpecificityAtSensitivity(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0.0, 0.3, 0.8, 0.3, 0.8])
        >>> round(float(m.result()), 4)
        0.6667
    """

    _VALUE = "sensitivity"

    def __init__(
        self,
        sensitivity: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(sensitivity, num_thresholds, class_id, name=name, dtype=dtype)
        self.sensitivity = self.value

    def result(self) -> Any:
        """The specificity at the target sensitivity."""
        rates = self._rates()
        return self._best(rates["recall"], rates["specificity"])


class PrecisionAtRecall(_AtConstraint):
    """The best precision over thresholds with recall ``>= recall``.

    Args:
        recall: The target recall, in ``[0, 1]``.
        num_thresholds, class_id, name, dtype: As in `SensitivityAtSpecificity`.

    Examples:
        >>> m = PrecisionAtRecall(0.5)
        >>> m.update_state([0, 0, 0, 1, 1], [0.0, 0.3, 0.8, 0.3, 0.8])
        >>> float(m.result())
        0.5
    """

    _VALUE = "recall"

    def __init__(
        self,
        recall: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(recall, num_thresholds, class_id, name=name, dtype=dtype)
        self.recall = self.value

    def result(self) -> Any:
        """The precision at the target recall."""
        rates = self._rates()
        return self._best(rates["recall"], rates["precision"])


class RecallAtPrecision(_AtConstraint):
    """The best recall over thresholds with precision ``>= precision``.

    Args:
        precision: The target precision, in ``[0, 1]``.
        num_thresholds, class_id, name, dtype: As in `SensitivityAtSpecificity`.

    Examples:
        >>> m = RecallAtPrecision(0.8)
        >>> m.update_state([0, 0, 1, 1], [0.0, 0.5, 0.3, 0.9])
        >>> float(m.result())
        0.5
    """

    _VALUE = "precision"

    def __init__(
        self,
        precision: float,
        num_thresholds: int = 200,
        class_id: int | None = None,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(precision, num_thresholds, class_id, name=name, dtype=dtype)
        self.precision = self.value

    def result(self) -> Any:
        """The recall at the target precision."""
        rates = self._rates()
        return self._best(rates["precision"], rates["recall"])
