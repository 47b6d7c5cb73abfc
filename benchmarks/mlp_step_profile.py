"""Where the time of tapegrad's W2/W3 training step goes: NumPy work versus everything else.

``python -m benchmarks.mlp_step_profile [W2|W3] [--steps N]`` runs the step of
``impl_tapegrad`` (GradientTape, ``Sequential`` of ``Dense``, sparse CE, SGD), split into its
phases, and prints per phase:

* the CPU time of this thread (``time.thread_time``: robust to other processes on a shared
  machine, unlike wall time);
* the NumPy work inside it: the primitive implementations the phase ran, recorded once and
  replayed on the same arrays (so without the tape, the layers and the wrappers);
* the rest (Python: layers, losses, tape, optimizer), also per primitive call.

Then the CPU time per step of ``numpy-hand`` and of ``torch`` (when installed) in this same
process. Set ``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1`` for one-thread figures.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import tapegrad as tg
from benchmarks import harness, impl_numpy_hand, impl_tapegrad
from tapegrad.core import primitive

PHASES = ("forward", "loss", "trainable_weights", "gradient", "apply_gradients")
Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class PhasedStep:
    """The W2/W3 GradientTape step, with each phase's CPU time added up."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.model = impl_tapegrad._mlp_model(data)
        self.loss_fn = tg.losses.SparseCategoricalCrossentropy(from_logits=True)
        self.optimizer = tg.optimizers.SGD(harness.MLP_LEARNING_RATE)
        self.batches = list(zip(data["x"], data["y"], strict=True))
        self.phase = PHASES[0]
        self.cpu: collections.Counter[str] = collections.Counter()
        self._clock = time.thread_time
        self._mark = 0.0

    def _enter(self, phase: str) -> None:
        now = self._clock()
        self.cpu[self.phase] += now - self._mark
        self.phase, self._mark = phase, now

    def __call__(self, i: int) -> None:
        x, y = self.batches[i % len(self.batches)]
        self._mark = self._clock()
        self.phase = "forward"
        with tg.GradientTape() as tape:
            logits = self.model(x, training=True)
            self._enter("loss")
            loss = self.loss_fn(y, logits)
        self._enter("trainable_weights")
        weights = self.model.trainable_weights
        self._enter("gradient")
        grads = tape.gradient(loss, weights)
        self._enter("trainable_weights")
        weights = self.model.trainable_weights
        self._enter("apply_gradients")
        self.optimizer.apply_gradients(zip(grads, weights, strict=True))
        self._enter("forward")


@contextmanager
def recording_impls(step: PhasedStep) -> Iterator[dict[str, list[Call]]]:
    """Record every primitive implementation call (function, arguments) by phase."""
    log: dict[str, list[Call]] = collections.defaultdict(list)
    saved = []
    for prim in set(primitive.PRIMITIVES.values()):
        impl = prim.impl

        def record(*args: Any, _impl: Callable[..., Any] = impl, **params: Any) -> Any:
            log[step.phase].append((_impl, args, params))
            return _impl(*args, **params)

        prim.impl = record
        saved.append((prim, impl))
    try:
        yield log
    finally:
        for prim, impl in saved:
            prim.impl = impl


def replay_cpu(calls: list[Call], repeats: int) -> float:
    """CPU seconds per replay of ``calls``."""
    t0 = time.thread_time()
    for _ in range(repeats):
        for impl, args, params in calls:
            impl(*args, **params)
    return (time.thread_time() - t0) / repeats


def cpu_per_call(fn: Callable[[], Any], steps: int) -> float:
    """CPU seconds per call of ``fn`` after a short warm-up."""
    for _ in range(max(5, steps // 20)):
        fn()
    t0 = time.thread_time()
    for _ in range(steps):
        fn()
    return (time.thread_time() - t0) / steps


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload", nargs="?", default="W2", choices=("W2", "W3"))
    parser.add_argument("--steps", type=int, help="timed steps (default: 2000 W2, 30 W3)")
    args = parser.parse_args(argv)
    steps = args.steps or (2000 if args.workload == "W2" else 30)
    data = harness.make_data(args.workload)

    step = PhasedStep(data)
    for i in range(max(5, steps // 20)):
        step(i)
    step.cpu.clear()
    for i in range(steps):
        step(i)
    with recording_impls(step) as log:
        step(0)

    total = sum(step.cpu.values()) / steps
    print(f"{args.workload}: tapegrad GradientTape step, CPU ms per step (one thread of it)")
    print(f"{'phase':18} {'CPU':>8} {'NumPy':>8} {'rest':>8} {'prims':>6} {'rest/prim':>10}")
    numpy_total = 0.0
    for phase in PHASES:
        cpu = step.cpu[phase] / steps
        numpy_work = replay_cpu(log.get(phase, []), steps)
        numpy_total += numpy_work
        n = len(log.get(phase, []))
        per = f"{(cpu - numpy_work) / n * 1e6:8.1f}us" if n else "-"
        print(
            f"{phase:18} {cpu * 1e3:8.3f} {numpy_work * 1e3:8.3f} {(cpu - numpy_work) * 1e3:8.3f}"
            f" {n:6d} {per:>10}"
        )
    print(
        f"{'total':18} {total * 1e3:8.3f} {numpy_total * 1e3:8.3f}"
        f" {(total - numpy_total) * 1e3:8.3f} {sum(map(len, log.values())):6d}"
    )

    peers: dict[str, Callable[[], Any]] = {
        "tapegrad": impl_tapegrad.builders()[args.workload](data),
        "tapegrad train_on_batch": impl_tapegrad.builders()[args.workload + "-tob"](data),
        "numpy-hand": impl_numpy_hand.builders()[args.workload](data),
    }
    if importlib.util.find_spec("torch") is not None:
        from benchmarks import impl_torch

        peers["torch"] = impl_torch.builders()[args.workload](data)
    print("\nCPU ms per step, same process:")
    for name, fn in peers.items():
        print(f"  {name:24} {cpu_per_call(fn, steps) * 1e3:8.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
