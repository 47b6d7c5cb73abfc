"""tapegrad implementations, written against the public API only (``API.md`` in the shared folder).

If ``import tapegrad`` fails, importing this module fails and the runner skips tapegrad.
A workload whose transform is not implemented yet fails on its own and shows as an error.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from benchmarks.harness import (
    CNN_LEARNING_RATE,
    CNN_PARAM_NAMES,
    LSTM_LEARNING_RATE,
    LSTM_PARAM_NAMES,
    MLP_LEARNING_RATE,
    MLP_PARAM_NAMES,
    W1_ITERS,
    W1_SCALE,
    W1_SHIFT,
    Builder,
    cnn_channels_last,
)
from tapegrad import ops

if getattr(tg, "__file__", None) is None:
    # A folder without __init__.py imports as an empty namespace package.
    raise ImportError("tapegrad is not built yet (tapegrad/__init__.py is missing)")


def _w1_f(x: Any) -> Any:
    for _ in range(W1_ITERS):
        x = tnp.tanh(x * W1_SCALE + W1_SHIFT)
    return tnp.sum(x)


def _build_w1(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]  # a plain float32 array, as a user would pass it
    grad_f = tg.grad(_w1_f)
    return lambda: grad_f(x)


def _build_w1_fwd(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = tg.tensor(data["x"])  # no tape is recording: the fast path
    return lambda: _w1_f(x)


def _build_w1_tape(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = tg.tensor(data["x"])

    def run() -> Any:
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = _w1_f(x)
        return tape.gradient(y, x)

    return run


def _w6_parts(data: Mapping[str, np.ndarray]) -> tuple[Callable[[Any], Any], Any, Any]:
    """Return ``f(w) = sum(tanh(A @ w))`` with ``A`` as a constant Tensor, and ``w``, ``v``."""
    a, w, v = (tg.tensor(data[name]) for name in ("A", "w", "v"))

    def f(w_: Any) -> Any:
        return tnp.sum(tnp.tanh(a @ w_))

    return f, w, v


def _build_w6_revrev(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    f, w, v = _w6_parts(data)
    grad_f = tg.grad(f)
    hvp = tg.grad(lambda w_: tnp.vdot(grad_f(w_), v))
    return lambda: hvp(w)


def _build_w6_fwdrev(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    f, w, v = _w6_parts(data)
    grad_f = tg.grad(f)
    return lambda: tg.jvp(grad_f, (w,), (v,))[1]


def _mlp_model(data: Mapping[str, np.ndarray]) -> Any:
    """The W2/W3 MLP as a user writes it, with the shared initial weights set on it."""
    widths = [data[name].shape[-1] for name in ("w1", "w2", "w3")]
    model = tg.Sequential(
        [
            tg.layers.Input(shape=(data["w1"].shape[0],)),
            tg.layers.Dense(widths[0], activation="relu"),
            tg.layers.Dense(widths[1], activation="relu"),
            tg.layers.Dense(widths[2]),
        ]
    )
    model.set_weights([data[name] for name in MLP_PARAM_NAMES])
    return model


def _mlp_batches(data: Mapping[str, np.ndarray]) -> Any:
    """Cycle over the fixed batches as plain NumPy arrays, as a user's data loader yields."""
    return itertools.cycle(list(zip(data["x"], data["y"], strict=True)))


