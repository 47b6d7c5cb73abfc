"""Thread safety (docs/threads.md): tapes, forward accumulators, anomaly mode and graph
tracing are per thread and per asyncio task; `tapegrad.function` and layer builds are safe
under concurrent first calls; N threads training their own models give the serial results
bit for bit; a thread that dies inside a tape leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers, losses, optimizers
from tapegrad.core import primitive as _primitive
from tapegrad.graph.function import TracerValueError, current_tracer
from tapegrad.graph.trace import trace
from tapegrad.nn import models

N_THREADS = 4
N_CALLS = 200  # per thread: 800 results per experiment, as in the issue


@pytest.fixture(autouse=True)
def _frequent_switches() -> Iterator[None]:
    """Switch threads every few microseconds (the default is 5 ms): races show at once."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)
    assert _primitive.active_recorders() == ()


def _run_threads(work: Callable[[int], Any], n: int = N_THREADS) -> list[Any]:
    """Run ``work(k)`` in ``n`` threads started together; re-raise the first error."""
    results: list[Any] = [None] * n
    errors: list[BaseException] = []
    barrier = threading.Barrier(n)

    def target(k: int) -> None:
        try:
            barrier.wait()
            results[k] = work(k)
        except BaseException as err:  # noqa: BLE001 - re-raised in the main thread
            errors.append(err)

    threads = [threading.Thread(target=target, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def _inputs() -> list[np.ndarray]:
    base = np.linspace(-1.0, 1.0, 16, dtype=np.float32)
    return [base * np.float32(1 + k / 50) for k in range(N_THREADS * N_CALLS)]


def _loss(x: Any) -> Any:
    return tnp.sum(tnp.sin(x) * x**2 + tnp.exp(-x))


@tg.custom_gradient
def _clipped_square(x: Any) -> Any:
    # (custom_gradient swaps the recorder stack around its forward pass)
    def grad_fn(dy: Any) -> Any:
        return dy * tnp.clip(2.0 * x, -1.0, 1.0)

    return x * x, grad_fn


def _same_as_serial(compute: Callable[[np.ndarray], Any]) -> None:
    """``compute`` on every input in 4 threads equals ``compute`` run serially, bit for bit."""
    inputs = _inputs()
    serial = [compute(x) for x in inputs]

    def work(k: int) -> list[Any]:
        return [compute(inputs[i]) for i in range(k, len(inputs), N_THREADS)]

    threaded: list[Any] = [None] * len(inputs)
    for k, part in enumerate(_run_threads(work)):
        threaded[k::N_THREADS] = part
    wrong = [
        i
        for i, (a, b) in enumerate(zip(serial, threaded, strict=True))
        if not all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    ]
    assert not wrong, f"{len(wrong)} of {len(inputs)} results differ from the serial run"


# -- transforms and tapes -------------------------------------------------------------------
def test_grad_in_threads_equals_serial() -> None:
    _same_as_serial(lambda x: [tg.grad(_loss)(x).numpy()])


def test_tapes_in_threads_equal_serial() -> None:
    def compute(x_value: np.ndarray) -> list[np.ndarray]:
        x = tg.tensor(x_value)
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = _loss(x)
        plain = tape.gradient(y, x)
        with tg.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = _loss(x)
            with tape.stop_recording():
                unrecorded = x * 3.0
            z = tnp.sum(tnp.tanh(x) + unrecorded)
        first, second = tape.gradient(y, x), tape.gradient(z, x)
        with tg.GradientTape() as outer:
            outer.watch(x)
            with tg.GradientTape() as inner:
                inner.watch(x)
                y = _loss(x)
            dy = inner.gradient(y, x)
            s = tnp.sum(dy)
        ddy = outer.gradient(s, x)
        custom = tg.grad(lambda v: tnp.sum(_clipped_square(v) * v))(x)
        return [g.numpy() for g in (plain, first, second, dy, ddy, custom)]

    _same_as_serial(compute)


def test_forward_mode_in_threads_equals_serial() -> None:
    def compute(x_value: np.ndarray) -> list[np.ndarray]:
        tangent = np.ones_like(x_value)
        out, jvp_out = tg.jvp(_loss, (x_value,), (tangent,))
        x = tg.tensor(x_value)
        with tg.ForwardAccumulator(x, tangent) as acc:
            y = tnp.tanh(x) * x
        return [out.numpy(), jvp_out.numpy(), acc.jvp(y).numpy()]

    _same_as_serial(compute)


def test_first_calls_of_a_shared_function_trace_once() -> None:
    started = threading.Event()

    @tg.function
    def f(x: Any) -> Any:
        started.set()
        time.sleep(0.05)  # (only while tracing) other threads arrive during the trace
        return tg.grad(_loss)(x)

    inputs = _inputs()[: N_THREADS * 10]
    serial = [tg.grad(_loss)(x).numpy() for x in inputs]

    def work(k: int) -> tuple[Any, list[np.ndarray]]:
        outs = [f(inputs[i]).numpy() for i in range(k, len(inputs), N_THREADS)]
        return f.get_concrete_function(inputs[k]), outs

    results = _run_threads(work)
    assert started.is_set() and f.tracing_count == 1
    assert all(concrete is results[0][0] for concrete, _ in results)  # one finished trace
    for k, (_, outs) in enumerate(results):
        for i, out in zip(range(k, len(inputs), N_THREADS), outs, strict=True):
            np.testing.assert_allclose(out, serial[i], rtol=1e-6)


@pytest.mark.parametrize("jit", [False, True], ids=["interpreted", "compiled"])
def test_calls_of_a_shared_function_updating_a_variable_take_turns(jit: bool) -> None:
    sys.setswitchinterval(1e-6)  # (a switch inside nearly every call)
    total = tg.Variable(np.zeros(3, np.float32))

    @tg.function(jit=jit)
    def accumulate(x: Any) -> Any:
        total.assign_add(x)
        return total * 1.0

    one = np.ones(3, np.float32)
    accumulate(one)
    _run_threads(lambda k: [accumulate(one) for _ in range(300)])
    assert accumulate.tracing_count == 1
    np.testing.assert_array_equal(total.numpy(), np.full(3, 1 + 4 * 300, np.float32))


def test_functions_traced_in_threads_equal_serial() -> None:
    def compute(x_value: np.ndarray) -> list[Any]:
        # A new Function per call: every call traces, in every thread at once.
        step = tg.function(
            lambda x: (
                _loss(x),
                tg.grad(_loss)(x),
                tg.grad(lambda v: tnp.sum(_clipped_square(v)))(x),
            )
        )
        listing = str(trace(_loss, x_value))  # the graph tracer of Lambda saving
        return [part.numpy() for part in step(x_value)] + [np.array(listing)]

    inputs = _inputs()[: N_THREADS * 10]
    serial = [compute(x) for x in inputs]

    def work(k: int) -> list[list[Any]]:
        return [compute(inputs[i]) for i in range(k, len(inputs), N_THREADS)]

    for k, part in enumerate(_run_threads(work)):
        for got, want in zip(part, serial[k::N_THREADS], strict=True):
            for a, b in zip(got, want, strict=True):
                np.testing.assert_array_equal(a, b)


def test_tracing_in_one_thread_does_not_capture_another() -> None:
    tracing, release = threading.Event(), threading.Event()

    @tg.function
    def slow(x: Any) -> Any:
        tracing.set()
        release.wait(5)
        return x * 2.0

    worker = threading.Thread(target=lambda: slow(np.ones(3, np.float32)))
    worker.start()
    assert tracing.wait(5)
    try:
        # Meanwhile this thread reads values, records a tape and is not tracing.
        assert current_tracer() is None
        x = tg.tensor([1.0, 2.0])
        assert x.numpy().tolist() == [1.0, 2.0] and float(tnp.sum(x)) == 3.0
        assert tg.grad(_loss)(x).shape == (2,)
    finally:
        release.set()
        worker.join()
    assert [node.primitive for node in slow.graph.nodes] == ["multiply"]

    with pytest.raises(TracerValueError):  # the hook still guards this thread's own trace
        tg.function(lambda x: float(x))(np.float32(1.0))


def test_a_thread_started_inside_a_tape_starts_with_no_tapes() -> None:
    variable = tg.Variable(np.ones(3, np.float32))
    seen: list[Any] = []

    def worker() -> None:
        seen.append(_primitive.active_recorders())
        seen.append(tnp.sum(variable * 2.0))

    with tg.GradientTape() as tape:
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen[0] == () and tape.watched_variables() == ()
    assert tape.gradient(seen[1], variable) is None  # the worker's ops were not recorded


def test_anomaly_mode_is_per_thread() -> None:
    inside, done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def in_anomaly_mode() -> None:
        with tg.debug.detect_anomaly():
            inside.set()
            done.wait(5)
            try:
                tnp.log(tg.tensor(-1.0))
            except FloatingPointError as err:
                errors.append(err)

    worker = threading.Thread(target=in_anomaly_mode)
    worker.start()
    assert inside.wait(5)
    with np.errstate(invalid="ignore"):
        assert np.isnan(tnp.log(tg.tensor(-1.0)).numpy())  # no anomaly mode here
    assert not _primitive.anomaly_enabled()
    done.set()
    worker.join()
    assert len(errors) == 1 and "'log' produced NaN" in str(errors[0])


# -- layers and models ----------------------------------------------------------------------
class _SlowScale(layers.Layer):
    builds = 0

    def build(self, input_shape: Any) -> None:
        type(self).builds += 1
        time.sleep(0.05)  # every other thread arrives while this one builds
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

    def call(self, inputs: Any) -> Any:
        return inputs * self.scale


def test_concurrent_first_calls_build_a_layer_once() -> None:
    slow = _SlowScale()
    dense = layers.Dense(3, kernel_initializer=tg.initializers.GlorotUniform(seed=3))
    x = np.ones((2, 5), np.float32)
    outs = _run_threads(lambda k: [dense(slow(x)).numpy() for _ in range(20)])
    assert _SlowScale.builds == 1 and len(slow.weights) == 1
    assert len(dense.weights) == 2 and dense.built
    for out in outs:
        for o in out:
            np.testing.assert_array_equal(o, outs[0][0])


class _TrainingFlag(layers.Layer):
    def call(self, inputs: Any, training: Any = None) -> Any:
        return inputs * (2.0 if training else 1.0)


class _Wrapper(layers.Layer):
    def __init__(self) -> None:
        super().__init__()
        self.inner = _TrainingFlag()

    def call(self, inputs: Any) -> Any:
        time.sleep(0.001)  # other threads call (with other flags) meanwhile
        return self.inner(inputs)  # no training argument: the inner call inherits the flag


def test_the_training_flag_of_nested_layer_calls_is_per_thread() -> None:
    outer = _Wrapper()
    x = np.ones((1, 2), np.float32)

    def work(k: int) -> list[float]:
        # Each thread asks for training=True on every other call, out of step with others.
        return [float(outer(x, training=bool((i + k) % 2)).numpy()[0, 0]) for i in range(20)]

    for k, got in enumerate(_run_threads(work)):
        assert got == [2.0 if (i + k) % 2 else 1.0 for i in range(20)]


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)


def _model(jit: bool, k: int) -> models.Model:
    model = models.Sequential(
        [
            layers.Input(shape=(5,)),
            layers.Dense(
                16, activation="relu", kernel_initializer=tg.initializers.GlorotUniform(seed=10 + k)
            ),
            layers.Dense(3, kernel_initializer=tg.initializers.GlorotUniform(seed=20 + k)),
        ]
    )
    model.compile(
        optimizers.Adam(0.01),
        losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit,
    )
    return model


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "compiled"])
def test_threads_fitting_their_own_models_equal_serial(jit: bool) -> None:
    x, y = _data()

    def train(k: int) -> tuple[list[np.ndarray], list[float]]:
        model = _model(jit, k)
        history = model.fit(x, y, epochs=4, batch_size=4, shuffle=False, verbose=0)
        return model.get_weights(), history.history["loss"]

    serial = [train(k) for k in range(N_THREADS)]
    threaded = _run_threads(train)
    for k, ((weights, loss), (s_weights, s_loss)) in enumerate(zip(threaded, serial, strict=True)):
        assert loss == s_loss, f"model {k}"
        for a, b in zip(weights, s_weights, strict=True):
            np.testing.assert_array_equal(a, b, err_msg=f"model {k}")


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "compiled"])
def test_a_shared_model_predicts_from_threads(jit: bool) -> None:
    x, _ = _data()
    model = _model(jit, 0)
    want = model.predict(x, verbose=0)
    outs = _run_threads(lambda k: [model.predict(x, verbose=0) for _ in range(5)])
    for out in outs:
        for o in out:
            np.testing.assert_array_equal(o, want)


