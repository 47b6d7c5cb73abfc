"""PyTorch eager implementations (CPU)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from benchmarks.harness import W1_ITERS, Builder

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


def builders(variant: str | None = None) -> dict[str, Builder]:
    """Return the workload builders."""
    del variant
    return {
        "W1": _build_w1,
        "W1-fwd": _build_w1_fwd,
        "W6-revrev": _build_w6_revrev,
        "W6-fwdrev": _build_w6_fwdrev,
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
