"""What `fit`, `evaluate` and `predict` read: arrays, generators and `PyDataset`s as batches.

Keras 3's data adapters (``keras/src/trainers/data_adapters``), for the sources tapegrad
takes: NumPy arrays, lists and dicts of arrays, pandas objects (duck-typed: pandas is never
imported), `Tensor`s (`ArrayDataAdapter`); Python generators, iterators and other
iterables that yield batches (`GeneratorDataAdapter`); `PyDataset` (`PyDatasetAdapter`).
Every adapter yields ``(x, y, sample_weight)`` tuples, one per batch, and reads its source
lazily: an endless generator is never materialized.

Examples:
    >>> import numpy as np
    >>> adapter = get_data_adapter(np.zeros((5, 2)), np.ones(5), batch_size=2, shuffle=False)
    >>> adapter.num_batches, [x.shape for x, y, _ in adapter.batches(None)]
    (3, [(2, 2), (2, 2), (1, 2)])
    >>> unpack_x_y_sample_weight((1, 2))
    (1, 2, None)
"""

from __future__ import annotations

import itertools
import types
from collections.abc import Iterator
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad.nn.trainers.py_dataset import PyDataset, iterate_py_dataset

__all__ = [
    "ArrayDataAdapter",
    "GeneratorDataAdapter",
    "PyDatasetAdapter",
    "class_weight_to_sample_weights",
    "get_data_adapter",
    "is_array_data",
    "is_pandas",
    "is_stream",
    "pack_x_y_sample_weight",
    "to_arrays",
    "unpack_x_y_sample_weight",
]


def unpack_x_y_sample_weight(data: Any) -> tuple[Any, Any, Any]:
    """Split a batch into ``(x, y, sample_weight)`` (Keras' ``unpack_x_y_sample_weight``).

    Args:
        data: ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` (a list counts as a
            tuple; anything else is ``x`` alone).

    Returns:
        ``(x, y, sample_weight)`` with None for what ``data`` lacks.

    Raises:
        ValueError: A tuple of more than three items.

    Examples:
        >>> unpack_x_y_sample_weight(([1], [2], [3]))
        ([1], [2], [3])
        >>> unpack_x_y_sample_weight({"a": 1})
        ({'a': 1}, None, None)
    """
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return (data, None, None)
    if len(data) == 1:
        return (data[0], None, None)
    if len(data) == 2:
        return (data[0], data[1], None)
    if len(data) == 3:
        return (data[0], data[1], data[2])
    raise ValueError(
        "Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
        f"found: {str(data)[:200]}"
    )


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """The batch a step receives from ``x``, ``y`` and ``sample_weight`` (Keras' packing).

    Args:
        x: Inputs.
        y: Targets, or None.
        sample_weight: Weights, or None.

    Returns:
        ``x`` alone without targets (``(x,)`` when ``x`` is a list or tuple, so that it is
        not taken for ``(x, y)``: Keras' rule), else ``(x, y)`` or ``(x, y, sample_weight)``.

    Examples:
        >>> pack_x_y_sample_weight(1, 2), pack_x_y_sample_weight(1), pack_x_y_sample_weight([1])
        ((1, 2), 1, ([1],))
    """
    if y is None:
        return (x,) if isinstance(x, list | tuple) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def is_pandas(value: Any) -> bool:
    """Whether ``value`` is a pandas object (duck-typed: pandas is never imported)."""
    return type(value).__module__.split(".")[0] == "pandas" and hasattr(value, "to_numpy")


def _is_array_leaf(value: Any) -> bool:
    return (
        isinstance(value, np.ndarray | tg.Tensor | np.generic | int | float | bool)
        or is_pandas(value)
        or hasattr(value, "__array__")
    )


def is_array_data(x: Any) -> bool:
    """Whether ``x`` is array data (sliced into batches by `fit`) rather than a stream.

    Arrays, `Tensor`s, pandas objects, anything with ``__array__``, and lists, tuples and
    dicts of those (or of numbers) are array data.

    Args:
        x: A ``fit`` data argument.

    Returns:
        True for array data.

    Examples:
        >>> is_array_data([np.zeros(2), np.ones(2)]), is_array_data(iter([]))
        (True, False)
    """
    if isinstance(x, dict):
        return all(is_array_data(v) for v in x.values())
    if isinstance(x, list | tuple):
        return all(_is_array_leaf(v) or isinstance(v, list | tuple | dict) for v in x)
    return _is_array_leaf(x)


