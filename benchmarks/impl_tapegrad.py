"""tapegrad implementations, written against the public API only (``API.md`` in the shared folder).

If ``import tapegrad`` fails, importing this module fails and the runner skips tapegrad.
A workload whose transform is not implemented yet fails on its own and shows as an error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from benchmarks.harness import W1_ITERS, W1_SCALE, W1_SHIFT, Builder

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


def builders(variant: str | None = None) -> dict[str, Builder]:
    """Return the workload builders, including the tapegrad-only ``W1-tape`` row."""
    del variant
    return {
        "W1": _build_w1,
        "W1-fwd": _build_w1_fwd,
        "W1-tape": _build_w1_tape,
        "W6-revrev": _build_w6_revrev,
        "W6-fwdrev": _build_w6_fwdrev,
    }


def to_numpy(result: Any) -> np.ndarray:
    """Return a Tensor's values (or a plain array) as a NumPy array."""
    return result.numpy() if hasattr(result, "numpy") else np.asarray(result)


def info() -> dict[str, Any]:
    """Return tapegrad's version, where it is known."""
    return {"version": getattr(tg, "__version__", "unknown")}
