"""Argument checks shared by the linalg modules, with NumPy's `LinAlgError` messages.

Examples:
    >>> import numpy as np
    >>> float_dtype(np.eye(2, dtype=np.int32))
    dtype('float64')
    >>> check_square("det", np.ones((2, 3)))
    Traceback (most recent call last):
    ...
    numpy.linalg.LinAlgError: linalg.det: last 2 dimensions must be square, got shape (2, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.numpy._arguments import ndim_of, shape_of, value_of

LinAlgError = np.linalg.LinAlgError


def float_dtype(x: Any) -> np.dtype:
    """``x``'s dtype if floating or complex, else float64 (what NumPy's linalg computes in)."""
    dtype = np.result_type(value_of(x))
    return dtype if dtype.kind in "fc" else np.dtype(np.float64)


def check_square(name: str, a: Any) -> None:
    """Refuse anything but (stacks of) square matrices."""
    shape = shape_of(a)
    if len(shape) < 2:
        raise LinAlgError(
            f"linalg.{name}: {len(shape)}-dimensional array given; it must be at least "
            "two-dimensional"
        )
    if shape[-1] != shape[-2]:
        raise LinAlgError(f"linalg.{name}: last 2 dimensions must be square, got shape {shape}")


def check_stacked(name: str, a: Any) -> None:
    """Refuse anything but (stacks of) matrices."""
    if ndim_of(a) < 2:
        raise LinAlgError(
            f"linalg.{name}: {ndim_of(a)}-dimensional array given; it must be at least "
            "two-dimensional"
        )
