"""The optimizer methods Keras 3 offers for its state: ``assign``/``assign_add``/
``assign_sub`` (what a Keras optimizer's ``update_step`` calls), ``stateless_apply``,
``set_weights`` and ``save_own_variables``/``load_own_variables``. A mixin of `Optimizer`."""

from __future__ import annotations

import warnings
from collections.abc import MutableMapping, Sequence
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp

__all__ = ["StateMethods"]


class StateMethods:
    """Keras 3's state methods of `Optimizer` (``self`` is the optimizer).

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers import Optimizer
        >>> class KerasStyleSGD(Optimizer):          # written as for Keras 3
        ...     def update_step(self, gradient, variable, learning_rate):
        ...         self.assign_sub(variable, learning_rate * gradient)
        >>> w = tg.Variable([1.0])
        >>> KerasStyleSGD(learning_rate=0.5).apply([tg.tensor([2.0])], [w])
        >>> w.numpy()
        array([0.], dtype=float32)
    """

    variables: list[tg.Variable]
    built: bool
    _trainable_variables: list[tg.Variable]
    apply: Any

    def stateless_apply(
        self,
        optimizer_variables: Sequence[Any],
        grads: Sequence[Any],
        trainable_variables: Sequence[Any],
    ) -> tuple[list[Any], list[Any]]:
        """One update computed from given values, the Variables left as they were (Keras
        3's JAX-style API).

        Args:
            optimizer_variables: Values of ``variables``, in order.
            grads: Gradients, one per variable the optimizer was built with.
            trainable_variables: Values of those variables, in order.

        Returns:
            ``(new trainable values, new optimizer values)``, Tensors.

        Examples:
            >>> import tapegrad as tg
            >>> from tapegrad.nn.optimizers import SGD
            >>> w = tg.Variable([1.0])
            >>> opt = SGD(learning_rate=0.5)
            >>> opt.build([w])
            >>> new_w, new_state = opt.stateless_apply(opt.variables, [tg.tensor([2.0])], [w])
            >>> new_w[0].numpy(), int(new_state[0]), w.numpy()
            (array([0.], dtype=float32), 1, array([1.], dtype=float32))
        """
        owner = type(self).__name__
        if not self.built:
            raise ValueError(
                f"{owner}.stateless_apply: the optimizer must be built; call "
                "optimizer.build(trainable_variables) first"
            )
        state, model = self.variables, list(self._trainable_variables)
        if len(optimizer_variables) != len(state) or len(trainable_variables) != len(model):
            raise ValueError(
                f"{owner}.stateless_apply: expected {len(state)} optimizer values and "
                f"{len(model)} trainable values, got {len(optimizer_variables)} and "
                f"{len(trainable_variables)}"
            )
        # Copies (ops, so a traced step records them) of what is given and of what to restore.
        given = [tnp.copy(v) for v in [*optimizer_variables, *trainable_variables]]
        originals = [tnp.copy(v) for v in [*state, *model]]
        try:
            for variable, value in zip([*state, *model], given, strict=True):
                variable.assign(value)
            self.apply(list(grads))
            return [tnp.copy(v) for v in model], [tnp.copy(v) for v in state]
        finally:
            for variable, value in zip([*state, *model], originals, strict=True):
                variable.assign(value)

    def assign(self, variable: tg.Variable, value: Any) -> None:
        """``variable.assign(value)`` (Keras' spelling inside ``update_step``)."""
        variable.assign(value)

    def assign_add(self, variable: tg.Variable, value: Any) -> None:
        """``variable.assign_add(value)``."""
        variable.assign_add(value)

    def assign_sub(self, variable: tg.Variable, value: Any) -> None:
        """``variable.assign_sub(value)``."""
        variable.assign_sub(value)

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every optimizer Variable, in the order of ``variables``.

        Args:
            weights: One array per Variable of ``variables`` (same shapes).
        """
        owner = type(self).__name__
        if not self.built:
            raise ValueError(
                f"{owner}.set_weights: the optimizer is not built yet; call "
                "optimizer.build(trainable_variables) first"
            )
        variables = self.variables
        if len(weights) != len(variables):
            raise ValueError(
                f"{owner}.set_weights: got {len(weights)} arrays for {len(variables)} "
                "optimizer variables"
            )
        for variable, weight in zip(variables, weights, strict=True):
            if tuple(np.shape(weight)) != tuple(variable.shape):
                raise ValueError(
                    f"{owner}.set_weights: optimizer variable '{variable.name}' has shape "
                    f"{tuple(variable.shape)}, the array has shape {tuple(np.shape(weight))}"
                )
            variable.assign(weight)

    def save_own_variables(self, store: MutableMapping[str, Any]) -> None:
        """Write each Variable of ``variables`` to ``store`` under ``"0"``, ``"1"``, ...

        Args:
            store: A dict-like store.
        """
        for i, variable in enumerate(self.variables):
            store[str(i)] = np.array(variable.numpy())

    def load_own_variables(self, store: MutableMapping[str, Any]) -> None:
        """Read the Variables back from a ``save_own_variables`` store; warns and reads
        nothing when the counts differ (an unbuilt optimizer, say), as Keras does.

        Args:
            store: A dict-like store.
        """
        variables = self.variables
        if len(store.keys()) != len(variables):
            warnings.warn(
                f"Skipping variable loading for optimizer '{getattr(self, 'name', '')}': it has "
                f"{len(variables)} variables, the store {len(store.keys())}"
                + (" (is it built?)" if not self.built else ""),
                stacklevel=2,
            )
            return
        for i, variable in enumerate(variables):
            variable.assign(store[str(i)])
