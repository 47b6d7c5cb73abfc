"""The states of a stateful recurrent layer (``stateful=True``): a mixin of `RNN` and
`ConvLSTM`, as Keras 3's RNN keeps them.

The final states of each batch are the initial states of the next, held in non-trainable
Variables that are not among the layer's weights; `reset_states` sets them to zeros. A
shape probe (a layer called on KerasTensors runs on zeros) neither sizes nor updates them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.nn.layers.base import shape_of
from tapegrad.nn.layers.keras_tensor import PROBING


class StatefulMixin:
    """`states`, `reset_states` and the bookkeeping of ``stateful=True``."""

    name: str
    stateful: bool
    _states: list[tg.Variable] | None = None

    @property
    def states(self) -> list[tg.Variable] | None:
        """A stateful layer's current states (Variables), else None (Keras')."""
        return self._states

    def reset_states(self, states: Any = None) -> None:
        """Set a stateful layer's states to zeros (or to ``states``, one array each).

        Args:
            states: Optional values, one per state, of the states' shapes.

        Examples:
            >>> import numpy as np
            >>> import tapegrad as tg
            >>> layer = tg.layers.GRU(2, stateful=True)
            >>> _ = layer(np.ones((3, 4, 5), np.float32))
            >>> layer.reset_states()
            >>> float(np.abs(layer.states[0].numpy()).sum())
            0.0
        """
        if self._states is None:
            return
        values = list(states) if isinstance(states, list | tuple) else [states]
        if states is None:
            values = [None] * len(self._states)
        if len(values) != len(self._states):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': reset_states got {len(values)} "
                f"state(s) for {len(self._states)}"
            )
        for variable, value in zip(self._states, values, strict=True):
            variable.assign(np.zeros(variable.shape, variable.dtype) if value is None else value)

    reset_state = reset_states

    def build_states(self, batch: Any, zeros: Any) -> None:
        """In ``build``: make (or reset) the states for batches of ``batch`` sequences.

        Args:
            batch: The static batch size (None: an error, as in Keras).
            zeros: A function ``batch -> list of zero arrays`` (the initial states).
        """
        if batch is None or PROBING.get() is False:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': with stateful=True the batch "
                "size must be static: give it to the first layer, e.g. "
                "Input(shape, batch_size=...), or call the layer on data first"
            )
        if self._states is not None and shape_of(self._states[0])[0] == batch:
            self.reset_states()
            return
        self.__dict__["_states"] = [
            tg.Variable(np.asarray(s), trainable=False, name="rnn_state") for s in zeros(int(batch))
        ]

    def initial_states_of_batch(self, batch: int) -> list[tg.Variable] | None:
        """The states a call starts from (None: not stateful), checking the batch size."""
        if not self.stateful or self._states is None:
            return None
        expected = shape_of(self._states[0])[0]
        if batch != expected:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': a stateful layer's batch size is "
                f"fixed: expected {expected} sequences, got {batch}"
            )
        return list(self._states)

    def keep_states(self, states: list[Any]) -> None:
        """After a call: the final states become the next call's initial states."""
        if self.stateful and self._states is not None and PROBING.get() is None:
            for variable, state in zip(self._states, states, strict=True):
                variable.assign(state)
