"""The exact GELU per element: the table's impls, the registered kernels, torch's.

W7's MLPs run ``gelu`` forward and ``gelu_grad`` backward over 2 x 32 x 128 x 512 float32
activations per step (4 M elements each way). This prints nanoseconds per element, the
best of several calls timed with ``time.process_time`` (CPU time: steadier on a shared
machine; run with ``OPENBLAS_NUM_THREADS=1`` and ``NUMBA_NUM_THREADS=1`` for one thread),
for float32 and float64 arrays: the table's impl (on a smaller array: it maps Python's
``math.erf`` over objects), the kernel the registry picks (`tapegrad.kernels.numba_erf`),
and torch's ``F.gelu`` and its backward where torch is installed.

Usage::

    python -m benchmarks.gelu_speed [--size 4194304] [--repeats 7]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def ns_per_element(fn: Callable[[], Any], size: int, repeats: int) -> float:
    """Best CPU time of ``repeats`` calls of ``fn`` (after one untimed call), per element.

    Examples:
        >>> ns_per_element(lambda: None, 10, 2) >= 0
        True
    """
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best / size * 1e9


def _torch_rows(x: np.ndarray, repeats: int) -> dict[str, float]:
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(x)
    g = torch.ones_like(t)
    backward = torch.ops.aten.gelu_backward  # the kernel autograd runs for F.gelu
    return {
        "torch F.gelu": ns_per_element(lambda: F.gelu(t), x.size, repeats),
        "torch gelu_backward": ns_per_element(lambda: backward(g, t), x.size, repeats),
    }


def main(argv: list[str] | None = None) -> None:
    """Print the table (see the module docstring)."""
    from tapegrad.core.prims.gelu import gelu_grad_p, gelu_p
    from tapegrad.kernels import kernel_for

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4 << 20, help="elements per call")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    print(f"ns per element, best of {args.repeats} (CPU time), {args.size} elements")
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal(args.size).astype(dtype)
        small = x[: max(1, args.size // 64)]  # the impls are ~100x slower
        rows: dict[str, float] = {}
        for prim in (gelu_p, gelu_grad_p):
            kernel = kernel_for(prim, x)
            rows[f"{prim.name} impl"] = ns_per_element(
                lambda p=prim, a=small: p.impl(a), small.size, 3
            )
            if kernel is prim.impl:  # no kernel applies (numba not installed)
                continue
            label = getattr(kernel, "__module__", "?").rsplit(".", 1)[-1]
            rows[f"{prim.name} kernel ({label})"] = ns_per_element(
                lambda k=kernel, a=x: k(a), x.size, args.repeats
            )
        if importlib.util.find_spec("torch") is not None:
            rows.update(_torch_rows(x, args.repeats))
        print(f"\n{np.dtype(dtype).name}")
        for name, ns in rows.items():
            print(f"  {name:28s} {ns:8.2f}")


if __name__ == "__main__":
    main()
