"""Weight regularizers (Keras 3 ``keras.regularizers``): ``penalty = regularizer(weights)``.

A regularizer maps a weight tensor to a differentiable scalar Tensor, written with
`tapegrad.numpy`, so its gradient joins the loss's on the training tape.

Examples:
    >>> import tapegrad as tg
    >>> from tapegrad.nn import regularizers
    >>> round(float(regularizers.get("l2")(tg.tensor([1.0, 2.0]))), 6)
    0.05
    >>> regularizers.serialize(regularizers.L1L2(l1=0.5))["config"]
    {'l1': 0.5, 'l2': 0.0}
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import tapegrad.numpy as tnp
from tapegrad.nn import object_registration
from tapegrad.nn._config import deserialize_object


def _penalty_factor(value: Any, name: str, owner: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or math.isinf(value)
        or value < 0
    ):
        raise ValueError(
            f"{owner}: {name} must be a non-negative finite float, got {name}={value!r}"
        )
    return float(value)


def _float_tensor(x: Any) -> Any:
    x = tnp.asarray(x)
    return x if x.dtype.kind == "f" else x.astype("float32")


class Regularizer:
    """Base class: subclasses implement ``__call__(weights)`` and `get_config`.

    Examples:
        >>> import tapegrad as tg
        >>> class Sum(Regularizer):
        ...     def __call__(self, x):
        ...         return tnp.sum(x)
        >>> float(Sum()(tg.tensor([1.0, 2.0])))
        3.0
    """

    def __call__(self, x: Any) -> Any:
        return tnp.asarray(0.0)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-friendly)."""
        raise NotImplementedError(f"{type(self).__name__}.get_config is not implemented")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        """Rebuild a regularizer from `get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``.

    Args:
        l1: L1 factor (``None`` means 0).
        l2: L2 factor (``None`` means 0).

    Examples:
        >>> import tapegrad as tg
        >>> float(L1L2(l1=1.0, l2=1.0)(tg.tensor([-1.0, 2.0])))
        8.0
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _penalty_factor(0.0 if l1 is None else l1, "l1", "L1L2")
        self.l2 = _penalty_factor(0.0 if l2 is None else l2, "l2", "L1L2")

    def __call__(self, x: Any) -> Any:
        x = _float_tensor(x)
        penalty = tnp.zeros((), dtype=x.dtype)
        if self.l1:
            penalty = penalty + self.l1 * tnp.sum(tnp.abs(x))
        if self.l2:
            penalty = penalty + self.l2 * tnp.sum(tnp.square(x))
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``.

    Args:
        l1: Factor (default 0.01).

    Examples:
        >>> import tapegrad as tg
        >>> float(L1(0.5)(tg.tensor([-1.0, 3.0])))
        2.0
    """

    def __init__(self, l1: float = 0.01) -> None:
        self.l1 = _penalty_factor(0.01 if l1 is None else l1, "l1", "L1")

    def __call__(self, x: Any) -> Any:
        return self.l1 * tnp.sum(tnp.abs(_float_tensor(x)))

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)`` (no factor 1/2, as in Keras).

    Args:
        l2: Factor (default 0.01).

    Examples:
        >>> import tapegrad as tg
        >>> float(L2(0.5)(tg.tensor([-1.0, 3.0])))
        5.0
    """

    def __init__(self, l2: float = 0.01) -> None:
        self.l2 = _penalty_factor(0.01 if l2 is None else l2, "l2", "L2")

    def __call__(self, x: Any) -> Any:
        return self.l2 * tnp.sum(tnp.square(_float_tensor(x)))

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (or columns) of a 2-D weight towards an orthonormal set.

    The penalty is ``factor * mean(|<u_i, u_j>|)`` over pairs ``i < j`` of L2-normalized
    rows (``mode="rows"``) or columns (``mode="columns"``).

    Args:
        factor: Penalty factor (default 0.01).
        mode: ``"rows"`` or ``"columns"``.

    Examples:
        >>> import tapegrad as tg
        >>> float(OrthogonalRegularizer(1.0)(tg.tensor([[1.0, 0.0], [1.0, 0.0]])))
        1.0
    """

    def __init__(self, factor: float = 0.01, mode: str = "rows") -> None:
        self.factor = _penalty_factor(factor, "factor", "OrthogonalRegularizer")
        if mode not in ("rows", "columns"):
            raise ValueError(
                f"OrthogonalRegularizer: mode must be 'rows' or 'columns', got mode={mode!r}"
            )
        self.mode = mode

    def __call__(self, x: Any) -> Any:
        x = _float_tensor(x)
        if x.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer: weights must have rank 2, got shape {x.shape}"
            )
        if self.mode == "columns":
            x = tnp.transpose(x)
        size = x.shape[0]
        if size < 2:
            return tnp.zeros((), dtype=x.dtype)
        # Keras' normalize: x * min(rsqrt(sum(x**2)), 1 / eps) keeps zero rows finite.
        squares = tnp.sum(tnp.square(x), axis=1, keepdims=True)
        unit = x / tnp.maximum(tnp.sqrt(squares), 1e-7)
        product = tnp.matmul(unit, tnp.transpose(unit))
        off_diagonal = product * (1.0 - tnp.eye(size, dtype=x.dtype))
        num_pairs = size * (size - 1) / 2.0
        return self.factor * 0.5 * tnp.sum(tnp.abs(off_diagonal)) / num_pairs

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


