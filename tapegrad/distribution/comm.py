"""The communicator: collectives on NumPy arrays across processes, with a timeout.

One interface, two implementations:

* `SingleProcess` — one process, no MPI: every collective is the identity (a sum over one
  process is the array itself), so code written for N processes runs unchanged on one;
* `MPICommunicator` — ``mpi4py`` over a duplicate of ``MPI.COMM_WORLD`` (tapegrad's traffic
  never mixes with a user's own MPI messages). ``mpi4py`` is imported only here, lazily.

`world()` picks one, once per process: MPI when the process runs under an MPI launcher
with more than one process (``mpiexec -n 2``, ``srun``: the launcher's environment says
so) or when asked (``world("mpi")`` or ``TAPEGRAD_DIST=mpi``), else `SingleProcess`.

Every blocking collective is a nonblocking MPI call polled against a deadline
(``timeout`` seconds; default `DEFAULT_TIMEOUT`, or ``TAPEGRAD_DIST_TIMEOUT``): a process
that died, is stuck, or called the collectives in another order makes the others raise
`CollectiveTimeoutError` naming the collective and the process instead of hanging. Under
MPI with more than one process an uncaught exception on any process (that error included)
prints its traceback and calls ``MPI.COMM_WORLD.Abort``, so the launcher stops every other
process too.

Notes for code built on this layer (``DataParallel``, the ``fit`` integration):

* Arrays are NumPy arrays; results are new C-ordered arrays of the input's dtype, except
  the ``*_inplace``/``bcast_into`` variants, which write into a C-contiguous buffer the
  caller owns (fuse many gradients into one flat buffer, reduce it with one call).
* Every process must call the same collectives in the same order with arrays of the same
  dtype; ``allreduce_sum`` also needs the same shape everywhere, ``gather``/``allgather``
  accept shapes that differ between processes (a last partial batch).
* ``allreduce_sum`` adds in MPI's order, which may differ from a sequential sum in the
  last bits; ``gather`` then a sum on each process in rank order is reproducible to the bit.
* ``bcast`` sends an array (receivers pass anything, e.g. None) or any picklable object.
* ``rank``/``size`` never change within a process; a `SingleProcess` has rank 0, size 1.
* The collective *primitives* (``tapegrad.core.prims.collective``: ``all_sum_p``,
  ``all_mean_p``, ``all_gather_p``, ``reduce_scatter_p``, ``broadcast_p``; wrapped with
  docstrings in `tapegrad.distribution.collectives`) call `world()` through the hook that
  importing ``tapegrad.distribution`` installs; use them where a value must differentiate
  or sit in a traced graph, and this layer's NumPy methods elsewhere (fused buffers).
* Tracing a `tapegrad.function` runs the Python code once on values, so a compiled function
  runs each of its collectives once more on every call that traces: every process must
  trace at the same calls (the same input shapes everywhere, e.g. pad a last partial shard,
  or trace each shape on every process); otherwise the processes' collectives no longer
  pair up and they fail with `CollectiveTimeoutError`.
* A VJP rule must record the same ops on every process (a rank-dependent result is
  selected with ``where``, never returned as a constant), or the derivative of the
  backward pass runs different collectives on different processes.

Examples:
    >>> import numpy as np
    >>> comm = SingleProcess()
    >>> comm.rank, comm.size
    (0, 1)
    >>> comm.allreduce_sum(np.array([1.0, 2.0]))
    array([1., 2.])
    >>> comm.gather(np.arange(2))
    [array([0, 1])]
"""

from __future__ import annotations

import os
import pickle
import sys
import time
import traceback
from typing import Any

import numpy as np

#: Seconds a collective waits for the other processes before it fails.
DEFAULT_TIMEOUT = 300.0

# Environment variables by which MPI launchers tell a process how many processes run
# (MPICH/Hydra and Intel MPI, Open MPI, MVAPICH, Slurm's srun).
_LAUNCHER_SIZE_VARIABLES = (
    "PMI_SIZE",
    "OMPI_COMM_WORLD_SIZE",
    "MV2_COMM_WORLD_SIZE",
    "SLURM_NTASKS",
)
# How long a waiting collective polls without sleeping.
_SPIN_SECONDS = 0.05
# The longest shape a header carries (NumPy's own limit on dimensions is 64).
_MAX_NDIM = 64
# Array dtypes sent as themselves; anything else travels pickled.
_ARRAY_CHARS = "?bBhHiIlLqQefdgFDG"
# Dtypes MPI adds natively; others are summed in a wider dtype and cast back.
_REDUCE_AS = {"e": np.float32, "?": np.int32, "b": np.int32, "B": np.int32, "h": np.int32}


