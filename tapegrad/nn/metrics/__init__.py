"""Metrics (Keras 3 ``keras.metrics``): stateful accumulators over batches.

A metric keeps its state in non-trainable `tapegrad.Variable`s: ``update_state(y_true,
y_pred, sample_weight=None)`` adds a batch, ``result()`` reads the value so far (a
Tensor), ``reset_state()`` starts over. Calling a metric updates it and returns the
result. Updates are written with `tapegrad.numpy`, like the rest of ``tapegrad.nn``.

Layout (as Keras' ``keras/src/metrics/``): ``metric.py`` holds the `Metric` base,
``reduction_metrics.py`` `Sum`, `Mean` and `MeanMetricWrapper`, ``functions.py`` the
per-sample metric functions, and the metrics live by family in ``accuracy_metrics.py``,
``regression_metrics.py``, ``probabilistic_metrics.py``, ``hinge_metrics.py`` and
``confusion_metrics.py``; this module looks them up by name.

Examples:
    >>> from tapegrad.nn import metrics
    >>> m = metrics.SparseCategoricalAccuracy()
    >>> m.update_state([0, 1], [[0.9, 0.1], [0.8, 0.2]])
    >>> m.update_state([1], [[0.3, 0.7]])
    >>> round(float(m.result()), 4)
    0.6667
    >>> m.reset_state(); float(m.result())
    0.0
"""

from __future__ import annotations

import inspect
from typing import Any

from tapegrad.nn import object_registration
from tapegrad.nn._config import rebuild_custom

# Keras' keras.metrics exports these loss functions too (the same objects).
from tapegrad.nn.losses import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from tapegrad.nn.metrics.accuracy_metrics import (
    ACCURACY_NAMES,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    resolve_accuracy,
)
from tapegrad.nn.metrics.confusion_metrics import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from tapegrad.nn.metrics.correlation_metrics import (
    ConcordanceCorrelation,
    PearsonCorrelation,
    R2Score,
    concordance_correlation,
    pearson_correlation,
)
from tapegrad.nn.metrics.f_score_metrics import F1Score, FBetaScore
from tapegrad.nn.metrics.functions import (
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    cosine_similarity,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from tapegrad.nn.metrics.hinge_metrics import CategoricalHinge, Hinge, SquaredHinge
from tapegrad.nn.metrics.iou_metrics import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from tapegrad.nn.metrics.metric import Metric, _snake_case
from tapegrad.nn.metrics.probabilistic_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
)
from tapegrad.nn.metrics.reduction_metrics import (
    _FUNCTIONS,
    _MODULE,
    Mean,
    MeanMetricWrapper,
    Sum,
    _deserialize_function,
    _serialize_function,
)
from tapegrad.nn.metrics.reduction_metrics import (
    reduce_to_samplewise_values as reduce_to_samplewise_values,
)
from tapegrad.nn.metrics.regression_metrics import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
)
from tapegrad.nn.metrics.threshold_metrics import (
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)