def _build_mlp_tape(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    model = _mlp_model(data)
    loss_fn = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tg.optimizers.SGD(MLP_LEARNING_RATE)
    batches = _mlp_batches(data)

    def step() -> Any:
        x, y = next(batches)
        with tg.GradientTape() as tape:
            logits = model(x, training=True)
            loss = loss_fn(y, logits)
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return loss

    return step


def _build_mlp_train_on_batch(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    model = _mlp_model(data)
    model.compile(
        optimizer=tg.optimizers.SGD(MLP_LEARNING_RATE),
        loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    batches = _mlp_batches(data)

    def step() -> np.float32:
        x, y = next(batches)
        # Keras returns the loss as a Python float; it was a float32, so this is exact.
        return np.float32(model.train_on_batch(x, y))

    return step


def _lstm_unrolled_loss(params: list[Any], x: Any, y: Any) -> Any:
    """W5's loss with explicit gate math: one GEMM for the input projection of all steps,
    then per step one GEMM, one sigmoid over the four gate blocks and a tanh on ``g``."""
    wx, wh, b, wd, bd = params
    steps, batch, inputs = x.shape
    hidden = wh.shape[0]
    xw = tnp.reshape(tnp.reshape(x, (steps * batch, inputs)) @ wx + b, (steps, batch, 4 * hidden))
    h = np.zeros((batch, hidden), np.float32)
    c = np.zeros((batch, hidden), np.float32)
    for t in range(steps):
        z = xw[t] + h @ wh
        gates = tg.ops.sigmoid(z)  # i, f, o; the g block is recomputed with tanh
        g = tnp.tanh(z[:, 2 * hidden : 3 * hidden])
        c = gates[:, hidden : 2 * hidden] * c + gates[:, :hidden] * g
        h = gates[:, 3 * hidden :] * tnp.tanh(c)
    logits = h @ wd + bd
    return tnp.mean(tg.ops.sparse_categorical_crossentropy(y, logits, from_logits=True))


def _build_lstm_unrolled(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    params = [tg.Variable(data[name]) for name in LSTM_PARAM_NAMES]
    optimizer = tg.optimizers.SGD(LSTM_LEARNING_RATE)
    batches = itertools.cycle(list(zip(data["x"], data["y"], strict=True)))

    def step() -> Any:
        x, y = next(batches)
        with tg.GradientTape() as tape:
            loss = _lstm_unrolled_loss(params, x, y)
        grads = tape.gradient(loss, params)
        optimizer.apply_gradients(zip(grads, params, strict=True))
        return loss

    return step


def _build_lstm_layer(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    """``LSTM`` + ``Dense`` in a ``Sequential``, trained like W2; Keras layers are
    batch-major, so the data loader yields ``(batch, time, inputs)`` batches."""
    steps, batch, inputs = data["x"].shape[1:]
    model = tg.Sequential(
        [
            tg.layers.Input(shape=(steps, inputs)),
            tg.layers.LSTM(data["wh"].shape[0]),
            tg.layers.Dense(data["wd"].shape[1]),
        ]
    )
    model.set_weights([data[name] for name in LSTM_PARAM_NAMES])
    loss_fn = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tg.optimizers.SGD(LSTM_LEARNING_RATE)
    batches = itertools.cycle(
        [
            (np.ascontiguousarray(x.transpose(1, 0, 2)), y)
            for x, y in zip(data["x"], data["y"], strict=True)
        ]
    )

    def step() -> Any:
        x, y = next(batches)
        with tg.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return loss

    return step


def _cnn_model(data: Mapping[str, np.ndarray]) -> Any:
    """W4 as a user writes it: a channels-last ``Sequential`` with the shared weights.

    tapegrad (like Keras) is channels-last: `harness.cnn_channels_last` gives the kernels in
    Keras' ``(3, 3, in, out)`` layout and the dense rows in (H, W, C) order, so the plain
    ``Flatten`` computes exactly the NCHW network of workloads.md (the conversion Keras'
    ``convert_dense_weights_data_format`` makes when porting channels-first weights).
    """
    nhwc = cnn_channels_last(data)
    model = tg.Sequential(
        [
            tg.layers.Input(shape=nhwc["x"].shape[2:]),
            tg.layers.Conv2D(nhwc["k1"].shape[-1], 3, padding="same", activation="relu"),
            tg.layers.MaxPooling2D(),
            tg.layers.Conv2D(nhwc["k2"].shape[-1], 3, padding="same", activation="relu"),
            tg.layers.MaxPooling2D(),
            tg.layers.Flatten(),
            tg.layers.Dense(nhwc["w3"].shape[-1]),
        ]
    )
    model.set_weights([nhwc[name] for name in CNN_PARAM_NAMES])
    return model


def _cnn_batches(data: Mapping[str, np.ndarray]) -> Any:
    """NHWC batches, transposed once here (outside the timed step), as plain arrays."""
    nhwc = cnn_channels_last(data)
    return itertools.cycle(list(zip(nhwc["x"], nhwc["y"], strict=True)))


def _build_cnn_tape(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    model = _cnn_model(data)
    loss_fn = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tg.optimizers.SGD(CNN_LEARNING_RATE)
    batches = _cnn_batches(data)

    def step() -> Any:
        x, y = next(batches)
        with tg.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return loss

    return step


def _build_cnn_channels_first(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    """W4 written the PyTorch way: NCHW batches as they are, every layer
    ``data_format="channels_first"``; a plain ``Flatten`` of NCHW is (C, H, W) order, so
    the dense kernel is used unpermuted. Only the conv kernels change layout (Keras')."""
    fmt = "channels_first"
    model = tg.Sequential(
        [
            tg.layers.Input(shape=data["x"].shape[2:]),
            tg.layers.Conv2D(
                data["k1"].shape[0], 3, padding="same", activation="relu", data_format=fmt
            ),
            tg.layers.MaxPooling2D(data_format=fmt),
            tg.layers.Conv2D(
                data["k2"].shape[0], 3, padding="same", activation="relu", data_format=fmt
            ),
            tg.layers.MaxPooling2D(data_format=fmt),
            tg.layers.Flatten(),
            tg.layers.Dense(data["w3"].shape[-1]),
        ]
    )
    weights = [data[name] for name in CNN_PARAM_NAMES]
    for i in (0, 2):
        weights[i] = np.ascontiguousarray(weights[i].transpose(2, 3, 1, 0))
    model.set_weights(weights)
    loss_fn = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tg.optimizers.SGD(CNN_LEARNING_RATE)
    batches = itertools.cycle(list(zip(data["x"], data["y"], strict=True)))

    def step() -> Any:
        x, y = next(batches)
        with tg.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))
        return loss

    return step


def _ops_step(
    loss_of: Callable[[list[Any], Any, Any], Any],
    params: list[Any],
    batches: Any,
    learning_rate: float,
) -> Callable[[], Any]:
    """A Keras-3 custom training loop: ``GradientTape`` over a loss written with ops, then
    ``optimizer.apply(grads, variables)``."""
    optimizer = tg.optimizers.SGD(learning_rate)

    def step() -> Any:
        x, y = next(batches)
        with tg.GradientTape() as tape:
            loss = loss_of(params, x, y)
        grads = tape.gradient(loss, params)
        optimizer.apply(grads, params)
        return loss

    return step


def _mlp_ops_loss(params: list[Any], x: Any, y: Any) -> Any:
    """W2/W3's loss written with ops: ``x @ W + b``, ``ops.relu``, sparse softmax CE."""
    w1, b1, w2, b2, w3, b3 = params
    h = ops.relu(x @ w1 + b1)
    h = ops.relu(h @ w2 + b2)
    logits = h @ w3 + b3
    return ops.mean(ops.sparse_categorical_crossentropy(y, logits, from_logits=True))


def _build_mlp_ops(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    params = [tg.Variable(data[name]) for name in MLP_PARAM_NAMES]
    return _ops_step(_mlp_ops_loss, params, _mlp_batches(data), MLP_LEARNING_RATE)


def _cnn_ops_loss(params: list[Any], x: Any, y: Any) -> Any:
    """W4's loss written with ops (channels-last, as ``keras.ops.conv`` defaults to)."""
    k1, b1, k2, b2, w3, b3 = params
    h = ops.max_pool(ops.relu(ops.conv(x, k1, padding="same") + b1), 2)
    h = ops.max_pool(ops.relu(ops.conv(h, k2, padding="same") + b2), 2)
    logits = ops.reshape(h, (h.shape[0], -1)) @ w3 + b3
    return ops.mean(ops.sparse_categorical_crossentropy(y, logits, from_logits=True))


def _build_cnn_ops(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    nhwc = cnn_channels_last(data)
    params = [tg.Variable(nhwc[name]) for name in CNN_PARAM_NAMES]
    return _ops_step(_cnn_ops_loss, params, _cnn_batches(data), CNN_LEARNING_RATE)


def builders(variant: str | None = None) -> dict[str, Builder]:
    """Return the workload builders, including the tapegrad-only ``W1-tape`` row."""
    del variant
    return {
        "W1": _build_w1,
        "W1-fwd": _build_w1_fwd,
        "W1-tape": _build_w1_tape,
        "W6-revrev": _build_w6_revrev,
        "W6-fwdrev": _build_w6_fwdrev,
        "W2": _build_mlp_tape,
        "W2-tob": _build_mlp_train_on_batch,
        "W3": _build_mlp_tape,
        "W3-tob": _build_mlp_train_on_batch,
        "W4": _build_cnn_tape,
        "W4-nchw": _build_cnn_channels_first,
        "W5-unrolled": _build_lstm_unrolled,
        "W5-layer": _build_lstm_layer,
        "W2-ops": _build_mlp_ops,
        "W3-ops": _build_mlp_ops,
        "W4-ops": _build_cnn_ops,
    }


def to_numpy(result: Any) -> np.ndarray:
    """Return a Tensor's values (or a plain array) as a NumPy array."""
    return result.numpy() if hasattr(result, "numpy") else np.asarray(result)


def info() -> dict[str, Any]:
    """Return tapegrad's version, where it is known."""
    return {"version": getattr(tg, "__version__", "unknown")}
