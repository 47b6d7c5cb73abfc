"""tapegrad in graph mode: every workload as a `tapegrad.function`, written as a user would.

Each callable is traced on its first call (so the harness's first-call time is trace +
graph passes + code generation + one run, like JAX jit's) and runs the compiled graph
afterwards. Data, initial weights and models are those of :mod:`benchmarks.impl_tapegrad`,
so both tapegrad columns compute the same numbers.

- W1, W1-fwd: ``tg.function(tg.grad(f))`` and ``tg.function(f)``.
- W2, W3, W4, W5-layer: a ``tg.function`` train step over the Keras-style model
  (``GradientTape`` + ``optimizers.SGD``); the ``-tob`` rows run the same model through
  ``model.compile(..., jit_compile=True)`` + ``train_on_batch``.
- W5-unrolled: the 50-step Python loop traced into one graph.
- W6: ``tg.function`` around reverse-over-reverse and around ``tg.jvp`` of ``tg.grad``.

Until ``tapegrad/graph/codegen.py`` exists the functions run with ``jit=False`` (the
optimized graph, interpreted); `info` says which.
"""

from __future__ import annotations

import functools
import importlib.util
import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from benchmarks import impl_tapegrad
from benchmarks.harness import (
    CNN_LEARNING_RATE,
    LSTM_LEARNING_RATE,
    LSTM_PARAM_NAMES,
    MLP_LEARNING_RATE,
    Builder,
)

# Generated code once codegen has landed; the graph interpreter until then.
JIT = importlib.util.find_spec("tapegrad.graph.codegen") is not None


def function(fn: Callable[..., Any]) -> Any:
    """``tg.function`` with this module's code-generation setting."""
    return tg.function(fn, jit=JIT)


# --- W1 / W6 ---------------------------------------------------------------------------


def _build_w1(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]
    grad_f = function(tg.grad(impl_tapegrad._w1_f))
    return lambda: grad_f(x)


def _build_w1_fwd(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]
    f = function(impl_tapegrad._w1_f)
    return lambda: f(x)


def _w6_f(w: Any, a: Any) -> Any:
    return tnp.sum(tnp.tanh(a @ w))


