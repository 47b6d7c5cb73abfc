"""PyTorch eager implementations (CPU)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from benchmarks.harness import (
    CNN_CHANNELS,
    CNN_CLASSES,
    CNN_FILTERS,
    CNN_IMAGE,
    CNN_LEARNING_RATE,
    CNN_PARAM_NAMES,
    LSTM_CLASSES,
    LSTM_HIDDEN,
    LSTM_INPUTS,
    LSTM_LEARNING_RATE,
    LSTM_PARAM_NAMES,
    MLP_LEARNING_RATE,
    MLP_PARAM_NAMES,
    W1_ITERS,
    Builder,
)

# Python scalars: torch keeps float32 tensors float32 when combined with them.
_SCALE = 1.01
_SHIFT = 0.1


def _w1_f(x: torch.Tensor) -> torch.Tensor:
    for _ in range(W1_ITERS):
        x = torch.tanh(x * _SCALE + _SHIFT)
    return x.sum()


def _w6_f(w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return torch.tanh(a @ w).sum()


def _tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.copy())


def _build_w1(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = _tensor(data["x"]).requires_grad_(True)

    def run() -> torch.Tensor:
        (g,) = torch.autograd.grad(_w1_f(x), x)
        return g

    return run


def _build_w1_fwd(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = _tensor(data["x"])

    def run() -> torch.Tensor:
        with torch.inference_mode():
            return _w1_f(x)

    return run


def _build_w6_revrev(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    a, v = _tensor(data["A"]), _tensor(data["v"])
    w = _tensor(data["w"]).requires_grad_(True)

    def run() -> torch.Tensor:
        (g,) = torch.autograd.grad(_w6_f(w, a), w, create_graph=True)
        (hv,) = torch.autograd.grad(g, w, v)
        return hv

    return run


def _build_w6_fwdrev(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    a, w, v = _tensor(data["A"]), _tensor(data["w"]), _tensor(data["v"])
    grad_f = torch.func.grad(_w6_f)

    def run() -> torch.Tensor:
        return torch.func.jvp(lambda w_: grad_f(w_, a), (w,), (v,))[1]

    return run


def _mlp_model(data: Mapping[str, np.ndarray]) -> torch.nn.Sequential:
    """``nn.Sequential`` of ``nn.Linear`` + ReLU with the shared initial weights.

    ``nn.Linear`` stores its weight as ``(out, in)``: the shared ``(in, out)`` kernels are
    copied in transposed (contiguous, as ``nn.Linear`` would have made them).
    """
    layers: list[torch.nn.Module] = []
    for i in (1, 2, 3):
        kernel, bias = data[f"w{i}"], data[f"b{i}"]
        linear = torch.nn.Linear(*kernel.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(kernel.T.copy()))
            linear.bias.copy_(torch.from_numpy(bias))
        layers.append(linear)
        if i < 3:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def _build_mlp(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    model = _mlp_model(data)
    optimizer = torch.optim.SGD(model.parameters(), lr=MLP_LEARNING_RATE)
    batches = itertools.cycle(
        [(_tensor(x), _tensor(y)) for x, y in zip(data["x"], data["y"], strict=True)]
    )

    def step() -> torch.Tensor:
        x, y = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def _build_g0(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    a, b = _tensor(data["a"]), _tensor(data["b"])  # no grad is tracked: a plain GEMM
    return lambda: a @ b


def _cnn_model(data: Mapping[str, np.ndarray]) -> torch.nn.Sequential:
    """W4 as ``nn.Sequential`` (NCHW, ``nn.Flatten`` in (C, H, W) order) with the shared
    initial weights: the kernels are already ``(out, in, 3, 3)``, ``nn.Linear`` takes the
    dense kernel transposed."""
    (c1, c2), n = CNN_FILTERS, CNN_FILTERS[-1] * (CNN_IMAGE // 4) ** 2
    model = torch.nn.Sequential(
        torch.nn.Conv2d(CNN_CHANNELS, c1, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(c1, c2, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(n, CNN_CLASSES),
    )
    values = [data[name] for name in CNN_PARAM_NAMES]
    values[4] = values[4].T  # nn.Linear's weight is (out, in)
    with torch.no_grad():
        for param, value in zip(model.parameters(), values, strict=True):
            param.copy_(torch.from_numpy(np.ascontiguousarray(value)))
    return model


def _build_cnn(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    model = _cnn_model(data)
    optimizer = torch.optim.SGD(model.parameters(), lr=CNN_LEARNING_RATE)
    batches = itertools.cycle(
        [(_tensor(x), _tensor(y)) for x, y in zip(data["x"], data["y"], strict=True)]
    )

    def step() -> torch.Tensor:
        x, y = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def _ops_step(
    loss_of: Callable[..., torch.Tensor], params: list[torch.Tensor], batches: Any, lr: float
) -> Callable[[], Any]:
    """A custom training loop on leaf tensors: loss, ``backward``, ``torch.optim.SGD``."""
    optimizer = torch.optim.SGD(params, lr=lr)

    def step() -> torch.Tensor:
        x, y = next(batches)
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of(*params, x, y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def _mlp_ops_loss(w1, b1, w2, b2, w3, b3, x, y):  # type: ignore[no-untyped-def]
    h = torch.relu(x @ w1 + b1)
    h = torch.relu(h @ w2 + b2)
    return torch.nn.functional.cross_entropy(h @ w3 + b3, y)


def _build_mlp_ops(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    """W2/W3 written with tensor ops on ``(in, out)`` kernels, as tapegrad's ``-ops`` rows."""
    params = [_tensor(data[name]).requires_grad_(True) for name in MLP_PARAM_NAMES]
    batches = itertools.cycle(
        [(_tensor(x), _tensor(y)) for x, y in zip(data["x"], data["y"], strict=True)]
    )
    return _ops_step(_mlp_ops_loss, params, batches, MLP_LEARNING_RATE)