# -- asyncio ----------------------------------------------------------------------------------
def test_asyncio_tasks_interleaving_inside_tapes_get_their_own_gradients() -> None:
    variables = [tg.Variable(np.array([1.0, 2.0, 3.0], np.float32) * s) for s in (1, 2)]

    async def task(k: int, log: list[str]) -> tuple[np.ndarray, list[Any], int]:
        v = variables[k]
        with tg.GradientTape() as tape:
            y = tnp.sin(v)
            log.append(f"start {k}")
            await asyncio.sleep(0.01)  # the other task runs ops here, under its own tape
            y = tnp.sum(y * v)
            recorders = len(_primitive.active_recorders())
            await asyncio.sleep(0)
        log.append(f"end {k}")
        return tape.gradient(y, v).numpy(), list(tape.watched_variables()), recorders

    async def main() -> tuple[list[Any], list[str]]:
        log: list[str] = []
        results = await asyncio.gather(task(0, log), task(1, log))
        return list(results), log

    results, log = asyncio.run(main())
    assert log[:2] == ["start 0", "start 1"]  # the tapes really were open together
    for k, (grad, watched, recorders) in enumerate(results):
        assert recorders == 1 and watched == [variables[k]]  # its own tape only
        want = tg.grad(lambda v: tnp.sum(tnp.sin(v) * v))(variables[k].numpy())
        np.testing.assert_array_equal(grad, want)


