"""Memory of compiled graphs: a result's array dies after its last reader, as in eager mode.

Straight-line generated code keeps every local until the call returns unless it deletes
it: without that, a training step held all forward activations and every VJP temporary
at once (W7's compiled step peaked at twice its eager peak).
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.graph import evaluate, trace
from tapegrad.graph.codegen import compile_graph

SIZE = 128  # one (SIZE, SIZE) float64 product: 128 KiB
LINKS = 12


def _chain(x: Any, w: Any) -> Any:
    # einsum allocates its results (no out= buffer): each link is a fresh array.
    for _ in range(LINKS):
        x = tnp.einsum("ij,jk->ik", x, w)
    return tnp.sum(x)


def _peak_bytes(call: Any) -> int:
    call()  # (warm: persistent buffers exist before the measured call)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_dead_results_are_freed_during_the_call() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SIZE, SIZE)) / SIZE
    w = rng.standard_normal((SIZE, SIZE)) / np.sqrt(SIZE)
    graph = trace(_chain, x, w)
    compiled = compile_graph(graph, fuse=False)
    link = SIZE * SIZE * 8
    peak = _peak_bytes(lambda: compiled([x, w], []))
    # Two links live at once (a product and its operand), not all twelve.
    assert peak < 3 * link, (peak, compiled.source)
    assert "del " in compiled.source
    (got,), _ = compiled([x, w], [])
    assert got.tobytes() == evaluate(graph, [x, w])[0].tobytes()


def test_gradient_step_frees_activations_once_their_vjp_ran() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((SIZE, SIZE)) / SIZE
    w = rng.standard_normal((SIZE, SIZE)) / np.sqrt(SIZE)
    graph = trace(tg.grad(lambda w_, x_: _chain(tnp.tanh(x_), w_)), w, x)
    compiled = compile_graph(graph, fuse=False)
    link = SIZE * SIZE * 8
    peak = _peak_bytes(lambda: compiled([w, x], []))
    # The forward keeps its LINKS activations for the backward pass (as eager mode
    # does); the backward's temporaries die as it goes instead of piling up on top.
    assert peak < (LINKS + 6) * link, peak
    (got,), _ = compiled([w, x], [])
    assert got.tobytes() == evaluate(graph, [w, x])[0].tobytes()


def test_returned_values_and_updates_are_not_deleted() -> None:
    w = tg.Variable(np.ones((4, 4), np.float32))
    x = np.ones((4, 4), np.float32)

    def step(x: Any) -> Any:
        y = x @ w
        z = y @ w
        w.assign_sub(0.5 * (y @ z))
        return y, tnp.sum(z)

    f = tg.function(step)
    y, total = f(x)
    assert "del " in f.get_concrete_function(x)._compiled.source
    np.testing.assert_array_equal(y.numpy(), np.full((4, 4), 4.0, np.float32))
    assert float(total) == 16 * 16.0
    np.testing.assert_array_equal(w.numpy(), np.full((4, 4), 1.0 - 0.5 * 4 * 4 * 16, np.float32))