def _cnn_ops_loss(k1, b1, k2, b2, w3, b3, x, y):  # type: ignore[no-untyped-def]
    f = torch.nn.functional
    h = f.max_pool2d(torch.relu(f.conv2d(x, k1, b1, padding=1)), 2)
    h = f.max_pool2d(torch.relu(f.conv2d(h, k2, b2, padding=1)), 2)
    return f.cross_entropy(h.flatten(1) @ w3 + b3, y)


def _build_cnn_ops(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    """W4 with ``torch.nn.functional`` on NCHW data (torch's own layout)."""
    params = [_tensor(data[name]).requires_grad_(True) for name in CNN_PARAM_NAMES]
    batches = itertools.cycle(
        [(_tensor(x), _tensor(y)) for x, y in zip(data["x"], data["y"], strict=True)]
    )
    return _ops_step(_cnn_ops_loss, params, batches, CNN_LEARNING_RATE)


def _lstm_batches(data: Mapping[str, np.ndarray]) -> Any:
    return itertools.cycle(
        [(_tensor(x), _tensor(y)) for x, y in zip(data["x"], data["y"], strict=True)]
    )


def _build_lstm_unrolled(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    params = [_tensor(data[name]).requires_grad_(True) for name in LSTM_PARAM_NAMES]
    optimizer = torch.optim.SGD(params, lr=LSTM_LEARNING_RATE)
    batches = _lstm_batches(data)
    wx, wh, b, wd, bd = params
    hidden = wh.shape[0]

    def step() -> torch.Tensor:
        x, y = next(batches)
        steps, batch, inputs = x.shape
        optimizer.zero_grad(set_to_none=True)
        xw = (x.reshape(steps * batch, inputs) @ wx + b).reshape(steps, batch, 4 * hidden)
        h = torch.zeros(batch, hidden)
        c = torch.zeros(batch, hidden)
        for t in range(steps):
            z = xw[t] + h @ wh
            gates = torch.sigmoid(z)  # i, f, o; the g block is recomputed with tanh
            g = torch.tanh(z[:, 2 * hidden : 3 * hidden])
            c = gates[:, hidden : 2 * hidden] * c + gates[:, :hidden] * g
            h = gates[:, 3 * hidden :] * torch.tanh(c)
        loss = torch.nn.functional.cross_entropy(h @ wd + bd, y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def _build_lstm_layer(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    """``nn.LSTM`` (time-major, torch's gate order i, f, g, o like the shared weights) and
    ``nn.Linear``; one bias: ``bias_hh`` is zeroed and frozen, as workloads.md says."""
    lstm = torch.nn.LSTM(LSTM_INPUTS, LSTM_HIDDEN)
    linear = torch.nn.Linear(LSTM_HIDDEN, LSTM_CLASSES)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(data["wx"].T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(data["wh"].T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(data["b"]))
        lstm.bias_hh_l0.zero_()
        linear.weight.copy_(torch.from_numpy(data["wd"].T.copy()))
        linear.bias.copy_(torch.from_numpy(data["bd"]))
    lstm.bias_hh_l0.requires_grad_(False)
    params = [p for p in (*lstm.parameters(), *linear.parameters()) if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=LSTM_LEARNING_RATE)
    batches = _lstm_batches(data)

    def step() -> torch.Tensor:
        x, y = next(batches)
        optimizer.zero_grad(set_to_none=True)
        _, (h, _) = lstm(x)
        loss = torch.nn.functional.cross_entropy(linear(h[-1]), y)
        loss.backward()
        optimizer.step()
        return loss.detach()

    return step


def builders(variant: str | None = None) -> dict[str, Builder]:
    """Return the workload builders."""
    del variant
    return {
        "W1": _build_w1,
        "W1-fwd": _build_w1_fwd,
        "W6-revrev": _build_w6_revrev,
        "W6-fwdrev": _build_w6_fwdrev,
        "W2": _build_mlp,
        "W3": _build_mlp,
        "W4": _build_cnn,
        "G0": _build_g0,
        "W5-unrolled": _build_lstm_unrolled,
        "W5-layer": _build_lstm_layer,
        "W2-ops": _build_mlp_ops,
        "W3-ops": _build_mlp_ops,
        "W4-ops": _build_cnn_ops,
    }


def to_numpy(result: Any) -> np.ndarray:
    """Return a (CPU) tensor's values as a NumPy array."""
    return result.detach().cpu().numpy()


def info() -> dict[str, Any]:
    """Return torch's version, thread counts and the math libraries it was built with."""
    return {
        "version": torch.__version__,
        "num_threads": torch.get_num_threads(),
        "num_interop_threads": torch.get_num_interop_threads(),
        # MKL is linked statically into torch's wheel, so threadpoolctl cannot see it.
        "mkl": torch.backends.mkl.is_available(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "openmp": torch.backends.openmp.is_available(),
    }
