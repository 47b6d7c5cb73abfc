"""LayerNormalization forward + backward: the composite, the fused primitive, torch's.

W7 normalizes 32 x 128 x 128 float32 activations four times per step. This prints CPU
milliseconds (``time.process_time``: steadier on a shared machine; run with
``OPENBLAS_NUM_THREADS=1`` and ``NUMBA_NUM_THREADS=1`` for one thread) of one forward and
backward pass, as a training step runs it (an intermediate input; gamma and beta
trainable), the best of several rounds, the variants alternating within each round:

* ``composite``: the ops the layer ran before the fused primitive (mean, variance, scale
  and shift as separate tapegrad ops);
* ``fused, numpy``: `layer_norm` and its gradient primitives with the numba engine off
  (the table's NumPy impls);
* ``fused, numba``: the same with the registered kernels (`tapegrad.kernels.
  numba_layer_norm`);
* ``torch``: ``F.layer_norm`` forward and backward, where torch is installed.

Each figure is the time of the step minus that of the same step without the normalization.

Usage::

    python -m benchmarks.layer_norm_speed [--shape 32,128,128] [--rounds 7] [--calls 20]
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def cpu_ms(fn: Callable[[], Any], calls: int) -> float:
    """CPU milliseconds per call of ``fn``, over ``calls`` calls.

    Examples:
        >>> cpu_ms(lambda: None, 3) >= 0
        True
    """
    start = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - start) / calls * 1e3


def _tapegrad_steps(shape: tuple[int, ...]) -> dict[str, Callable[[], Any]]:
    import tapegrad as tg
    import tapegrad.numpy as tnp

    rng = np.random.default_rng(0)
    source = tg.Variable(rng.standard_normal(shape).astype(np.float32))
    weights = rng.standard_normal(shape).astype(np.float32)
    gamma = tg.Variable(np.ones(shape[-1], np.float32))
    beta = tg.Variable(np.zeros(shape[-1], np.float32))

    def composite(h: Any) -> Any:
        mean = tnp.mean(h, axis=-1, keepdims=True)
        variance = tnp.mean(tnp.square(h - mean), axis=-1, keepdims=True)
        inv = 1.0 / tnp.sqrt(variance + 1e-5) * gamma
        return h * inv + (beta - mean * inv)

    def fused(h: Any) -> Any:
        return tg.ops.layer_normalization(h, gamma, beta, axis=-1, epsilon=1e-5)

    def step(norm: Callable[[Any], Any] | None) -> Callable[[], Any]:
        def run() -> Any:
            with tg.GradientTape() as tape:
                h = source * 1.0  # an intermediate, as the residual sum before a norm
                out = h if norm is None else norm(h)
                loss = tnp.sum(out * weights)
            return tape.gradient(loss, [source, gamma, beta])

        return run

    return {"none": step(None), "composite": step(composite), "fused": step(fused)}


def _torch_step(shape: tuple[int, ...]) -> dict[str, Callable[[], Any]]:
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    source = torch.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    weights = torch.tensor(rng.standard_normal(shape).astype(np.float32))
    gamma = torch.ones(shape[-1], requires_grad=True)
    beta = torch.zeros(shape[-1], requires_grad=True)

    def step(norm: bool) -> Callable[[], Any]:
        def run() -> Any:
            h = source * 1.0
            out = F.layer_norm(h, (shape[-1],), gamma, beta, 1e-5) if norm else h
            return torch.autograd.grad(
                (out * weights).sum(), [source, gamma, beta] if norm else [source]
            )

        return run

    return {"torch none": step(False), "torch": step(True)}


def main(argv: list[str] | None = None) -> None:
    """Print the table (see the module docstring)."""
    import tapegrad as tg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="32,128,128")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args(argv)
    shape = tuple(int(n) for n in args.shape.split(","))
    steps = _tapegrad_steps(shape)
    variants: dict[str, Callable[[], Any]] = {
        "none": steps["none"],
        "composite": steps["composite"],
        "fused, numba": steps["fused"],
    }

    def numpy_only() -> Any:
        tg.config.disable_engine("numba")
        try:
            return steps["fused"]()
        finally:
            tg.config.enable_engine("numba")

    variants["fused, numpy"] = numpy_only
    if importlib.util.find_spec("torch") is not None:
        variants.update(_torch_step(shape))
    best = dict.fromkeys(variants, float("inf"))
    for fn in variants.values():
        fn()  # (first calls: numba's compilation, allocations)
    for _ in range(args.rounds):
        for name, fn in variants.items():
            best[name] = min(best[name], cpu_ms(fn, args.calls))
    print(f"LayerNormalization over the last axis of {shape} float32, forward + backward")
    print("CPU ms per call, best of rounds, minus the same step without it:")
    for name in ("composite", "fused, numpy", "fused, numba"):
        print(f"  {name:<14} {best[name] - best['none']:7.2f}")
    if "torch" in best:
        print(f"  {'torch':<14} {best['torch'] - best['torch none']:7.2f}")


if __name__ == "__main__":
    main()
