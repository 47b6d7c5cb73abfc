"""Adadelta and Adafactor: step sizes adapted from running squared averages (Keras 3)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_bool, check_number, check_probability

__all__ = ["Adadelta", "Adafactor"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler, 2012), in Keras' form (the learning rate scales the step).

    With slots ``E[g^2]`` and ``E[dx^2]`` (initially 0) and ``rms(x) = sqrt(x + epsilon)``::

        E[g^2] = rho * E[g^2] + (1 - rho) * g**2
        dx = -rms(E[dx^2]) * g / rms(E[g^2])
        E[dx^2] = rho * E[dx^2] + (1 - rho) * dx**2
        w = w + lr * dx

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable
            (Keras' default 0.001; the paper's method is ``learning_rate=1.0``).
        rho: Decay rate of both running averages.
        epsilon: Small constant for stability.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, name, **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Adadelta
        >>> w = tg.Variable([1.0])
        >>> Adadelta(learning_rate=1.0).apply([tg.tensor([2.0])], [w])
        >>> w.numpy().round(6)           # 1 - sqrt(1e-7) * 2 / sqrt(0.05 * 4 + 1e-7)
        array([0.998586], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        rho: float = 0.95,
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
        owner = type(self).__name__
        self.rho = check_probability(owner, "rho", rho)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0.0)

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create the ``accumulated_grad`` and ``accumulated_delta_var`` slots."""
        if self.built:
            return
        super().build(var_list)
        self._accumulated_grads, self._accumulated_delta_vars = self.add_optimizer_variables(
            var_list, ["accumulated_grad", "accumulated_delta_var"]
        )

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one Adadelta step to ``variable``."""
        lr = cast_to(learning_rate, variable.dtype)
        rho = self.rho
        index = self._get_variable_index(variable)
        accumulated_grad = self._accumulated_grads[index]
        accumulated_delta = self._accumulated_delta_vars[index]
        accumulated_grad.assign(rho * accumulated_grad + (1 - rho) * tnp.square(gradient))
        delta = -(
            tnp.sqrt(accumulated_delta + self.epsilon)
            * gradient
            / tnp.sqrt(accumulated_grad + self.epsilon)
        )
        accumulated_delta.assign(rho * accumulated_delta + (1 - rho) * tnp.square(delta))
        variable.assign_add(lr * delta)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


def _rms(x: Any) -> Any:
    return tnp.sqrt(tnp.mean(tnp.square(x)))


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018): a factored second moment for variables of rank >= 2.

    With ``t = iterations + 1``, ``beta_2_t = 1 - t**beta_2_decay`` and
    ``G = g**2 + epsilon_1``: a variable of rank >= 2 keeps row and column averages ``r``
    (over the last axis) and ``c`` (over the second-to-last) and ``v = r / mean(r) * c``;
    other variables keep ``v`` itself. Then::

        u = g / sqrt(v);  u = u / max(1, rms(u) / clip_threshold)
        w = w - max(epsilon_2, rms(w)) * min(lr, 1 / sqrt(t)) * u

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        beta_2_decay: Exponent of the second-moment decay schedule.
        epsilon_1: Regularization constant added to the squared gradient.
        epsilon_2: Lower bound of the relative step scale.
        clip_threshold: Threshold of the root-mean-square update clipping.
        relative_step: Keras' flag: cap a constant rate at ``1 / sqrt(t)``. The cap is in
            the update itself, so the flag changes nothing (as in Keras); kept for configs.
        weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, name, **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> from tapegrad.nn.optimizers import Adafactor
        >>> w = tg.Variable([[1.0, 2.0], [3.0, 4.0]])
        >>> Adafactor(learning_rate=0.1).apply([tnp.ones((2, 2))], [w])
        >>> w.numpy().round(4)
        array([[0.7261, 1.7261],
               [2.7261, 3.7261]], dtype=float32)
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        beta_2_decay: float = -0.8,
        epsilon_1: float = 1e-30,
        epsilon_2: float = 1e-3,
        clip_threshold: float = 1.0,
        relative_step: bool = True,
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
        self.beta_2_decay = check_number(owner, "beta_2_decay", beta_2_decay)
        self.epsilon_1 = check_number(owner, "epsilon_1", epsilon_1, low=0.0)
        self.epsilon_2 = check_number(owner, "epsilon_2", epsilon_2, low=0.0)
        self.clip_threshold = check_number(
            owner, "clip_threshold", clip_threshold, low=0.0, low_open=True
        )
        self.relative_step = check_bool(owner, "relative_step", relative_step)

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create the factored ``r``/``c`` slots (rank >= 2) and the ``velocity`` slots."""
        if self.built:
            return
        var_list = list(var_list)
        super().build(var_list)
        self._r: list[tg.Variable | None] = []
        self._c: list[tg.Variable | None] = []
        self._v: list[tg.Variable] = []
        # Per variable r, c, velocity: Keras 3's order (so saved states line up).
        for var in var_list:
            shape = tuple(var.shape)
            base = str(var.name).replace("/", "_")
            if len(shape) < 2:
                # Unused placeholders, kept because Keras creates (and saves) them.
                self.add_variable((), dtype="int32", name=f"{base}_r")
                self.add_variable((), dtype="int32", name=f"{base}_c")
                self._r.append(None)
                self._c.append(None)
            else:
                self._r.append(self.add_variable(shape[:-1], dtype=var.dtype, name=f"{base}_r"))
                self._c.append(
                    self.add_variable(shape[:-2] + shape[-1:], dtype=var.dtype, name=f"{base}_c")
                )
            self._v.append(self.add_variable_from_reference(var, "velocity"))

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply one Adafactor step to ``variable``."""
        dtype = variable.dtype
        lr = cast_to(learning_rate, dtype)
        local_step = tnp.astype(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        r, c, v = self._r[index], self._c[index], self._v[index]
        rho_t = tnp.minimum(lr, 1 / tnp.sqrt(local_step))
        alpha_t = tnp.maximum(tnp.astype(self.epsilon_2, dtype), _rms(variable)) * rho_t
        grad_square = tnp.square(gradient) + self.epsilon_1
        beta_2_t = 1 - tnp.power(local_step, tnp.astype(self.beta_2_decay, dtype))
        if r is not None and c is not None:
            r.assign(beta_2_t * r + (1 - beta_2_t) * tnp.mean(grad_square, axis=-1))
            c.assign(beta_2_t * c + (1 - beta_2_t) * tnp.mean(grad_square, axis=-2))
            row = tnp.expand_dims(r / tnp.mean(r, axis=-1, keepdims=True), -1)
            v.assign(row * tnp.expand_dims(c, -2))
        else:
            v.assign(beta_2_t * v + (1 - beta_2_t) * grad_square)
        u_t = gradient / tnp.sqrt(v)
        u_t_hat = u_t / tnp.maximum(tnp.astype(1.0, dtype), _rms(u_t) / self.clip_threshold)
        variable.assign_sub(alpha_t * u_t_hat)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            **super().get_config(),
            "beta_2_decay": self.beta_2_decay,
            "epsilon_1": self.epsilon_1,
            "epsilon_2": self.epsilon_2,
            "clip_threshold": self.clip_threshold,
            "relative_step": self.relative_step,
        }
