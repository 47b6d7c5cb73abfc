"""Run a script of ``tests/distribution/scripts`` under ``mpiexec -n N`` from pytest.

`mpi_or_skip` skips a test cleanly where ``mpi4py`` or an ``mpiexec`` is missing (the
``distributed`` extra installs both); `run_mpi` runs with a wall-clock limit, so a hung
job fails the test instead of the suite.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import subprocess

import pytest

from tapegrad.distribution.launch import find_mpiexec, launch_command

SCRIPTS = pathlib.Path(__file__).resolve().parent / "scripts"
ROOT = pathlib.Path(__file__).resolve().parents[2]


def mpi_or_skip() -> str:
    """The mpiexec to use, or skip the test."""
    if importlib.util.find_spec("mpi4py") is None:
        pytest.skip("mpi4py is not installed (pip install 'tapegrad[distributed]')")
    mpiexec = find_mpiexec()
    if mpiexec is None:
        pytest.skip("no mpiexec (pip install 'tapegrad[distributed]' brings MPICH's)")
    return mpiexec


def run_mpi(
    n: int,
    script: str,
    *args: str,
    limit: float = 120.0,
    env: dict[str, str] | None = None,
    dist_timeout: float | None = 60.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/<script>`` on ``n`` processes; returns the finished process.

    Args:
        n: Number of processes.
        script: File name in `SCRIPTS`.
        args: The script's arguments.
        limit: Seconds before the whole job is killed (the test then fails).
        env: Extra environment variables.
        dist_timeout: The collectives' timeout (``TAPEGRAD_DIST_TIMEOUT``).
    """
    mpiexec = mpi_or_skip()
    command = launch_command(n, [str(SCRIPTS / script), *args], mpiexec=mpiexec)
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    if dist_timeout is not None:
        full_env["TAPEGRAD_DIST_TIMEOUT"] = str(dist_timeout)
    full_env.update(env or {})
    try:
        return subprocess.run(
            command, capture_output=True, text=True, timeout=limit, env=full_env, cwd=ROOT
        )
    except subprocess.TimeoutExpired as err:
        raise AssertionError(
            f"{script} on {n} processes did not finish within {limit} s:\n{err.stdout}\n"
            f"{err.stderr}"
        ) from None


def report(result: subprocess.CompletedProcess[str]) -> str:
    """The job's output, for assertion messages."""
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


__all__ = ["SCRIPTS", "mpi_or_skip", "report", "run_mpi"]
