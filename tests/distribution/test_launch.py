"""``tapegrad launch``: the mpiexec command lines it builds (MPICH and Open MPI), its errors,
and one real launch through the ``tapegrad`` command (environment passed through)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tapegrad import cli
from tapegrad.distribution import launch
from tests.distribution.mpirun import ROOT, mpi_or_skip, report


def test_programs_run_with_this_python() -> None:
    assert launch.program_command(["train.py", "-v"]) == [sys.executable, "train.py", "-v"]
    assert launch.program_command(["tapegrad", "demo"]) == [
        sys.executable,
        "-m",
        "tapegrad",
        "demo",
    ]
    assert launch.program_command(["python", "-c", "pass"]) == [sys.executable, "-c", "pass"]
    assert launch.program_command(["-m", "pkg"]) == [sys.executable, "-m", "pkg"]
    assert launch.program_command(["./a.out", "1"]) == ["./a.out", "1"]
    with pytest.raises(ValueError, match="no program to run"):
        launch.program_command([])


def test_an_mpich_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    hosts = os.path.join(str(tmp_path), "hosts")
    with open(hosts, "w") as f:
        f.write("node1:2\nnode2:2\n")
    monkeypatch.setattr(launch, "mpi_flavor", lambda mpiexec: "mpich")
    command = launch.launch_command(
        4, ["train.py", "--epochs", "3"], hostfile=hosts, timeout=30, mpiexec="/x/mpiexec"
    )
    assert command == [
        "/x/mpiexec",
        "-n",
        "4",
        "-f",
        hosts,
        "-genv",
        "TAPEGRAD_DIST_TIMEOUT",
        "30",
        sys.executable,
        "train.py",
        "--epochs",
        "3",
    ]


def test_an_open_mpi_command_line(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    hosts = os.path.join(str(tmp_path), "hosts")
    with open(hosts, "w") as f:
        f.write("node1 slots=2\n")
    monkeypatch.setattr(launch, "mpi_flavor", lambda mpiexec: "openmpi")
    command = launch.launch_command(2, ["t.py"], hostfile=hosts, timeout=5, mpiexec="/x/mpirun")
    assert command[:4] == ["/x/mpirun", "-n", "2", "--oversubscribe"]
    assert ("--allow-run-as-root" in command) == (os.geteuid() == 0)
    assert command[-6:] == [
        "--hostfile",
        hosts,
        "-x",
        "TAPEGRAD_DIST_TIMEOUT=5",
        sys.executable,
        "t.py",
    ]


def test_launch_refuses_what_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        launch.launch_command(0, ["t.py"], mpiexec="mpiexec")
    with pytest.raises(FileNotFoundError, match="hostfile 'nowhere' does not exist"):
        launch.launch_command(2, ["t.py"], hostfile="nowhere", mpiexec="mpiexec")
    with pytest.raises(ValueError, match="--timeout must be positive"):
        launch.launch_command(2, ["t.py"], timeout=0, mpiexec="mpiexec")


def test_the_command_says_when_there_is_no_mpiexec(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(launch, "find_mpiexec", lambda: None)
    assert cli.main(["launch", "-n", "2", "train.py"]) == 2
    err = capsys.readouterr().err
    assert "no mpiexec found" in err
    assert "tapegrad[distributed]" in err


def test_tapegrad_launch_runs_a_program_on_each_process() -> None:
    mpi_or_skip()
    code = (
        "import os, tapegrad.distribution as d; d.initialize(); "
        "os.write(1, f'rank {d.process_id()} of {d.num_processes()} "
        '{os.environ["TAPEGRAD_DIST_TIMEOUT"]} {os.environ["TAPEGRAD_TEST_MARK"]} '
        "{d.world().timeout}\\n'.encode())"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TAPEGRAD_TEST_MARK": "passed-through"}
    command = [sys.executable, "-m", "tapegrad", "launch", "-n", "2", "--timeout", "7"]
    result = subprocess.run(
        [*command, "python", "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert result.returncode == 0, report(result)
    for rank in (0, 1):
        assert f"rank {rank} of 2 7 passed-through 7.0" in result.stdout, report(result)
