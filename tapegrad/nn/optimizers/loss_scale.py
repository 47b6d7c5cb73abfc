"""LossScaleOptimizer: dynamic loss scaling around another optimizer (Keras 3).

A train step multiplies the loss by ``dynamic_scale`` (``scale_loss``) so that small
gradients of a low-precision model do not underflow; ``apply`` divides the gradients back
and hands them to the inner optimizer. When any gradient is not finite the update is
skipped and the scale halved; after ``dynamic_growth_steps`` finite steps in a row it is
doubled. The decisions are tensor conditions (`accumulation.run_if`, ``tnp.where``), so a
compiled train step takes them at every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn.optimizers.accumulation import run_if
from tapegrad.nn.optimizers.base import Optimizer
from tapegrad.nn.validation import check_number

__all__ = ["LossScaleOptimizer"]

# Base-optimizer arguments a LossScaleOptimizer config may carry at their defaults only
# (Keras wrote them once; they belong on the inner optimizer).
_INNER_ONLY_DEFAULTS = {
    "weight_decay": None,
    "clipnorm": None,
    "global_clipnorm": None,
    "clipvalue": None,
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


class LossScaleOptimizer(Optimizer):
    """An optimizer that scales the loss dynamically to keep small gradients from
    underflowing (Keras 3's ``keras.optimizers.LossScaleOptimizer``).

    Its Variables are ``iteration``, ``learning_rate`` (unused, as in Keras),
    ``step_counter`` and ``dynamic_scale``, followed by the inner optimizer's.
    ``learning_rate``, ``iterations`` and ``finalize_variable_values`` are the inner
    optimizer's.

    Args:
        inner_optimizer: The `Optimizer` that makes the updates (its own
            ``loss_scale_factor`` is switched off, so gradients are unscaled once).
        initial_scale: The first loss scale.
        dynamic_growth_steps: Double the scale after this many finite steps in a row.
        name: Name of the optimizer.
        **kwargs: Base-optimizer arguments at their defaults only (set them on the inner
            optimizer), and ``dynamic=True``.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import SGD, LossScaleOptimizer
        >>> w = tg.Variable([1.0])
        >>> opt = LossScaleOptimizer(SGD(learning_rate=0.5), initial_scale=4.0)
        >>> opt.apply([tg.tensor([8.0])], [w])      # the gradient of a loss scaled by 4
        >>> w.numpy()                               # 1 - 0.5 * 8 / 4
        array([0.], dtype=float32)
        >>> opt.apply([tg.tensor([float("inf")])], [w])   # skipped, the scale halved
        >>> w.numpy(), float(opt.dynamic_scale.numpy())
        (array([0.], dtype=float32), 2.0)
    """

    def __init__(
        self,
        inner_optimizer: Optimizer,
        initial_scale: float = 2.0**15,
        dynamic_growth_steps: int = 2000,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        owner = type(self).__name__
        if not kwargs.pop("dynamic", True):
            raise ValueError(
                f"{owner} no longer supports `dynamic=False`; set `loss_scale_factor` on the "
                "inner optimizer instead"
            )
        for key, default in _INNER_ONLY_DEFAULTS.items():
            if key in kwargs and kwargs.pop(key) != default:
                raise ValueError(
                    f"{owner} does not support `{key}`; set `{key}` on the inner_optimizer"
                )
        if kwargs:
            raise ValueError(f"{owner} does not support arguments: {sorted(kwargs)}")
        if not isinstance(inner_optimizer, Optimizer):
            raise TypeError(
                f"{owner}: `inner_optimizer` must be an Optimizer, got {inner_optimizer!r}"
            )
        check_number(owner, "initial_scale", initial_scale, low=0.0, low_open=True)
        check_number(owner, "dynamic_growth_steps", dynamic_growth_steps, low=1.0)
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.initial_scale = initial_scale
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        # Otherwise the gradients would be unscaled twice.
        self.inner_optimizer.loss_scale_factor = None
        # Created here, not in build as Keras does (same order: after iteration and
        # learning_rate), so a train step compiled before the first update already reads
        # the scale Variable rather than a constant initial_scale.
        self.step_counter = self.add_variable((), dtype=np.int64, name="step_counter")
        self.dynamic_scale = self.add_variable(
            (), initializer=float(initial_scale), dtype=np.float32, name="dynamic_scale"
        )

    def build(self, var_list: Sequence[tg.Variable]) -> None:
        """Build the inner optimizer (this optimizer's Variables exist from the start)."""
        if self.built:
            return
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    @property
    def variables(self) -> list[tg.Variable]:
        """This optimizer's Variables, then the inner optimizer's."""
        return list(self._variables) + self.inner_optimizer.variables

    @property
    def learning_rate(self) -> Any:
        """The inner optimizer's learning rate (settable)."""
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self) -> Any:
        """The inner optimizer's ``iterations`` (skipped steps do not count)."""
        return self.inner_optimizer.iterations

    def scale_loss(self, loss: Any) -> Any:
        """``loss * dynamic_scale``.

        Args:
            loss: The loss Tensor.

        Returns:
            The scaled loss.
        """
        return loss * self.dynamic_scale

    def apply(
        self, grads: Sequence[Any], trainable_variables: Sequence[tg.Variable] | None = None
    ) -> None:
        """Unscale ``grads`` and apply them with the inner optimizer if all are finite;
        then update the scale.

        Args:
            grads: Gradients of the scaled loss (None for a variable without one).
            trainable_variables: The Variables (needed on the first call, to build).
        """
        grads = list(grads)
        if not self.built:
            if trainable_variables is None:
                raise ValueError(
                    f"{type(self).__name__}.apply: without `trainable_variables` the optimizer "
                    "must already be built; call optimizer.build(variables) first"
                )
            self.build(trainable_variables)
        variables = list(
            self._trainable_variables if trainable_variables is None else trainable_variables
        )
        present = [tnp.asarray(g) for g in grads if g is not None]
        if not present:
            raise ValueError(f"{type(self).__name__}: no gradients provided for any variable")
        finite = tnp.all(tnp.stack([tnp.all(tnp.isfinite(g)) for g in present]))
        scale = self.dynamic_scale
        unscaled = [None if g is None else tnp.asarray(g) / scale for g in grads]

        def update() -> None:
            self.inner_optimizer.apply(unscaled, trainable_variables)

        run_if(finite, variables + self.inner_optimizer.variables, update)
        counter = self.step_counter
        grow = tnp.logical_and(finite, tnp.equal(counter, self.dynamic_growth_steps - 1))
        self.step_counter.assign(
            tnp.where(tnp.logical_and(finite, tnp.logical_not(grow)), counter + 1, 0)
        )
        factor = tnp.where(grow, 2.0, tnp.where(finite, 1.0, 0.5))
        self.dynamic_scale.assign(scale * tnp.astype(factor, scale.dtype))

    def finalize_variable_values(self, var_list: Sequence[tg.Variable]) -> None:
        """The inner optimizer's (``use_ema`` averages, say).

        Args:
            var_list: The model's trainable variables.
        """
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self) -> dict[str, Any]:
        """``name``, the inner optimizer's serialized config, ``initial_scale`` and
        ``dynamic_growth_steps`` (only these, as in Keras)."""
        inner = self.inner_optimizer
        return {
            "name": self.name,
            "inner_optimizer": {"class_name": type(inner).__name__, "config": inner.get_config()},
            "initial_scale": self.initial_scale,
            "dynamic_growth_steps": self.dynamic_growth_steps,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None
    ) -> LossScaleOptimizer:
        """Rebuild from ``get_config()`` (the inner optimizer from its serialized dict).

        Args:
            config: The config dict.
            custom_objects: Optional ``{name: class}`` for user-defined optimizers.

        Returns:
            A new, unbuilt LossScaleOptimizer.
        """
        # The package imports this module, so its deserialize is looked up at call time.
        from tapegrad.nn import optimizers

        config = dict(config)
        inner = config.pop("inner_optimizer")
        if isinstance(inner, dict):
            inner = optimizers.deserialize(inner, custom_objects)
        return cls(inner, **config)
