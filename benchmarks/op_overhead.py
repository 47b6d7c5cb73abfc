"""Per-op overhead: where the microseconds of one primitive call and of its backward go.

Usage::

    python -m benchmarks.op_overhead [--threads 1|default] [--budget 0.05] [--json out.json]

The op is W1's, ``x * 1.01`` on 16 float32 values, so the NumPy (or ATen) kernel is a small
part and the rest is each framework's bookkeeping. tapegrad's forward is measured as a
ladder: each rung adds one layer of the engine to the one below, and the difference is that
layer's cost (the NumPy kernel; the primitive's frame with its argument scan and kernel
lookup; unwrapping the Tensor and building the result Tensor; the operator's frame; the
tape's record). The backward is measured per op as the difference between the gradient of
a 101-op chain and of a 1-op chain, divided by 100, then split into the VJP rule's own
NumPy call and the walk around it (relevance pass, cotangent lookup, shape check,
accumulation); what a gradient call costs once (seed, sources, result Tensors, the tape's
checks) is the 1-op gradient minus one op. torch gets the same three numbers (forward
without grad, forward recording the graph, backward per op and per call) in the same run.

Each number is the best of several repetitions of a timed loop (``time.perf_counter_ns``
for wall time, ``time.process_time_ns`` for CPU time, per call): the best is the one the
least disturbed by the other processes of a shared machine. The per-op totals are the
"machine-independent margin": both frameworks' overheads are interpreter work on the same
core, so their ratio moves little from one CPU to another, unlike the BLAS-bound rows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

SIZE = 16
SCALE = 1.01
CHAIN = 100


@dataclass(frozen=True)
class Timing:
    """Best per-call time over the repetitions, in microseconds.

    Attributes:
        wall_us: wall-clock time (``perf_counter_ns``).
        cpu_us: CPU time of this process (``process_time_ns``).
    """

    wall_us: float
    cpu_us: float

    def __add__(self, other: Timing) -> Timing:
        return Timing(self.wall_us + other.wall_us, self.cpu_us + other.cpu_us)

    def __sub__(self, other: Timing) -> Timing:
        return Timing(self.wall_us - other.wall_us, self.cpu_us - other.cpu_us)

    def scaled(self, factor: float) -> Timing:
        """This timing times ``factor`` (per-op shares of a chain)."""
        return Timing(self.wall_us * factor, self.cpu_us * factor)


def best_time(fn: Callable[[], Any], budget_s: float = 0.05, repeat: int = 9) -> Timing:
    """Time ``fn()`` in a loop: the best of ``repeat`` loops of about ``budget_s`` each.

    Args:
        fn: a callable without arguments.
        budget_s: seconds per timed loop (the count of calls is calibrated to it).
        repeat: loops; the best (least disturbed) one is kept, for wall and CPU time alike.

    Returns:
        The best wall and CPU time per call.

    Examples:
        >>> t = best_time(lambda: None, budget_s=0.001, repeat=2)
        >>> t.wall_us >= 0.0
        True
    """
    number = 1
    while True:  # calibrate: double until one loop takes a tenth of the budget
        start = time.perf_counter_ns()
        for _ in range(number):
            fn()
        if time.perf_counter_ns() - start > budget_s * 1e8 or number >= 1 << 24:
            break
        number *= 2
    loops = max(1, int(number * 10 * budget_s * 1e9 / max(time.perf_counter_ns() - start, 1)))
    loops = min(loops, number * 10)
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeat):
        c0, w0 = time.process_time_ns(), time.perf_counter_ns()
        for _ in range(loops):
            fn()
        w1, c1 = time.perf_counter_ns(), time.process_time_ns()
        wall = min(wall, (w1 - w0) / loops / 1e3)
        cpu = min(cpu, (c1 - c0) / loops / 1e3)
    return Timing(wall, cpu)


def tapegrad_rows(budget_s: float) -> list[tuple[str, Timing]]:
    """tapegrad's breakdown: (what, µs per op) rows, the forward ladder first.

    Args:
        budget_s: seconds per timed loop.

    Returns:
        Rows in display order; the ``=`` rows are totals, the others parts.
    """
    import tapegrad as tg
    from tapegrad.core import primitive as engine
    from tapegrad.core.backward import backward
    from tapegrad.core.prims import multiply_p

    a = np.random.default_rng(1).standard_normal(SIZE, dtype=np.float32)
    x = tg.tensor(a)
    impl, rule = multiply_p.impl, multiply_p.vjp_rules[0]
    assert rule is not None

    def recording(k: int) -> Callable[[], Any]:
        def run() -> Any:
            with tg.GradientTape() as tape:
                tape.watch(x)
                y = x
                for _ in range(k):
                    y = y * SCALE
            return y

        return run

    kernel = best_time(lambda: impl(a, SCALE), budget_s)
    on_arrays = best_time(lambda: multiply_p(a, SCALE), budget_s)
    on_tensor = best_time(lambda: multiply_p(x, SCALE), budget_s)
    operator = best_time(lambda: x * SCALE, budget_s)
    taped = (best_time(recording(CHAIN), budget_s) - best_time(recording(0), budget_s)).scaled(
        1 / CHAIN
    )
    raw = impl(a, SCALE)
    lookup = best_time(lambda: engine.select_kernel(multiply_p, (a, SCALE), {}), budget_s)
    wrap = best_time(lambda: tg.Tensor._wrap(raw), budget_s)

    def gradient_of(k: int) -> Callable[[], Any]:
        with tg.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x
            for _ in range(k):
                y = y * SCALE
        seed = np.ones(SIZE, np.float32)
        return lambda: tape.gradient(y, x, output_gradients=seed)

    def walk_of(k: int) -> Callable[[], Any]:
        with tg.GradientTape(persistent=True) as tape:
            tape.watch(x)
            y = x
            for _ in range(k):
                y = y * SCALE
        entries, seed = list(tape._entries), np.ones(SIZE, np.float32)
        return lambda: backward(entries, [y], [seed], [x], False)

    one, many = best_time(gradient_of(1), budget_s), best_time(gradient_of(CHAIN + 1), budget_s)
    per_op = (many - one).scaled(1 / CHAIN)
    walk_one = best_time(walk_of(1), budget_s)
    g = np.ones(SIZE, np.float32)
    vjp = best_time(lambda: rule(g, raw, a, SCALE), budget_s)
    return [
        ("forward: NumPy kernel (np.multiply)", kernel),
        ("forward: primitive frame (argument scan, kernel lookup)", on_arrays - kernel),
        ("forward: unwrap Tensor, build result Tensor, recorder lookup", on_tensor - on_arrays),
        ("forward: operator frame (Tensor.__mul__)", operator - on_tensor),
        ("forward: tape record", taped - operator),
        ("= forward with tape, per op", taped),
        ("  (of which: kernel lookup alone)", lookup),
        ("  (of which: Tensor construction alone)", wrap),
        ("backward: VJP rule's NumPy call (g * 1.01)", vjp),
        ("backward: walk per entry (relevance, lookup, shape check, accumulate)", per_op - vjp),
        ("= backward, per op", per_op),
        ("gradient call, once: backward() of one entry", walk_one - per_op),
        ("gradient call, once: tape.gradient around it", one - walk_one),
        ("= forward + backward, per op", taped + per_op),
    ]


def torch_rows(budget_s: float) -> list[tuple[str, Timing]]:
    """torch's numbers for the same op (eager, autograd), or ``[]`` without torch."""
    try:
        import torch
    except ImportError:
        return []
    a = np.random.default_rng(1).standard_normal(SIZE, dtype=np.float32)
    x = torch.from_numpy(a.copy())
    xg = torch.from_numpy(a.copy()).requires_grad_(True)

    def inference() -> Any:
        with torch.inference_mode():
            return x * SCALE

    def chain(k: int) -> Callable[[], Any]:
        def run() -> Any:
            y = xg
            for _ in range(k):
                y = y * SCALE
            return y

        return run

    def gradient_of(k: int) -> Callable[[], Any]:
        y = chain(k)()
        seed = torch.ones(SIZE)
        return lambda: torch.autograd.grad(y, xg, seed, retain_graph=True)

    no_grad_op = best_time(lambda: x * SCALE, budget_s)
    forward = (best_time(chain(CHAIN), budget_s) - best_time(chain(0), budget_s)).scaled(1 / CHAIN)
    one, many = best_time(gradient_of(1), budget_s), best_time(gradient_of(CHAIN + 1), budget_s)
    per_op = (many - one).scaled(1 / CHAIN)
    return [
        (
            "forward: x * 1.01 under inference_mode (with the mode switch)",
            best_time(inference, budget_s),
        ),
        ("forward: x * 1.01, no grad needed", no_grad_op),
        ("= forward recording the graph, per op", forward),
        ("= backward, per op", per_op),
        ("gradient call, once: autograd.grad", one - per_op),
        ("= forward + backward, per op", forward + per_op),
    ]


