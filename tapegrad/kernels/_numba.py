"""numba, for the optional compiled kernels (the `jit` extra): imported on first use.

`import_loops` imports a kernel module's compiled loops (a ``tapegrad.kernels._*_loops``
module, whose import compiles or loads them), or says that numba cannot be imported: the
kernel modules call it from their ``applies`` on the first call, so `import tapegrad`
never imports numba. `njit` compiles with numba's disk cache (machine code reused by later
processes), falling back to no cache where numba finds no writable location for it.
`njit_parallel` compiles a ``parallel=True`` twin of a loop written with ``prange``, and
`threads` says how many threads the multi-core kernels may use; `run` picks the serial or
the parallel loop for a call.
"""

from __future__ import annotations

import functools
import importlib
import os
import threading
import types
from typing import Any

from tapegrad.kernels.threads import parallel_kernels_enabled, quiet_thread_pool


@functools.cache
def _numba() -> types.ModuleType:
    import numba  # (the `jit` extra: ImportError where it is not installed)

    return numba


def __getattr__(name: str) -> Any:
    """``numba``, the module, as an attribute of this one (imported on first access)."""
    if name == "numba":
        return _numba()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def import_loops(name: str) -> types.ModuleType | bool:
    """The compiled loops ``tapegrad.kernels.<name>``, or False where numba cannot be imported.

    Examples:
        >>> import_loops("_no_such_loops")
        False
    """
    try:
        return importlib.import_module(f"tapegrad.kernels.{name}")
    except ImportError:
        return False


#: numba options of the row loops (attention softmax, layer norm): reassociation lets row
#: sums and maxima vectorize (their order is not the impls' either).
ROW_LOOP_OPTIONS: dict[str, Any] = {
    "error_model": "numpy",
    "nogil": True,
    "boundscheck": False,
    "fastmath": {"reassoc", "contract"},
}


def njit(**options: Any) -> Any:
    """``numba.njit(cache=True, ...)``, without the cache where no location is writable."""
    numba = _numba()

    def wrap(function: Any) -> Any:
        try:
            return numba.njit(cache=True, **options)(function)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return numba.njit(**options)(function)

    return wrap


def njit_parallel(**options: Any) -> Any:
    """`njit` with ``parallel=True`` of a copy of the function named ``<name>_parallel``.

    numba's disk cache keys a function by its module and qualified name, not by its options:
    the serial and the parallel compilation of one loop need different names, or each
    process would overwrite the other's cache entry.
    """

    def wrap(function: Any) -> Any:
        name = f"{function.__name__}_parallel"
        twin = types.FunctionType(
            function.__code__,
            function.__globals__,
            name,
            function.__defaults__,
            function.__closure__,
        )
        twin.__qualname__ = f"{function.__qualname__}_parallel"
        twin.__doc__ = function.__doc__
        return njit(parallel=True, **options)(twin)

    return wrap


@functools.cache
def _thread_limit() -> int:
    """The threads this process allows: its CPU affinity, capped by ``OMP_NUM_THREADS``
    (read once: a one-thread run, such as `benchmarks.run --threads 1`, sets it at start)."""
    limit = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return min(limit or 1, int(value))
    return limit or 1


def threads() -> int:
    """How many threads a ``parallel=True`` kernel may use: numba's own setting
    (``NUMBA_NUM_THREADS``, `numba.set_num_threads`) within `_thread_limit`."""
    return min(_numba().get_num_threads(), _thread_limit())


def parallel(size: int, min_size: int) -> bool:
    """Whether ``size`` elements call for the ``parallel=True`` loop: parallel loops switched
    on (`tapegrad.kernels.set_parallel_kernels`), at least ``min_size`` elements (below it,
    waking the threads costs more than they give) and more than one thread allowed; numba's
    pool is then capped at `threads`."""
    if size < min_size or not parallel_kernels_enabled():
        return False
    quiet_thread_pool()  # (before numba's pool starts: its idle threads then sleep)
    n = threads()
    if n < 2:
        return False
    numba = _numba()
    if numba.get_num_threads() != n:
        numba.set_num_threads(n)
    return True


# Held while a parallel loop runs: numba's workqueue threading layer (the one left where
# neither OpenMP nor TBB loads) aborts the process on concurrent launches from two threads.
_launch = threading.Lock()


def run(serial: Any, parallel_loop: Any, size: int, min_size: int, *args: Any) -> Any:
    """``parallel_loop(*args)`` where `parallel` says so and no other thread is running a
    parallel loop, else ``serial(*args)``."""
    if parallel(size, min_size) and _launch.acquire(blocking=False):
        try:
            return parallel_loop(*args)
        finally:
            _launch.release()
    return serial(*args)


__all__ = ["import_loops", "njit", "njit_parallel", "parallel", "run", "threads"]
