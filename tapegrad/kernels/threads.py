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

Most of that was the wait policy of numba's OpenMP thread pool: its idle threads spin for a
while before they sleep, and beside the BLAS's threads (which spin too) on a loaded machine
they took the cores from the threads with work. Before the parallel loops first start
numba's pool, `quiet_thread_pool` sets ``OMP_WAIT_POLICY=PASSIVE`` (idle threads sleep),
unless ``OMP_WAIT_POLICY`` or ``GOMP_SPINCOUNT`` is set already: the environment wins.
"""

from __future__ import annotations

import functools
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


@functools.cache
def quiet_thread_pool() -> bool:
    """Let the OpenMP pool's idle threads sleep rather than spin: ``OMP_WAIT_POLICY=PASSIVE``
    where neither ``OMP_WAIT_POLICY`` nor ``GOMP_SPINCOUNT`` is set (once per process).

    It takes effect where the OpenMP runtime is not loaded yet (it reads the variable when it
    loads: numba's pool starts on the parallel loops' first use); a process that loaded it
    before (PyTorch links it) keeps its policy.

    Returns:
        Whether it set the variable.

    Examples:
        >>> quiet_thread_pool()  # doctest: +SKIP
        True

        (Skipped here: it would change the environment of the process running the doctests.)
    """
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return False
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return True


__all__ = [
    "PARALLEL_KERNELS_ENV",
    "parallel_from_environment",
    "parallel_kernels_enabled",
    "quiet_thread_pool",
    "set_parallel_kernels",
]
