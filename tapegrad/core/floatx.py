"""The default float dtype (Keras's ``floatx``), kept in core so that Tensors read it.

`tapegrad.backend` (``set_floatx``, ``floatx_scope``) is the public face of this state;
core, which imports nothing above it, reads it here when it turns Python floats into
arrays. Two layers, as JAX keeps ``jax_enable_x64`` and ``enable_x64()``:

* a process-wide default (``set_default_float``), float32 unless the ``TAPEGRAD_FLOATX``
  environment variable named another at import;
* a scoped override (``scoped_default_float``) held in a `contextvars.ContextVar`, so it
  belongs to one thread (or one asyncio task): other threads keep seeing the process-wide
  default while one runs inside a scope.

Examples:
    >>> default_float()
    dtype('float32')
    >>> with scoped_default_float("float64"):
    ...     default_float()
    dtype('float64')
    >>> default_float()
    dtype('float32')
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

#: The floats a default may be (NumPy has no bfloat16).
FLOAT_DTYPES = ("float16", "float32", "float64")


def float_dtype(value: Any) -> np.dtype:
    """``value`` as one of `FLOAT_DTYPES`, or a ValueError naming it.

    Args:
        value: A dtype name, NumPy dtype or type (``float`` means float64, NumPy's).

    Returns:
        The NumPy dtype.

    Examples:
        >>> float_dtype("float64"), float_dtype(np.float16)
        (dtype('float64'), dtype('float16'))
    """
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in FLOAT_DTYPES:
        hint = " (NumPy has no bfloat16)" if str(value) == "bfloat16" else ""
        raise ValueError(
            f"floatx: unknown float dtype {value!r}{hint}; expected one of {list(FLOAT_DTYPES)}"
        )
    return dtype


def _from_environment() -> np.dtype:
    name = os.environ.get("TAPEGRAD_FLOATX", "").strip()
    return float_dtype(name) if name else np.dtype(np.float32)


_PROCESS_DEFAULT = [_from_environment()]
_SCOPED: contextvars.ContextVar[np.dtype | None] = contextvars.ContextVar(
    "tapegrad_floatx", default=None
)


def default_float() -> np.dtype:
    """The float dtype Python floats and dtype-less float creations get now.

    Returns:
        The innermost `scoped_default_float` of this thread, else the process-wide default.
    """
    scoped = _SCOPED.get()
    return _PROCESS_DEFAULT[0] if scoped is None else scoped


def default_complex() -> np.dtype:
    """The complex dtype matching `default_float` (complex64 below float64)."""
    return np.dtype(np.complex128 if default_float() == np.float64 else np.complex64)


def set_default_float(value: Any) -> None:
    """Set the process-wide default; inside a scope of this thread, the scope's too (so
    the change shows at once, and stays after the scope ends).

    Args:
        value: One of `FLOAT_DTYPES`.
    """
    dtype = float_dtype(value)
    _PROCESS_DEFAULT[0] = dtype
    if _SCOPED.get() is not None:
        _SCOPED.set(dtype)


@contextlib.contextmanager
def scoped_default_float(value: Any) -> Iterator[np.dtype]:
    """Make ``value`` the default float of this thread (or asyncio task) inside the block.

    Args:
        value: One of `FLOAT_DTYPES`.

    Yields:
        The dtype.
    """
    dtype = float_dtype(value)
    token = _SCOPED.set(dtype)
    try:
        yield dtype
    finally:
        _SCOPED.reset(token)
