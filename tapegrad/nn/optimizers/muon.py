"""Muon: momentum orthogonalized by Newton-Schulz, with AdamW for the variables it excludes
(Keras 3.15's ``keras.optimizers.Muon``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.base import Optimizer, cast_to
from tapegrad.nn.validation import check_bool, check_number, check_probability

__all__ = ["Muon"]


def _swap_last_axes(x: Any) -> Any:
    return tnp.swapaxes(x, -1, -2)


class Muon(Optimizer):
    """Muon (Jordan et al., 2024; Liu et al., 2025), as Keras 3.15 implements it.

    A variable takes the AdamW step when it is not 2-D, when ``exclude_embeddings`` is set
    and its path contains ``"embedding"`` (any case), or when its path matches one of the
    ``exclude_layers`` regular expressions; every other variable takes the Muon step::

        m = momentum * m + g
        u = g + momentum * m            if nesterov else m
        X = u / (||u||_F + 1e-7)        (transposed while it has more rows than columns)
        X = a X + (b A + c A @ A) @ X   with A = X @ X^T, ns_steps times
        w = w - lr * X * sqrt(max(rows, cols)) * rms_rate     (no factor if rms_rate None)

    The AdamW step is Adam's with ``learning_rate * adam_lr_ratio``. Weight decay
    ``w -= w * decay * lr`` uses ``weight_decay`` for Muon variables and
    ``adam_weight_decay`` for AdamW ones (with the full ``lr``).

    Args:
        learning_rate: A float, a ``LearningRateSchedule`` or a zero-argument callable.
        adam_beta_1: AdamW's first-moment decay.
        adam_beta_2: AdamW's second-moment decay.
        adam_weight_decay: Weight decay of the AdamW variables (None: none).
        epsilon: AdamW's epsilon.
        weight_decay: Weight decay of the Muon variables.
        clipnorm, clipvalue, global_clipnorm, use_ema, ema_momentum,
            ema_overwrite_frequency, loss_scale_factor, gradient_accumulation_steps, name:
            See ``Optimizer``.
        exclude_layers: Regular expressions; a variable whose path matches one uses AdamW.
        exclude_embeddings: Whether embedding variables use AdamW.
        muon_a, muon_b, muon_c: The Newton-Schulz polynomial's coefficients.
        adam_lr_ratio: AdamW's learning rate relative to ``learning_rate``.
        momentum: The Muon momentum.
        ns_steps: The number of Newton-Schulz iterations.
        nesterov: Whether to use Nesterov momentum.
        rms_rate: The Moonlight update scale (None: off).
        **kwargs: See ``Optimizer``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Muon
        >>> w, b = tg.Variable([[1.0, 0.0], [0.0, 1.0]], name="w"), tg.Variable([0.0], name="b")
        >>> opt = Muon(learning_rate=0.1, weight_decay=None, adam_weight_decay=None)
        >>> opt.apply([tg.tensor([[1.0, 0.0], [0.0, 1.0]]), tg.tensor([1.0])], [w, b])
        >>> [v.name for v in opt.variables[2:]]   # b (1-D) has AdamW's velocity too
        ['w_momentum', 'b_momentum', 'b_velocity']
    """

    def __init__(
        self,
        learning_rate: Any = 0.001,
        adam_beta_1: float = 0.9,
        adam_beta_2: float = 0.999,
        adam_weight_decay: float | None = 0.004,
        epsilon: float = 1e-7,
        weight_decay: float | None = 0.004,
        clipnorm: float | None = None,
        clipvalue: float | None = None,
        global_clipnorm: float | None = None,
        use_ema: bool = False,
        ema_momentum: float = 0.99,
        ema_overwrite_frequency: int | None = None,
        loss_scale_factor: float | None = None,
        gradient_accumulation_steps: int | None = None,
        name: str | None = None,
        exclude_layers: Sequence[str] | None = None,
        exclude_embeddings: bool = True,
        muon_a: float = 3.4445,
        muon_b: float = -4.7750,
        muon_c: float = 2.0315,
        adam_lr_ratio: float = 1,
        momentum: float = 0.95,
        ns_steps: int = 5,
        nesterov: bool = True,
        rms_rate: float | None = 0.2,
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
        self.adam_beta_1 = check_probability(owner, "adam_beta_1", adam_beta_1)
        self.adam_beta_2 = check_probability(owner, "adam_beta_2", adam_beta_2)
        self.epsilon = check_number(owner, "epsilon", epsilon, low=0.0)
        self.adam_weight_decay = check_number(
            owner, "adam_weight_decay", adam_weight_decay, low=0.0, allow_none=True
        )
        for key, value in (("muon_a", muon_a), ("muon_b", muon_b), ("muon_c", muon_c)):
            check_number(owner, key, value)
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio = check_number(owner, "adam_lr_ratio", adam_lr_ratio, low=0.0)
        self.momentum = check_number(owner, "momentum", momentum, low=0.0, high=1.0)
        check_number(owner, "ns_steps", ns_steps, low=0.0)
        if int(ns_steps) != ns_steps:
            raise ValueError(f"{owner}: `ns_steps` must be an integer, got {ns_steps!r}")
        self.ns_steps = int(ns_steps)
        self.nesterov = check_bool(owner, "nesterov", nesterov)
        self.exclude_embeddings = check_bool(owner, "exclude_embeddings", exclude_embeddings)
        if isinstance(exclude_layers, str):
            raise ValueError(
                f"{owner}: `exclude_layers` must be a list of strings, got {exclude_layers!r}"
            )
        self.exclude_layers = list(exclude_layers or [])
        self.rms_rate = check_number(owner, "rms_rate", rms_rate, low=0.0, allow_none=True)

    def should_use_adamw(self, variable: tg.Variable) -> bool:
        """Whether ``variable`` takes the AdamW step (see the class docstring)."""
        if len(variable.shape) != 2:
            return True
        path = str(getattr(variable, "path", None) or variable.name)
        if self.exclude_embeddings and "embedding" in path.lower():
            return True
        return any(re.search(keyword, path) for keyword in self.exclude_layers)

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Create each variable's ``momentum`` and, for AdamW variables, ``velocity``."""
        if self.built:
            return
        var_list = list(var_list)
        super().build(var_list)
        self._momentums: list[tg.Variable] = []
        self._adam_velocities: list[tg.Variable | None] = []
        for var in var_list:
            self._momentums.append(self.add_variable_from_reference(var, "momentum"))
            velocity = (
                self.add_variable_from_reference(var, "velocity")
                if self.should_use_adamw(var)
                else None
            )
            self._adam_velocities.append(velocity)

    def update_step(self, gradient: Any, variable: tg.Variable, learning_rate: Any) -> None:
        """Apply the AdamW or the Muon step to ``variable``."""
        index = self._get_variable_index(variable)
        m = self._momentums[index]
        v = self._adam_velocities[index]
        if v is not None:
            self._adamw_step(gradient, variable, learning_rate * self.adam_lr_ratio, m, v)
        else:
            self._muon_step(gradient, variable, learning_rate, m)

    def _muon_step(self, gradient: Any, variable: tg.Variable, lr: Any, m: tg.Variable) -> None:
        m.assign_add(gradient + m * (self.momentum - 1))
        direction = gradient + self.momentum * m if self.nesterov else m
        update = self.zeropower_via_newtonschulz5(direction, self.ns_steps)
        variable.assign_sub(self.lr_adjust(cast_to(lr, variable.dtype) * update))

    def _adamw_step(
        self, gradient: Any, variable: tg.Variable, lr: Any, m: tg.Variable, v: tg.Variable
    ) -> None:
        dtype = variable.dtype
        lr = cast_to(lr, dtype)
        local_step = tnp.astype(self.iterations + 1, dtype)
        beta_1_power = tnp.power(tnp.astype(self.adam_beta_1, dtype), local_step)
        beta_2_power = tnp.power(tnp.astype(self.adam_beta_2, dtype), local_step)
        alpha = lr * tnp.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        m.assign_add((gradient - m) * (1 - self.adam_beta_1))
        v.assign_add((tnp.square(gradient) - v) * (1 - self.adam_beta_2))
        variable.assign_sub(m * alpha / (tnp.sqrt(v) + self.epsilon))

    def lr_adjust(self, x: Any) -> Any:
        """``x * sqrt(max(rows, cols)) * rms_rate`` (``x`` itself when ``rms_rate`` is None).

        Args:
            x: A 2-D update.

        Returns:
            The scaled update.
        """
        if self.rms_rate is None:
            return x
        return x * (math.sqrt(max(x.shape[0], x.shape[1])) * self.rms_rate)

    def zeropower_via_newtonschulz5(self, x: Any, steps: int) -> Any:
        """The quintic Newton-Schulz iteration towards the orthogonal factor of ``x``.

        Args:
            x: A tensor of rank >= 2 (the last two axes are the matrix).
            steps: The number of iterations.

        Returns:
            An approximation of ``U V^T`` of ``x``'s SVD, of ``x``'s shape.
        """
        shape = tuple(x.shape)
        if len(shape) < 2:
            raise ValueError(
                f"Muon: expected a gradient or momentum of at least 2 dimensions, got shape {shape}"
            )
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        tall = shape[-2] > shape[-1]
        if tall:
            x = _swap_last_axes(x)
        # The spectral norm is at most the Frobenius norm: this makes it at most 1.
        x = x / (tnp.sqrt(tnp.sum(tnp.square(x), axis=(-2, -1), keepdims=True)) + 1e-7)
        for _ in range(steps):
            gram = x @ _swap_last_axes(x)
            x = a * x + (b * gram + c * gram @ gram) @ x
        return _swap_last_axes(x) if tall else x

    def _apply_weight_decay(self, variables: list[tg.Variable], rates: dict[Any, Any]) -> None:
        """Decoupled weight decay at ``weight_decay`` (Muon variables) or
        ``adam_weight_decay`` (AdamW variables)."""
        for variable in variables:
            if not self._use_weight_decay(variable):
                continue
            decay = self.adam_weight_decay if self.should_use_adamw(variable) else self.weight_decay
            if decay is None:
                continue
            lr = rates[variable.dtype]
            variable.assign(variable - variable * tnp.astype(decay, variable.dtype) * lr)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments as a dict."""
        return {
            **super().get_config(),
            "adam_beta_1": self.adam_beta_1,
            "adam_beta_2": self.adam_beta_2,
            "epsilon": self.epsilon,
            "exclude_layers": list(self.exclude_layers),
            "muon_a": self.muon_a,
            "muon_b": self.muon_b,
            "muon_c": self.muon_c,
            "adam_lr_ratio": self.adam_lr_ratio,
            "momentum": self.momentum,
            "ns_steps": self.ns_steps,
            "nesterov": self.nesterov,
            "exclude_embeddings": self.exclude_embeddings,
            "adam_weight_decay": self.adam_weight_decay,
            "rms_rate": self.rms_rate,
        }
