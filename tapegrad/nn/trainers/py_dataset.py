"""`PyDataset` (Keras 3's ``keras.utils.PyDataset``, alias ``Sequence``): batches by index.

A `PyDataset` returns whole batches from ``__getitem__(index)`` and tells how many there are
with ``__len__`` (or the ``num_batches`` property; ``None`` means endless). `fit`,
`evaluate` and `predict` read it batch by batch, so it is never held in memory at once.

``workers`` > 1 reads batches ahead on that many threads (at most ``max_queue_size``
batches waiting), in index order. ``use_multiprocessing=True`` is accepted as Keras accepts
it, but tapegrad reads the batches on threads of this process (no forked copies of the
dataset): a ``__getitem__`` that spends its time in NumPy or I/O releases the interpreter
lock and runs in parallel all the same.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["PyDataset", "Sequence", "iterate_py_dataset"]


class PyDataset:
    """Base class of datasets that return whole batches by index (Keras 3 ``PyDataset``).

    Subclasses implement ``__getitem__(index)`` (a batch: ``x``, ``(x,)``, ``(x, y)`` or
    ``(x, y, sample_weight)``) and ``__len__`` (the number of batches), and may implement
    ``on_epoch_begin`` / ``on_epoch_end`` (called by `fit` around every epoch).

    Args:
        workers: Threads reading batches ahead during `fit`/`evaluate`/`predict` (1: the
            batches are read in the training loop's thread, one at a time).
        use_multiprocessing: Accepted for Keras compatibility; batches are read on threads
            of this process all the same (see the module's docstring).
        max_queue_size: At most this many batches read ahead and waiting.

    Examples:
        >>> import numpy as np
        >>> class Batches(PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return -(-len(self.x) // self.batch_size)
        ...     def __getitem__(self, index):
        ...         part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ...         return self.x[part], self.y[part]
        >>> data = Batches(np.zeros((10, 2)), np.zeros(10), batch_size=4)
        >>> data.num_batches, [len(x) for x, _ in data]
        (3, [4, 4, 2])
    """

    def __init__(
        self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10
    ) -> None:
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        warn = False
        for name, default in (
            ("_workers", 1),
            ("_use_multiprocessing", False),
            ("_max_queue_size", 10),
        ):
            if name not in self.__dict__:
                setattr(self, name, default)
                warn = True
        if warn:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`. Do not pass these arguments to `fit()`, as they will be "
                "ignored.",
                stacklevel=3,
            )

    @property
    def workers(self) -> int:
        """Threads reading batches ahead (1: none)."""
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        """Keras' flag; batches are read on threads of this process either way."""
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        """At most this many batches read ahead."""
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        """The batch at position ``index`` (override)."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    def __iter__(self) -> Iterator[Any]:
        count = self.num_batches
        for index in range(count) if count is not None else itertools.count():
            yield self[index]

    @property
    def num_batches(self) -> int | None:
        """The number of batches (``len(self)``), or None for an endless dataset.

        Returns:
            ``len(self)`` when the class defines ``__len__``.

        Raises:
            NotImplementedError: Neither ``__len__`` nor ``num_batches`` is defined.
        """
        if hasattr(self, "__len__"):
            return len(self)  # type: ignore[arg-type]
        raise NotImplementedError(
            f"{type(self).__name__}: you need to implement the `num_batches` property:\n\n"
            "@property\ndef num_batches(self):\n  return ..."
        )

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch of `fit` (override to change the data)."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch of `fit` (override, e.g. to reshuffle)."""


#: Keras' older name for `PyDataset`.
Sequence = PyDataset


def iterate_py_dataset(dataset: PyDataset, indices: Iterable[int]) -> Iterator[Any]:
    """The batches ``dataset[i]`` for ``i`` in ``indices``, in order, read ahead on threads.

    With ``dataset.workers`` > 1, up to ``max_queue_size`` batches are being read while the
    caller consumes earlier ones; an exception raised by ``__getitem__`` reaches the caller
    at that batch. Closing the iterator (or stopping early) cancels what is still queued.

    Args:
        dataset: The dataset.
        indices: Batch indices (may be endless, e.g. ``itertools.count()``).

    Returns:
        An iterator over the batches.

    Examples:
        >>> class Squares(PyDataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, index):
        ...         return index * index
        >>> list(iterate_py_dataset(Squares(workers=3), range(4)))
        [0, 1, 4, 9]
    """
    workers = int(dataset.workers or 1)
    if workers <= 1 and not dataset.use_multiprocessing:
        for index in indices:
            yield dataset[index]
        return
    ahead = max(1, int(dataset.max_queue_size or 1))
    pool = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(workers, 1), thread_name_prefix="py_dataset"
    )
    pending: deque[concurrent.futures.Future[Any]] = deque()
    source = iter(indices)
    try:
        for index in itertools.islice(source, ahead):
            pending.append(pool.submit(dataset.__getitem__, index))
        while pending:
            batch = pending.popleft().result()
            for index in itertools.islice(source, 1):
                pending.append(pool.submit(dataset.__getitem__, index))
            yield batch
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
