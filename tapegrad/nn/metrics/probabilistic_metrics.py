"""Probabilistic metrics (Keras' ``keras/src/metrics/probabilistic_metrics.py``): means of
the cross-entropies, Kullback-Leibler divergence and Poisson loss.
"""

from __future__ import annotations

from typing import Any

import tapegrad.numpy as tnp
from tapegrad.nn import losses as losses_module
from tapegrad.nn.metrics.reduction_metrics import MeanMetricWrapper


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence over all samples seen.

    Examples:
        >>> round(float(KLDivergence()([[1.0, 0.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(self, name: str = "kl_divergence", dtype: Any = None) -> None:
        super().__init__(losses_module.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """Mean Poisson loss over all samples seen.

    Examples:
        >>> round(float(Poisson()([[0.0]], [[2.0]])), 4)
        2.0
    """

    def __init__(self, name: str = "poisson", dtype: Any = None) -> None:
        super().__init__(losses_module.poisson, name=name, dtype=dtype)


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy (see `tapegrad.nn.losses.binary_crossentropy`).

    Examples:
        >>> round(float(BinaryCrossentropy(from_logits=True)([[1.0]], [[0.0]])), 4)
        0.6931
    """

    def __init__(
        self,
        name: str = "binary_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(
            losses_module.binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean categorical cross-entropy (see `tapegrad.nn.losses.categorical_crossentropy`).

    Examples:
        >>> round(float(CategoricalCrossentropy()([[0.0, 1.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(
        self,
        name: str = "categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
    ) -> None:
        super().__init__(
            losses_module.categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean sparse categorical cross-entropy of integer labels.

    Args:
        name: Metric name.
        dtype: dtype of the state.
        from_logits: Whether ``y_pred`` holds logits.
        ignore_class: A label value left out of the mean (as Keras 3).
        axis: The class axis.

    Examples:
        >>> round(float(SparseCategoricalCrossentropy()([1], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(
        self,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        ignore_class: int | None = None,
        axis: int = -1,
    ) -> None:
        super().__init__(
            losses_module.sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Adds a batch; samples labelled ``ignore_class`` are left out of the mean (Keras)."""
        ignore_class = self._fn_kwargs["ignore_class"]
        if ignore_class is not None:
            y_pred = tnp.asarray(y_pred)
            axis = self._fn_kwargs["axis"] % y_pred.ndim
            label_shape = tuple(y_pred.shape[:axis]) + tuple(y_pred.shape[axis + 1 :])
            labels = tnp.reshape(tnp.asarray(y_true), label_shape)
            valid = tnp.asarray(tnp.not_equal(labels, ignore_class), dtype=y_pred.dtype)
            sample_weight = (
                valid
                if sample_weight is None
                else valid * tnp.asarray(sample_weight, dtype=y_pred.dtype)
            )
        super().update_state(y_true, y_pred, sample_weight=sample_weight)
