"""Weight constraints (Keras 3 ``keras.constraints``): ``new_value = constraint(weight)``.

A constraint projects a weight after each optimizer update (the optimizer assigns
``variable.constraint(variable)`` to the variable). Layers take them as
``kernel_constraint=`` / ``bias_constraint=`` ..., as an instance, a class or a name.

Examples:
    >>> import tapegrad as tg
    >>> from tapegrad.nn import constraints
    >>> constraints.get("non_neg")(tg.tensor([-1.0, 2.0])).numpy()
    array([0., 2.], dtype=float32)
    >>> constraints.serialize(constraints.MaxNorm(3.0))["config"]
    {'max_value': 3.0, 'axis': 0}
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

import tapegrad.numpy as tnp
from tapegrad import backend
from tapegrad.nn import object_registration
from tapegrad.nn._config import deserialize_object


def _norms(w: Any, axis: Any) -> Any:
    axis = tuple(axis) if isinstance(axis, list) else axis
    return tnp.sqrt(tnp.sum(tnp.square(w), axis=axis, keepdims=True))


def _as_float_tensor(w: Any) -> Any:
    w = tnp.asarray(w)
    # Keras casts w to the norms' dtype: an integer weight becomes floatx.
    return w if np.issubdtype(np.dtype(w.dtype), np.floating) else tnp.asarray(w, backend.floatx())


class Constraint:
    """Base class of weight constraints: subclass it and override ``__call__``.

    The base constraint returns the weight unchanged.

    Examples:
        >>> import tapegrad as tg
        >>> class Clip(Constraint):
        ...     def __call__(self, w):
        ...         return tg.numpy.clip(w, -1.0, 1.0)
        >>> Clip()(tg.tensor([-3.0, 0.5])).numpy()
        array([-1. ,  0.5], dtype=float32)
    """

    def __call__(self, w: Any) -> Any:
        """The projected weight.

        Args:
            w: The weight (a Variable or tensor).

        Returns:
            The weight, unchanged by the base class.
        """
        return w

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, a JSON-friendly dict.

        Returns:
            ``{}`` for the base class.
        """
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        """A constraint from `get_config`'s dict.

        Args:
            config: The dict.

        Returns:
            The constraint.

        Examples:
            >>> UnitNorm.from_config({"axis": 1}).axis
            1
        """
        return cls(**config)