# Keras 3 exports each class under a lowercase alias too (``keras.regularizers.l2(1e-4)``).
l1 = L1
l2 = L2
l1_l2 = L1L2
orthogonal_regularizer = OrthogonalRegularizer

_CLASSES: tuple[type[Regularizer], ...] = (Regularizer, L1, L2, L1L2, OrthogonalRegularizer)
_BY_NAME: dict[str, type[Regularizer]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update(
    {"l1": L1, "l2": L2, "l1_l2": L1L2, "orthogonal_regularizer": OrthogonalRegularizer}
)


def _lookup(name: str) -> type[Regularizer]:
    if name not in _BY_NAME or name == "Regularizer":
        known = ", ".join(sorted(n for n in _BY_NAME if n.islower() or "_" in n))
        raise ValueError(
            f"Could not interpret regularizer identifier {name!r}; known names: {known}"
        )
    return _BY_NAME[name]


def serialize(regularizer: Any) -> Any:
    """A JSON-friendly description ``{"module", "class_name", "config"}`` (``None`` stays).

    Examples:
        >>> serialize(L2(0.1))["class_name"], serialize(None)
        ('L2', None)
    """
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer):
        cls = type(regularizer)
        return {
            "module": __name__ if cls in _CLASSES else cls.__module__,
            "class_name": cls.__name__,
            "config": regularizer.get_config(),
            "registered_name": _registered_name(cls),
        }
    return {
        "module": getattr(regularizer, "__module__", None),
        "class_name": "function",
        "config": getattr(regularizer, "__name__", repr(regularizer)),
        "registered_name": _registered_name(regularizer),
    }


def _registered_name(obj: Any) -> str | None:
    """The name `register_keras_serializable` gave ``obj`` (None if it gave none)."""
    try:
        name = object_registration.get_registered_name(obj)
    except AttributeError:  # a callable object without a __name__ is never registered
        return None
    return name if ">" in name else None


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Regularizer:
    """A regularizer from `serialize`'s dict, ``{"class_name", "config"}``, or a name.

    Examples:
        >>> deserialize(serialize(L1L2(0.1, 0.2))).get_config()
        {'l1': 0.1, 'l2': 0.2}
    """
    if custom_objects:  # Keras' argument: the names it gives are known while decoding
        with object_registration.CustomObjectScope(custom_objects):
            return deserialize(config)
    return deserialize_object(config, "regularizer", "Regularizer", _lookup)


def get(identifier: Any) -> Any:
    """Resolve a regularizer from a name, a serialized dict, a class or an instance.

    Args:
        identifier: ``"l1"``, ``"l2"``, ``"l1_l2"``, ``"L2"``, a dict from `serialize`, a
            `Regularizer` class or instance, or any callable ``weights -> scalar``;
            ``None`` gives ``None``.

    Returns:
        A callable regularizer (a fresh instance for names), or ``None``.

    Examples:
        >>> get("l1").l1, get(None)
        (0.01, None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str | dict):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        identifier = identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret regularizer identifier: {identifier!r}")


__all__ = [
    "L1",
    "L1L2",
    "L2",
    "OrthogonalRegularizer",
    "Regularizer",
    "deserialize",
    "get",
    "l1",
    "l1_l2",
    "l2",
    "orthogonal_regularizer",
    "serialize",
]
