"""`pad_sequences` (Keras 3's ``keras.utils.pad_sequences``)."""

from __future__ import annotations

from typing import Any

import numpy as np


def pad_sequences(
    sequences: Any,
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (and truncate) sequences to one length, as Keras does.

    Args:
        sequences: A list of sequences (lists or arrays; items may be arrays of one
            shape, which becomes the trailing shape).
        maxlen: The length of the result (default: the longest sequence's).
        dtype: The result's dtype (``object`` or a string dtype for strings).
        padding: ``"pre"`` or ``"post"``: pad before or after each sequence.
        truncating: ``"pre"`` or ``"post"``: drop values from the start or the end of
            sequences longer than ``maxlen``.
        value: The padding value.

    Returns:
        A NumPy array of shape ``(len(sequences), maxlen) + item shape``.

    Raises:
        ValueError: A non-iterable item, items of different shapes, an unknown
            ``padding``/``truncating``, a bad ``maxlen``, or a string ``value`` with a
            numeric ``dtype``.

    Examples:
        >>> pad_sequences([[1, 2, 3], [4, 5], [6]])
        array([[1, 2, 3],
               [0, 4, 5],
               [0, 0, 6]], dtype=int32)
        >>> pad_sequences([[1, 2, 3], [4]], maxlen=2, padding="post", truncating="post", value=9)
        array([[1, 2],
               [4, 9]], dtype=int32)
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(
            f"pad_sequences: `sequences` must be a list of sequences, got "
            f"{type(sequences).__name__}"
        )
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding type "{padding}" not understood')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating type "{truncating}" not understood')
    lengths = []
    sample_shape: tuple[int, ...] = ()
    found_shape = False
    for item in sequences:
        try:
            lengths.append(len(item))
        except TypeError as err:
            raise ValueError(
                f"pad_sequences: `sequences` must be a list of iterables; found the "
                f"non-iterable {item!r:.50}"
            ) from err
        if not found_shape and len(item):
            sample_shape = np.asarray(item).shape[1:]
            found_shape = True
    if maxlen is None:
        maxlen = int(np.max(lengths)) if lengths else 0
    elif isinstance(maxlen, bool) or not isinstance(maxlen, int | np.integer) or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative int, got {maxlen!r}")
    is_str_dtype = np.issubdtype(np.dtype(dtype), np.str_)
    if isinstance(value, str) and np.dtype(dtype) != object and not is_str_dtype:
        raise ValueError(
            f"pad_sequences: `dtype` {dtype} is not compatible with `value`'s type "
            f"{type(value).__name__}; use dtype=object for variable-length strings"
        )
    result = np.full((len(sequences), int(maxlen)) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return result
    for index, item in enumerate(sequences):
        if not len(item):
            continue
        kept = np.asarray(item[-maxlen:] if truncating == "pre" else item[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(
                f"pad_sequences: the items of sequence {index} have shape {kept.shape[1:]}, "
                f"unlike the items of the first non-empty sequence ({tuple(sample_shape)})"
            )
        if padding == "post":
            result[index, : len(kept)] = kept
        else:
            result[index, -len(kept) :] = kept
    return result


__all__ = ["pad_sequences"]
