"""Stochastic gradient descent, with optional (Nesterov) momentum (Keras 3 ``SGD``)."""

from __future__ import annotations

from typing import Any

import tapegrad as tg
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_bool, check_probability

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent with optional momentum.

    Without momentum: ``w -= lr * g``. With momentum ``m`` and velocity ``v`` (a slot,
    initially 0)::

        v = m * v - lr * g
        w = w + v                      # nesterov=False
        w = w + m * v - lr * g         # nesterov=True

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        momentum: Float in ``[0, 1]``; 0 is plain gradient descent.
        nesterov: Whether to use Nesterov momentum.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See
            ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import SGD
        >>> w = tg.Variable(1.0)
        >>> opt = SGD(learning_rate=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.minimize(lambda: w * w, [w])   # gradient 2w
        >>> round(float(w), 4)                     # 1 - 0.2, then 0.8 - 0.9*0.2 - 0.16
        0.46
    """

    def __init__(
        self,
        learning_rate: Any = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
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
        self.momentum = check_probability("SGD", "momentum", momentum, include_one=True)
        self.nesterov = check_bool("SGD", "nesterov", nesterov)

    def build(self, var_list: list[tg.Variable]) -> None:
        """Create one momentum slot per variable (none when ``momentum`` is 0)."""
        if self.built:
            return
        super().build(var_list)
        self.momentums = (
            self.add_optimizer_variables(var_list, "momentum") if self.momentum != 0 else []
        )

    def update_variables(self, grads: list[Any], variables: list[tg.Variable]) -> None:
        """Plain SGD (no momentum) updates every variable in one `foreach_assign_sub` call
        (the same results as `update_step` per variable, without an op per variable);
        otherwise as `Optimizer.update_variables`.

        Args:
            grads: Gradients with the variables' shapes and dtypes.
            variables: The model Variables, one per gradient.
        """
        dtype = variables[0].dtype if variables else None
        if (
            self.momentum != 0
            or type(self).update_step is not SGD.update_step  # (a subclass's own step)
            or any(variable.dtype != dtype for variable in variables)  # (several rates)
        ):
            super().update_variables(grads, variables)
            return
        grads = self._clip_gradients(grads)
        rate = cast_to(self.learning_rate, dtype)
        self._apply_weight_decay(variables, {dtype: rate})
        tg.foreach_assign_sub(variables, grads, rate)

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one SGD step to ``variable``."""
        lr = cast_to(learning_rate, variable.dtype)
        if self.momentum == 0:
            variable.assign_sub(gradient * lr)
            return
        velocity = self.momentums[self._get_variable_index(variable)]
        velocity.assign(velocity * self.momentum - gradient * lr)
        if self.nesterov:
            variable.assign_add(velocity * self.momentum - gradient * lr)
        else:
            variable.assign_add(velocity)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