def _convert(value: Any) -> Any:
    # float64 becomes floatx (the model's dtype), as Keras converts inputs to floatx.
    if isinstance(value, tg.Tensor):
        return value
    if is_pandas(value):
        value = value.to_numpy()
    array = np.asarray(value)
    return array.astype(tg.backend.floatx()) if array.dtype == np.float64 else array


def to_arrays(x: Any) -> Any:
    """``x`` with every leaf a NumPy array (pandas converted, float64 as floatx).

    Args:
        x: Array data (see `is_array_data`), or None.

    Returns:
        The same structure (lists and tuples as lists, dicts as dicts) of arrays.

    Examples:
        >>> to_arrays({"a": [1.0, 2.0]})["a"].dtype
        dtype('float32')
    """
    if x is None:
        return None
    if isinstance(x, dict):
        return {key: _convert(value) for key, value in x.items()}
    if isinstance(x, list | tuple):
        return [_convert(value) for value in x]
    return _convert(x)


def num_samples(x: Any) -> int:
    """The batch axis length of array data (its first array's)."""
    if isinstance(x, dict):
        x = next(iter(x.values()))
    if isinstance(x, list | tuple):
        x = x[0]
    return int(np.shape(x)[0])


def take(x: Any, index: Any) -> Any:
    """The samples ``index`` (a slice or index array) of array data; None stays None."""
    if x is None:
        return None
    if isinstance(x, dict):
        return {key: take(value, index) for key, value in x.items()}
    if isinstance(x, list | tuple):
        return [take(value, index) for value in x]
    if isinstance(x, tg.Tensor):
        return x[index]
    return np.asarray(x)[index]


def class_weight_to_sample_weights(y: Any, class_weight: dict[int, float]) -> np.ndarray:
    """Per-sample weights from per-class weights (Keras' rule: argmax of one-hot targets).

    Args:
        y: Targets: class indices, or one-hot rows.
        class_weight: Weight per class index (classes not listed weigh 1).

    Returns:
        A floatx array with one weight per sample.

    Examples:
        >>> class_weight_to_sample_weights(np.array([0, 1, 1]), {1: 2.0})
        array([1., 2., 2.], dtype=float32)
    """
    labels = np.asarray(y)
    if labels.ndim > 1:
        labels = labels.argmax(-1) if labels.shape[-1] != 1 else labels.squeeze(-1)
    labels = np.round(labels.reshape(len(labels), -1)[:, 0]).astype(np.int64)
    return np.array([class_weight.get(int(c), 1.0) for c in labels], tg.backend.floatx())


