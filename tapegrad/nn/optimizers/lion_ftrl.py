"""Lion (sign of an interpolated momentum) and FTRL-Proximal (Keras 3 formulas)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_number, check_probability

__all__ = ["Ftrl", "Lion"]


class Lion(Optimizer):
    """Lion (Chen et al., 2023): every weight moves by exactly ``lr`` per step, or stays.

    With the momentum slot ``m`` (initially 0)::

        w = w - lr * sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        beta_1: Interpolation factor of the update direction.
        beta_2: Decay rate of the momentum.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, name, **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Lion
        >>> w = tg.Variable([1.0, -1.0, 0.5])
        >>> Lion(learning_rate=0.1).apply([tg.tensor([3.0, -0.01, 0.0])], [w])
        >>> w.numpy()
        array([ 0.9, -0.9,  0.5], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.99,
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
        # Keras: beta_1 in (0, 1]; beta_1 = 0 would make Lion signSGD, which Keras refuses.
        self.beta_1 = check_number(owner, "beta_1", beta_1, low=0.0, high=1.0, low_open=True)
        self.beta_2 = check_probability(owner, "beta_2", beta_2)

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create the ``momentum`` slots."""
        if self.built:
            return
        super().build(var_list)
        self._momentums = self.add_optimizer_variables(var_list, "momentum")

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one Lion step to ``variable``."""
        lr = cast_to(learning_rate, variable.dtype)
        m = self._momentums[self._get_variable_index(variable)]
        variable.assign_sub(lr * tnp.sign(m * self.beta_1 + gradient * (1.0 - self.beta_1)))
        m.assign(m * self.beta_2 + gradient * (1.0 - self.beta_2))

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013), with Keras' L2 shrinkage and ``beta``.

    With slots ``n`` (initially ``initial_accumulator_value``) and ``z`` (initially 0),
    ``p = -learning_rate_power`` and ``l2 = l2_regularization_strength + beta / (2 lr)``::

        n_new = n + g**2
        z = z + (g + 2 * l2_shrinkage * w) - (n_new**p - n**p) / lr * w
        w = (clip(z, -l1, l1) - z) / (n_new**p / lr + 2 * l2);  n = n_new

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        learning_rate_power: Power of the rate decay, ``<= 0`` (-0.5: AdaGrad-like).
        initial_accumulator_value: Starting value of the accumulators, ``>= 0``.
        l1_regularization_strength: L1 strength, ``>= 0``.
        l2_regularization_strength: L2 strength, ``>= 0``.
        l2_shrinkage_regularization_strength: L2 shrinkage (a magnitude penalty on the
            gradient, not the stabilization penalty), ``>= 0``.
        beta: Added to the L2 term as ``beta / (2 lr)``, ``>= 0``.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, name, **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Ftrl
        >>> w = tg.Variable([0.0, 0.0])
        >>> opt = Ftrl(learning_rate=0.1, l1_regularization_strength=0.5)
        >>> opt.apply([tg.tensor([1.0, 0.1])], [w])
        >>> w.numpy().round(4)           # the small gradient stays inside the L1 dead zone
        array([-0.0477,  0.    ], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        learning_rate_power: float = -0.5,
        initial_accumulator_value: float = 0.1,
        l1_regularization_strength: float = 0.0,
        l2_regularization_strength: float = 0.0,
        l2_shrinkage_regularization_strength: float = 0.0,
        beta: float = 0.0,
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
        self.learning_rate_power = check_number(
            owner, "learning_rate_power", learning_rate_power, high=0.0
        )
        self.initial_accumulator_value = check_number(
            owner, "initial_accumulator_value", initial_accumulator_value, low=0.0
        )
        self.l1_regularization_strength = check_number(
            owner, "l1_regularization_strength", l1_regularization_strength, low=0.0
        )
        self.l2_regularization_strength = check_number(
            owner, "l2_regularization_strength", l2_regularization_strength, low=0.0
        )
        self.l2_shrinkage_regularization_strength = check_number(
            owner,
            "l2_shrinkage_regularization_strength",
            l2_shrinkage_regularization_strength,
            low=0.0,
        )
        self.beta = check_number(owner, "beta", beta, low=0.0)

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create the ``accumulator`` and ``linear`` slots."""
        if self.built:
            return
        super().build(var_list)
        self._accumulators, self._linears = self.add_optimizer_variables(
            var_list, ["accumulator", "linear"], [self.initial_accumulator_value, "zeros"]
        )

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one FTRL step to ``variable``."""
        lr = cast_to(learning_rate, variable.dtype)
        index = self._get_variable_index(variable)
        accum = self._accumulators[index]
        linear = self._linears[index]
        power = -self.learning_rate_power
        l2_reg = self.l2_regularization_strength + self.beta / (2.0 * lr)
        grad_to_use = gradient + 2 * self.l2_shrinkage_regularization_strength * variable
        new_accum = accum + tnp.square(gradient)
        new_accum_power = tnp.power(new_accum, power)
        linear.assign_add(grad_to_use - (new_accum_power - tnp.power(accum, power)) / lr * variable)
        quadratic = new_accum_power / lr + 2 * l2_reg
        l1 = self.l1_regularization_strength
        variable.assign((tnp.clip(linear, -l1, l1) - linear) / quadratic)
        accum.assign(new_accum)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            **super().get_config(),
            "learning_rate_power": self.learning_rate_power,
            "initial_accumulator_value": self.initial_accumulator_value,
            "l1_regularization_strength": self.l1_regularization_strength,
            "l2_regularization_strength": self.l2_regularization_strength,
            "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
            "beta": self.beta,
        }
