"""Whether freed large arrays' memory is kept for the next ones: off unless switched on.

NumPy takes every array's memory from the C allocator. glibc's ``malloc`` maps a block
above its mmap threshold (at most 32 MiB, 128 KiB to begin with) afresh from the kernel
and unmaps it when freed, so an array that size is page-faulted anew, one zeroed page at
a time, every time a training step allocates it. A Transformer step allocates scores of
``(batch, heads, T, S)`` and projections of ``(batch, T, heads, key_dim)`` many times; in
the keras.io timeseries Transformer (T = 200, batch 64) that system time is a third or
more of the step's CPU time (docs/performance.md). JAX and PyTorch's GPU engine keep such
memory in allocators of their own.

`keep_freed_memory` raises glibc's mmap and trim thresholds, so freed blocks of up to
``threshold`` bytes stay in the process's heap and the next array of that size reuses them
without faults. The cost: memory freed inside the heap is not given back to the system
(the resident size stays near the program's peak), which is why it is off by default.
``TAPEGRAD_KEEP_FREED_MEMORY=1`` in the environment switches it on when tapegrad loads,
for a program that should not change its code. Only glibc has these settings; elsewhere
(macOS, musl) it does nothing and says so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform
from typing import Any

from tapegrad.kernels.threads import parallel_from_environment

#: The environment variable that switches `keep_freed_memory` on when tapegrad loads.
KEEP_FREED_MEMORY_ENV = "TAPEGRAD_KEEP_FREED_MEMORY"

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's own starting values: what switching off restores (its dynamic threshold, which
# mallopt turns off for good, stays off).
_DEFAULT_THRESHOLD = 128 * 1024
_INT_MAX = 2**31 - 1

_enabled = False


def _mallopt() -> Any:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is not None:
        mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        mallopt.restype = ctypes.c_int
    return mallopt


def keep_freed_memory(enabled: bool = True, threshold: int = 1 << 30) -> bool:
    """Keep freed arrays' memory (up to ``threshold`` bytes a block) for the next arrays.

    Process-wide: it sets glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD``. Switching
    off restores glibc's starting thresholds (128 KiB, without its dynamic adjustment).

    Args:
        enabled: Keep freed memory (``True``) or hand large blocks back again (``False``).
        threshold: Largest block, in bytes, taken from the heap instead of mapped anew
            (at most ``2**31 - 1``).

    Returns:
        Whether the allocator took the setting (False where the C library is not glibc).

    Examples:
        >>> import tapegrad as tg
        >>> tg.kernels.keep_freed_memory()  # doctest: +SKIP
        True

        (Skipped here: it would change the allocator of the process running the doctests.)
    """
    global _enabled
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold <= 0:
        raise ValueError(f"keep_freed_memory: threshold must be a positive int, got {threshold!r}")
    mallopt = _mallopt()
    if mallopt is None:
        return False
    mmap, trim = (min(threshold, _INT_MAX), _INT_MAX) if enabled else (_DEFAULT_THRESHOLD,) * 2
    applied = bool(mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(mallopt(_M_TRIM_THRESHOLD, trim))
    _enabled = bool(enabled) and applied
    return applied


def freed_memory_kept() -> bool:
    """Whether `keep_freed_memory` is on (default: False).

    Examples:
        >>> freed_memory_kept()
        False
    """
    return _enabled


# (The same values as TAPEGRAD_PARALLEL_KERNELS: 1/true/yes/on, or 0/false/no/off/unset.)
if parallel_from_environment(os.environ.get(KEEP_FREED_MEMORY_ENV)):
    keep_freed_memory()

__all__ = ["KEEP_FREED_MEMORY_ENV", "freed_memory_kept", "keep_freed_memory"]
