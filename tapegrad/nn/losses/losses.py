"""The `Loss` classes (Keras' ``keras/src/losses/losses.py``): `LossFunctionWrapper` around
a per-sample function, one subclass per built-in function, and the lookup by name
(`get`, `serialize`, `deserialize`) that the wrapper's config needs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad.nn import object_registration
from tapegrad.nn._config import rebuild_custom
from tapegrad.nn.losses.hinge_losses import categorical_hinge, hinge, squared_hinge
from tapegrad.nn.losses.loss import Loss, squeeze_or_expand_to_same_rank
from tapegrad.nn.losses.probabilistic_losses import (
    bce,
    binary_crossentropy,
    categorical_crossentropy,
    kl_divergence,
    kld,
    poisson,
    sparse_categorical_crossentropy,
)
from tapegrad.nn.losses.regression_losses import (
    cosine_similarity,
    huber,
    log_cosh,
    mae,
    mape,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    mse,
    msle,
)
from tapegrad.nn.validation import check_function_arguments, check_name

# The public module written into configs (the classes live in submodules of it).
_MODULE = "tapegrad.nn.losses"


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

    def __init__(
        self,
        fn: Callable[..., Any],
        reduction: str | None = "sum_over_batch_size",
        name: str | None = None,
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"{type(self).__name__}: `fn` must be callable, got {fn!r}")
        check_name(type(self).__name__, name)
        super().__init__(
            name=name or getattr(fn, "__name__", None), reduction=reduction, dtype=dtype
        )
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

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_squared_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_squared_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors (see `mean_absolute_error`).

    Examples:
        >>> float(MeanAbsoluteError()([[0.0, 1.0]], [[1.0, 1.0]]))
        0.5
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_absolute_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(mean_absolute_error, reduction=reduction, name=name, dtype=dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """Mean absolute percentage error (see `mean_absolute_percentage_error`).

    Examples:
        >>> float(MeanAbsolutePercentageError()([[2.0]], [[1.0]]))
        50.0
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_absolute_percentage_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            mean_absolute_percentage_error, reduction=reduction, name=name, dtype=dtype
        )


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """Mean squared logarithmic error (see `mean_squared_logarithmic_error`).

    Examples:
        >>> float(MeanSquaredLogarithmicError()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "mean_squared_logarithmic_error",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            mean_squared_logarithmic_error, reduction=reduction, name=name, dtype=dtype
        )


class CosineSimilarity(LossFunctionWrapper):
    """Negative cosine similarity (see `cosine_similarity`).

    Examples:
        >>> float(CosineSimilarity()([[0.0, 1.0]], [[0.0, 3.0]]))
        -1.0
    """

    def __init__(
        self,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "cosine_similarity",
        dtype: Any = None,
    ) -> None:
        super().__init__(cosine_similarity, reduction=reduction, name=name, dtype=dtype, axis=axis)


class Huber(LossFunctionWrapper):
    """Huber loss (see `huber`).

    Args:
        delta: Where the loss turns from quadratic to linear.

    Examples:
        >>> float(Huber(delta=1.0)([[0.0]], [[3.0]]))
        2.5
    """

    def __init__(
        self,
        delta: float = 1.0,
        reduction: str | None = "sum_over_batch_size",
        name: str = "huber_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(huber, reduction=reduction, name=name, dtype=dtype, delta=delta)


class LogCosh(LossFunctionWrapper):
    """Logarithm of the hyperbolic cosine of the error (see `log_cosh`).

    Examples:
        >>> float(LogCosh()([[0.0]], [[0.0]]))
        0.0
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "log_cosh",
        dtype: Any = None,
    ) -> None:
        super().__init__(log_cosh, reduction=reduction, name=name, dtype=dtype)


class Hinge(LossFunctionWrapper):
    """Hinge loss for -1/1 (or 0/1) labels (see `hinge`).

    Examples:
        >>> float(Hinge()([[1.0]], [[0.25]]))
        0.75
    """

    def __init__(
        self, reduction: str | None = "sum_over_batch_size", name: str = "hinge", dtype: Any = None
    ) -> None:
        super().__init__(hinge, reduction=reduction, name=name, dtype=dtype)


