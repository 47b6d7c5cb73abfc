"""keep_freed_memory: a freed large array's memory is reused without page faults.

Each check runs in a fresh interpreter: the setting is process-wide, and the test suite's
own process keeps glibc's defaults.
"""

import os
import platform
import subprocess
import sys
import textwrap

import pytest

import tapegrad as tg

pytestmark = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="glibc's allocator settings",
)

# Minor page faults of allocating and filling a 64 MiB array the second time (the first
# array freed just before), with the setting off and on.
PROGRAM = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import tapegrad as tg

    if sys.argv[1] == "on":
        assert tg.kernels.keep_freed_memory()
        assert tg.kernels.freed_memory_kept()
    assert tg.kernels.freed_memory_kept() == (sys.argv[1] in ("on", "env-on"))

    def faults():
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        np.ones(2**24, np.float32).sum()
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults()
    print(faults())
    """
)


def _second_allocation_faults(setting: str, env: dict[str, str] | None = None) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, setting],
        capture_output=True,
        text=True,
        check=True,
        env=None if env is None else {**os.environ, **env},
    )
    return int(done.stdout.split()[-1])


def test_freed_memory_is_reused_without_faults() -> None:
    # 64 MiB is 16384 pages of 4 KiB (or 32 huge pages): mapped anew by default, reused when on.
    assert _second_allocation_faults("off") >= 32
    assert _second_allocation_faults("on") < 8


def test_the_environment_switches_it_on_when_tapegrad_loads() -> None:
    assert _second_allocation_faults("env-on", {"TAPEGRAD_KEEP_FREED_MEMORY": "1"}) < 8
    assert _second_allocation_faults("env-off", {"TAPEGRAD_KEEP_FREED_MEMORY": "0"}) >= 32


def test_off_by_default_and_threshold_checked() -> None:
    assert not tg.kernels.freed_memory_kept()
    with pytest.raises(ValueError, match="threshold"):
        tg.kernels.keep_freed_memory(True, threshold=0)