class ArrayDataAdapter:
    """Array data cut into batches of ``batch_size`` samples (the last may be smaller).

    Args:
        x: Inputs (array data).
        y: Targets, or None.
        sample_weight: Per-sample weights, or None.
        batch_size: Samples per batch.
        shuffle: Whether `batches` visits the samples in a seeded random order.
        class_weight: Per-class weights folded into the sample weights.
    """

    def __init__(
        self,
        x: Any,
        y: Any = None,
        sample_weight: Any = None,
        batch_size: int = 32,
        shuffle: bool = False,
        class_weight: dict[int, float] | None = None,
    ) -> None:
        self.x, self.y = to_arrays(x), to_arrays(y)
        weights = None if sample_weight is None else np.asarray(sample_weight, tg.backend.floatx())
        if class_weight is not None and y is not None:
            per_class = class_weight_to_sample_weights(self.y, class_weight)
            weights = per_class if weights is None else per_class * weights
        self.sample_weight = weights
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.num_samples = num_samples(self.x)
        self.num_batches: int | None = max(1, -(-self.num_samples // batch_size))

    def order(self, seed: Any) -> np.ndarray:
        """The sample order of one epoch: a permutation drawn from ``seed`` when shuffling."""
        if self.shuffle and seed is not None:
            return np.random.default_rng(seed).permutation(self.num_samples)
        return np.arange(self.num_samples)

    def batches(self, seed: Any, skip: int = 0) -> Iterator[tuple[Any, Any, Any]]:
        """One epoch's batches ``(x, y, sample_weight)``, from batch ``skip`` on."""
        order = self.order(seed)
        size = self.batch_size
        for step in range(skip, self.num_batches or 0):
            index = order[step * size : (step + 1) * size]
            yield (take(self.x, index), take(self.y, index), take(self.sample_weight, index))

    def on_epoch_begin(self) -> None:
        """Nothing to do for arrays."""

    def on_epoch_end(self) -> None:
        """Nothing to do for arrays."""


def _check_batch(batch: Any, where: str, index: int) -> tuple[Any, Any, Any]:
    """A yielded batch as ``(x, y, sample_weight)`` of arrays, or a clear error."""
    if isinstance(batch, np.ndarray | tg.Tensor | dict):
        batch = (batch,)
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple) or len(batch) not in (1, 2, 3):
        raise ValueError(
            f"{where} must yield `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` with "
            f"arrays, but batch {index} is a {type(batch).__name__}"
            f"{f' of {len(batch)} items' if isinstance(batch, tuple) else ''}: "
            f"{str(batch)[:100]}"
        )
    x, y, weights = (*batch, None, None)[:3]
    sizes = {}
    for name, part in (("x", x), ("y", y), ("sample_weight", weights)):
        if part is None:
            if name == "x":
                raise ValueError(f"{where}: batch {index} has no inputs (x is None)")
            continue
        if not is_array_data(part):
            raise ValueError(
                f"{where} must yield batches of arrays, but {name} of batch {index} is a "
                f"{type(part).__name__}: {str(part)[:100]}"
            )
        arrays = part if isinstance(part, list | tuple) else [part]
        arrays = list(part.values()) if isinstance(part, dict) else arrays
        for array in arrays:
            shape = np.shape(array)
            if not shape:
                raise ValueError(
                    f"{where}: {name} of batch {index} has no batch axis (a scalar "
                    f"{str(array)[:40]}); each array must have one entry per sample"
                )
            sizes[name] = shape[0]
    if len(set(sizes.values())) > 1:
        raise ValueError(
            f"{where}: the arrays of batch {index} disagree on the batch size: {sizes}"
        )
    return (to_arrays(x), to_arrays(y), None if weights is None else to_arrays(weights))


class GeneratorDataAdapter:
    """Batches from a Python generator, iterator or iterable, read one at a time.

    ``num_batches`` is None (unknown). A generator or iterator is consumed once: a second
    epoch without ``steps_per_epoch`` finds it exhausted (as in Keras, `fit` then stops
    with a warning); an iterable that is not an iterator (a list of batches, say) is
    iterated afresh each epoch.

    Args:
        source: The generator or iterable.
        class_weight: Per-class weights turned into sample weights for ``(x, y)`` batches.
    """

    num_batches: int | None = None

    def __init__(self, source: Any, class_weight: dict[int, float] | None = None) -> None:
        self.source = source
        self.class_weight = class_weight
        self._where = f"the {type(source).__name__} given as data"

    def batches(self, seed: Any, skip: int = 0) -> Iterator[tuple[Any, Any, Any]]:
        """The batches, checked one by one; the first ``skip`` are read and dropped."""
        del seed  # a stream has its own order
        iterator = iter(self.source)
        for index, batch in enumerate(iterator):
            if index < skip:
                continue
            x, y, weights = _check_batch(batch, self._where, index)
            if self.class_weight is not None and y is not None:
                if weights is not None:
                    raise ValueError(
                        "You cannot specify `class_weight` and `sample_weight` at the same time."
                    )
                weights = class_weight_to_sample_weights(y, self.class_weight)
            yield (x, y, weights)

    def on_epoch_begin(self) -> None:
        """Nothing to do for a stream."""

    def on_epoch_end(self) -> None:
        """Nothing to do for a stream."""


class PyDatasetAdapter(GeneratorDataAdapter):
    """Batches of a `PyDataset`, by index (shuffled per epoch when asked), read ahead on
    ``workers`` threads.

    Args:
        dataset: The `PyDataset`.
        shuffle: Visit the batches in a seeded random order each epoch (finite datasets).
        class_weight: Per-class weights turned into sample weights.
    """

    def __init__(self, dataset: PyDataset, shuffle: bool = False, class_weight: Any = None) -> None:
        super().__init__(dataset, class_weight)
        self.dataset = dataset
        self.shuffle = shuffle
        self.num_batches = dataset.num_batches
        self._where = f"{type(dataset).__name__}.__getitem__()"

    def batches(self, seed: Any, skip: int = 0) -> Iterator[tuple[Any, Any, Any]]:
        """One epoch's batches (an endless dataset: as many as are read)."""
        count = self.num_batches
        if count is None:
            indices: Any = itertools.count(skip)
        elif self.shuffle and seed is not None:
            indices = np.random.default_rng(seed).permutation(count)[skip:].tolist()
        else:
            indices = range(skip, count)
        checked = GeneratorDataAdapter(iterate_py_dataset(self.dataset, indices), None)
        checked._where = self._where
        checked.class_weight = self.class_weight
        return checked.batches(None)

    def on_epoch_begin(self) -> None:
        """The dataset's ``on_epoch_begin``."""
        self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        """The dataset's ``on_epoch_end``."""
        self.dataset.on_epoch_end()


def is_stream(x: Any) -> bool:
    """Whether ``x`` is read as a stream of batches (a `PyDataset`, generator, iterator or
    other non-array iterable).

    Args:
        x: A data argument.

    Returns:
        True for a stream.

    Examples:
        >>> is_stream(iter([])), is_stream([1.0, 2.0]), is_stream("text")
        (True, False, False)
    """
    if isinstance(x, PyDataset):
        return True
    return isinstance(x, types.GeneratorType | Iterator) or (
        hasattr(x, "__iter__") and not is_array_data(x) and not isinstance(x, str | bytes)
    )


def unrecognized_message(owner: str, x: Any) -> str:
    """The error for data that no adapter reads, naming its type."""
    return (
        f"{owner}: Unrecognized data type: x={str(x)[:60]!r} (of type "
        f"{type(x).__name__}); expected NumPy arrays, lists or dicts of arrays, pandas "
        "objects, a PyDataset, or a generator yielding batches"
    )


def get_data_adapter(
    x: Any,
    y: Any = None,
    sample_weight: Any = None,
    batch_size: int | None = None,
    shuffle: bool = False,
    class_weight: dict[int, float] | None = None,
    owner: str = "fit()",
) -> Any:
    """The adapter reading ``x`` (and ``y``, ``sample_weight`` for arrays).

    Args:
        x: Array data, a `PyDataset`, or a generator / iterable of batches.
        y: Targets (array data only).
        sample_weight: Per-sample weights (array data only).
        batch_size: Samples per batch for array data (default 32).
        shuffle: Shuffle array samples / `PyDataset` batch order every epoch.
        class_weight: Per-class weights.
        owner: The method and model, for messages.

    Returns:
        An `ArrayDataAdapter`, `PyDatasetAdapter` or `GeneratorDataAdapter`.

    Raises:
        ValueError: ``y``/``sample_weight`` given with a stream.
        TypeError: ``x`` of a type that cannot be consumed (named in the message).

    Examples:
        >>> type(get_data_adapter(iter([(np.zeros((2, 1)), np.zeros(2))]))).__name__
        'GeneratorDataAdapter'
        >>> get_data_adapter("abc")
        Traceback (most recent call last):
        ...
        TypeError: fit(): Unrecognized data type: x='abc' (of type str); expected NumPy \
arrays, lists or dicts of arrays, pandas objects, a PyDataset, or a generator yielding \
batches
    """
    if is_stream(x):
        kind = "PyDataset" if isinstance(x, PyDataset) else "generator"
        for name, value, what in (
            ("y", y, "the targets"),
            ("sample_weights", sample_weight, "the sample weights"),
        ):
            if value is not None:
                raise ValueError(
                    f"{owner}: when providing `x` as a {kind}, `{name}` should not be "
                    f"passed. Instead, {what} should be included as part of the {kind}."
                )
        if isinstance(x, PyDataset):
            return PyDatasetAdapter(x, shuffle=shuffle, class_weight=class_weight)
        return GeneratorDataAdapter(x, class_weight=class_weight)
    if not is_array_data(x) or isinstance(x, str | bytes):
        raise TypeError(unrecognized_message(owner, x))
    return ArrayDataAdapter(x, y, sample_weight, batch_size or 32, shuffle, class_weight)
