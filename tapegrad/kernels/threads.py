"""Whether the kernels may run their loops on several threads: off unless switched on.

The numba kernels that have a ``parallel=True`` twin (`tapegrad.kernels.numba_pool`) run it,
once switched on, on arrays large enough and where more than one thread is allowed (numba's
thread count within ``OMP_NUM_THREADS`` and the CPU affinity). Off by default: NumPy's BLAS
keeps a thread pool of its own, and on a machine whose cores other processes also use,
every parallel loop waits for its slowest thread to be scheduled; measured so, a W4 step at
default threads took about three times as long with the parallel loops as with the serial
ones (docs/performance.md).
"""

from __future__ import annotations

_enabled = False


def set_parallel_kernels(enabled: bool) -> None:
    """Let the kernels run their loops on several threads (``True``) or not (``False``).

    Examples:
        >>> set_parallel_kernels(True)
        >>> parallel_kernels_enabled()
        True
        >>> set_parallel_kernels(False)
    """
    global _enabled
    _enabled = bool(enabled)


def parallel_kernels_enabled() -> bool:
    """Whether the kernels may run their loops on several threads (default: False).

    Examples:
        >>> parallel_kernels_enabled()
        False
    """
    return _enabled


__all__ = ["parallel_kernels_enabled", "set_parallel_kernels"]
