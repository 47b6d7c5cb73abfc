"""`Layer.add_loss` and `Layer.losses` (Keras 3 semantics), a mixin of `Layer`.

Keras 3 clears every layer's `add_loss` terms when an outermost layer call starts. Walking
all sublayers on every call would cost each step, so terms are stamped instead with the
epoch of the outermost call that made them, and `losses` shows only those made since the
layer's own latest outermost call.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.nn.layers.keras_tensor import flatten


class _CallContext(threading.local):
    """Per thread: the training flag of the layer calls in progress (a layer's call never
    awaits, so asyncio tasks cannot interleave inside one) and the outermost call's epoch."""

    training: Any = None
    epoch: int | None = None


CALL_CONTEXT = _CallContext()
# next() of itertools.count is atomic under the GIL; _LATEST only stamps terms added
# outside any call, where a race between threads changes nothing that matters.
_EPOCHS = itertools.count(1)
_LATEST = [0]


def next_loss_epoch() -> int:
    """A new epoch, for an outermost layer call."""
    epoch = _LATEST[0] = next(_EPOCHS)
    return epoch


class LossesMixin:
    """`add_loss`, `losses` and the activity regularizer's term, for `Layer`."""

    name: str
    activity_regularizer: Any

    def _sublayers(self) -> list[Any]:
        raise NotImplementedError

    @property
    def losses(self) -> list[Any]:
        """Scalar losses: `add_loss` terms of this layer and its sublayers, then weight
        regularization penalties (recomputed per access), as Keras 3 lists them.

        The `add_loss` terms are those of the latest call of this layer (and of calls of
        sublayers since it): each outermost call starts them over.

        Examples:
            >>> import tapegrad as tg
            >>> layer = tg.layers.ActivityRegularization(l1=0.5)
            >>> _ = layer(tg.tensor([[1.0, -3.0], [2.0, 0.0]]))
            >>> [float(loss) for loss in layer.losses]
            [1.5]
        """
        since = self.__dict__.get("_entry_epoch", 0)
        out: list[Any] = []
        regularized: list[tuple[Any, tg.Variable]] = []
        for layer in self._layers_depth_first():
            held = layer.__dict__
            if held.get("_losses") and held.get("_losses_epoch", 0) >= since:
                out.extend(held["_losses"])
            regularized.extend(held.get("_regularized", ()))
        out.extend(regularizer(variable) for regularizer, variable in regularized)
        return out

    def add_loss(self, loss: Any) -> None:
        """Add a scalar loss term (or a structure of them), usually from inside `call`.

        The terms join `losses` (of this layer and of every model holding it), which the
        trainers add to the compiled loss; they are kept until the next outermost call.

        Args:
            loss: A Tensor (or a list/tuple/dict of Tensors) to add to the training loss.

        Examples:
            >>> import tapegrad as tg
            >>> class Penalized(tg.layers.Layer):
            ...     def call(self, inputs):
            ...         self.add_loss(0.1 * tg.ops.sum(inputs))
            ...         return inputs
            >>> layer = Penalized()
            >>> _ = layer(tg.tensor([1.0, 2.0]))
            >>> [round(float(loss), 4) for loss in layer.losses]
            [0.3]
        """
        terms = flatten(loss)
        for term in terms:
            if not isinstance(term, tg.Tensor | np.ndarray | np.generic | float | int):
                raise ValueError(
                    f"Layer '{self.name}': add_loss expects a Tensor (a loss computed from "
                    f"the layer's inputs or weights), got {type(term).__name__}: {term!r:.80}"
                )
        epoch = CALL_CONTEXT.epoch
        if epoch is None:  # outside any call: kept until the next outermost call
            epoch = _LATEST[0]
        held = self.__dict__  # not __setattr__: losses change no weight lists
        if held.get("_losses_epoch") != epoch:
            held["_losses"] = []
            held["_losses_epoch"] = epoch
        held["_losses"].extend(terms)

    def _layers_depth_first(self) -> list[Any]:
        """This layer and all its sublayers, each once, parents before children."""
        found: dict[int, Any] = {}
        stack: list[Any] = [self]
        while stack:
            layer = stack.pop()
            if id(layer) in found:
                continue
            found[id(layer)] = layer
            stack.extend(reversed(layer._sublayers()))
        return list(found.values())

    def _add_activity_loss(self, outputs: Any) -> None:
        # Keras 3 divides each output's penalty by its batch size, so the term's strength
        # does not depend on how the data is batched.
        for output in flatten(outputs):
            if isinstance(output, tg.Tensor):
                loss = self.activity_regularizer(output)
                if output.ndim > 0 and output.shape[0]:
                    loss = loss / float(output.shape[0])
                self.add_loss(loss)
