"""Correlation and R2 metrics (Keras' ``correlation_metrics.py`` and ``R2Score``): the
Pearson and concordance correlation functions and metrics, and the coefficient of
determination.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import backend
from tapegrad.nn.losses import squeeze_or_expand_to_same_rank
from tapegrad.nn.metrics.metric import Metric
from tapegrad.nn.metrics.reduction_metrics import MeanMetricWrapper
from tapegrad.nn.validation import check_choice, check_int, check_non_negative_int

__all__ = [
    "ConcordanceCorrelation",
    "PearsonCorrelation",
    "R2Score",
    "concordance_correlation",
    "pearson_correlation",
]


def _pair(y_true: Any, y_pred: Any) -> tuple[Any, Any]:
    y_pred = tnp.asarray(y_pred)
    if not np.issubdtype(np.dtype(y_pred.dtype), np.floating):
        y_pred = y_pred.astype(backend.floatx())
    y_true = tnp.asarray(y_true).astype(y_pred.dtype)
    return squeeze_or_expand_to_same_rank(y_true, y_pred)


def pearson_correlation(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """Pearson correlation coefficient of ``y_true`` and ``y_pred`` along ``axis``.

    Args:
        y_true: Targets.
        y_pred: Predictions.
        axis: The axis the correlation is computed along.

    Returns:
        The coefficients, ``axis`` reduced.

    Examples:
        >>> pearson_correlation([[1.0, 2.0, 3.0]], [[2.0, 4.0, 7.0]]).numpy().round(4)
        array([0.9934], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_true_norm = y_true - tnp.mean(y_true, axis=axis, keepdims=True)
    y_pred_norm = y_pred - tnp.mean(y_pred, axis=axis, keepdims=True)
    y_true_norm = y_true_norm / tnp.std(y_true_norm, axis=axis, keepdims=True)
    y_pred_norm = y_pred_norm / tnp.std(y_pred_norm, axis=axis, keepdims=True)
    return tnp.mean(y_true_norm * y_pred_norm, axis=axis)


def concordance_correlation(y_true: Any, y_pred: Any, axis: int = -1) -> Any:
    """Lin's concordance correlation coefficient along ``axis``, computed as Keras 3 does.

    Keras' covariance term is ``(y_true - mean(y_pred)) * (y_pred - mean(y_pred))``; the
    same is used here so that values agree with Keras.

    Args:
        y_true: Targets.
        y_pred: Predictions.
        axis: The axis the coefficient is computed along.

    Returns:
        The coefficients, ``axis`` reduced.

    Examples:
        >>> concordance_correlation([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]]).numpy().round(4)
        array([1.], dtype=float32)
    """
    y_true, y_pred = _pair(y_true, y_pred)
    y_true_mean = tnp.mean(y_true, axis=axis, keepdims=True)
    y_pred_mean = tnp.mean(y_pred, axis=axis, keepdims=True)
    y_true_var = tnp.var(y_true - y_true_mean, axis=axis, keepdims=True)
    y_pred_var = tnp.var(y_pred - y_pred_mean, axis=axis, keepdims=True)
    covar = (y_true - y_pred_mean) * (y_pred - y_pred_mean)
    norm = y_true_var + y_pred_var + tnp.square(y_true_mean - y_pred_mean)
    return tnp.mean(2 * covar / (norm + backend.epsilon()), axis=axis)


class PearsonCorrelation(MeanMetricWrapper):
    """Mean over samples of `pearson_correlation` along ``axis``.

    Examples:
        >>> m = PearsonCorrelation()
        >>> round(float(m([[1.0, 2.0, 3.0]], [[2.0, 4.0, 7.0]])), 4)
        0.9934
    """

    def __init__(
        self, name: str = "pearson_correlation", dtype: Any = None, axis: int = -1
    ) -> None:
        check_int(type(self).__name__, "axis", axis)
        super().__init__(pearson_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class ConcordanceCorrelation(MeanMetricWrapper):
    """Mean over samples of `concordance_correlation` along ``axis``.

    Examples:
        >>> m = ConcordanceCorrelation()
        >>> round(float(m([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]])), 4)
        1.0
    """

    def __init__(
        self, name: str = "concordance_correlation", dtype: Any = None, axis: int = -1
    ) -> None:
        check_int(type(self).__name__, "axis", axis)
        super().__init__(concordance_correlation, name=name, dtype=dtype, axis=axis)
        self.axis = axis

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "axis": self.axis}


class R2Score(Metric):
    """The coefficient of determination ``1 - SS_res / SS_tot`` per output, aggregated.

    The state (per-output sums) is created at the first update, from ``y_pred``'s last
    dimension; inputs are ``(batch, outputs)``.

    Args:
        class_aggregation: ``"uniform_average"`` (mean over outputs),
            ``"variance_weighted_average"`` (weighted by each output's total sum of
            squares) or ``None`` (one score per output).
        num_regressors: For the adjusted R2: the number of independent regressors.
        name: Name of the metric.
        dtype: dtype of the state.

    Examples:
        >>> m = R2Score()
        >>> round(float(m([[1.0], [2.0], [3.0]], [[1.0], [2.0], [4.0]])), 4)
        0.5
    """

    def __init__(
        self,
        class_aggregation: str | None = "uniform_average",
        num_regressors: int = 0,
        name: str = "r2_score",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        owner = type(self).__name__
        check_choice(
            owner,
            "class_aggregation",
            class_aggregation,
            (None, "uniform_average", "variance_weighted_average"),
        )
        check_non_negative_int(owner, "num_regressors", num_regressors)
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable((), name="num_samples")
        self._built = False

    def _build(self, y_true_shape: tuple[int, ...], y_pred_shape: tuple[int, ...]) -> None:
        if len(y_pred_shape) != 2 or len(y_true_shape) != 2:
            raise ValueError(
                "R2Score expects 2D inputs with shape (batch_size, output_dim); got "
                f"y_pred.shape={y_pred_shape} and y_true.shape={y_true_shape}"
            )
        num_classes = y_pred_shape[-1]
        self.squared_sum = self.add_variable((num_classes,), name="squared_sum")
        self.sum = self.add_variable((num_classes,), name="sum")
        self.total_mse = self.add_variable((num_classes,), name="residual")
        self.count = self.add_variable((num_classes,), name="count")
        self._built = True

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Accumulate the per-output sums of one batch."""
        y_true = tnp.asarray(y_true, dtype=self.dtype)
        y_pred = tnp.asarray(y_pred, dtype=self.dtype)
        y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
        if not self._built:
            self._build(tuple(y_true.shape), tuple(y_pred.shape))
        weight = tnp.asarray(1.0 if sample_weight is None else sample_weight, dtype=self.dtype)
        if weight.ndim == 1:
            weight = tnp.expand_dims(weight, 1)
        weight = tnp.broadcast_to(weight, y_true.shape)
        weighted_y_true = y_true * weight
        self.sum.assign(self.sum + tnp.sum(weighted_y_true, axis=0))
        self.squared_sum.assign(self.squared_sum + tnp.sum(y_true * weighted_y_true, axis=0))
        residual = tnp.sum(tnp.square(y_true - y_pred) * weight, axis=0)
        self.total_mse.assign(self.total_mse + residual)
        self.count.assign(self.count + tnp.sum(weight, axis=0))
        self.num_samples.assign(self.num_samples + float(np.prod(y_true.shape)))

    def result(self) -> Any:
        """The (adjusted) R2 score."""
        if not self._built:
            return tnp.zeros((), dtype=self.dtype)
        mean = self.sum / self.count
        total = self.squared_sum - self.sum * mean
        raw_scores = 1 - self.total_mse / total
        raw_scores = tnp.where(tnp.isinf(raw_scores), 0.0, raw_scores)
        if self.class_aggregation == "uniform_average":
            score = tnp.mean(raw_scores)
        elif self.class_aggregation == "variance_weighted_average":
            score = tnp.sum(total * raw_scores) / tnp.sum(total)
        else:
            score = raw_scores
        if self.num_regressors == 0:
            return score
        # Too few data points for the adjustment: the standard score, as Keras (which also
        # warns; a tensor condition keeps a traced result one graph).
        n = self.num_samples.value
        p = float(self.num_regressors)
        enough = n - 1.0 > p
        adjusted = 1.0 - (1.0 - score) * (n - 1.0) / tnp.where(enough, n - p - 1.0, 1.0)
        return tnp.where(enough, adjusted, score)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