def format_table(title: str, rows: list[tuple[str, Timing]]) -> str:
    """Render rows as ``what  wall µs  CPU µs`` lines under a title.

    Examples:
        >>> print(format_table("t", [("op", Timing(1.0, 0.5))]))
        t
        what  wall µs  CPU µs
        op       1.00    0.50
    """
    width = max(len(what) for what, _ in rows)
    lines = [title, f"{'what':<{width}}  wall µs  CPU µs"]
    lines += [f"{what:<{width}}  {t.wall_us:7.2f}  {t.cpu_us:6.2f}" for what, t in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.op_overhead")
    parser.add_argument("--threads", choices=("1", "default"), default="1")
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per timed loop")
    parser.add_argument("--json", metavar="PATH", help="also write the rows to PATH")
    args = parser.parse_args(argv)
    if args.threads == "1":  # (before NumPy and torch start their thread pools)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = "1"
    print(
        f"per-op overhead of x * 1.01 on {SIZE} float32, Python {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs, threads {args.threads}"
    )
    ours = tapegrad_rows(args.budget)
    print(format_table("\ntapegrad (µs per op; '=' rows are totals)", ours))
    theirs = torch_rows(args.budget)
    if theirs:
        import torch

        print(format_table(f"\ntorch {torch.__version__} eager, autograd", theirs))
        total = dict(ours)["= forward + backward, per op"]
        peer = dict(theirs)["= forward + backward, per op"]
        print(
            f"\ntorch / tapegrad, forward + backward per op: {peer.wall_us / total.wall_us:.2f}"
            f" (wall), {peer.cpu_us / total.cpu_us:.2f} (CPU)  (> 1: tapegrad is faster)"
        )
    else:
        print("\ntorch is not installed: no comparison")
    if args.json:
        payload = {
            "tapegrad": [{"what": w, **asdict(t)} for w, t in ours],
            "torch": [{"what": w, **asdict(t)} for w, t in theirs],
        }
        Path(args.json).write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
