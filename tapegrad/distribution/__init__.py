"""`tapegrad.distribution` (Keras 3's `keras.distribution`): data parallelism over MPI.

Each process holds a full copy of the model and trains on its share of every batch; the
processes talk through a communicator (`comm.world()`): MPI (``mpi4py``) when the program
runs under ``mpiexec -n N`` (or ``tapegrad launch -n N``), else a single process whose
collectives are the identity. Importing tapegrad never imports ``mpi4py``: it is loaded
the first time a communicator is needed under an MPI launcher.

Examples:
    >>> import tapegrad.distribution as dist
    >>> dist.initialize()
    >>> dist.num_processes(), dist.process_id()
    (1, 0)
    >>> dist.list_devices()
    ['cpu:0']
"""

from __future__ import annotations

from typing import Any

from tapegrad.core.prims.collective import set_communicator
from tapegrad.distribution.collectives import (
    all_gather,
    all_mean,
    all_sum,
    average_gradients,
    broadcast,
    reduce_scatter,
)
from tapegrad.distribution.comm import (
    CollectiveTimeoutError,
    MPICommunicator,
    SingleProcess,
    world,
)
from tapegrad.distribution.data_parallel import DataParallel, distribution, set_distribution

# The collective primitives ask this package's communicator (created on their first call).
set_communicator(world)

# Keras names tapegrad does not have, with why (read by tapegrad.keras_coverage, which
# keeps the reasons for keras.distribution's model-parallel names in OUT_OF_SCOPE).
UNSUPPORTED: dict[str, str] = {}


def initialize(
    job_addresses: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    *,
    timeout: float | None = None,
) -> None:
    """Join the job's processes (Keras 3's ``keras.distribution.initialize``).

    A no-op without MPI or with one process. Under ``mpiexec -n N`` it starts MPI and
    checks that the launcher's numbers agree with the ones given. MPI learns the other
    processes' addresses from its launcher (a hostfile), so ``job_addresses`` is not used.

    Args:
        job_addresses: Ignored (Keras passes it to JAX's coordinator; MPI's launcher
            knows the hosts).
        num_processes: The number of processes expected (None: whatever was launched).
        process_id: This process's expected rank (None: whatever the launcher gave).
        timeout: Seconds each collective waits for the others before failing (None:
            ``TAPEGRAD_DIST_TIMEOUT`` or 300).

    Returns:
        None.

    Examples:
        >>> initialize(num_processes=1, process_id=0)
    """
    comm = world(timeout=timeout)
    if num_processes is not None and num_processes != comm.size:
        raise ValueError(
            f"tapegrad.distribution.initialize: num_processes={num_processes}, but the "
            f"launcher started {comm.size} (run under `mpiexec -n {num_processes}` or "
            f"`tapegrad launch -n {num_processes}`)"
        )
    if process_id is not None and process_id != comm.rank:
        raise ValueError(
            f"tapegrad.distribution.initialize: process_id={process_id}, but the launcher "
            f"made this process rank {comm.rank}"
        )


def num_processes() -> int:
    """How many processes take part in the job (1 without MPI).

    Returns:
        The number of processes.

    Examples:
        >>> num_processes()
        1
    """
    return world().size


def process_id() -> int:
    """This process's rank, ``0 .. num_processes() - 1`` (0 without MPI).

    Returns:
        The rank.

    Examples:
        >>> process_id()
        0
    """
    return world().rank


def list_devices(device_type: str | None = None) -> list[str]:
    """The job's devices, one CPU per process: ``["cpu:0", ..., "cpu:N-1"]``.

    Keras lists the global devices of a distributed job; tapegrad computes on CPUs, one
    process each, so a GPU or TPU type lists none.

    Args:
        device_type: ``"cpu"`` or None for the processes; ``"gpu"``/``"tpu"``: none.

    Returns:
        Device names.

    Examples:
        >>> list_devices("cpu"), list_devices("gpu")
        (['cpu:0'], [])
    """
    if device_type is not None and device_type.lower() != "cpu":
        return []
    return [f"cpu:{rank}" for rank in range(world().size)]


def get_device_count(device_type: str | None = None) -> int:
    """How many devices `list_devices` lists (one CPU per process).

    Args:
        device_type: As for `list_devices`.

    Returns:
        The count.

    Examples:
        >>> get_device_count()
        1
    """
    return len(list_devices(device_type))


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.distribution", name, UNSUPPORTED)


__all__ = [
    "CollectiveTimeoutError",
    "DataParallel",
    "distribution",
    "set_distribution",
    "all_gather",
    "all_mean",
    "all_sum",
    "average_gradients",
    "broadcast",
    "reduce_scatter",
    "MPICommunicator",
    "SingleProcess",
    "get_device_count",
    "initialize",
    "list_devices",
    "num_processes",
    "process_id",
    "world",
]
