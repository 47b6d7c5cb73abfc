"""Run under ``mpiexec -n N``: checks the collectives' values, gradients (explicit and with
`check_grads`), compiled runs and `average_gradients` on every process; each process prints
``OK <rank>`` at the end (an uncaught failure aborts the job: tapegrad's abort hook)."""

from __future__ import annotations

import os

import numpy as np

import tapegrad as tg
import tapegrad.distribution as dist
import tapegrad.numpy as tnp

dist.initialize()
RANK, SIZE = dist.process_id(), dist.num_processes()
LAST = SIZE - 1


def rows_of(rank: int) -> int:
    return rank + 1  # ragged: process r holds r + 1 rows


def local(rank: int, dtype: type = np.float64) -> np.ndarray:
    """Process ``rank``'s data (every process can rebuild any other's)."""
    rng = np.random.default_rng(100 + rank)
    return rng.standard_normal((rows_of(rank), 3)).astype(dtype)


def close(got: object, want: object, what: str, rtol: float = 1e-12) -> None:
    got = got.numpy() if isinstance(got, tg.Tensor) else np.asarray(got)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12, err_msg=f"rank {RANK}: {what}")


def check_values() -> None:
    x = np.full((2, 2), RANK + 1.0, np.float32)
    total = dist.all_sum(x)
    assert total.dtype == np.float32, total.dtype
    close(total, np.full((2, 2), SIZE * (SIZE + 1) / 2), "all_sum")
    close(dist.all_mean(x), np.full((2, 2), (SIZE + 1) / 2), "all_mean")
    close(dist.all_sum(np.float64(RANK)), SIZE * (SIZE - 1) / 2, "all_sum of a scalar")
    close(dist.all_mean(np.array([RANK], np.int64)), [(SIZE - 1) / 2], "all_mean of ints")
    gathered = dist.all_gather(tg.tensor(local(RANK)))
    assert isinstance(gathered, tg.Tensor)
    close(gathered, np.concatenate([local(r) for r in range(SIZE)]), "all_gather (ragged)")
    mine = dist.reduce_scatter(gathered, rows=rows_of(RANK))
    close(mine, SIZE * local(RANK), "reduce_scatter")
    sent = dist.broadcast(np.full(3, float(RANK)), root=LAST)
    close(sent, np.full(3, float(LAST)), "broadcast")
    try:
        dist.broadcast(np.zeros(RANK + 1), root=0)  # shapes differ: every non-root refuses
    except ValueError as err:
        assert RANK != 0 and "root's shape" in str(err), err
    else:
        assert RANK == 0, "a mismatched broadcast passed"


def check_explicit_gradients() -> None:
    # The gradient of the total over processes of each process's loss.
    weight = float(RANK + 1)
    x = tg.Variable(local(RANK)[:1])
    with tg.GradientTape(persistent=True) as tape:
        loss_sum = tnp.sum(weight * dist.all_sum(x))
        loss_mean = tnp.sum(weight * dist.all_mean(x))
        coefficient = np.random.default_rng(RANK).standard_normal((SIZE * (SIZE + 1) // 2, 3))
        loss_gather = tnp.sum(coefficient * dist.all_gather(tg.tensor(local(RANK)) * x[0, 0]))
        loss_bcast = tnp.sum(weight * dist.broadcast(x, root=LAST))
    weights = SIZE * (SIZE + 1) / 2
    close(tape.gradient(loss_sum, x), np.full((1, 3), weights), "d all_sum")
    close(tape.gradient(loss_mean, x), np.full((1, 3), weights / SIZE), "d all_mean")
    # d/dx0 of sum_s <c_s, concat_r(local_r * x0_r)>: this process's block of sum_s c_s.
    start = sum(rows_of(r) for r in range(RANK))
    every = sum(np.random.default_rng(s).standard_normal(coefficient.shape) for s in range(SIZE))
    block = every[start : start + rows_of(RANK)]
    want = np.zeros((1, 3))
    want[0, 0] = np.sum(block * local(RANK))
    close(tape.gradient(loss_gather, x), want, "d all_gather")
    close(
        tape.gradient(loss_bcast, x),
        np.full((1, 3), weights if RANK == LAST else 0.0),
        "d broadcast",
    )


def replicated(h):
    """``h`` between two all_means: replicated arguments in, replicated results out, so
    check_grads' finite differences (the same directions on every process, one seed) and
    its dot-product test hold on each process, while `h` itself differs by process."""
    return lambda *args: dist.all_mean(h(*[dist.all_mean(a) for a in args]))


def check_with_check_grads() -> None:
    scale = float(RANK + 1)
    cases = {
        "all_sum": lambda x: dist.all_sum(tnp.sin(x) * scale),
        "all_mean": lambda x: dist.all_mean(x * x * scale),
        "all_gather": lambda x: dist.all_gather(tnp.sin(x[: rows_of(RANK)]) * scale),
        "reduce_scatter": lambda x: dist.all_gather(
            dist.reduce_scatter(x * x * scale, rows=rows_of(RANK))
        ),
        "broadcast": lambda x: dist.broadcast(tnp.cos(x) * scale, root=LAST),
        "average_gradients": lambda x: (
            dist.average_gradients([x * scale, tnp.sin(x)])[0]
            * dist.average_gradients([x * scale, tnp.sin(x)])[1]
        ),
    }
    x = np.random.default_rng(7).uniform(-1, 1, (SIZE * (SIZE + 1) // 2, 2))
    # Second order on 2 processes; first order on more (oversubscribed cores are slow).
    order = 2 if SIZE == 2 else 1
    for name, h in cases.items():
        try:
            tg.check_grads(replicated(h), (x,), order=order)
        except AssertionError as err:
            raise AssertionError(f"rank {RANK}: check_grads of {name}: {err}") from None


def check_compiled() -> None:
    w = tg.Variable(np.full(3, RANK + 1.0))
    data = local(RANK)

    def step(batch):
        with tg.GradientTape() as tape:
            loss = tnp.sum((batch @ w) ** 2)
        (grad,) = dist.average_gradients([tape.gradient(loss, w)])
        unused = dist.all_sum(batch)  # noqa: F841  (must run everywhere: never dropped)
        gathered = dist.all_gather(batch[:1] * 2.0)
        return loss, grad, gathered, dist.broadcast(w * 1.0, root=LAST)

    eager = step(tg.tensor(data))
    compiled = tg.function(step)
    for _ in range(2):  # the traced call and a run of the compiled code
        for got, want, what in zip(compiled(tg.tensor(data)), eager, "LGAB", strict=True):
            close(got, want.numpy(), f"compiled step, output {what}", rtol=1e-12)
    names = [node.primitive for node in compiled.graph.nodes]
    assert names.count("all_sum") >= 1 and "all_mean" in names, names


def check_average_gradients() -> None:
    grads = [np.full((2, 2), RANK, np.float32), None, np.arange(3.0) * RANK, np.float32(RANK)]
    got = dist.average_gradients(grads)
    mean = (SIZE - 1) / 2
    assert got[1] is None
    assert got[0].dtype == np.float32 and got[3].dtype == np.float32
    close(got[0], np.full((2, 2), mean), "average_gradients float32")
    close(got[2], np.arange(3.0) * mean, "average_gradients float64")
    close(got[3], mean, "average_gradients scalar")


check_values()
check_explicit_gradients()
check_with_check_grads()
check_compiled()
check_average_gradients()
os.write(1, f"OK {RANK} of {SIZE}\n".encode())  # (one write: lines never interleave)
