"""Adagrad (Duchi et al., 2011): per-coordinate rates that shrink with the squared-gradient
sum — Keras 3 formulas."""

from __future__ import annotations

from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_number

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: divide by the root of the running sum of squared gradients.

    With the accumulator slot ``acc`` (initially ``initial_accumulator_value``)::

        acc = acc + g**2
        w = w - lr * g / sqrt(acc + epsilon)

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        initial_accumulator_value: Starting value of the accumulators (>= 0).
        epsilon: Small constant for stability.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See
            ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Adagrad
        >>> w = tg.Variable(1.0)
        >>> opt = Adagrad(learning_rate=0.5, initial_accumulator_value=0.0, epsilon=0.0)
        >>> opt.minimize(lambda: 3.0 * w, [w])    # gradient 3: w -= 0.5 * 3 / sqrt(9)
        >>> float(w)
        0.5
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        initial_accumulator_value: float = 0.1,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
        self.initial_accumulator_value = check_number(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value, low=0.0
        )
        self.epsilon = check_number("Adagrad", "epsilon", epsilon, low=0.0)

    def build(self, var_list: list[tg.Variable]) -> None:
        """Create one ``accumulator`` slot per variable."""
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list, "accumulator", initializer=float(self.initial_accumulator_value)
        )

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one Adagrad step to ``variable``."""
        lr = cast_to(learning_rate, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]
        accumulator.assign_add(tnp.square(gradient))
        variable.assign_sub(lr * gradient / tnp.sqrt(accumulator + self.epsilon))

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }
