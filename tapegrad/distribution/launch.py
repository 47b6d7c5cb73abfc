"""``tapegrad launch``: run a program on N processes through ``mpiexec``.

``tapegrad launch -n 4 train.py --epochs 3`` runs ``mpiexec -n 4 <python> train.py --epochs
3`` with the Python that runs tapegrad (plain ``mpiexec -n 4 python train.py`` works as
well); ``tapegrad launch -n 2 tapegrad demo`` runs the demo on two processes. The
``mpiexec`` is the one installed beside this Python (the ``mpich`` wheel of the
``distributed`` extra), else the first on ``PATH``. The environment passes through to every
process; ``--timeout S`` sets ``TAPEGRAD_DIST_TIMEOUT``, the seconds a collective waits for
the other processes before failing (a dead or stuck process then stops the job instead of
hanging it).

Several machines: list them in a hostfile (one host a line, ``host:slots`` for MPICH,
``host slots=N`` for Open MPI) and pass ``--hostfile F``; every machine needs the same
Python environment at the same path, and SSH between them without a password. MPICH picks
the network interface with ``-iface eth0``; Open MPI with
``--mca btl_tcp_if_include eth0``; pass such options through ``--mpiexec-args``.

Open MPI refuses to run as root unless told (``--allow-run-as-root``, which this launcher
adds for root) and refuses more processes than cores unless ``--oversubscribe`` (added too);
MPICH needs neither.

Examples:
    >>> cmd = launch_command(2, ["train.py", "--epochs", "3"], mpiexec="mpiexec")
    >>> cmd[:3], cmd[-3:]
    (['mpiexec', '-n', '2'], ['train.py', '--epochs', '3'])
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import shlex
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Sequence
from typing import Any


def find_mpiexec() -> str | None:
    """The ``mpiexec`` to launch with: beside this Python (the ``mpich`` wheel), else on
    ``PATH`` (``mpiexec``, then ``mpirun``); None when there is none.

    Examples:
        >>> found = find_mpiexec()
        >>> found is None or os.path.basename(found).startswith("mpi")
        True
    """
    beside = [pathlib.Path(sys.executable).parent, pathlib.Path(sysconfig.get_path("scripts"))]
    for folder in beside:
        candidate = folder / "mpiexec"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("mpiexec") or shutil.which("mpirun")


@functools.cache
def mpi_flavor(mpiexec: str) -> str:
    """``"openmpi"``, ``"mpich"`` (MPICH, Intel MPI, MVAPICH: Hydra) or ``"unknown"``."""
    try:
        out = subprocess.run(
            [mpiexec, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout + out.stderr).lower()
    if "open mpi" in text or "openrte" in text or "open-mpi" in text:
        return "openmpi"
    if "hydra" in text or "mpich" in text or "intel" in text:
        return "mpich"
    return "unknown"


def program_command(program: Sequence[str]) -> list[str]:
    """The command each process runs for ``program`` (a script, ``tapegrad ...``, or any
    executable with its arguments).

    Args:
        program: ``["train.py", args...]``, ``["tapegrad", "demo", ...]``, ``["python",
            ...]`` or ``["-m", "module", ...]``.

    Returns:
        The command, with this Python where one is needed.

    Examples:
        >>> program_command(["tapegrad", "demo"])[1:]
        ['-m', 'tapegrad', 'demo']
    """
    if not program:
        raise ValueError("tapegrad launch: no program to run (e.g. `train.py` or `tapegrad demo`)")
    first, rest = program[0], list(program[1:])
    if first.endswith(".py") or first == "-m":
        return [sys.executable, first, *rest]
    if first == "tapegrad":
        return [sys.executable, "-m", "tapegrad", *rest]
    if first in ("python", "python3"):
        return [sys.executable, *rest]
    return [first, *rest]


def launch_command(
    n: int,
    program: Sequence[str],
    hostfile: str | None = None,
    timeout: float | None = None,
    mpiexec: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The ``mpiexec`` command line that runs ``program`` on ``n`` processes.

    Args:
        n: Number of processes.
        program: What each process runs (see `program_command`).
        hostfile: A file naming the machines (None: this machine only).
        timeout: Seconds a collective waits before failing (``TAPEGRAD_DIST_TIMEOUT``).
        mpiexec: The launcher (None: `find_mpiexec`).
        extra: More options for ``mpiexec``, placed before the program.

    Returns:
        The command as a list.
    """
    if n < 1:
        raise ValueError(f"tapegrad launch: -n must be at least 1, got {n}")
    mpiexec = mpiexec or find_mpiexec()
    if mpiexec is None:
        raise FileNotFoundError(
            "tapegrad launch: no mpiexec found beside this Python or on PATH; install one "
            "with pip install 'tapegrad[distributed]' (mpi4py and the MPICH wheel)"
        )
    flavor = mpi_flavor(mpiexec) if os.path.isabs(mpiexec) else "unknown"
    command = [mpiexec, "-n", str(n)]
    if flavor == "openmpi":
        command.append("--oversubscribe")
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-run-as-root")
    if hostfile is not None:
        if not os.path.isfile(hostfile):
            raise FileNotFoundError(f"tapegrad launch: hostfile {hostfile!r} does not exist")
        command += ["--hostfile" if flavor == "openmpi" else "-f", hostfile]
    if timeout is not None:
        if timeout <= 0:
            raise ValueError(f"tapegrad launch: --timeout must be positive, got {timeout}")
        # On other machines too: Hydra's -genv, Open MPI's -x.
        setting = f"TAPEGRAD_DIST_TIMEOUT={timeout:g}"
        command += ["-x", setting] if flavor == "openmpi" else ["-genv", *setting.split("=")]
    return [*command, *extra, *program_command(program)]


