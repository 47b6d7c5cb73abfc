"""Trace and compile times, graph sizes and per-step allocations of the compiled W2-W7 steps.

Usage::

    python -m benchmarks.compile_times [--workloads W2,W3,W4,W5-unrolled,W5-layer,W7] [--warm]

For each training workload of :mod:`benchmarks.impl_tapegrad_compiled` (the same
``tapegrad.function`` train steps the ``tapegrad-compiled`` column times), and for W7
(:mod:`benchmarks.transformer_w7`'s Keras-style model: the compiled step that
``train_on_batch`` runs with ``jit_compile=True``), this prints:

- ``trace s``: `ConcreteFunction.trace_seconds` — running the Python step on traced
  tensors, and the graph passes; ``passes s``: the passes alone (run again on the traced
  graph); ``compile s``: `ConcreteFunction.compile_seconds` (code generation);
  ``t+c cpu``: the CPU time (``time.process_time``) of trace and compile together (the
  fairer figure on a busy machine; tracing runs the step once in eager mode, so it
  includes one eager step's computation); ``1st run s``: the first call after that
  (numba compiles fused kernels lazily, there).
- Process-wide one-time costs (importing numba, loading its cached kernels) fall on the
  first workload that needs them; ``--warm`` traces each workload once before measuring.
- ``ragged s``: a batch-polymorphic twin (``tapegrad.function(batch_polymorphic=True)``,
  what ``fit`` uses) traced on the batch, then given a smaller last batch: the time to
  re-specialize its trace to that size (the probe trace of the Python step at batch 3
  that proves it, passes, code generation); ``(retraced)`` where the trace could not be
  reused.
- ``nodes``: graph nodes as traced, and after the passes.
- steady-state allocations of one step after warm-up, from :mod:`tracemalloc`: ``peak``,
  the most memory the step held at once above what was live before it (the temporaries
  of the step), and ``net``: bytes and blocks still allocated after it (Python objects
  and NumPy buffers; ~0 in a steady state, since each Variable's new value replaces the
  old one). ``fresh`` is, from the graph, the bytes of every node output that is not a
  view (what a run with no buffer reuse allocates) and the number of such outputs.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import statistics
import sys
import time
import tracemalloc
from typing import Any

import numpy as np

from benchmarks import harness, impl_tapegrad_compiled
from benchmarks.impl_tapegrad_compiled import TRAIN_STEPS

WARMUP_STEPS = 20
WORKLOADS = (*TRAIN_STEPS, "W7")

# Primitives whose result is (usually) a view of an input: no new buffer.
_VIEW_PRIMITIVES = frozenset(
    {"reshape", "transpose", "getitem", "broadcast_to", "split", "identity", "stop_gradient"}
)


def fresh_outputs(graph: Any) -> tuple[int, int]:
    """Bytes and count of the node outputs of ``graph`` that need a new buffer."""
    total = count = 0
    for node in graph.nodes:
        if node.primitive in _VIEW_PRIMITIVES:
            continue
        for shape, dtype in zip(node.shapes, node.dtypes, strict=True):
            total += int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
            count += 1
    return total, count


def step_allocations(step: Any, batch: tuple[Any, Any]) -> dict[str, int]:
    """Peak and net traced memory of one call ``step(*batch)`` (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = step(*batch)
        current, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    del result
    diff = after.compare_to(before, "filename")
    return {
        "peak_bytes": peak - start,
        "net_bytes": current - start,
        "net_blocks": sum(d.count_diff for d in diff),
    }


def ragged_batch_seconds(step: Any, batch: tuple[Any, ...]) -> tuple[float, bool]:
    """Seconds to make a polymorphic twin of ``step`` serve a smaller last batch, and
    whether it did so without tracing again."""
    import tapegrad as tg

    twin = tg.function(step.python_function, jit=step.jit, batch_polymorphic=True)
    twin.get_concrete_function(*batch)
    size = len(batch[0])
    smaller = tuple(None if a is None else np.asarray(a)[: size - 1 - size // 4] for a in batch)
    t0 = time.perf_counter()
    twin.get_concrete_function(*smaller)
    return time.perf_counter() - t0, twin.tracing_count == 1


def w7_parts() -> tuple[Any, Any]:
    """W7's compiled train step (the `tapegrad.function` ``train_on_batch`` runs) with no
    trace yet, and an endless iterator of its ``(x, y, sample_weight)`` batches.

    The model creates that function at its first ``train_on_batch`` (which traces it):
    the trace is cleared again, so W7's row is always measured warm."""
    import inspect

    from benchmarks.transformer_w7 import build_tapegrad

    data = harness.make_transformer_data()
    train_on_batch = build_tapegrad(data, compiled=True)
    train_on_batch(0)
    model = inspect.getclosurevars(train_on_batch).nonlocals["model"]
    step = model._compiled_steps["train"]
    step.clear_cache()
    xs, ys = data["x"], data["y"]
    batches = ((xs[i % len(xs)], ys[i % len(ys)], None) for i in itertools.count())
    return step, batches


def measure(workload: str, warm: bool = False) -> dict[str, Any]:
    """Trace, compile, warm up and measure one workload's compiled train step."""
    if workload == "W7":
        step, batches = w7_parts()
    else:
        step, batches = TRAIN_STEPS[workload](harness.make_data(workload))
    batch = next(batches)
    if warm:
        step(*batch)
        step.clear_cache()
    gc.collect()
    cpu = time.process_time()
    concrete = step.get_concrete_function(*batch)
    cpu = time.process_time() - cpu
    from tapegrad.graph.passes import optimize

    t0 = time.perf_counter()
    optimize(concrete.traced_graph)
    passes_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    step(*next(batches))
    first_run_s = time.perf_counter() - t0
    for _ in range(WARMUP_STEPS):
        step(*next(batches))
    times: list[float] = []
    end = time.perf_counter() + 0.5
    while len(times) < 5 or time.perf_counter() < end:
        t0 = time.perf_counter()
        step(*next(batches))
        times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    ragged_s, reused = ragged_batch_seconds(step, batch)
    fresh_bytes, fresh_count = fresh_outputs(concrete.graph)
    return {
        "trace_s": concrete.trace_seconds,
        "passes_s": passes_s,
        "compile_s": concrete.compile_seconds,
        "cpu_s": cpu,
        "first_run_s": first_run_s,
        "ragged_s": ragged_s,
        "ragged_reused": reused,
        "nodes_traced": len(concrete.traced_graph.nodes),
        "nodes_optimized": len(concrete.graph.nodes),
        "step_ms": step_s * 1e3,
        "fresh_bytes": fresh_bytes,
        "fresh_count": fresh_count,
        **step_allocations(step, next(batches)),
    }


def _mb(n: int) -> str:
    return f"{n / 2**20:.2f} MB" if abs(n) >= 2**20 else f"{n / 2**10:.1f} KB"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument(
        "--warm", action="store_true", help="trace each workload once before measuring"
    )
    parser.add_argument(
        "--threads",
        choices=("1", "default"),
        default="1",
        help="BLAS threads (1: limited with threadpoolctl, as benchmarks.run --threads 1)",
    )
    args = parser.parse_args(argv)
    if args.threads == "1":
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads {unknown}; known: {', '.join(WORKLOADS)}")
    print(f"graph execution: {impl_tapegrad_compiled.info()['graph_execution']}")
    header = (
        f"{'workload':<12} {'trace s':>8} {'passes s':>9} {'compile s':>10} {'t+c s':>7}"
        f" {'t+c cpu':>7}"
        f" {'1st run s':>9} {'ragged s':>15} {'nodes':>12} {'median ms':>9} {'peak':>10}"
        f" {'net':>18} {'fresh':>20}"
    )
    print(header)
    print("-" * len(header))
    for w in workloads:
        r = measure(w, args.warm)
        nodes = f"{r['nodes_traced']} -> {r['nodes_optimized']}"
        net = f"{_mb(r['net_bytes'])}, {r['net_blocks']} blk"
        fresh = f"{_mb(r['fresh_bytes'])} in {r['fresh_count']}"
        ragged = f"{r['ragged_s']:.3f}" + ("" if r["ragged_reused"] else " (retraced)")
        print(
            f"{w:<12} {r['trace_s']:8.3f} {r['passes_s']:9.3f} {r['compile_s']:10.3f}"
            f" {r['trace_s'] + r['compile_s']:7.3f} {r['cpu_s']:7.3f}"
            f" {r['first_run_s']:9.3f} {ragged:>15}"
            f" {nodes:>12}"
            f" {r['step_ms']:9.3f}"
            f" {_mb(r['peak_bytes']):>10} {net:>18} {fresh:>20}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