_CLASSES: tuple[type[Metric], ...] = (
    Mean,
    Sum,
    MeanMetricWrapper,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    MeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    RootMeanSquaredError,
    CosineSimilarity,
    LogCoshError,
    KLDivergence,
    Poisson,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    Precision,
    Recall,
    AUC,
    TruePositives,
    FalsePositives,
    TrueNegatives,
    FalseNegatives,
    F1Score,
    FBetaScore,
    R2Score,
    PearsonCorrelation,
    ConcordanceCorrelation,
    IoU,
    MeanIoU,
    BinaryIoU,
    OneHotIoU,
    OneHotMeanIoU,
    PrecisionAtRecall,
    RecallAtPrecision,
    SensitivityAtSpecificity,
    SpecificityAtSensitivity,
)
_FUNCTIONS.update({fn.__name__: fn for fn in (pearson_correlation, concordance_correlation)})
_BY_NAME: dict[str, type[Metric]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({_snake_case(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update(
    {
        "acc": Accuracy,
        "mse": MeanSquaredError,
        "MSE": MeanSquaredError,
        "mae": MeanAbsoluteError,
        "MAE": MeanAbsoluteError,
        "mape": MeanAbsolutePercentageError,
        "MAPE": MeanAbsolutePercentageError,
        "msle": MeanSquaredLogarithmicError,
        "MSLE": MeanSquaredLogarithmicError,
        "bce": BinaryCrossentropy,
        "BCE": BinaryCrossentropy,
        "rmse": RootMeanSquaredError,
        "logcosh": LogCoshError,
    }
)


def _lookup(name: str) -> type[Metric]:
    if name not in _BY_NAME or name in ("MeanMetricWrapper", "mean_metric_wrapper"):
        known = ", ".join(sorted(n for n in _BY_NAME if n.islower()))
        raise ValueError(f"Could not interpret metric identifier {name!r}; known names: {known}")
    return _BY_NAME[name]


def serialize(metric: Metric) -> dict[str, Any]:
    """A JSON-friendly description ``{"module", "class_name", "config"}`` of a metric.

    Examples:
        >>> serialize(BinaryAccuracy(threshold=0.3))["config"]
        {'name': 'binary_accuracy', 'dtype': 'float32', 'threshold': 0.3}
    """
    if isinstance(metric, Metric):
        return {
            "module": _MODULE,
            "class_name": type(metric).__name__,
            "config": metric.get_config(),
            "registered_name": None,
        }
    return _serialize_function(metric)


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """A metric (with fresh state) from `serialize`'s output or a name.

    Examples:
        >>> deserialize(serialize(Precision(thresholds=0.7))).thresholds
        [0.7]
    """
    if custom_objects:  # Keras' argument: the names it gives are known while decoding
        with object_registration.CustomObjectScope(custom_objects):
            return deserialize(config)
    custom = rebuild_custom(config, lambda name: name in _BY_NAME or name in _FUNCTIONS)
    if custom is not None:  # registered, or passed in custom_objects
        return custom
    if isinstance(config, str):
        return _lookup(config)()
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Could not deserialize metric {config!r}: expected a name or a dict "
            "with 'class_name' and 'config'"
        )
    if config["class_name"] == "function":
        return _deserialize_function(config)
    cls = (
        MeanMetricWrapper
        if config["class_name"] == "MeanMetricWrapper"
        else _lookup(config["class_name"])
    )
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier: Any) -> Metric | None:
    """A `Metric` for a name, function, class, instance or serialized dict.

    As in Keras' ``compile``, a metric made from a string is named after it, and a plain
    function (or a loss) is wrapped in a `MeanMetricWrapper`. ``"accuracy"`` and
    ``"acc"`` give exact-match `Accuracy`; a trainer picks the binary, categorical or
    sparse variant with `resolve_accuracy`.

    Args:
        identifier: ``"mae"``, ``"AUC"``, ``"sparse_categorical_accuracy"``, a function
            ``fn(y_true, y_pred)``, a `Metric` class or instance, or a dict from
            `serialize`; ``None`` gives ``None``.

    Returns:
        A `Metric` (the same instance when one is given), or ``None``.

    Examples:
        >>> m = get("mae")
        >>> type(m).__name__, m.name
        ('MeanAbsoluteError', 'mae')
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS and identifier not in _BY_NAME:
            return MeanMetricWrapper(_FUNCTIONS[identifier], name=identifier)
        if identifier not in _BY_NAME:  # a registered or custom_objects metric, or the error
            found = deserialize(identifier)
            return found if isinstance(found, Metric) else MeanMetricWrapper(found, name=identifier)
        return _lookup(identifier)(name=identifier)
    if isinstance(identifier, dict):
        found = deserialize(identifier)
        return found if isinstance(found, Metric) else MeanMetricWrapper(found)
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier: {identifier!r}")


__all__ = [
    "PrecisionAtRecall",
    "RecallAtPrecision",
    "SensitivityAtSpecificity",
    "SpecificityAtSensitivity",
    "BinaryIoU",
    "ConcordanceCorrelation",
    "F1Score",
    "FBetaScore",
    "IoU",
    "MeanIoU",
    "OneHotIoU",
    "OneHotMeanIoU",
    "PearsonCorrelation",
    "R2Score",
    "concordance_correlation",
    "pearson_correlation",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
    "ACCURACY_NAMES",
    "AUC",
    "Accuracy",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "CategoricalHinge",
    "CosineSimilarity",
    "FalseNegatives",
    "FalsePositives",
    "Hinge",
    "KLDivergence",
    "LogCoshError",
    "Mean",
    "MeanAbsoluteError",
    "MeanAbsolutePercentageError",
    "MeanMetricWrapper",
    "MeanSquaredError",
    "MeanSquaredLogarithmicError",
    "Metric",
    "Poisson",
    "Precision",
    "Recall",
    "RootMeanSquaredError",
    "SparseCategoricalAccuracy",
    "SparseCategoricalCrossentropy",
    "SparseTopKCategoricalAccuracy",
    "SquaredHinge",
    "Sum",
    "TopKCategoricalAccuracy",
    "TrueNegatives",
    "TruePositives",
    "accuracy",
    "binary_accuracy",
    "categorical_accuracy",
    "cosine_similarity",
    "deserialize",
    "get",
    "resolve_accuracy",
    "serialize",
    "sparse_categorical_accuracy",
    "sparse_top_k_categorical_accuracy",
    "top_k_categorical_accuracy",
]
