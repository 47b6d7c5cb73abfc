"""F-scores (Keras' ``keras/src/metrics/f_score_metrics.py``): `FBetaScore` and `F1Score`
from per-class weighted true/false positive and false negative counts.
"""

from __future__ import annotations

from typing import Any

import tapegrad.numpy as tnp
from tapegrad import backend
from tapegrad.nn.metrics.metric import Metric
from tapegrad.nn.validation import check_choice

__all__ = ["F1Score", "FBetaScore"]


class FBetaScore(Metric):
    """The F-beta score ``(1 + beta**2) * P * R / (beta**2 * P + R)`` per class, aggregated.

    Inputs are ``(batch, num_classes)``; the state is created at the first update. A
    prediction counts as positive when it is ``> threshold``, or, with ``threshold=None``,
    when it is its row's (nonzero) maximum.

    Args:
        average: ``None`` (one score per class), ``"micro"`` (counts pooled over classes),
            ``"macro"`` (mean of the class scores) or ``"weighted"`` (class scores weighted
            by their support).
        beta: The weight of recall relative to precision, a float > 0.
        threshold: A float in ``(0, 1]``, or None for the row maximum.
        name: Name of the metric.
        dtype: dtype of the state.

    Examples:
        >>> m = FBetaScore(beta=2.0, threshold=0.5)
        >>> m.update_state([[1, 1, 0], [1, 0, 0]], [[0.9, 0.2, 0.3], [0.8, 0.4, 0.7]])
        >>> m.result().numpy().round(4)
        array([1., 0., 0.], dtype=float32)
    """

    def __init__(
        self,
        average: str | None = None,
        beta: float = 1.0,
        threshold: float | None = None,
        name: str = "fbeta_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        check_choice(owner, "average", average, (None, "micro", "macro", "weighted"))
        if not isinstance(beta, float) or beta <= 0.0:
            raise ValueError(f"{owner}: `beta` must be a Python float > 0, got beta={beta!r}")
        if threshold is not None and (
            not isinstance(threshold, float) or not 0.0 < threshold <= 1.0
        ):
            raise ValueError(
                f"{owner}: `threshold` must be None or a Python float in (0, 1], got "
                f"threshold={threshold!r}"
            )
        self.average = average
        self.beta = beta
        self.threshold = threshold
        self.axis = None if average == "micro" else 0
        self._built = False

    def _build(self, y_true_shape: tuple[int, ...], y_pred_shape: tuple[int, ...]) -> None:
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim); "
                f"got y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}"
            )
        shape = () if self.average == "micro" else (y_pred_shape[-1],)
        self.true_positives = self.add_variable(shape, name="true_positives")
        self.false_positives = self.add_variable(shape, name="false_positives")
        self.false_negatives = self.add_variable(shape, name="false_negatives")
        self.intermediate_weights = self.add_variable(shape, name="intermediate_weights")
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch's weighted counts."""
        y_true = tnp.asarray(y_true, dtype=self.dtype)
        y_pred = tnp.asarray(y_pred, dtype=self.dtype)
        if not self._built:
            self._build(tuple(y_true.shape), tuple(y_pred.shape))
        if self.threshold is None:
            # The row maximum; an all-zero row stays all negative.
            top = tnp.max(y_pred, axis=-1, keepdims=True)
            predicted = (y_pred >= top) & (tnp.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        y_pred = predicted.astype(self.dtype)
        weight = None
        if sample_weight is not None:
            weight = tnp.expand_dims(tnp.asarray(sample_weight, dtype=self.dtype), 1)

        def weighted_sum(values: Any) -> Any:
            return tnp.sum(values if weight is None else values * weight, axis=self.axis)

        self.true_positives.assign(self.true_positives + weighted_sum(y_pred * y_true))
        self.false_positives.assign(self.false_positives + weighted_sum(y_pred * (1 - y_true)))
        self.false_negatives.assign(self.false_negatives + weighted_sum((1 - y_pred) * y_true))
        self.intermediate_weights.assign(self.intermediate_weights + weighted_sum(y_true))

    def result(self) -> Any:
        """The score(s)."""
        if not self._built:
            return tnp.zeros((), dtype=self.dtype)
        eps = backend.epsilon()
        tp = self.true_positives.value
        precision = tp / (tp + self.false_positives + eps)
        recall = tp / (tp + self.false_negatives + eps)
        beta_2 = self.beta**2
        score = precision * recall / (beta_2 * precision + recall + eps) * (1 + beta_2)
        if self.average == "weighted":
            weights = self.intermediate_weights / (tnp.sum(self.intermediate_weights) + eps)
            return tnp.sum(score * weights)
        if self.average is not None:
            return tnp.mean(score)
        return score

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """The F1 score: `FBetaScore` with ``beta=1.0``.

    Args:
        average: As in `FBetaScore`.
        threshold: As in `FBetaScore`.
        name: Name of the metric.
        dtype: dtype of the state.

    Examples:
        >>> m = F1Score(average="micro", threshold=0.5)
        >>> m.update_state([[1, 1, 0], [1, 0, 0]], [[0.9, 0.2, 0.3], [0.8, 0.4, 0.7]])
        >>> round(float(m.result()), 4)
        0.6667
    """

    def __init__(
        self,
        average: str | None = None,
        threshold: float | None = None,
        name: str = "f1_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        del config["beta"]
        return config
