"""Run under ``mpiexec -n N``: the communicator's collectives on every dtype and shape they
accept (ragged gathers, objects, in-place variants); prints ``OK <rank> of <size>``."""

from __future__ import annotations

import os

import numpy as np

from tapegrad.distribution.comm import MPICommunicator, world

comm = world()
assert isinstance(comm, MPICommunicator), comm
RANK, SIZE = comm.rank, comm.size


def check(condition: bool, what: str) -> None:
    if not condition:
        raise AssertionError(f"rank {RANK}: {what}")


for dtype in (np.float16, np.float32, np.float64, np.int8, np.int32, np.int64, np.complex128):
    out = comm.allreduce_sum(np.full((2, 3), RANK + 1, dtype))
    check(out.dtype == dtype and out.shape == (2, 3), f"allreduce_sum keeps {dtype}")
    check(bool(np.all(out == SIZE * (SIZE + 1) // 2)), f"allreduce_sum of {dtype}: {out}")
flags = comm.allreduce_sum(np.array([RANK == 0, False]))
check(flags.dtype == bool and flags.tolist() == [True, False], f"allreduce_sum of bools {flags}")
check(float(comm.allreduce_sum(np.float64(RANK))) == SIZE * (SIZE - 1) / 2, "a 0-d sum")
buffer = np.arange(4.0) * RANK
same = comm.allreduce_sum_inplace(buffer)
check(
    same is buffer and buffer.tolist() == [i * SIZE * (SIZE - 1) / 2 for i in range(4)], "inplace"
)
try:
    comm.allreduce_sum_inplace(np.ones((3, 2)).T)  # the same refusal on every process
except ValueError as err:
    check("C array" in str(err), str(err))
else:
    check(False, "a transposed buffer was accepted")

mine = np.arange(RANK * 2, dtype=np.float32).reshape(RANK, 2)  # ragged, process 0 empty
every = comm.allgather(mine)
check([a.shape for a in every] == [(r, 2) for r in range(SIZE)], "allgather shapes")
check(all(a.dtype == np.float32 for a in every), "allgather dtypes")
check(all(np.array_equal(a, np.arange(r * 2).reshape(r, 2)) for r, a in enumerate(every)), "ag")
gathered = comm.gather(np.full(3, RANK, np.int16), root=SIZE - 1)
if RANK == SIZE - 1:
    check([a.tolist() for a in gathered] == [[r] * 3 for r in range(SIZE)], "gather on root")
else:
    check(gathered is None, "gather elsewhere")
try:
    comm.allgather(np.zeros((1,) * (RANK + 1)))  # dimensions differ: every process refuses
except ValueError as err:
    check("differ in dtype or number of dimensions" in str(err), str(err))
else:
    check(False, "mismatched allgather passed")

sent = comm.bcast(np.arange(5, dtype=np.float16) if RANK == 1 else None, root=1)
check(sent.dtype == np.float16 and sent.tolist() == list(range(5)), f"bcast array {sent}")
sent = comm.bcast({"epoch": 3, "rank": RANK} if RANK == 0 else None)
check(sent == {"epoch": 3, "rank": 0}, f"bcast object {sent}")
into = np.full(3, float(RANK))
check(comm.bcast_into(into, root=SIZE - 1) is into and into.tolist() == [SIZE - 1.0] * 3, "into")
comm.barrier()
check(world() is comm, "world() is one communicator")
os.write(1, f"OK {RANK} of {SIZE}\n".encode())  # (one write: lines never interleave)