class SquaredHinge(LossFunctionWrapper):
    """Squared hinge loss (see `squared_hinge`).

    Examples:
        >>> float(SquaredHinge()([[1.0]], [[0.5]]))
        0.25
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "squared_hinge",
        dtype: Any = None,
    ) -> None:
        super().__init__(squared_hinge, reduction=reduction, name=name, dtype=dtype)


class CategoricalHinge(LossFunctionWrapper):
    """Categorical hinge loss (see `categorical_hinge`).

    Examples:
        >>> round(float(CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.8]])), 4)
        0.5
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_hinge",
        dtype: Any = None,
    ) -> None:
        super().__init__(categorical_hinge, reduction=reduction, name=name, dtype=dtype)


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence (see `kl_divergence`).

    Examples:
        >>> round(float(KLDivergence()([[1.0, 0.0]], [[0.5, 0.5]])), 4)
        0.6931
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "kl_divergence",
        dtype: Any = None,
    ) -> None:
        super().__init__(kl_divergence, reduction=reduction, name=name, dtype=dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss (see `poisson`).

    Examples:
        >>> round(float(Poisson()([[0.0]], [[2.0]])), 4)
        2.0
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "poisson",
        dtype: Any = None,
    ) -> None:
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

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            binary_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


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

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )


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

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = "sum_over_batch_size",
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(
            sparse_categorical_crossentropy,
            reduction=reduction,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
        )

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
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    cosine_similarity: CosineSimilarity,
    huber: Huber,
    log_cosh: LogCosh,
    hinge: Hinge,
    squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge,
    kl_divergence: KLDivergence,
    poisson: Poisson,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}
_BY_NAME: dict[str, Any] = {fn.__name__: fn for fn in _FUNCTIONS}
_BY_NAME.update({cls.__name__: cls for cls in _FUNCTIONS.values()})
_BY_NAME.update({"Loss": Loss, "LossFunctionWrapper": LossFunctionWrapper})
_BY_NAME.update(
    {
        "mse": mse,
        "MSE": mse,
        "mae": mae,
        "MAE": mae,
        "mape": mape,
        "MAPE": mape,
        "msle": msle,
        "MSLE": msle,
        "kld": kld,
        "KLD": kld,
        "bce": bce,
        "BCE": bce,
        "huber_loss": huber,
    }
)


def register_builtin(fn: Callable[..., Any], cls: type[Loss]) -> None:
    """Make a built-in per-sample function and its `Loss` class known by name (for `get`,
    `serialize` and `deserialize`); used by the loss modules outside this file."""
    _FUNCTIONS[fn] = cls
    _BY_NAME[fn.__name__] = fn
    _BY_NAME[cls.__name__] = cls


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
        return {
            "module": _MODULE,
            "class_name": type(loss).__name__,
            "config": loss.get_config(),
            "registered_name": None,
        }
    name = getattr(loss, "__name__", repr(loss))
    module = _MODULE if _BY_NAME.get(name) is loss else getattr(loss, "__module__", None)
    return {
        "module": module,
        "class_name": "function",
        "config": name,
        "registered_name": "function",
    }


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """A `Loss` instance (or loss function) from `serialize`'s output or a name.

    Examples:
        >>> deserialize(serialize(Huber(delta=2.0)))
        Huber(name='huber_loss', reduction='sum_over_batch_size', dtype=None, delta=2.0)
        >>> deserialize("mse") is mean_squared_error
        True
    """
    if custom_objects:  # Keras' argument: the names it gives are known while decoding
        with object_registration.CustomObjectScope(custom_objects):
            return deserialize(config)
    custom = rebuild_custom(config, _BY_NAME.__contains__)  # registered or custom_objects
    if custom is not None:
        return custom
    if isinstance(config, str):
        found = _lookup(config)
        return found() if inspect.isclass(found) else found
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            f"Could not deserialize loss {config!r}: expected a name or a dict "
            "with 'class_name' and 'config'"
        )
    if config["class_name"] == "function":
        name = config.get("config")
        if (
            config.get("module") not in (None, _MODULE, "keras.losses")
            or not isinstance(name, str)
            or name not in _BY_NAME
        ):
            raise ValueError(
                f"Cannot deserialize the custom loss function {name!r}: tapegrad "
                "never restores code; register it (tapegrad.saving."
                "register_keras_serializable) or pass it in custom_objects"
            )
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
