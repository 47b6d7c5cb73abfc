"""``minimize`` and ``get_gradients``: the optimizer methods that compute gradients.

They are a mixin of `tapegrad.nn.optimizers.Optimizer` (kept apart from the update loop):
both record the loss under a `GradientTape` and hand the gradients to ``apply``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tapegrad as tg

__all__ = ["GradientMethods"]


class GradientMethods:
    """The gradient-computing methods of `Optimizer` (``self`` is the optimizer)."""

    def minimize(
        self,
        loss: Any,
        var_list: Sequence[tg.Variable] | Callable[[], Sequence[tg.Variable]],
        tape: tg.GradientTape | None = None,
    ) -> None:
        """Compute the gradients of ``loss`` and apply one update.

        Args:
            loss: A zero-argument callable returning the loss, or a loss Tensor together
                with the ``tape`` that recorded it.
            var_list: The Variables to update, or a zero-argument callable returning them.
            tape: The GradientTape that recorded a Tensor ``loss``.
        """
        if tape is None and not callable(loss):
            raise ValueError(
                f"{type(self).__name__}.minimize: a Tensor `loss` needs the `tape` that "
                "recorded it; or pass the loss as a zero-argument callable"
            )
        if not callable(var_list):
            var_list = list(var_list)
        if tape is None:
            tape = tg.GradientTape()
        if callable(loss):
            with tape:
                if not callable(var_list):
                    for variable in var_list:
                        tape.watch(variable)
                loss = loss()
        variables = list(var_list() if callable(var_list) else var_list)
        grads = tape.gradient(loss, variables)
        self.apply(grads, variables)

    def get_gradients(self, loss: Callable[[], Any], params: Sequence[tg.Variable]) -> list[Any]:
        """Gradients of ``loss()`` with respect to ``params``, clipped as configured.

        Args:
            loss: A zero-argument callable returning a scalar loss.
            params: The Variables to differentiate with respect to.

        Returns:
            One gradient per parameter.
        """
        owner = type(self).__name__
        if not callable(loss):
            raise TypeError(
                f"{owner}.get_gradients: `loss` must be a zero-argument callable (got "
                f"{type(loss).__name__}); for a recorded loss use GradientTape.gradient"
            )
        params = list(params)
        with tg.GradientTape() as tape:
            for param in params:
                tape.watch(param)
            value = loss()
        grads = tape.gradient(value, params)
        missing = [p.name for g, p in zip(grads, params, strict=True) if g is None]
        if missing:
            raise ValueError(
                f"{owner}.get_gradients: variable(s) {missing} have no gradient; the loss does "
                "not depend on them through differentiable ops"
            )
        return self._clip_gradients(
            [self._as_gradient(g, p) for g, p in zip(grads, params, strict=True)]
        )
