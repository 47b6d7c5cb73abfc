"""`EpochIterator`: the batches of each epoch, ``steps_per_epoch`` honoured (Keras 3's
``keras/src/trainers/epoch_iterator.py``).

Without ``steps_per_epoch`` an epoch is one pass over the data (a generator: until it is
exhausted). With it, an epoch is that many batches: array data starts a fresh (reshuffled)
pass every epoch, and a stream (generator, `PyDataset`) is read on from where the previous
epoch stopped, so an endless generator is never read to its end. A source that runs out
before an epoch is complete ends the epoch with a warning; one that yields nothing ends
training (as Keras: "Your input ran out of data").

Examples:
    >>> import numpy as np
    >>> from tapegrad.nn.trainers.data_adapters import get_data_adapter
    >>> stream = ((np.zeros((2, 1)), np.zeros(2)) for _ in range(5))
    >>> epochs = EpochIterator(get_data_adapter(stream), steps_per_epoch=2)
    >>> [[step for step, _ in epochs.epoch(None)] for _ in range(2)]
    [[0, 1], [0, 1]]
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

from tapegrad.nn.trainers.data_adapters import ArrayDataAdapter

__all__ = ["EpochIterator"]


class EpochIterator:
    """The batches of successive epochs of one data adapter.

    Args:
        adapter: A data adapter (see `get_data_adapter`).
        steps_per_epoch: Batches per epoch, or None for one pass.
    """

    def __init__(self, adapter: Any, steps_per_epoch: int | None = None) -> None:
        self.adapter = adapter
        self.steps_per_epoch = steps_per_epoch
        self.insufficient_data = False
        self._iterator: Iterator[Any] | None = None
        self._warned = False

    @property
    def num_steps(self) -> int | None:
        """Batches in one epoch, or None when unknown (a stream without a count)."""
        count = self.adapter.num_batches
        if self.steps_per_epoch is None:
            return count
        if isinstance(self.adapter, ArrayDataAdapter) and count is not None:
            return min(count, self.steps_per_epoch)
        return self.steps_per_epoch

    def epoch(self, seed: Any, skip: int = 0) -> Iterator[tuple[int, Any]]:
        """``(step, batch)`` for one epoch; ``skip`` batches already done are left out.

        Args:
            seed: The epoch's shuffling seed (None: no shuffling).
            skip: Batches of this epoch done before (an interrupted epoch resumed).

        Returns:
            An iterator of ``(step, (x, y, sample_weight))``.
        """
        steps = self.num_steps
        persistent = self.steps_per_epoch is not None and not isinstance(
            self.adapter, ArrayDataAdapter
        )
        if persistent:
            if self._iterator is None:
                self._iterator = self.adapter.batches(seed, skip)
            source = self._iterator
        else:
            source = self.adapter.batches(seed, skip)
        step = skip
        while steps is None or step < steps:
            try:
                batch = next(source)
            except StopIteration:
                self._iterator = None
                if step == skip or steps is not None:
                    self._ran_out(step == skip)
                break
            yield step, batch
            step += 1

    def _ran_out(self, empty: bool) -> None:
        if empty:
            self.insufficient_data = True
        if not self._warned:
            self._warned = True
            warnings.warn(
                "Your input ran out of data; interrupting training. Make sure that your "
                "dataset or generator can generate at least `steps_per_epoch * epochs` "
                "batches.",
                stacklevel=4,
            )
