"""The communicator: one process without MPI (identities, configuration), and under
``mpiexec`` (every collective and dtype; a stuck, killed or failing process stops the others
with the error within the timeout instead of hanging them)."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

import tapegrad.distribution as dist
from tapegrad.distribution import comm as comm_module
from tapegrad.distribution.comm import SingleProcess, default_timeout, launcher_size, world
from tests.distribution.mpirun import report, run_mpi


def test_a_single_process_communicator_returns_copies() -> None:
    comm = SingleProcess(timeout=5)
    x = np.arange(6.0).reshape(2, 3)
    for out in (comm.allreduce_sum(x), *comm.allgather(x), *comm.gather(x)):
        np.testing.assert_array_equal(out, x)
        assert not np.shares_memory(out, x)
    assert comm.allreduce_sum_inplace(x) is x
    assert comm.bcast_into(x) is x
    assert comm.bcast({"a": 1}) == {"a": 1}
    comm.barrier()
    assert (comm.rank, comm.size, comm.timeout) == (0, 1, 5.0)
    with pytest.raises(ValueError, match="root 1 is not a process"):
        comm.bcast(1, root=1)


def test_without_a_launcher_the_world_is_one_process_and_mpi_stays_unloaded() -> None:
    assert launcher_size() == 1
    assert isinstance(world(), SingleProcess)
    assert world() is world()
    dist.initialize(num_processes=1, process_id=0)
    assert (dist.num_processes(), dist.process_id()) == (1, 0)
    assert dist.list_devices() == ["cpu:0"]
    assert dist.get_device_count("gpu") == 0
    # A fresh interpreter: importing tapegrad and running collectives loads no MPI.
    code = (
        "import sys, numpy, tapegrad, tapegrad.distribution as d; "
        "d.all_sum(numpy.ones(2)); d.average_gradients([numpy.ones(2)]); "
        "print(sorted(m for m in sys.modules if m.startswith('mpi4py')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out


def test_initialize_refuses_numbers_the_launcher_did_not_give() -> None:
    with pytest.raises(ValueError, match="num_processes=2, but the launcher started 1"):
        dist.initialize(num_processes=2)
    with pytest.raises(ValueError, match="process_id=1"):
        dist.initialize(process_id=1)


def test_world_refuses_an_unknown_backend_or_a_switch() -> None:
    with pytest.raises(ValueError, match="'mpi' or 'single'"):
        world("nccl")
    with pytest.raises(RuntimeError, match="cannot switch"):
        world("mpi")


def test_the_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TAPEGRAD_DIST_TIMEOUT", raising=False)
    assert default_timeout() == comm_module.DEFAULT_TIMEOUT
    monkeypatch.setenv("TAPEGRAD_DIST_TIMEOUT", "2.5")
    assert default_timeout() == 2.5
    assert SingleProcess().timeout == 2.5
    for bad in ("soon", "0"):
        monkeypatch.setenv("TAPEGRAD_DIST_TIMEOUT", bad)
        with pytest.raises(ValueError, match="TAPEGRAD_DIST_TIMEOUT"):
            default_timeout()


def test_launchers_are_recognised_by_their_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in comm_module._LAUNCHER_SIZE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert launcher_size() == 4


def test_the_communicator_under_mpiexec() -> None:
    result = run_mpi(3, "comm_check.py")
    assert result.returncode == 0, report(result)
    for rank in range(3):
        assert f"OK {rank} of 3" in result.stdout, report(result)


@pytest.mark.parametrize("mode", ["stuck", "killed", "raises"])
def test_a_failed_process_stops_the_others(mode: str) -> None:
    start = time.monotonic()
    result = run_mpi(2, "failure.py", mode, limit=90, dist_timeout=2)
    elapsed = time.monotonic() - start
    assert result.returncode != 0, report(result)
    assert "UNREACHED" not in result.stdout, report(result)
    assert elapsed < 60, f"{mode}: the job took {elapsed:.0f} s to stop\n{report(result)}"
    if mode == "stuck":  # process 0 waited for process 1 in vain, and said so
        assert "allreduce_sum timed out after 2 s on process 0 of 2" in result.stderr, report(
            result
        )
    if mode == "raises":
        assert "process 1 failed on purpose" in result.stderr, report(result)
        assert "uncaught exception on process 1: aborting all processes" in result.stderr
