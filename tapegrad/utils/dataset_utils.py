"""`pack_x_y_sample_weight` and `split_dataset` (Keras 3's ``keras.utils``); the inverse
of packing, `unpack_x_y_sample_weight`, is the trainer's
(`tapegrad.nn.trainers.data_adapters`)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """Pack ``x``, ``y`` and ``sample_weight`` as a step's ``data``, Keras' way.

    Without ``y``: ``x`` itself, unless ``x`` is a tuple or list, which is wrapped as
    ``(x,)`` so that it is not taken for ``(x, y)`` when unpacked.

    Args:
        x: Inputs.
        y: Targets, or None.
        sample_weight: Weights, or None.

    Returns:
        ``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``.

    Examples:
        >>> pack_x_y_sample_weight([1, 2]), pack_x_y_sample_weight(1), pack_x_y_sample_weight(1, 2)
        (([1, 2],), 1, (1, 2))
    """
    if y is None:
        return (x,) if isinstance(x, list | tuple) else x
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def split_dataset(
    dataset: Any,
    left_size: int | float | None = None,
    right_size: int | float | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    preferred_backend: str | None = None,
) -> tuple[Any, Any]:
    """Split arrays into a left and a right part along the first axis (Keras' sizes and
    shuffle; NumPy arrays instead of Keras' ``tf.data`` datasets).

    Args:
        dataset: An array, or a tuple, list or dict of arrays of one length.
        left_size: Samples of the left part: an int, or a float fraction in (0, 1)
            (rounded); default: the rest after ``right_size``.
        right_size: Samples of the right part, the same way; default: the rest.
        shuffle: Shuffle the samples first (Python's ``random`` seeded with ``seed``, the
            permutation Keras draws).
        seed: The shuffle's seed.
        preferred_backend: Keras' choice of the returned datasets' kind (``"tensorflow"``
            or ``"torch"``); accepted and unused: tapegrad returns NumPy arrays.

    Returns:
        ``(left, right)``, each of ``dataset``'s structure. With both sizes given, the
        samples between them are left out, as in Keras.

    Raises:
        ValueError: No size, a size out of range, parts that overlap or are empty, arrays
            of different lengths.

    Examples:
        >>> import numpy as np
        >>> left, right = split_dataset(np.arange(10), left_size=0.8)
        >>> left.tolist(), right.tolist()
        ([0, 1, 2, 3, 4, 5, 6, 7], [8, 9])
    """
    if left_size is None and right_size is None:
        raise ValueError(
            "split_dataset: at least one of `left_size` or `right_size` must be specified"
        )
    if isinstance(dataset, dict):
        keys = list(dataset)
        arrays = [np.asarray(dataset[key]) for key in keys]
    elif isinstance(dataset, tuple | list):
        arrays = [np.asarray(item) for item in dataset]
    else:
        arrays = [np.asarray(dataset)]
    if not arrays or any(a.ndim == 0 for a in arrays):
        raise ValueError("split_dataset: `dataset` must be an array or a tuple/list/dict of them")
    total = len(arrays[0])
    if any(len(a) != total for a in arrays):
        raise ValueError(
            f"split_dataset: the arrays have different lengths {[len(a) for a in arrays]}"
        )
    order = list(range(total))
    if shuffle:
        if seed is None:
            seed = random.randint(0, int(1e6))
        random.seed(seed)
        random.shuffle(order)
    left, right = _split_sizes(left_size, right_size, total)
    parts = (np.asarray(order[:left], dtype=np.int64), np.asarray(order[-right:], dtype=np.int64))
    results = []
    for indices in parts:
        taken = [a[indices] for a in arrays]
        if isinstance(dataset, dict):
            results.append(dict(zip(keys, taken, strict=True)))
        elif isinstance(dataset, tuple | list):
            results.append(type(dataset)(taken))
        else:
            results.append(taken[0])
    return results[0], results[1]


def _split_sizes(left: Any, right: Any, total: int) -> tuple[int, int]:
    """Keras' ``_rescale_dataset_split_sizes``: fractions rounded, the missing side the
    rest, both sides non-empty and within ``total``."""
    sizes = []
    for name, size in (("left_size", left), ("right_size", right)):
        if size is None:
            sizes.append(None)
            continue
        if isinstance(size, bool) or not isinstance(size, int | float):
            raise TypeError(f"split_dataset: {name} must be an int or a float, got {size!r}")
        if (
            isinstance(size, int)
            and not 0 < size < total
            or (isinstance(size, float) and not 0 < size < 1)
        ):
            raise ValueError(
                f"split_dataset: {name} must be in (0, {total}) as an int or in (0, 1) as a "
                f"float, got {name}={size}"
            )
        sizes.append(round(size * total) if isinstance(size, float) else size)
    left_n = total - sizes[1] if sizes[0] is None else sizes[0]
    right_n = total - sizes[0] if sizes[1] is None else sizes[1]
    if left_n + right_n > total:
        raise ValueError(
            f"split_dataset: left_size + right_size = {left_n + right_n} is more than the "
            f"{total} samples"
        )
    if left_n == 0 or right_n == 0:
        raise ValueError(
            f"split_dataset: with {total} samples, left_size={left} and right_size={right} "
            "leave one side empty"
        )
    return int(left_n), int(right_n)


__all__ = ["pack_x_y_sample_weight", "split_dataset"]
