"""`timeseries_dataset_from_array` (Keras 3's ``keras.utils``), NumPy version: the
windows are a `PyDataset` of batches, which `fit`, `evaluate` and `predict` read batch by
batch (no window is built before it is needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.nn.trainers.py_dataset import PyDataset


class TimeseriesDataset(PyDataset):
    """Batches of sliding windows over an array (see `timeseries_dataset_from_array`).

    ``dataset[i]`` is the ``i``-th batch: the windows, or ``(windows, targets)``;
    ``len(dataset)`` is the number of batches. It can be iterated again and again.
    """

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray | None,
        starts: np.ndarray,
        offsets: np.ndarray,
        batch_size: int | None,
    ) -> None:
        super().__init__()
        self.data, self.targets = data, targets
        self.starts, self.offsets, self.batch_size = starts, offsets, batch_size

    def __len__(self) -> int:
        if self.batch_size is None:
            return len(self.starts)
        return -(-len(self.starts) // self.batch_size)

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, bool) or not isinstance(index, int | np.integer):
            raise TypeError(f"TimeseriesDataset: index must be an int, got {index!r}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"TimeseriesDataset: batch {index} of {len(self)}")
        index = int(index) % len(self)
        if self.batch_size is None:  # Keras' batch_size=None: one window at a time
            starts = self.starts[index]
            windows = self.data[starts + self.offsets]
        else:
            starts = self.starts[index * self.batch_size : (index + 1) * self.batch_size]
            windows = self.data[starts[:, None] + self.offsets[None, :]]
        if self.targets is None:
            return windows
        return windows, self.targets[starts]


def timeseries_dataset_from_array(
    data: Any,
    targets: Any,
    sequence_length: int,
    sequence_stride: int = 1,
    sampling_rate: int = 1,
    batch_size: int | None = 128,
    shuffle: bool = False,
    seed: int | None = None,
    start_index: int | None = None,
    end_index: int | None = None,
    format: str = "tf",  # noqa: A002 (Keras' name)
) -> TimeseriesDataset:
    """Sliding windows over a timeseries, in batches (Keras' arguments and windows).

    Window ``i`` holds ``data[s + k * sampling_rate]`` for ``k < sequence_length``, where
    ``s = start_index + i * sequence_stride``, and its target is ``targets[s]``.

    Args:
        data: Array of timesteps (axis 0 is time).
        targets: Array with a target per timestep, or None (windows only).
        sequence_length: Timesteps per window.
        sequence_stride: Steps between the starts of consecutive windows.
        sampling_rate: Steps between the timesteps of one window.
        batch_size: Windows per batch (None: one window at a time, unbatched).
        shuffle: Shuffle the windows (their start positions, with
            ``np.random.RandomState(seed)`` as Keras' first shuffle; Keras' TensorFlow
            pipeline then also shuffles inside a buffer, which this version does not).
        seed: Seed of the shuffle.
        start_index: The first timestep used (default 0).
        end_index: One past the last timestep used (default ``len(data)``).
        format: Keras' kind of dataset, ``"tf"`` or ``"grain"``; both give the same
            `TimeseriesDataset` here.

    Returns:
        A `TimeseriesDataset` (a `PyDataset`) of ``windows`` or ``(windows, targets)``
        batches, for `fit`, `evaluate` and `predict` or a plain ``for`` loop.

    Raises:
        ValueError: Bad indices, strides or lengths (named, as Keras names them).

    Examples:
        >>> import numpy as np
        >>> data = timeseries_dataset_from_array(np.arange(10), np.arange(10) * 10,
        ...                                      sequence_length=3, batch_size=4)
        >>> len(data)
        2
        >>> windows, targets = data[0]
        >>> windows.tolist(), targets.tolist()
        ([[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]], [0, 10, 20, 30])
    """
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    data = np.asarray(data)
    length = len(data)
    for name, value in (
        ("sequence_length", sequence_length),
        ("sequence_stride", sequence_stride),
        ("sampling_rate", sampling_rate),
    ):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
            raise ValueError(f"`{name}` must be higher than 0. Received: {name}={value!r}")
    if sampling_rate >= length:
        raise ValueError(
            "`sampling_rate` must be lower than the length of the data. Received: "
            f"sampling_rate={sampling_rate}, for data of length {length}"
        )
    if sequence_stride >= length:
        raise ValueError(
            "`sequence_stride` must be lower than the length of the data. Received: "
            f"sequence_stride={sequence_stride}, for data of length {length}"
        )
    if batch_size is not None and (
        isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
    ):
        raise ValueError(f"`batch_size` must be a positive int or None, got {batch_size!r}")
    if start_index and not 0 <= start_index < length:
        raise ValueError(
            "`start_index` must be 0 or greater and lower than the length of the data. "
            f"Received: start_index={start_index}, for data of length {length}"
        )
    if end_index and (
        end_index >= length or end_index <= 0 or (start_index and end_index <= start_index)
    ):
        raise ValueError(
            "`end_index` must be higher than 0 and than `start_index`, and lower than the "
            f"length of the data. Received: start_index={start_index}, end_index={end_index}, "
            f"for data of length {length}"
        )
    start = start_index or 0
    end = length if end_index is None else end_index
    count = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        count = min(count, len(targets))
    positions = np.arange(0, max(count, 0), sequence_stride, dtype=np.int64)
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(positions)
    offsets = np.arange(sequence_length, dtype=np.int64) * sampling_rate
    return TimeseriesDataset(data, targets, positions + start, offsets, batch_size)


__all__ = ["TimeseriesDataset", "timeseries_dataset_from_array"]
