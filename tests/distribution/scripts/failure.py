"""Run under ``mpiexec -n N`` with a small ``TAPEGRAD_DIST_TIMEOUT``: process 1 fails in the
way the argument names and the others must stop within the timeout, not hang.

* ``stuck``: process 1 sleeps far past the timeout before its all-reduce;
* ``killed``: process 1 kills itself (SIGKILL) before its all-reduce;
* ``raises``: process 1 raises an exception before its all-reduce.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

import tapegrad.distribution as dist

MODE = sys.argv[1]
dist.initialize()
comm = dist.world()
small = comm.timeout  # (TAPEGRAD_DIST_TIMEOUT, set small by the test)
comm.timeout = 120.0  # a loaded machine may start the processes seconds apart
comm.allreduce_sum(np.ones(2))  # everyone is up
comm.timeout = small
if comm.rank == 1:
    if MODE == "stuck":
        time.sleep(600)
    elif MODE == "killed":
        os.kill(os.getpid(), signal.SIGKILL)
    elif MODE == "raises":
        raise RuntimeError("process 1 failed on purpose")
comm.allreduce_sum(np.ones(2))
print(f"UNREACHED {comm.rank}", flush=True)
