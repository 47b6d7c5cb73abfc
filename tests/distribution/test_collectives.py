"""The collective primitives: on one process (identities), with a stand-in communicator of
several processes (the rank-dependent rules), in graph passes (never folded, merged or
dropped), and for real under ``mpiexec -n 2`` and ``-n 3`` (values, gradients with
`check_grads` on every process, compiled steps, `average_gradients`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.distribution as dist
import tapegrad.numpy as tnp
from tapegrad.core.prims import collective
from tapegrad.graph import optimize, trace
from tests.distribution.mpirun import report, run_mpi

COLLECTIVES = ("all_sum", "all_mean", "all_gather", "reduce_scatter", "broadcast")


class Mirror:
    """A stand-in for ``size`` processes that all hold this process's values."""

    def __init__(self, rank: int, size: int) -> None:
        self.rank, self.size = rank, size

    def allreduce_sum(self, array: Any) -> np.ndarray:
        return np.asarray(array) * self.size

    def allgather(self, array: Any) -> list[np.ndarray]:
        return [np.asarray(array)] * self.size

    def bcast(self, value: Any, root: int = 0) -> Any:
        return value


@pytest.fixture
def mirror() -> Iterator[Any]:
    def install(rank: int, size: int) -> None:
        collective.set_communicator(lambda: Mirror(rank, size))

    previous = collective.set_communicator(None)
    try:
        yield install
    finally:
        collective.set_communicator(previous)


def test_one_process_collectives_are_copies() -> None:
    x = np.arange(6.0).reshape(3, 2)
    for op in (dist.all_sum, dist.all_mean, dist.all_gather, dist.broadcast):
        out = op(x)
        np.testing.assert_array_equal(out, x)
        assert not np.shares_memory(out, x)
    np.testing.assert_array_equal(dist.reduce_scatter(x, rows=3), x)
    assert dist.all_mean(np.array([1, 2])).dtype == np.float64
    assert dist.average_gradients([x, None]) == [x, None]


def test_one_process_refuses_what_no_process_count_allows() -> None:
    with pytest.raises(ValueError, match="at least one axis"):
        dist.all_gather(np.float64(1.0))
    with pytest.raises(ValueError, match="root 1 is not a process"):
        dist.broadcast(np.ones(2), root=1)
    with pytest.raises(ValueError, match="3 rows asked"):
        dist.reduce_scatter(np.ones((2, 1)), rows=3)


def test_the_collectives_are_stateful_primitives_of_the_table() -> None:
    from tapegrad.core import prims

    for name in COLLECTIVES:
        prim = getattr(prims, f"{name}_p")
        assert prim.stateful, name
        assert prim.returns == "fresh", name


def test_rules_on_three_mirrored_processes(mirror: Any) -> None:
    # Every process holds the same x, so each output is `size` times a one-process one.
    x = tg.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    for rank in (0, 2):
        mirror(rank, 3)
        with tg.GradientTape(persistent=True) as tape:
            s = tnp.sum(dist.all_sum(x) * 2.0)
            m = tnp.sum(dist.all_mean(x) * 2.0)
            g = tnp.sum(dist.all_gather(x) * np.arange(6.0)[:, None])
            b = tnp.sum(dist.broadcast(x, root=2))
        np.testing.assert_array_equal(tape.gradient(s, x), np.full((2, 2), 6.0))
        np.testing.assert_array_equal(tape.gradient(m, x), np.full((2, 2), 2.0))
        # This process's rows (2 * rank, 2 * rank + 1) of 3 processes' equal cotangents.
        rows = 3.0 * np.arange(2 * rank, 2 * rank + 2)[:, None]
        np.testing.assert_array_equal(tape.gradient(g, x), np.broadcast_to(rows, (2, 2)))
        np.testing.assert_array_equal(tape.gradient(b, x), np.full((2, 2), 3.0 * (rank == 2)))
        _, tangent = tg.jvp(dist.all_gather, (x.numpy(),), (np.ones((2, 2)),))
        np.testing.assert_array_equal(tangent, np.ones((6, 2)))


def test_broadcast_gradient_records_the_same_ops_on_root_and_others(mirror: Any) -> None:
    # Its second derivative must run the same collectives everywhere: count them.
    counts = []
    real = collective.all_sum_p.impl
    calls: list[int] = []

    def counted(x: Any) -> Any:
        calls.append(1)
        return real(x)

    for rank in (0, 1):
        mirror(rank, 2)
        calls.clear()
        collective.all_sum_p.impl = counted
        try:
            x = tg.Variable(np.array([0.5, 1.0]))
            with tg.GradientTape() as outer:
                with tg.GradientTape() as inner:
                    y = tnp.sum(tnp.sin(dist.broadcast(x, root=0)))
                dx = inner.gradient(y, x)
                z = tnp.sum(dx * dx)
            outer.gradient(z, x)
        finally:
            collective.all_sum_p.impl = real
        counts.append(len(calls))
    assert counts[0] == counts[1]
    assert counts[0] >= 2


def test_graph_passes_never_fold_merge_or_drop_a_collective() -> None:
    def f(x: Any) -> Any:
        dist.all_sum(x)  # unused: must still run, or the other processes would wait
        twice = dist.all_mean(x) + dist.all_mean(x)  # two calls, two collectives
        return twice * 2.0

    graph = optimize(trace(f, tg.tensor(np.ones(2))))
    names = [node.primitive for node in graph.nodes]
    assert names.count("all_sum") == 1, names
    assert names.count("all_mean") == 2, names


def test_compiled_collectives_match_eager() -> None:
    w = tg.Variable(np.array([0.5, -1.0]))

    def step(x: Any) -> Any:
        with tg.GradientTape() as tape:
            loss = tnp.sum(dist.all_gather(x * w) ** 2)
        return dist.average_gradients(tape.gradient(loss, [w]))[0]

    x = tg.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    np.testing.assert_array_equal(tg.function(step)(x), step(x))


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_under_mpiexec(n: int) -> None:
    result = run_mpi(n, "collectives_check.py")
    assert result.returncode == 0, report(result)
    for rank in range(n):
        assert f"OK {rank} of {n}" in result.stdout, report(result)