class MaxNorm(Constraint):
    """Scales each weight vector along ``axis`` down to a norm of at most ``max_value``.

    Args:
        max_value: The largest norm allowed.
        axis: Axis (or list of axes) the norms are taken over: 0 for a `Dense` kernel
            (each unit's incoming weights), ``[0, 1, 2]`` for a `Conv2D` kernel.

    Examples:
        >>> import tapegrad as tg
        >>> MaxNorm(1.0)(tg.tensor([[3.0], [4.0]])).numpy().round(4)
        array([[0.6],
               [0.8]], dtype=float32)
    """

    def __init__(self, max_value: float = 2, axis: Any = 0) -> None:
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w: Any) -> Any:
        w = _as_float_tensor(w)
        norms = _norms(w, self.axis)
        desired = tnp.clip(norms, 0, self.max_value)
        return w * (desired / (backend.epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Sets negative weights to zero.

    Examples:
        >>> import tapegrad as tg
        >>> NonNeg()(tg.tensor([-1.0, 0.5])).numpy()
        array([0. , 0.5], dtype=float32)
    """

    def __call__(self, w: Any) -> Any:
        w = tnp.asarray(w)
        return tnp.maximum(w, tnp.zeros((), dtype=w.dtype))


class UnitNorm(Constraint):
    """Scales each weight vector along ``axis`` to unit norm.

    Args:
        axis: Axis (or list of axes) the norms are taken over.

    Examples:
        >>> import tapegrad as tg
        >>> UnitNorm()(tg.tensor([[3.0], [4.0]])).numpy().round(4)
        array([[0.6],
               [0.8]], dtype=float32)
    """

    def __init__(self, axis: Any = 0) -> None:
        self.axis = axis

    def __call__(self, w: Any) -> Any:
        w = _as_float_tensor(w)
        return w / (backend.epsilon() + _norms(w, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Moves each weight vector's norm along ``axis`` into ``[min_value, max_value]``.

    The new norm is ``rate * clip(norm, min_value, max_value) + (1 - rate) * norm``: rate 1
    enforces the bounds at once, a smaller rate moves towards them step by step.

    Args:
        min_value: The smallest norm.
        max_value: The largest norm.
        rate: How strictly the bounds are enforced, in ``[0, 1]``.
        axis: Axis (or list of axes) the norms are taken over.

    Examples:
        >>> import tapegrad as tg
        >>> MinMaxNorm(2.0, 3.0)(tg.tensor([[0.3], [0.4]])).numpy().round(4)
        array([[1.2],
               [1.6]], dtype=float32)
    """

    def __init__(
        self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: Any = 0
    ) -> None:
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w: Any) -> Any:
        w = _as_float_tensor(w)
        norms = _norms(w, self.axis)
        desired = (
            self.rate * tnp.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        )
        return w * (desired / (backend.epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


# Keras 3 exports each class under a snake_case alias too (``max_norm(2.0)``).
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm

_CLASSES: tuple[type[Constraint], ...] = (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)
_BY_NAME: dict[str, type[Constraint]] = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update(
    {
        "constraint": Constraint,
        "max_norm": MaxNorm,
        "min_max_norm": MinMaxNorm,
        "non_neg": NonNeg,
        "unit_norm": UnitNorm,
    }
)


def _lookup(name: str) -> type[Constraint]:
    if name not in _BY_NAME:
        known = ", ".join(sorted(n for n in _BY_NAME if "_" in n))
        raise ValueError(
            f"Could not interpret constraint identifier {name!r}; known names: {known}"
        )
    return _BY_NAME[name]


def _registered_name(obj: Any) -> str | None:
    """The name `register_keras_serializable` gave ``obj`` (None if it gave none)."""
    try:
        name = object_registration.get_registered_name(obj)
    except AttributeError:  # a callable object without a __name__ is never registered
        return None
    return name if ">" in name else None


def serialize(constraint: Any) -> Any:
    """A JSON-friendly description ``{"module", "class_name", "config"}`` (``None`` stays).

    Args:
        constraint: A `Constraint`, a function, or None.

    Returns:
        The dict, or None.

    Examples:
        >>> serialize(NonNeg())["class_name"], serialize(None)
        ('NonNeg', None)
    """
    if constraint is None:
        return None
    if isinstance(constraint, Constraint):
        cls = type(constraint)
        return {
            "module": __name__ if cls in _CLASSES else cls.__module__,
            "class_name": cls.__name__,
            "config": constraint.get_config(),
            "registered_name": _registered_name(cls),
        }
    return {
        "module": getattr(constraint, "__module__", None),
        "class_name": "function",
        "config": getattr(constraint, "__name__", repr(constraint)),
        "registered_name": _registered_name(constraint),
    }


def deserialize(config: Any, custom_objects: dict[str, Any] | None = None) -> Any:
    """A constraint from `serialize`'s dict, ``{"class_name", "config"}``, or a name.

    Args:
        config: The description.
        custom_objects: ``{name: class or function}`` known while decoding.

    Returns:
        The constraint.

    Examples:
        >>> deserialize(serialize(MaxNorm(3.0, axis=1))).get_config()
        {'max_value': 3.0, 'axis': 1}
    """
    if custom_objects:
        with object_registration.CustomObjectScope(custom_objects):
            return deserialize(config)
    return deserialize_object(config, "constraint", "Constraint", _lookup)


def get(identifier: Any) -> Any:
    """Resolve a constraint from a name, a serialized dict, a class or an instance.

    Args:
        identifier: ``"max_norm"``, ``"non_neg"``, ``"unit_norm"``, ``"min_max_norm"``, a
            class name (``"MaxNorm"``), a dict from `serialize`, a `Constraint` class or
            instance, or any callable ``weight -> new weight``; ``None`` gives ``None``.

    Returns:
        A callable constraint (a fresh instance for names and classes), or ``None``.

    Examples:
        >>> get("max_norm").max_value, get(None)
        (2, None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, str | dict):
        return deserialize(identifier)
    if inspect.isclass(identifier):
        identifier = identifier()
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret constraint identifier: {identifier!r}")


__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "deserialize",
    "get",
    "max_norm",
    "min_max_norm",
    "non_neg",
    "serialize",
    "unit_norm",
]
