"""Schedule-Free AdamW (Defazio et al., 2024), as Keras 3.15's
``keras.optimizers.ScheduleFreeAdamW``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_number, check_probability

__all__ = ["ScheduleFreeAdamW"]


class ScheduleFreeAdamW(Optimizer):
    """AdamW without a learning-rate schedule: interpolation plus averaging.

    Each variable ``y`` (what the model uses) keeps a ``momentum`` slot ``z`` (initially
    ``y``) and a ``velocity`` slot ``v``. With step ``t = iterations + 1`` and
    ``lr_t = lr * min(t / warmup_steps, 1)`` (no warmup when ``warmup_steps`` is 0)::

        v = v + (g**2 - v) * (1 - beta_2)
        z_new = z - lr_t * g / (sqrt(v / (1 - beta_2**t)) + epsilon)
        x = (y - (1 - beta_1) * z) / beta_1               # the average, recovered
        x = (1 - 1/t) * x + (1/t) * z_new
        y = (1 - beta_1) * z_new + beta_1 * x

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        beta_1: Interpolation between ``z`` and the average (and first-moment decay).
        beta_2: Second-moment decay.
        epsilon: Small constant for stability.
        warmup_steps: Steps of linear learning-rate warmup from 0.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name,
            **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import ScheduleFreeAdamW
        >>> w = tg.Variable([1.0])
        >>> opt = ScheduleFreeAdamW(learning_rate=0.1)
        >>> opt.apply([tg.tensor([1.0])], [w])
        >>> w.numpy().round(4)       # z moved by ~lr; y = 0.1 * z + 0.9 * x, x = z at t = 1
        array([0.9], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.0025,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        warmup_steps: int = 0,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            use_ema=use_ema,
            ema_momentum=ema_momentum,
            ema_overwrite_frequency=ema_overwrite_frequency,
            loss_scale_factor=loss_scale_factor,
            gradient_accumulation_steps=gradient_accumulation_steps,
            name=name,
            **kwargs,
        )
        owner = type(self).__name__
        # beta_1 divides (x is recovered from y and z): 0 is not allowed.
        self.beta_1 = check_number(owner, "beta_1", beta_1, low=0.0, low_open=True, high=1.0)
        self.beta_2 = check_probability(owner, "beta_2", beta_2)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0.0)
        check_number(owner, "warmup_steps", warmup_steps, low=0.0)
        self.warmup_steps = warmup_steps

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create the ``momentum`` (set to the variable) and ``velocity`` slots."""
        if self.built:
            return
        var_list = list(var_list)
        super().build(var_list)
        self._momentums: list[tg.Variable] = []
        self._velocities: list[tg.Variable] = []
        for variable in var_list:
            # The initial value, not an assignment: built inside a compiled step, an
            # assignment would be part of the step and reset the momentum at every call.
            start = np.asarray(variable.value)
            self._momentums.append(
                self.add_variable_from_reference(
                    variable, "momentum", initializer=lambda shape, dtype, v=start: v
                )
            )
            self._velocities.append(self.add_variable_from_reference(variable, "velocity"))

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one Schedule-Free AdamW step to ``variable``."""
        dtype = variable.dtype
        lr = cast_to(learning_rate, dtype)
        local_step = tnp.astype(self.iterations + 1, dtype)
        beta_1 = self.beta_1
        beta_2 = tnp.astype(self.beta_2, dtype)
        if self.warmup_steps > 0:
            lr = lr * tnp.minimum(local_step / tnp.astype(self.warmup_steps, dtype), 1.0)
        index = self._get_variable_index(variable)
        momentum = self._momentums[index]
        velocity = self._velocities[index]
        momentum_old = tnp.copy(momentum)  # read before momentum is updated below
        bias_correction_2 = 1 - tnp.power(beta_2, local_step)
        velocity.assign_add((tnp.square(gradient) - velocity) * (1 - beta_2))
        denom = tnp.sqrt(velocity / bias_correction_2) + tnp.astype(self.epsilon, dtype)
        momentum.assign_sub(lr * gradient / denom)
        weight = 1.0 / local_step
        x_old = (variable - (1 - beta_1) * momentum_old) / beta_1
        x_new = (1 - weight) * x_old + weight * momentum
        variable.assign((1 - beta_1) * momentum + beta_1 * x_new)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "warmup_steps": self.warmup_steps,
        }
