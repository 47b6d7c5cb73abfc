"""tapegrad.numpy refuses bad axes and shapes as NumPy does, naming the function.

Each row runs on NumPy and on tapegrad.numpy; both must raise the same exception type (the
namespace used to wrap an out-of-range axis modulo the rank and to truncate floats).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad.numpy as tnp

# (id, call on a module, exception, fragments of tapegrad's message)
M = np.ones((2, 3), np.float32)
NUMPY_CASES: list[tuple[str, Callable[[Any], Any], type[Exception], tuple[str, ...]]] = [
    (
        "np-concatenate",
        lambda m: m.concatenate([M, M], axis=2),
        np.exceptions.AxisError,
        ("concatenate", "axis 2"),
    ),
    ("np-concatenate-float-axis", lambda m: m.concatenate([M, M], axis=1.0), TypeError, ("1.0",)),
    ("np-stack", lambda m: m.stack([M, M], axis=-4), np.exceptions.AxisError, ("stack", "axis -4")),
    (
        "np-expand-dims",
        lambda m: m.expand_dims(M, 3),
        np.exceptions.AxisError,
        ("expand_dims", "axis 3"),
    ),
    ("np-expand-dims-repeated", lambda m: m.expand_dims(M, (0, 0)), ValueError, ("repeated axis",)),
    ("np-reshape-float", lambda m: m.reshape(M, (3.0, 2)), TypeError, ("3.0",)),
    ("np-swapaxes", lambda m: m.swapaxes(M, 0, 2), np.exceptions.AxisError, ("swapaxes", "axis 2")),
    (
        "np-moveaxis",
        lambda m: m.moveaxis(M, 0, -3),
        np.exceptions.AxisError,
        ("moveaxis", "axis -3"),
    ),
    ("np-take", lambda m: m.take(M, [0], axis=2), np.exceptions.AxisError, ("take", "axis 2")),
    (
        "np-take-along-axis",
        lambda m: m.take_along_axis(M, np.zeros((2, 1), int), axis=2),
        np.exceptions.AxisError,
        ("take_along_axis", "axis 2"),
    ),
    (
        "np-repeat",
        lambda m: m.repeat(M, 2, axis=-3),
        np.exceptions.AxisError,
        ("repeat", "axis -3"),
    ),
    ("np-roll", lambda m: m.roll(M, 1, axis=2), np.exceptions.AxisError, ("roll", "axis 2")),
    (
        "np-array-split",
        lambda m: m.array_split(M, 2, axis=2),
        IndexError,
        ("array_split", "axis 2"),
    ),
    (
        "np-diagonal",
        lambda m: m.diagonal(M, 0, 0, 2),
        np.exceptions.AxisError,
        ("diagonal", "axis 2"),
    ),
    (
        "np-cross",
        lambda m: m.cross(np.ones((2, 3)), np.ones((2, 3)), axisa=2),
        np.exceptions.AxisError,
        ("cross", "axis 2"),
    ),
    (
        "np-transpose-out-of-range",
        lambda m: m.transpose(M, (0, 2)),
        np.exceptions.AxisError,
        ("transpose", "axis 2"),
    ),
    ("np-transpose-float", lambda m: m.transpose(M, (1.0, 0)), TypeError, ("1.0",)),
    ("np-argmax-float", lambda m: m.argmax(M, axis=1.0), TypeError, ("1.0",)),
    (
        "np-argmin-out-of-range",
        lambda m: m.argmin(M, axis=-3),
        np.exceptions.AxisError,
        ("argmin", "axis -3"),
    ),
    ("np-pad-float", lambda m: m.pad(M, 1.5), TypeError, ("pad_width",)),
    ("np-sort", lambda m: m.sort(M, axis=2), np.exceptions.AxisError, ("sort", "axis 2")),
    ("np-argsort-float", lambda m: m.argsort(M, axis=1.0), TypeError, ("1.0",)),
    ("np-partition-kth", lambda m: m.partition(M, 1.5), TypeError, ("kth", "1.5")),
    (
        "np-argpartition",
        lambda m: m.argpartition(M, 1, axis=-3),
        np.exceptions.AxisError,
        ("argpartition", "axis -3"),
    ),
    (
        "np-nanargmax",
        lambda m: m.nanargmax(M, axis=2),
        np.exceptions.AxisError,
        ("nanargmax", "axis 2"),
    ),
    (
        "np-vecdot",
        lambda m: m.linalg.vecdot(M, M, axis=2),
        np.exceptions.AxisError,
        ("vecdot", "axis 2"),
    ),
]


@pytest.mark.parametrize(
    "call, error, fragments",
    [case[1:] for case in NUMPY_CASES],
    ids=[case[0] for case in NUMPY_CASES],
)
def test_numpy_namespace_refuses_bad_axes_like_numpy(
    call: Callable[[Any], Any], error: type[Exception], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(error):
        call(np)
    with pytest.raises(error) as info:
        call(tnp)
    for fragment in fragments:
        assert fragment in str(info.value), f"{fragment!r} not in {str(info.value)!r}"
