"""Memory and identity while tracing: a trace holds what the eager run it observes holds.

The tracer maps objects to graph values by ``id``: the results of recorded calls leave
those maps when they die (so an id reused by a new object is not mistaken for a traced
value), and the calls are kept for `tapegrad.gradients` only once a trace has called it.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp

SIZE = 96  # one (SIZE, SIZE) float64 value: 72 KiB
LINKS = 12


def _train_step(x: Any, w: Any) -> Any:
    with tg.GradientTape() as tape:
        tape.watch(w)
        h = x
        for _ in range(LINKS):
            h = tnp.tanh(tnp.einsum("ij,jk->ik", h, w))
        loss = tnp.sum(h * h)
    return loss, tape.gradient(loss, w)


def _peak(call: Any) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        call()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def test_trace_holds_no_more_than_the_eager_step() -> None:
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((SIZE, SIZE)) / SIZE)
    w = tg.tensor(rng.standard_normal((SIZE, SIZE)) / np.sqrt(SIZE))
    tg.function(_train_step)(x, w)  # (warm: imports and one-time allocations)
    eager = _peak(lambda: _train_step(x, w))
    traced = _peak(lambda: tg.function(_train_step).get_concrete_function(x, w))
    link = SIZE * SIZE * 8
    # Keeping every value (the forward's two per link, the backward's four) would cost
    # ~6 * LINKS links on top of the eager peak.
    assert traced < eager + 2 * LINKS * link, (traced / link, eager / link)
    (loss, grad) = tg.function(_train_step)(x, w)
    want_loss, want_grad = _train_step(x, w)
    np.testing.assert_allclose(grad.numpy(), want_grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(float(loss), float(want_loss), rtol=1e-12)


def test_ids_of_dead_results_are_not_mistaken_for_traced_values() -> None:
    def f(x: Any) -> Any:
        for k in range(200):
            y = x * 2.0  # a traced result that dies at once: its id comes free
            del y
            # New arrays and Tensors not computed from x: constants of the graph, even
            # where one reuses a dead result's id.
            x = x + tg.tensor(np.full(3, float(k)))
            x = x - np.full(3, 0.5 * k)
        return x

    compiled = tg.function(f)
    first = np.array([1.0, 2.0, 3.0])
    compiled(first)
    other = np.array([-4.0, 0.5, 9.0])
    np.testing.assert_array_equal(compiled(other).numpy(), f(tg.tensor(other)).numpy())
    assert compiled.tracing_count == 1


def test_gradients_retrace_keeping_the_calls_once() -> None:
    calls = []

    @tg.function
    def slope(x: Any) -> Any:
        calls.append(1)
        y = tnp.sum(x**3)
        try:
            (dx,) = tg.gradients(y, [x])
        except Exception:  # (a user's broad except does not swallow the retrace)
            raise AssertionError("gradients failed") from None
        return dx

    x = np.array([1.0, 2.0])
    np.testing.assert_array_equal(slope(x).numpy(), 3 * x**2)
    np.testing.assert_array_equal(slope(2 * x).numpy(), 12 * x**2)
    assert slope.tracing_count == 1  # (the same signature: one trace)
    assert len(calls) == 2  # the first trace ran the Python code again to keep the calls
    slope(np.array([1.0, 2.0, 3.0]))  # another signature: traced keeping them at once
    assert len(calls) == 3
