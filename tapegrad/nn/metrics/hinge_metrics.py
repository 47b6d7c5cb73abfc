"""Hinge metrics (Keras' ``keras/src/metrics/hinge_metrics.py``): means of the hinge losses."""

from __future__ import annotations

from typing import Any

from tapegrad.nn import losses as losses_module
from tapegrad.nn.metrics.reduction_metrics import MeanMetricWrapper


class Hinge(MeanMetricWrapper):
    """Mean hinge loss over all samples seen.

    Examples:
        >>> float(Hinge()([[1.0]], [[0.25]]))
        0.75
    """

    def __init__(self, name: str = "hinge", dtype: Any = None) -> None:
        super().__init__(losses_module.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """Mean squared hinge loss over all samples seen.

    Examples:
        >>> float(SquaredHinge()([[1.0]], [[0.5]]))
        0.25
    """

    def __init__(self, name: str = "squared_hinge", dtype: Any = None) -> None:
        super().__init__(losses_module.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """Mean categorical hinge loss over all samples seen.

    Examples:
        >>> round(float(CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.8]])), 4)
        0.5
    """

    def __init__(self, name: str = "categorical_hinge", dtype: Any = None) -> None:
        super().__init__(losses_module.categorical_hinge, name=name, dtype=dtype)
