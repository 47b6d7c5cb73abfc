"""The `Metric` base (Keras' ``keras/src/metrics/metric.py``): state in non-trainable
Variables, ``update_state`` / ``result`` / ``reset_state``, configs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import backend
from tapegrad.nn import initializers
from tapegrad.nn.validation import check_name


def _divide_no_nan(a: Any, b: Any) -> Any:
    zero = b == 0
    return tnp.where(zero, 0.0, a / tnp.where(zero, 1.0, b))


def _snake_case(name: str) -> str:
    # Keras' to_snake_case: "TopKCategoricalAccuracy" -> "top_k_categorical_accuracy".
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Metric:
    """Base class of stateful metrics.

    Subclasses create their state with `add_variable` in ``__init__`` and implement
    ``update_state`` and ``result``.

    Args:
        name: Name (default: the class name in snake_case).
        dtype: dtype of the state and the result (default float32).

    Examples:
        >>> class Count(Metric):
        ...     def __init__(self, name="count", dtype=None):
        ...         super().__init__(name=name, dtype=dtype)
        ...         self.n = self.add_variable((), name="n")
        ...     def update_state(self, values):
        ...         self.n.assign_add(float(np.size(values)))
        ...     def result(self):
        ...         return self.n.value
        >>> c = Count()
        >>> float(c([1, 2, 3])), [v.name for v in c.variables]
        (3.0, ['count/n'])
    """

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = check_name(type(self).__name__, name) or _snake_case(type(self).__name__)
        self.dtype = np.dtype(dtype or backend.floatx()).name
        self._variables: list[tg.Variable] = []

    def add_variable(
        self,
        shape: Sequence[int],
        initializer: Any = "zeros",
        dtype: Any = None,
        name: str | None = None,
    ) -> tg.Variable:
        """Create a non-trainable state Variable (part of `variables`)."""
        dtype = np.dtype(dtype or self.dtype)
        value = initializers.get(initializer)(tuple(shape), dtype=dtype)
        variable = tg.Variable(
            np.asarray(value, dtype=dtype),
            trainable=False,
            name=f"{self.name}/{name or 'variable'}",
            dtype=dtype,
        )
        self._variables.append(variable)
        return variable

    @property
    def variables(self) -> list[tg.Variable]:
        """The state Variables."""
        return list(self._variables)

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        """Accumulate statistics from one batch (override)."""
        raise NotImplementedError(f"{type(self).__name__}.update_state is not implemented")

    def result(self) -> Any:
        """The metric's value from the accumulated state (override)."""
        raise NotImplementedError(f"{type(self).__name__}.result is not implemented")

    def reset_state(self) -> None:
        """Zero every state Variable."""
        for variable in self._variables:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """``update_state(...)`` then ``result()``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (JSON-friendly)."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        """Rebuild a metric (with fresh state) from `get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"
