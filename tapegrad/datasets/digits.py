"""The 8x8 handwritten digits (UCI optical recognition test set, as shipped by scikit-learn).

The data lives in ``tapegrad/datasets/data/digits.csv.gz`` (provenance and licence in
``LICENSE-digits.txt`` beside it): 1,797 rows of 64 pixel counts in 0..16, then the label.
"""

from __future__ import annotations

import gzip
import io
import zlib
from importlib import resources
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

_DATA_PACKAGE = "tapegrad.datasets"
_FILE_NAME = "digits.csv.gz"
_NUM_SAMPLES = 1797
_IMAGE_SIDE = 8
_NUM_CLASSES = 10
_MAX_PIXEL = 16


def _data_file() -> Traversable:
    """Where the shipped file is; a ``Traversable`` so it also works from a zipped install."""
    return resources.files(_DATA_PACKAGE).joinpath("data").joinpath(_FILE_NAME)


def _read_rows(source: Traversable) -> np.ndarray:
    """Read the gzip'd CSV into a (samples, 65) integer array, or raise a clear error."""
    try:
        raw = source.read_bytes()
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f"load_digits: the shipped data file {_FILE_NAME!r} is missing from "
            f"{source}; the tapegrad install is incomplete (package data not installed?)"
        ) from err
    try:
        text = gzip.decompress(raw).decode("ascii")
        rows = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError) as err:
        raise ValueError(
            f"load_digits: the data file {source} is corrupt ({type(err).__name__}: {err}); "
            "reinstall tapegrad"
        ) from err
    expected = (_NUM_SAMPLES, _IMAGE_SIDE * _IMAGE_SIDE + 1)
    if rows.shape != expected:
        raise ValueError(
            f"load_digits: the data file {source} is corrupt: expected a table of shape "
            f"{expected}, got {rows.shape}; reinstall tapegrad"
        )
    pixels, labels = rows[:, :-1], rows[:, -1]
    if pixels.min() < 0 or pixels.max() > _MAX_PIXEL:
        raise ValueError(
            f"load_digits: the data file {source} is corrupt: pixel values must lie in "
            f"0..{_MAX_PIXEL}, got {pixels.min()}..{pixels.max()}; reinstall tapegrad"
        )
    if labels.min() < 0 or labels.max() >= _NUM_CLASSES:
        raise ValueError(
            f"load_digits: the data file {source} is corrupt: labels must lie in "
            f"0..{_NUM_CLASSES - 1}, got {labels.min()}..{labels.max()}; reinstall tapegrad"
        )
    return rows


def load_digits(return_images: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Load the 8x8 handwritten digits: 1,797 grey-level images of 0-9, about 180 per class.

    Each pixel counts the "on" pixels of a 4x4 block of a 32x32 bitmap, so values are whole
    numbers in 0..16 (divide by 16 to scale to 0..1). The order is the file's, always the same.

    Args:
        return_images: ``True`` (default) gives images of shape ``(1797, 8, 8)``; ``False``
            gives flat feature rows of shape ``(1797, 64)``.

    Returns:
        ``(x, y)``: ``x`` float32 pixels, ``y`` int64 labels of shape ``(1797,)``.

    Raises:
        FileNotFoundError: the shipped data file is missing (an incomplete install).
        ValueError: the shipped data file cannot be read or has the wrong contents.

    Examples:
        >>> import tapegrad as tg
        >>> x, y = tg.datasets.load_digits()
        >>> x.shape, x.dtype, y.shape, y.dtype
        ((1797, 8, 8), dtype('float32'), (1797,), dtype('int64'))
        >>> int(y[0]), float(x.max())
        (0, 16.0)
        >>> tg.datasets.load_digits(return_images=False)[0].shape
        (1797, 64)
    """
    rows = _read_rows(_data_file())
    x = rows[:, :-1].astype(np.float32)
    y = np.ascontiguousarray(rows[:, -1])
    if return_images:
        x = x.reshape(-1, _IMAGE_SIDE, _IMAGE_SIDE)
    return x, y
