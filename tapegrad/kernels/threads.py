"""Whether the kernels may run their loops on several threads: off unless switched on.

The numba kernels that have a ``parallel=True`` twin (`tapegrad.kernels.numba_pool`,
`numba_attention`, `numba_layer_norm`) run it, once switched on, on arrays large enough and
where more than one thread is allowed (numba's thread count within ``OMP_NUM_THREADS`` and
the CPU affinity). Switch it on in code with `set_parallel_kernels`, or for a whole process
with the environment variable ``TAPEGRAD_PARALLEL_KERNELS=1`` (read at ``import tapegrad``;
``0``, ``false``, ``no``, ``off`` or unset: off), which lets a benchmark compare both
settings without changing its code. Off by default: NumPy's BLAS keeps a thread pool of its
own, and on a machine whose cores other processes also use, every parallel loop waits for
its slowest thread to be scheduled; measured so, a W4 step at default threads took about
three times as long with the parallel loops as with the serial ones (docs/performance.md).
"""

from __future__ import annotations

import os

#: The environment variable that switches the parallel loops on for a process.
PARALLEL_KERNELS_ENV = "TAPEGRAD_PARALLEL_KERNELS"


def parallel_from_environment(value: str | None) -> bool:
    """Whether a value of ``TAPEGRAD_PARALLEL_KERNELS`` switches the parallel loops on.

    Args:
        value: The variable's value, or None where it is unset.

    Returns:
        False for None, an empty value, ``0``, ``false``, ``no`` or ``off`` (any case),
        True for anything else (``1``, ``true``, ``yes``, ``on``).

    Examples:
        >>> parallel_from_environment("1"), parallel_from_environment("off")
        (True, False)
        >>> parallel_from_environment(None)
        False
    """
    if value is None:
        return False
    return value.strip().lower() not in ("", "0", "false", "no", "off")


_enabled = parallel_from_environment(os.environ.get(PARALLEL_KERNELS_ENV))


def set_parallel_kernels(enabled: bool) -> None:
    """Let the kernels run their loops on several threads (``True``) or not (``False``).

    Args:
        enabled: Run the ``parallel=True`` loops on large arrays (``True``), or only the
            serial ones (``False``, the default unless ``TAPEGRAD_PARALLEL_KERNELS=1``).

    Examples:
        >>> before = parallel_kernels_enabled()
        >>> set_parallel_kernels(True)
        >>> parallel_kernels_enabled()
        True
        >>> set_parallel_kernels(before)
    """
    global _enabled
    _enabled = bool(enabled)


def parallel_kernels_enabled() -> bool:
    """Whether the kernels may run their loops on several threads (default: False, or
    True where the process started with ``TAPEGRAD_PARALLEL_KERNELS=1``).

    Returns:
        The current setting.

    Examples:
        >>> import os
        >>> setting = os.environ.get("TAPEGRAD_PARALLEL_KERNELS")
        >>> parallel_kernels_enabled() == parallel_from_environment(setting)
        True
    """
    return _enabled


__all__ = [
    "PARALLEL_KERNELS_ENV",
    "parallel_from_environment",
    "parallel_kernels_enabled",
    "set_parallel_kernels",
]