def _w6_args(data: Mapping[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    # Arguments, not closure constants (as for JAX): A is an input of the graph.
    return data["w"], data["A"], data["v"]


def _build_w6_revrev(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    grad_f = tg.grad(_w6_f)

    @function
    def hvp(w: Any, a: Any, v: Any) -> Any:
        return tg.grad(lambda w_: tnp.vdot(grad_f(w_, a), v))(w)

    args = _w6_args(data)
    return lambda: hvp(*args)


def _build_w6_fwdrev(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    grad_f = tg.grad(_w6_f)

    @function
    def hvp(w: Any, a: Any, v: Any) -> Any:
        return tg.jvp(lambda w_: grad_f(w_, a), (w,), (v,))[1]

    args = _w6_args(data)
    return lambda: hvp(*args)


# --- training steps --------------------------------------------------------------------


def _compiled_train_step(model: Any, learning_rate: float) -> Any:
    """The user's compiled step: forward and loss under a tape, gradients, SGD update."""
    loss_fn = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tg.optimizers.SGD(learning_rate)

    @function
    def train_step(x: Any, y: Any) -> Any:
        with tg.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return loss

    return train_step


def _stepper(train_step: Any, batches: Any) -> Callable[[], Any]:
    def step() -> Any:
        x, y = next(batches)
        return train_step(x, y)

    return step


def _train_on_batch_stepper(model: Any, learning_rate: float, batches: Any) -> Callable[[], Any]:
    """``model.train_on_batch`` with ``compile(jit_compile=True)``: the Keras user's way."""
    model.compile(
        optimizer=tg.optimizers.SGD(learning_rate),
        loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )

    def step() -> np.float32:
        x, y = next(batches)
        # The loss comes back as a Python float; it was a float32, so this is exact.
        return np.float32(model.train_on_batch(x, y))

    return step


def _mlp_parts(data: Mapping[str, np.ndarray]) -> tuple[Any, Any]:
    model = impl_tapegrad._mlp_model(data)
    return _compiled_train_step(model, MLP_LEARNING_RATE), impl_tapegrad._mlp_batches(data)


def _cnn_parts(data: Mapping[str, np.ndarray]) -> tuple[Any, Any]:
    model = impl_tapegrad._cnn_model(data)
    return _compiled_train_step(model, CNN_LEARNING_RATE), impl_tapegrad._cnn_batches(data)


def _lstm_unrolled_parts(data: Mapping[str, np.ndarray]) -> tuple[Any, Any]:
    params = [tg.Variable(data[name]) for name in LSTM_PARAM_NAMES]
    optimizer = tg.optimizers.SGD(LSTM_LEARNING_RATE)

    @function
    def train_step(x: Any, y: Any) -> Any:
        with tg.GradientTape() as tape:
            loss = impl_tapegrad._lstm_unrolled_loss(params, x, y)
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params, strict=True))
        return loss

    return train_step, itertools.cycle(list(zip(data["x"], data["y"], strict=True)))


def _lstm_layer_parts(data: Mapping[str, np.ndarray]) -> tuple[Any, Any]:
    """``LSTM`` + ``Dense`` in a ``Sequential``; Keras layers are batch-major, so the
    data loader yields ``(batch, time, inputs)`` batches."""
    steps, _, inputs = data["x"].shape[1:]
    model = tg.Sequential(
        [
            tg.layers.Input(shape=(steps, inputs)),
            tg.layers.LSTM(data["wh"].shape[0]),
            tg.layers.Dense(data["wd"].shape[1]),
        ]
    )
    model.set_weights([data[name] for name in LSTM_PARAM_NAMES])
    batches = itertools.cycle(
        [
            (np.ascontiguousarray(x.transpose(1, 0, 2)), y)
            for x, y in zip(data["x"], data["y"], strict=True)
        ]
    )
    return _compiled_train_step(model, LSTM_LEARNING_RATE), batches


# The compiled train step (a `tapegrad.Function` of ``(x, y)``) and the batch iterator of
# each training workload; `benchmarks.compile_times` inspects their ConcreteFunctions.
TRAIN_STEPS: dict[str, Callable[[Mapping[str, np.ndarray]], tuple[Any, Any]]] = {
    "W2": _mlp_parts,
    "W3": _mlp_parts,
    "W4": _cnn_parts,
    "W5-unrolled": _lstm_unrolled_parts,
    "W5-layer": _lstm_layer_parts,
}


def _build_train_step(data: Mapping[str, np.ndarray], parts: Any) -> Callable[[], Any]:
    train_step, batches = parts(data)
    return _stepper(train_step, batches)


def _build_mlp_train_on_batch(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    model = impl_tapegrad._mlp_model(data)
    return _train_on_batch_stepper(model, MLP_LEARNING_RATE, impl_tapegrad._mlp_batches(data))


def builders(variant: str | None = None) -> dict[str, Builder]:
    """Return the workload builders (the ``-tob`` rows: ``train_on_batch``, jit_compile)."""
    del variant
    return {
        "W1": _build_w1,
        "W1-fwd": _build_w1_fwd,
        "W6-revrev": _build_w6_revrev,
        "W6-fwdrev": _build_w6_fwdrev,
        **{w: functools.partial(_build_train_step, parts=p) for w, p in TRAIN_STEPS.items()},
        "W2-tob": _build_mlp_train_on_batch,
        "W3-tob": _build_mlp_train_on_batch,
    }


def to_numpy(result: Any) -> np.ndarray:
    """Return a Tensor's values (or a plain array) as a NumPy array."""
    return result.numpy() if hasattr(result, "numpy") else np.asarray(result)


def info() -> dict[str, Any]:
    """Return tapegrad's version and whether the graphs run as generated code."""
    return {
        "version": getattr(tg, "__version__", "unknown"),
        "graph_execution": "generated code" if JIT else "interpreter (no codegen yet)",
    }
