"""Nadam, Adamax and Lamb: Adam's moment estimates with other steps (Keras 3 formulas)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_number, check_probability

__all__ = ["Adamax", "Lamb", "Nadam"]


class _MomentOptimizer(Optimizer):
    """Shared arguments (``beta_1``, ``beta_2``, ``epsilon``) and config of the three."""

    def __init__(
        self,
        learning_rate: Any,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        **kwargs: Any,
    ) -> None:
        super().__init__(learning_rate=learning_rate, **kwargs)
        owner = type(self).__name__
        self.beta_1 = check_probability(owner, "beta_1", beta_1)
        self.beta_2 = check_probability(owner, "beta_2", beta_2)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0.0)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }


class Nadam(_MomentOptimizer):
    """Nadam: Adam with Nesterov momentum (Dozat, 2015), with Keras' momentum schedule.

    With ``t = iterations + 1``, ``u_t = beta_1 * (1 - 0.5 * 0.96**t)`` and the running
    product ``U_t = u_1 * ... * u_t`` (an optimizer variable)::

        m = m + (g - m) * (1 - beta_1);  v = v + (g**2 - v) * (1 - beta_2)
        m_hat = u_{t+1} * m / (1 - U_t * u_{t+1}) + (1 - u_t) * g / (1 - U_t)
        w = w - lr * m_hat / (sqrt(v / (1 - beta_2**t)) + epsilon)

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        beta_1: Decay rate of the first moment.
        beta_2: Decay rate of the second moment.
        epsilon: Small constant for stability.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, name, **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Nadam
        >>> w = tg.Variable([1.0, -1.0])
        >>> Nadam(learning_rate=0.1).apply([tg.tensor([0.5, -0.5])], [w])
        >>> w.numpy().round(4)
        array([ 0.8937, -0.8937], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create the ``momentum`` and ``velocity`` slots and the ``u_product`` scalar."""
        if self.built:
            return
        var_list = list(var_list)
        dtype = var_list[0].dtype if var_list else "float32"
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        self._u_product = self.add_variable((), initializer=1.0, dtype=dtype, name="u_product")

    def update_variables(self, grads: list[Any], variables: list[tg.Variable]) -> None:
        """As ``Optimizer.update_variables``; first advances the momentum-schedule product
        once per update (not once per variable, nor on calls that only accumulate), as
        Keras' ``_backend_update_step`` does."""
        dtype = self._u_product.dtype
        step = tnp.astype(self.iterations + 1, dtype)
        u_t = self.beta_1 * (1.0 - 0.5 * tnp.power(tnp.astype(0.96, dtype), step))
        self._u_product.assign(self._u_product * u_t)
        super().update_variables(grads, variables)

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one Nadam step to ``variable``."""
        dtype = variable.dtype
        lr = cast_to(learning_rate, dtype)
        local_step = tnp.astype(self.iterations + 1, dtype)
        decay = tnp.astype(0.96, dtype)
        u_t = self.beta_1 * (1.0 - 0.5 * tnp.power(decay, local_step))
        u_t_1 = self.beta_1 * (1.0 - 0.5 * tnp.power(decay, local_step + 1))
        u_product_t = cast_to(self._u_product, dtype)
        u_product_t_1 = u_product_t * u_t_1
        beta_2_power = tnp.power(tnp.astype(self.beta_2, dtype), local_step)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        m.assign_add((gradient - m) * (1 - self.beta_1))
        v.assign_add((tnp.square(gradient) - v) * (1 - self.beta_2))
        m_hat = u_t_1 * m / (1 - u_product_t_1) + (1 - u_t) * gradient / (1 - u_product_t)
        v_hat = v / (1 - beta_2_power)
        variable.assign_sub(m_hat * lr / (tnp.sqrt(v_hat) + self.epsilon))


class Adamax(_MomentOptimizer):
    """Adamax: Adam with the infinity norm (Kingma & Ba, 2014, section 7).

    With ``t = iterations + 1``::

        m = m + (g - m) * (1 - beta_1)
        u = max(beta_2 * u, |g|)
        w = w - lr * m / ((1 - beta_1**t) * (u + epsilon))

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        beta_1: Decay rate of the first moment.
        beta_2: Decay rate of the exponentially weighted infinity norm.
        epsilon: Small constant for stability.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, name, **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Adamax
        >>> w = tg.Variable([1.0, -1.0])
        >>> Adamax(learning_rate=0.1).apply([tg.tensor([0.5, -0.5])], [w])
        >>> w.numpy().round(4)           # the first step moves each weight by ~lr
        array([ 0.9, -0.9], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create the ``momentum`` and ``norm`` slots."""
        if self.built:
            return
        super().build(var_list)
        self._m, self._u = self.add_optimizer_variables(var_list, ["momentum", "norm"])

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one Adamax step to ``variable``."""
        dtype = variable.dtype
        lr = cast_to(learning_rate, dtype)
        local_step = tnp.astype(self.iterations + 1, dtype)
        beta_1_power = tnp.power(tnp.astype(self.beta_1, dtype), local_step)
        index = self._get_variable_index(variable)
        m = self._m[index]
        u = self._u[index]
        m.assign_add((gradient - m) * (1 - self.beta_1))
        u.assign(tnp.maximum(self.beta_2 * u, tnp.abs(gradient)))
        variable.assign_sub(lr * m / ((1 - beta_1_power) * (u + self.epsilon)))


class Lamb(_MomentOptimizer):
    """LAMB (You et al., 2019): Adam's step rescaled per variable by the trust ratio.

    With ``t = iterations + 1`` and Adam's moments ``m``, ``v``::

        update = (m / (1 - beta_1**t)) / (sqrt(v / (1 - beta_2**t)) + epsilon)
        ratio = ||w|| / ||update||   (1 when either norm is 0)
        w = w - ratio * lr * update

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        beta_1: Decay rate of the first moment.
        beta_2: Decay rate of the second moment.
        epsilon: Small constant for stability.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, name, **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Lamb
        >>> w = tg.Variable([3.0, 4.0])
        >>> Lamb(learning_rate=0.1).apply([tg.tensor([1.0, 1.0])], [w])
        >>> w.numpy().round(4)           # the step has norm lr * ||w|| = 0.5
        array([2.6464, 3.6464], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        weight_decay: float | None = None,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create the ``momentum`` and ``velocity`` slots."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one LAMB step to ``variable``."""
        dtype = variable.dtype
        lr = cast_to(learning_rate, dtype)
        local_step = tnp.astype(self.iterations + 1, dtype)
        beta_1_power = tnp.power(tnp.astype(self.beta_1, dtype), local_step)
        beta_2_power = tnp.power(tnp.astype(self.beta_2, dtype), local_step)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        m.assign_add((gradient - m) * (1 - self.beta_1))
        v.assign_add((tnp.square(gradient) - v) * (1 - self.beta_2))
        update = (m / (1.0 - beta_1_power)) / (tnp.sqrt(v / (1.0 - beta_2_power)) + self.epsilon)
        w_norm = tnp.sqrt(tnp.sum(tnp.square(variable)))
        g_norm = tnp.sqrt(tnp.sum(tnp.square(update)))
        # Both norms positive: their ratio; otherwise 1 (the divisor is kept nonzero so
        # the unused branch is finite).
        safe_g = tnp.where(g_norm > 0, g_norm, tnp.ones_like(g_norm))
        ratio = tnp.where((w_norm > 0) & (g_norm > 0), w_norm / safe_g, tnp.ones_like(w_norm))
        variable.assign_sub(ratio * lr * update)
