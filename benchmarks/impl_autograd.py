"""HIPS autograd implementations (``autograd.numpy`` traced by ``autograd.grad``)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from importlib.metadata import version
from typing import Any

import autograd
import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian_vector_product, make_jvp, value_and_grad

from benchmarks.harness import (
    MLP_LEARNING_RATE,
    MLP_PARAM_NAMES,
    W1_ITERS,
    W1_SCALE,
    W1_SHIFT,
    Builder,
)


def _w1_f(x: Any) -> Any:
    for _ in range(W1_ITERS):
        x = anp.tanh(x * W1_SCALE + W1_SHIFT)
    return anp.sum(x)


def _w6_f(w: Any, a: np.ndarray) -> Any:
    return anp.sum(anp.tanh(anp.dot(a, w)))


def _build_w1(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]
    grad_f = grad(_w1_f)
    return lambda: grad_f(x)


def _build_w1_fwd(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]
    # autograd's wrappers called outside any trace: plain NumPy plus the wrapping cost.
    return lambda: _w1_f(x)


def _build_w6_revrev(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    a, w, v = data["A"], data["w"], data["v"]
    hvp = hessian_vector_product(_w6_f)  # grad of tensordot(grad(f)(w), v)
    return lambda: hvp(w, a, v)


def _build_w6_fwdrev(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    a, w, v = data["A"], data["w"], data["v"]
    jvp_of_grad = make_jvp(grad(_w6_f))
    return lambda: jvp_of_grad(w, a)(v)[1]


def _mlp_loss(params: list[Any], x: np.ndarray, y: np.ndarray) -> Any:
    w1, b1, w2, b2, w3, b3 = params
    h = anp.maximum(anp.dot(x, w1) + b1, 0.0)
    h = anp.maximum(anp.dot(h, w2) + b2, 0.0)
    logits = anp.dot(h, w3) + b3
    shifted = logits - anp.max(logits, axis=1, keepdims=True)  # stable for large logits
    log_probs = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
    return -anp.mean(log_probs[np.arange(len(y)), y])


def _build_mlp(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    params = [data[name].copy() for name in MLP_PARAM_NAMES]
    batches = itertools.cycle(list(zip(data["x"], data["y"], strict=True)))
    loss_and_grads = value_and_grad(_mlp_loss)

    def step() -> Any:
        x, y = next(batches)
        loss, grads = loss_and_grads(params, x, y)
        for p, g in zip(params, grads, strict=True):
            p -= MLP_LEARNING_RATE * g
        return loss

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
    }


def to_numpy(result: Any) -> np.ndarray:
    """Return the result as a NumPy array."""
    return np.asarray(result)


def info() -> dict[str, Any]:
    """Return autograd's version (it runs on NumPy's BLAS)."""
    return {"version": getattr(autograd, "__version__", None) or version("autograd")}