def launch(
    n: int,
    program: Sequence[str],
    hostfile: str | None = None,
    timeout: float | None = None,
    extra: Sequence[str] = (),
) -> int:
    """Run ``program`` on ``n`` processes and wait; returns ``mpiexec``'s exit status.

    Args:
        n: Number of processes.
        program: What each process runs (see `program_command`).
        hostfile: A file naming the machines (None: this machine only).
        timeout: Seconds a collective waits before failing.
        extra: More options for ``mpiexec``.

    Returns:
        The exit status (0 when every process succeeded).
    """
    command = launch_command(n, program, hostfile, timeout, extra=extra)
    env = dict(os.environ)
    if timeout is not None:
        env["TAPEGRAD_DIST_TIMEOUT"] = f"{timeout:g}"
    return subprocess.call(command, env=env)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    """Add the ``launch`` subcommand to the ``tapegrad`` command's subparsers.

    Args:
        commands: What ``ArgumentParser.add_subparsers`` returned.

    Returns:
        The subcommand's parser.
    """
    parser = commands.add_parser(
        "launch",
        help="run a script (or `tapegrad demo`) on N processes through mpiexec",
        description=__doc__.split("\n\n")[0],
    )
    parser.add_argument("-n", "--num-processes", dest="n", type=int, required=True)
    parser.add_argument("--hostfile", help="the machines to run on (default: this one)")
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds a collective waits for the others before failing "
        "(TAPEGRAD_DIST_TIMEOUT; default 300)",
    )
    parser.add_argument(
        "--mpiexec-args", default="", help="more mpiexec options, as one quoted string"
    )
    parser.add_argument(
        "program", nargs=argparse.REMAINDER, help="script.py and its arguments, or tapegrad ..."
    )
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    """Run ``tapegrad launch`` with parsed arguments; returns the exit status.

    Args:
        args: What the parser of `add_parser` parsed.

    Returns:
        ``mpiexec``'s exit status, or 2 (with the reason on stderr) when it cannot start.
    """
    try:
        return launch(
            args.n,
            args.program,
            hostfile=args.hostfile,
            timeout=args.timeout,
            extra=shlex.split(args.mpiexec_args),
        )
    except (FileNotFoundError, ValueError) as err:
        print(err, file=sys.stderr)
        return 2


__all__ = [
    "add_parser",
    "find_mpiexec",
    "launch",
    "launch_command",
    "mpi_flavor",
    "program_command",
    "run_from_args",
]
