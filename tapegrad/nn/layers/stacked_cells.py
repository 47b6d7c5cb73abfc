"""`StackedRNNCells` (Keras 3): several recurrent cells run as one cell, each step's
output feeding the next cell."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.nn.layers.base import Layer
from tapegrad.nn.layers.serialization import deserialize, serialize
from tapegrad.nn.validation import layer_owner


def _sizes(cell: Layer) -> list[int]:
    size = cell.state_size
    return list(size) if isinstance(size, list | tuple) else [size]


class StackedRNNCells(Layer):
    """Runs ``cells`` in order at each time step (use it as `RNN`'s cell for a deep RNN).

    Its states are every cell's states one after the other, as a flat list (Keras keeps
    them nested per cell): ``state_size`` is that flat list, ``initial_state`` and
    ``return_state`` follow it.

    Args:
        cells: The cells (`SimpleRNNCell`, `LSTMCell`, `GRUCell` or custom cells with a
            ``state_size``).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> cells = [tg.layers.LSTMCell(4), tg.layers.GRUCell(3)]
        >>> layer = tg.layers.RNN(tg.layers.StackedRNNCells(cells), return_state=True)
        >>> [o.shape for o in layer(np.ones((2, 5, 6), np.float32))]
        [(2, 3), (2, 4), (2, 4), (2, 3)]
    """

    _check_input_shape = False

    def __init__(self, cells: Sequence[Layer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        cells = list(cells)
        if not cells or not all(isinstance(c, Layer) and hasattr(c, "state_size") for c in cells):
            raise ValueError(
                f"{layer_owner(self)}: cells must be a non-empty list of cells with a "
                f"state_size, got {cells!r}"[:200]
            )
        self.cells = cells

    @property
    def state_size(self) -> list[int]:
        """Every cell's state sizes, flattened in cell order."""
        return [size for cell in self.cells for size in _sizes(cell)]

    @property
    def output_size(self) -> int:
        """The last cell's output size."""
        last = self.cells[-1]
        return getattr(last, "output_size", None) or _sizes(last)[0]

    def get_initial_state(self, batch_size: int, dtype: Any = None) -> list[Any]:
        """Every cell's initial states (zeros unless the cell says otherwise), flat."""
        states: list[Any] = []
        for cell in self.cells:
            if hasattr(cell, "get_initial_state"):
                states.extend(cell.get_initial_state(batch_size, dtype))
            else:
                dtype = np.dtype(dtype or self.dtype)
                states.extend(np.zeros((batch_size, size), dtype) for size in _sizes(cell))
        return states

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        for cell in self.cells:
            if not cell.built:
                cell.build(shape)
                cell.built = True
            size = getattr(cell, "output_size", None) or _sizes(cell)[0]
            shape = (shape[0], size)

    def call(self, inputs: Any, states: Any, training: bool | None = None) -> Any:
        states = list(states) if isinstance(states, list | tuple) else [states]
        if len(states) != len(self.state_size):
            raise ValueError(
                f"{layer_owner(self)}: expected {len(self.state_size)} states "
                f"({self.state_size}), got {len(states)}"
            )
        new_states: list[Any] = []
        position = 0
        for cell in self.cells:
            count = len(_sizes(cell))
            inputs, cell_states = cell(
                inputs, states[position : position + count], training=training
            )
            new_states.extend(
                cell_states if isinstance(cell_states, list | tuple) else [cell_states]
            )
            position += count
        return inputs, new_states

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "cells": [serialize(cell) for cell in self.cells]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StackedRNNCells:
        config = dict(config)
        config["cells"] = [deserialize(cell) for cell in config["cells"]]
        return cls(**config)


__all__ = ["StackedRNNCells"]