class CollectiveTimeoutError(RuntimeError):
    """A collective did not complete within the timeout (a process died, is stuck, or
    called the collectives in another order)."""


def default_timeout() -> float:
    """The timeout of new communicators: ``TAPEGRAD_DIST_TIMEOUT`` or `DEFAULT_TIMEOUT`.

    Returns:
        Seconds.

    Examples:
        >>> default_timeout() > 0
        True
    """
    value = os.environ.get("TAPEGRAD_DIST_TIMEOUT")
    if not value:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(
            f"TAPEGRAD_DIST_TIMEOUT must be a number of seconds, got {value!r}"
        ) from None
    if seconds <= 0:
        raise ValueError(f"TAPEGRAD_DIST_TIMEOUT must be positive, got {value!r}")
    return seconds


def launcher_size() -> int:
    """How many processes the MPI launcher that started this process runs (1: none).

    Returns:
        The number from the launcher's environment, or 1.

    Examples:
        >>> launcher_size() >= 1
        True
    """
    for name in _LAUNCHER_SIZE_VARIABLES:
        value = os.environ.get(name, "")
        if value.isdigit():
            return int(value)
    return 1


class SingleProcess:
    """The communicator of one process: every collective returns its input (copied).

    Args:
        timeout: Kept for the interface (nothing ever waits).

    Examples:
        >>> import numpy as np
        >>> comm = SingleProcess()
        >>> comm.bcast({"seed": 1})
        {'seed': 1}
        >>> comm.allgather(np.zeros(2))
        [array([0., 0.])]
    """

    backend = "single"
    rank = 0
    size = 1

    def __init__(self, timeout: float | None = None) -> None:
        self.timeout = default_timeout() if timeout is None else float(timeout)

    def allreduce_sum(self, array: Any) -> np.ndarray:
        """The sum over processes: a copy of ``array``."""
        return np.array(array, order="C", copy=True)

    def allreduce_sum_inplace(self, buffer: np.ndarray) -> np.ndarray:
        """Sum over processes into ``buffer`` (nothing to add on one process)."""
        return buffer

    def gather(self, array: Any, root: int = 0) -> list[np.ndarray] | None:
        """Every process's array, on ``root``: a list of one copy."""
        _check_root(root, 1)
        return [np.array(array, order="C", copy=True)]

    def allgather(self, array: Any) -> list[np.ndarray]:
        """Every process's array, on every process: a list of one copy."""
        return [np.array(array, order="C", copy=True)]

    def bcast(self, value: Any, root: int = 0) -> Any:
        """``root``'s value on every process: the value itself."""
        _check_root(root, 1)
        return value

    def bcast_into(self, buffer: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``buffer`` with ``root``'s: it is already."""
        _check_root(root, 1)
        return buffer

    def barrier(self) -> None:
        """Wait for every process: there is only this one."""

    def abort(self, code: int = 1) -> None:
        """Stop every process: exits this one."""
        raise SystemExit(code)

    def __repr__(self) -> str:
        return "<SingleProcess rank 0 of 1>"


class MPICommunicator:
    """Collectives over MPI (``mpi4py``), each polled against a deadline.

    Args:
        timeout: Seconds each collective waits (None: `default_timeout()`); settable later
            through the ``timeout`` attribute.
        comm: The MPI communicator to duplicate (default ``MPI.COMM_WORLD``).
        abort_on_uncaught: Install a ``sys.excepthook`` that aborts every process when an
            exception escapes this one (only when there is more than one process).
    """

    backend = "mpi"

    def __init__(
        self, timeout: float | None = None, comm: Any = None, abort_on_uncaught: bool = True
    ) -> None:
        mpi = import_mpi()
        self.MPI = mpi
        self.comm = (mpi.COMM_WORLD if comm is None else comm).Dup()
        self.rank: int = self.comm.Get_rank()
        self.size: int = self.comm.Get_size()
        self.timeout = default_timeout() if timeout is None else float(timeout)
        if abort_on_uncaught and self.size > 1:
            install_abort_hook(mpi)

    # -- the deadline ---------------------------------------------------------------------
    def _wait(self, request: Any, collective: str) -> None:
        """Poll ``request`` until it completes or the deadline passes."""
        if request.Test():
            return
        start = time.monotonic()
        deadline = start + self.timeout
        delay = 0.0
        while not request.Test():
            now = time.monotonic()
            if now > deadline:
                raise CollectiveTimeoutError(
                    f"tapegrad.distribution: {collective} timed out after {self.timeout:g} s "
                    f"on process {self.rank} of {self.size}: another process died, is stuck, "
                    "or called the collectives in another order (a compiled function that "
                    "traced on some processes only: same input shapes everywhere); set "
                    "TAPEGRAD_DIST_TIMEOUT or the communicator's timeout if a step "
                    "legitimately takes longer"
                )
            # MPI moves data only while a process polls: poll without sleeping while the
            # others are likely to arrive (yielding the core to them when oversubscribed),
            # then back off so a process that waits long leaves the cores to the others.
            if now - start < _SPIN_SECONDS:
                os.sched_yield()
            else:
                time.sleep(delay)
                delay = min(2 * delay + 1e-5, 1e-3)

    # -- collectives ------------------------------------------------------------------------
    def allreduce_sum(self, array: Any) -> np.ndarray:
        """The elementwise sum of ``array`` over all processes (same shape everywhere).

        Args:
            array: An array of the same shape and dtype on every process.

        Returns:
            A new C-ordered array of ``array``'s dtype.
        """
        out = np.array(array, order="C", copy=True)
        return self.allreduce_sum_inplace(out)

    def allreduce_sum_inplace(self, buffer: np.ndarray) -> np.ndarray:
        """Replace ``buffer`` (C-contiguous) by its sum over all processes; returns it."""
        if not buffer.flags.c_contiguous or not buffer.flags.writeable:
            raise ValueError("allreduce_sum_inplace: the buffer must be a writeable C array")
        wide = _REDUCE_AS.get(buffer.dtype.char)
        work = buffer if wide is None else buffer.astype(wide)
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, work, op=self.MPI.SUM)
        self._wait(request, "allreduce_sum")
        if wide is not None:
            buffer[...] = work if buffer.dtype.char != "?" else work != 0
        return buffer

    def allgather(self, array: Any) -> list[np.ndarray]:
        """Every process's ``array``, in rank order, on every process (shapes may differ)."""
        send = np.ascontiguousarray(array)
        shapes = self._exchange_shapes(send, "allgather")
        counts, displacements, recv = _receive_plan(shapes, send.dtype)
        request = self.comm.Iallgatherv(
            [_bytes(send), self.MPI.BYTE], [recv, (counts, displacements), self.MPI.BYTE]
        )
        self._wait(request, "allgather")
        return _split(recv, shapes, send.dtype, displacements)

    def gather(self, array: Any, root: int = 0) -> list[np.ndarray] | None:
        """Every process's ``array`` in rank order on ``root``; None on the others."""
        _check_root(root, self.size)
        send = np.ascontiguousarray(array)
        shapes = self._exchange_shapes(send, "gather")
        counts, displacements, recv = _receive_plan(shapes, send.dtype)
        target = [recv, (counts, displacements), self.MPI.BYTE] if self.rank == root else None
        request = self.comm.Igatherv([_bytes(send), self.MPI.BYTE], target, root=root)
        self._wait(request, "gather")
        return _split(recv, shapes, send.dtype, displacements) if self.rank == root else None

    def bcast(self, value: Any, root: int = 0) -> Any:
        """``root``'s ``value`` on every process: an array (sent as a buffer) or any
        picklable object; the other processes' ``value`` is ignored."""
        _check_root(root, self.size)
        header = np.zeros(_MAX_NDIM + 3, np.int64)
        payload = b""
        if self.rank == root:
            if isinstance(value, np.ndarray) and value.dtype.char in _ARRAY_CHARS:
                value = np.ascontiguousarray(value)
                header[:3] = (1, ord(value.dtype.char), value.ndim)
                header[3 : 3 + value.ndim] = value.shape
            else:
                payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
                header[:3] = (2, len(payload), 0)
        self._wait(self.comm.Ibcast(header, root=root), "bcast")
        if header[0] == 1:
            dtype = np.dtype(chr(int(header[1])))
            shape = tuple(int(n) for n in header[3 : 3 + int(header[2])])
            out = value if self.rank == root else np.empty(shape, dtype)
            return self.bcast_into(out, root)
        data = bytearray(payload) if self.rank == root else bytearray(int(header[1]))
        self._wait(self.comm.Ibcast([data, self.MPI.BYTE], root=root), "bcast")
        return value if self.rank == root else pickle.loads(data)

    def bcast_into(self, buffer: np.ndarray, root: int = 0) -> np.ndarray:
        """Overwrite ``buffer`` (C-contiguous, same shape and dtype everywhere) with
        ``root``'s; returns it."""
        _check_root(root, self.size)
        if not buffer.flags.c_contiguous:
            raise ValueError("bcast_into: the buffer must be a C-contiguous array")
        self._wait(self.comm.Ibcast([_bytes(buffer), self.MPI.BYTE], root=root), "bcast")
        return buffer

    def barrier(self) -> None:
        """Wait until every process has reached this call."""
        self._wait(self.comm.Ibarrier(), "barrier")

    def abort(self, code: int = 1) -> None:
        """Stop every process of the job (``MPI.COMM_WORLD.Abort``)."""
        sys.stderr.flush()
        self.MPI.COMM_WORLD.Abort(code)

    def _exchange_shapes(self, send: np.ndarray, collective: str) -> list[tuple[int, ...]]:
        header = np.zeros(_MAX_NDIM + 2, np.int64)
        header[:2] = (ord(send.dtype.char), send.ndim)
        header[2 : 2 + send.ndim] = send.shape
        every = np.empty((self.size, header.size), np.int64)
        self._wait(self.comm.Iallgather(header, every), collective)
        if (every[:, :2] != header[:2]).any():
            kinds = [f"{chr(int(c))}/{int(n)}-d" for c, n in every[:, :2]]
            raise ValueError(
                f"tapegrad.distribution: {collective}: the processes' arrays differ in dtype "
                f"or number of dimensions (by rank: {kinds})"
            )
        return [tuple(int(n) for n in row[2 : 2 + send.ndim]) for row in every]

    def __repr__(self) -> str:
        return f"<MPICommunicator rank {self.rank} of {self.size}>"


