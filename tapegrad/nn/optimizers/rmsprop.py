"""RMSprop (Hinton, 2012), plain or centered, with optional momentum — Keras 3 formulas."""

from __future__ import annotations

from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_bool, check_number, check_probability

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """Divide the gradient by a running root-mean-square of recent gradients.

    With slots ``v`` (velocity), ``a`` (average gradient, centered only) and ``mom``
    (momentum), all initially 0::

        v = rho * v + (1 - rho) * g**2
        a = rho * a + (1 - rho) * g                       # centered only
        denominator = v - a**2 + epsilon   if centered   else   v + epsilon
        increment = lr * g / sqrt(denominator)
        mom = momentum * mom + increment; w -= mom        # momentum > 0
        w -= increment                                    # momentum == 0

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        rho: Discount factor of the running averages.
        momentum: Momentum (0 for none).
        epsilon: Small constant for stability.
        centered: Whether to normalize by the estimated variance instead of the
            uncentered second moment.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See
            ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import RMSprop
        >>> w = tg.Variable(10.0)
        >>> RMSprop(learning_rate=0.1).minimize(lambda: w * w / 2.0, [w])  # gradient w
        >>> round(float(w), 6)          # 10 - 0.1 * 10 / sqrt(0.1 * 100)
        9.683772
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
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
        owner = type(self).__name__
        self.rho = check_probability(owner, "rho", rho)
        self.momentum = check_probability(owner, "momentum", momentum, include_one=True)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0.0)
        self.centered = check_bool(owner, "centered", centered)

    def build(self, var_list: list[tg.Variable]) -> None:
        """Create the ``velocity`` slots, plus ``momentum`` and ``average_gradient`` ones
        when those options are on."""
        if self.built:
            return
        super().build(var_list)
        self._velocities = self.add_optimizer_variables(var_list, "velocity")
        self._momentums = (
            self.add_optimizer_variables(var_list, "momentum") if self.momentum > 0 else []
        )
        self._average_gradients = (
            self.add_optimizer_variables(var_list, "average_gradient") if self.centered else []
        )

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one RMSprop step to ``variable``."""
        lr = cast_to(learning_rate, variable.dtype)
        index = self._get_variable_index(variable)
        rho = self.rho
        velocity = self._velocities[index]
        velocity.assign(rho * velocity + (1 - rho) * tnp.square(gradient))
        if self.centered:
            average = self._average_gradients[index]
            average.assign(rho * average + (1 - rho) * gradient)
            denominator = velocity - tnp.square(average) + self.epsilon
        else:
            denominator = velocity + self.epsilon
        increment = lr * gradient / tnp.sqrt(denominator)
        if self.momentum > 0:
            momentum = self._momentums[index]
            momentum.assign(self.momentum * momentum + increment)
            variable.assign_sub(momentum)
        else:
            variable.assign_sub(increment)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }
