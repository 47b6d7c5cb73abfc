"""Hand-written NumPy with manual derivatives: the reference results and the speed floor.

Every other implementation is checked against the results of this module. No autodiff
framework built on NumPy can beat it without fusing operations.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from benchmarks.harness import W1_ITERS, W1_SCALE, W1_SHIFT, Builder

# 0-d arrays, like the W1 constants in harness (faster than NumPy scalars, still float32).
_ONE = np.array(1.0, dtype=np.float32)
_MINUS_TWO = np.array(-2.0, dtype=np.float32)


def w1_forward(x: np.ndarray) -> np.float32:
    """Evaluate ``f(x)``: 100 times ``x = tanh(x * 1.01 + 0.1)``, then ``sum(x)``."""
    for _ in range(W1_ITERS):
        x = np.tanh(x * W1_SCALE + W1_SHIFT)
    return np.sum(x)


def w1_grad(x: np.ndarray) -> np.ndarray:
    """Gradient of :func:`w1_forward` by manual backprop (4 NumPy calls per step back).

    Each ``tanh`` output ``t`` is stored on the way forward; on the way back the gradient,
    starting from ones, is multiplied by ``(1 - t*t) * 1.01`` once per iteration.
    """
    saved = []
    for _ in range(W1_ITERS):
        x = np.tanh(x * W1_SCALE + W1_SHIFT)
        saved.append(x)
    np.sum(x)  # the loss itself is computed, as in every framework, though unused here
    g = np.ones_like(x)
    for t in reversed(saved):
        g = g * (_ONE - t * t) * W1_SCALE
    return g


def w6_hvp(a: np.ndarray, w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Analytic Hessian-vector product of ``f(w) = sum(tanh(A @ w))`` (3 mat-vecs).

    ``Hv = A.T @ (-2 t (1 - t^2) * (A @ v))`` with ``t = tanh(A @ w)``.
    """
    t = np.tanh(a @ w)
    return (_MINUS_TWO * t * (_ONE - t * t) * (a @ v)) @ a


def _build_w1(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]
    return lambda: w1_grad(x)


def _build_w1_fwd(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    x = data["x"]
    return lambda: w1_forward(x)


def _build_w6(data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    a, w, v = data["A"], data["w"], data["v"]
    return lambda: w6_hvp(a, w, v)


def builders(variant: str | None = None) -> dict[str, Builder]:
    """Return the workload builders; both W6 rows use the same analytic formula."""
    del variant
    return {
        "W1": _build_w1,
        "W1-fwd": _build_w1_fwd,
        "W6-revrev": _build_w6,
        "W6-fwdrev": _build_w6,
    }


def to_numpy(result: Any) -> np.ndarray:
    """Return the result as a NumPy array."""
    return np.asarray(result)


def info() -> dict[str, Any]:
    """Return the NumPy version."""
    return {"version": np.__version__}