def _check_root(root: int, size: int) -> None:
    if not 0 <= root < size:
        raise ValueError(f"tapegrad.distribution: root {root} is not a process (size {size})")


def _bytes(array: np.ndarray) -> np.ndarray:
    """The C-contiguous array's memory as bytes (MPI then moves any dtype, float16 too)."""
    return array.reshape(-1).view(np.uint8)


def _receive_plan(
    shapes: list[tuple[int, ...]], dtype: np.dtype
) -> tuple[list[int], list[int], np.ndarray]:
    counts = [int(np.prod(s, dtype=np.int64)) * dtype.itemsize for s in shapes]
    displacements = [sum(counts[:k]) for k in range(len(counts))]
    return counts, displacements, np.empty(sum(counts), np.uint8)


def _split(
    recv: np.ndarray, shapes: list[tuple[int, ...]], dtype: np.dtype, displacements: list[int]
) -> list[np.ndarray]:
    out = []
    for shape, start in zip(shapes, displacements, strict=True):
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        out.append(recv[start : start + size].view(dtype).reshape(shape))
    return out


def import_mpi() -> Any:
    """``mpi4py.MPI``, or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise ImportError(
            "tapegrad.distribution needs mpi4py and an MPI library for more than one "
            "process: pip install 'tapegrad[distributed]' (mpi4py and the MPICH wheel)"
        ) from err
    return MPI


_hook_installed = False


def install_abort_hook(mpi: Any) -> None:
    """Make an uncaught exception on this process abort every process of the job.

    Without it, the other processes would wait in their next collective until the timeout.
    """
    global _hook_installed
    if _hook_installed:
        return
    previous = sys.excepthook

    def abort_all(kind: Any, value: Any, trace: Any) -> None:
        try:
            previous(kind, value, trace)
        except Exception:  # (the report must never keep the others waiting)
            traceback.print_exception(kind, value, trace)
        rank = mpi.COMM_WORLD.Get_rank()
        print(
            f"tapegrad.distribution: uncaught exception on process {rank}: aborting all processes",
            file=sys.stderr,
        )
        sys.stderr.flush()
        sys.stdout.flush()
        mpi.COMM_WORLD.Abort(1)

    sys.excepthook = abort_all
    _hook_installed = True


Communicator = SingleProcess | MPICommunicator
_world: Communicator | None = None


def world(backend: str | None = None, timeout: float | None = None) -> Communicator:
    """The communicator of all processes of this job, created on first use.

    Args:
        backend: ``"mpi"`` or ``"single"``; None picks MPI under a launcher with more than
            one process (or with ``TAPEGRAD_DIST=mpi``), else a single process.
        timeout: Seconds each collective waits (None: `default_timeout()`); given for an
            existing communicator, it replaces that one's timeout.

    Returns:
        The communicator (the same object on every later call).

    Examples:
        >>> comm = world()
        >>> comm.size >= 1 and comm is world()
        True
    """
    global _world
    wanted = backend or os.environ.get("TAPEGRAD_DIST") or None
    if wanted not in (None, "mpi", "single"):
        raise ValueError(
            f"tapegrad.distribution: backend must be 'mpi' or 'single', not {wanted!r}"
        )
    if _world is not None:
        if wanted is not None and wanted != _world.backend:
            raise RuntimeError(
                f"tapegrad.distribution: this process already uses the {_world.backend!r} "
                f"communicator; it cannot switch to {wanted!r}"
            )
        if timeout is not None:
            _world.timeout = float(timeout)
        return _world
    if wanted is None:
        wanted = "mpi" if launcher_size() > 1 else "single"
    _world = MPICommunicator(timeout) if wanted == "mpi" else SingleProcess(timeout)
    return _world