# -- threads that die inside a tape -------------------------------------------------------------
def test_a_thread_dying_inside_a_tape_leaves_nothing_behind() -> None:
    variable = tg.Variable(np.ones((8, 8), np.float32))

    def step() -> None:
        with tg.GradientTape() as tape:
            y = tnp.sum(tnp.tanh(variable @ variable))
        tape.gradient(y, [variable])

    def die(k: int) -> None:
        for _ in range(25):
            try:
                with tg.GradientTape(), tg.GradientTape(persistent=True):
                    step()
                    raise RuntimeError("dies mid-tape")
            except RuntimeError:
                pass
        with tg.GradientTape():
            step()
            raise KeyboardInterrupt  # the thread's work ends inside a tape

    survivors: list[int] = []

    def other(k: int) -> None:
        if k % 2:
            try:
                die(k)
            except KeyboardInterrupt:
                pass
        else:
            for _ in range(50):
                step()
            survivors.append(len(_primitive.active_recorders()))

    _run_threads(other)
    assert _primitive.active_recorders() == ()
    assert survivors == [0, 0]
    # Later steps record on no foreign tape: memory stays flat over thousands of steps.
    for _ in range(200):
        step()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(2000):
            step()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 1 << 20, f"{grown} bytes kept over 2000 steps"
