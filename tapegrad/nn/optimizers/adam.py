"""Adam, its AMSGrad variant, and AdamW (decoupled weight decay) — Keras 3 formulas."""

from __future__ import annotations

from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_bool, check_number, check_probability

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2014), in Keras' form with ``epsilon`` outside the square root.

    With step ``t = iterations + 1`` and slots ``m``, ``v`` (initially 0)::

        m = m + (g - m) * (1 - beta_1)
        v = v + (g**2 - v) * (1 - beta_2)
        v_hat = max(v_hat, v)                    # amsgrad only; then v_hat replaces v
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w = w - m * alpha / (sqrt(v) + epsilon)

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        beta_1: Decay rate of the first-moment estimate.
        beta_2: Decay rate of the second-moment estimate.
        epsilon: Small constant for stability ("epsilon hat" of the paper).
        amsgrad: Whether to use the AMSGrad variant (Reddi et al., 2018).
        weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs: See
            ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Adam
        >>> w = tg.Variable([1.0, -1.0])
        >>> Adam(learning_rate=0.1).minimize(lambda: (w * w).sum(), [w])
        >>> w.numpy().round(4)           # the first Adam step moves each weight by ~lr
        array([ 0.9, -0.9], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
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
        self.beta_1 = check_probability(owner, "beta_1", beta_1)
        self.beta_2 = check_probability(owner, "beta_2", beta_2)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0.0)
        self.amsgrad = check_bool(owner, "amsgrad", amsgrad)

    def build(self, var_list: list[tg.Variable]) -> None:
        """Create the ``momentum`` and ``velocity`` slots (and ``velocity_hat`` for
        AMSGrad)."""
        if self.built:
            return
        super().build(var_list)
        # Each variable's two slots together, in Keras 3's order.
        self._momentums, self._velocities = self.add_optimizer_variables(
            var_list, ["momentum", "velocity"]
        )
        self._velocity_hats = (
            self.add_optimizer_variables(var_list, "velocity_hat") if self.amsgrad else []
        )

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one Adam step to ``variable``."""
        dtype = variable.dtype
        lr = cast_to(learning_rate, dtype)
        local_step = tnp.astype(self.iterations + 1, dtype)
        beta_1_power = tnp.power(tnp.astype(self.beta_1, dtype), local_step)
        beta_2_power = tnp.power(tnp.astype(self.beta_2, dtype), local_step)
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._velocities[index]
        alpha = lr * tnp.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m.assign_add((gradient - m) * (1 - self.beta_1))
        v.assign_add((tnp.square(gradient) - v) * (1 - self.beta_2))
        if self.amsgrad:
            v_hat = self._velocity_hats[index]
            v_hat.assign(tnp.maximum(v_hat, v))
            v = v_hat
        variable.assign_sub(m * alpha / (tnp.sqrt(v) + self.epsilon))

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019).

    Before each Adam step, ``w -= w * weight_decay * lr`` (Keras 3 applies this in the base
    class for every optimizer; AdamW only makes ``weight_decay`` required, 0.004 by default).

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        weight_decay: The decay rate (must not be None).
        beta_1, beta_2, epsilon, amsgrad: As in ``Adam``.
        clipnorm, clipvalue, global_clipnorm, name, **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import AdamW
        >>> w = tg.Variable([2.0])
        >>> opt = AdamW(learning_rate=0.1, weight_decay=0.5)
        >>> opt.apply([tg.tensor([0.0])], [w])   # zero gradient: only the decay acts
        >>> w.numpy()                             # 2 - 2 * 0.5 * 0.1
        array([1.9], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if weight_decay is None:
            raise ValueError("AdamW: argument `weight_decay` must be a float, got None")
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            weight_decay=weight_decay,
            clipnorm=clipnorm,
            clipvalue=clipvalue,
            global_clipnorm=global_clipnorm,
            name=name,
            **kwargs,
        )
