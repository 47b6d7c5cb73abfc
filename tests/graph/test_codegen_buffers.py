"""Compiled steps reuse their buffers from one call to the next, also after primitives whose
result layout is known only at run time (kernels, einsum): a ufunc reading such a result
writes into its persistent buffer when the inputs turn out C-ordered, and allocates as
NumPy would otherwise. Returned arrays and Variables are never written by a later call.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.graph import evaluate, trace
from tapegrad.graph.codegen import compile_graph


def _data(seed: int, shape: tuple[int, int] = (6, 5)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    w = rng.standard_normal((shape[1], shape[1])).astype(np.float32)
    return x, w


def _after_einsum(x: Any, w: Any) -> Any:
    z = tnp.tanh(tnp.einsum("ij,jk->ik", x, w))  # einsum: a layout known only at run time
    return tnp.sum(z * z)


def _buffers(compiled: Any) -> list[np.ndarray]:
    names = compiled._function.__globals__
    return [names[f"_s{k}"] for k in range(compiled.n_buffers)]


def test_result_of_unknown_layout_is_written_into_a_reused_buffer() -> None:
    x, w = _data(0)
    graph = trace(_after_einsum, x, w)
    compiled = compile_graph(graph, fuse=False)
    assert "flags.c_contiguous else None)" in compiled.source, compiled.source
    for seed in (1, 2):  # steady state: the same buffers, new contents
        x, w = _data(seed)
        (got,), _ = compiled([x, w], [])
        assert got.tobytes() == evaluate(graph, [x, w])[0].tobytes()
        # The buffer holds z * z of this call (written in place over tanh's result).
        expected = np.tanh(x @ w) ** 2
        assert any(np.allclose(b, expected, rtol=1e-5) for b in _buffers(compiled))


def test_result_of_unknown_layout_not_c_ordered_gets_a_new_array() -> None:
    x, _ = _data(3, (7, 4))

    def transposed(x: Any) -> Any:
        y = tnp.einsum("ij->ji", x)  # a transposed view at run time
        return tnp.sum(tnp.tanh(y) * tnp.arange(7, dtype="float32"), axis=0)

    graph = trace(transposed, x)
    compiled = compile_graph(graph, fuse=False)
    for _ in range(2):
        (got,), _ = compiled([x], [])
        assert got.tobytes() == evaluate(graph, [x])[0].tobytes()


def test_outputs_stay_intact_over_following_calls() -> None:
    def two(x: Any, w: Any) -> Any:
        y = tnp.tanh(tnp.einsum("ij,jk->ik", x, w))
        return y * 3.0, tnp.exp(y)

    x, w = _data(4)
    compiled = compile_graph(trace(two, x, w), fuse=False)
    first, _ = compiled([x, w], [])
    kept = [a.copy() for a in first]
    for seed in (5, 6):
        compiled(list(_data(seed)), [])
    for a, b in zip(first, kept, strict=True):
        assert a.tobytes() == b.tobytes()


def test_training_step_with_guarded_buffers_matches_eager() -> None:
    x, w0 = _data(7)

    def run(compiled: bool) -> tuple[list[float], np.ndarray]:
        w = tg.Variable(w0.copy())

        def step(x: Any) -> Any:
            with tg.GradientTape() as tape:
                loss = _after_einsum(x, w)
            w.assign_sub(0.01 * tape.gradient(loss, w))
            return loss

        f = tg.function(step) if compiled else step
        losses = [float(f(x)) for _ in range(4)]
        return losses, w.numpy()

    eager_losses, eager_w = run(False)
    compiled_losses, compiled_w = run(True)
    np.testing.assert_allclose(compiled_losses, eager_losses, rtol=1e-5)
    np.testing.assert_allclose(compiled_w, eager_w, rtol=1e-5, atol=1e-6)


def test_variable_values_read_earlier_stay_intact() -> None:
    x, w0 = _data(12)
    w = tg.Variable(w0.copy())

    @tg.function
    def step(x: Any) -> Any:
        with tg.GradientTape() as tape:
            loss = _after_einsum(x, w)
        w.assign_sub(0.01 * tape.gradient(loss, w))
        return loss

    step(x)
    seen = w.numpy()
    kept = seen.copy()
    step(x)
    assert seen.tobytes() == kept.tobytes()
    assert w.numpy().tobytes() != kept.tobytes()  # (the step did update w)


def test_fused_kernel_never_writes_into_an_array_of_unknown_layout() -> None:
    pytest.importorskip("numba")
    x, _ = _data(8, (9, 4))

    def chain(x: Any) -> Any:
        # sin is no kernel's: a guarded call, a transposed array at run time, which the
        # kernel after it would otherwise overwrite in place as if it were C-ordered.
        z = tnp.sin(tnp.einsum("ij->ji", x))
        return tnp.sum((z * 2.0 + 1.0) * z - z, axis=1)

    graph = trace(chain, x)
    compiled = compile_graph(graph, fuse=True)
    assert compiled.kernels, compiled.source
    assert "np.empty(" in compiled.source, compiled.source
    for _ in range(2):
        (got,), _ = compiled([x], [])
        np.testing.assert_allclose(got, evaluate(graph, [x])[0], rtol=1e-5, atol=1e-6)


def test_calls_from_two_threads_do_not_share_buffers() -> None:
    x, w = _data(9, (64, 32))
    compiled = compile_graph(trace(_after_einsum, x, w), fuse=False)
    inputs = [_data(seed, (64, 32)) for seed in (10, 11)]
    expected = [compiled(list(pair), [])[0][0].copy() for pair in inputs]
    wrong: list[int] = []
    start = threading.Barrier(2)

    def worker(k: int) -> None:
        start.wait()
        for _ in range(200):
            (got,), _ = compiled(list(inputs[k]), [])
            if got.tobytes() != expected[k].tobytes():
                wrong.append(k)

    threads = [threading.Thread(target=worker, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
