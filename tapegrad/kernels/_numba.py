"""numba, for the optional compiled kernels (the `jit` extra): imported only where it is installed.

`njit` compiles with numba's disk cache (machine code reused by later processes), falling back
to no cache where numba finds no writable location for it.
"""

from __future__ import annotations

from typing import Any

import numba


def njit(**options: Any) -> Any:
    """``numba.njit(cache=True, ...)``, without the cache where no location is writable."""

    def wrap(function: Any) -> Any:
        try:
            return numba.njit(cache=True, **options)(function)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(**options)(function)

    return wrap


__all__ = ["njit"]
