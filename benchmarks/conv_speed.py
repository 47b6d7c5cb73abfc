"""The convolutions and poolings of W4, pass by pass: the table's NumPy impls, the kernels the
registry picks, and PyTorch.

``python -m benchmarks.conv_speed [--threads 1] [--repeat 30]`` times, on W4's shapes (batch
32, float32, channels-last for tapegrad, NCHW for torch): each 3x3 "same" convolution's
forward, its input VJP and its kernel VJP, and each 2x2 max pool's forward, argmax and
scatter (torch: ``max_pool2d`` with indices and its backward). Prints the median and the
minimum in ms per call, and each column's total against torch's. ``--threads 1`` sets
``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``/``MKL_NUM_THREADS`` before NumPy loads (and
torch's threads), as `benchmarks.run --threads 1`; without it each library takes its default.

``--steps`` times W4's training step instead, tapegrad eager and the hand-written NumPy
step (`benchmarks.impl_numpy_hand`) alternating in one process, and prints for each the
wall time, the CPU time of the whole process (all its threads) and its CPU time divided
by the threads it may use, per step, best and median of ``--rounds`` rounds of
``--repeat`` steps, with the minor page faults per step. On a machine shared with other
jobs the CPU figures say what the step costs where wall times say how long it waited.
``--parallel-kernels`` switches the kernels' parallel loops on
(`tapegrad.kernels.set_parallel_kernels`, as ``TAPEGRAD_PARALLEL_KERNELS=1``);
``--keep-freed-memory`` calls `tapegrad.kernels.keep_freed_memory` first.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _time(func: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and minimum ms of ``repeat`` calls, after two warm-up calls."""
    func()
    func()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times), min(times)


def _passes() -> dict[str, dict[str, Callable[[], Any]]]:
    """Pass name -> implementation name -> a call, on W4's shapes."""
    import numpy as np

    from tapegrad.core.prims import (
        conv_input_grad_p,
        conv_kernel_grad_p,
        conv_p,
        max_pool_p,
        pool_argmax_p,
        pool_scatter_p,
    )

    rng = np.random.default_rng(4)
    pads = ((1, 1), (1, 1))
    passes: dict[str, dict[str, Callable[[], Any]]] = {}
    torch = _torch()
    # (name, input shape NHWC, output channels): W4's two convolutions.
    for name, (n, h, w, c), c_out in (
        ("conv1", (32, 28, 28, 1), 16),
        ("conv2", (32, 14, 14, 16), 32),
    ):
        x = rng.standard_normal((n, h, w, c), dtype=np.float32)
        k = (rng.standard_normal((3, 3, c, c_out), dtype=np.float32) / 3).astype(np.float32)
        b = np.zeros(c_out, np.float32)
        g = rng.standard_normal((n, h, w, c_out), dtype=np.float32)
        calls = {
            "fwd": (conv_p, (x, k, b), {"padding": pads}),
            "dx": (conv_input_grad_p, (g, k), {"input_shape": (h, w), "padding": pads}),
            "dk": (conv_kernel_grad_p, (x, g), {"window": (3, 3), "padding": pads}),
        }
        for step, (prim, args, params) in calls.items():
            row = passes.setdefault(f"{name} {step}", {})
            row["table"] = _bind(prim.impl, args, params)
            row["kernels"] = _bind(prim, args, params)
        if torch is not None:
            _torch_conv(torch, passes, name, x, k, b, g)
    for name, shape in (("pool1", (32, 28, 28, 16)), ("pool2", (32, 14, 14, 32))):
        a = rng.standard_normal(shape, dtype=np.float32)
        maxima = max_pool_p.impl(a, window=(2, 2))
        index = pool_argmax_p.impl(a, maxima, window=(2, 2))
        g = rng.standard_normal(maxima.shape, dtype=np.float32)
        calls = {
            "fwd": (max_pool_p, (a,), {"window": (2, 2)}),
            "argmax": (pool_argmax_p, (a, maxima), {"window": (2, 2)}),
            "scatter": (pool_scatter_p, (g, index), {"window": (2, 2), "input_shape": shape[1:3]}),
        }
        for step, (prim, args, params) in calls.items():
            row = passes.setdefault(f"{name} {step}", {})
            row["table"] = _bind(prim.impl, args, params)
            row["kernels"] = _bind(prim, args, params)
        if torch is not None:
            _torch_pool(torch, passes, name, a, g)
    return passes


def _bind(func: Callable[..., Any], args: tuple[Any, ...], params: dict[str, Any]) -> Any:
    return lambda: func(*args, **params)


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        print("torch is not installed: its column is left out", file=sys.stderr)
        return None
    if os.environ.get("OMP_NUM_THREADS") == "1":
        torch.set_num_threads(1)
    return torch


def _torch_conv(
    torch: Any, passes: dict[str, Any], name: str, x: Any, k: Any, b: Any, g: Any
) -> None:
    """torch's convolution (oneDNN on x86) on the same values, NCHW."""
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
    kt = torch.from_numpy(k.transpose(3, 2, 0, 1).copy())
    bt = torch.from_numpy(b)
    gt = torch.from_numpy(g.transpose(0, 3, 1, 2).copy())
    conv2d = torch.nn.functional.conv2d
    passes[f"{name} fwd"]["torch"] = lambda: conv2d(xt, kt, bt, padding=1)
    passes[f"{name} dx"]["torch"] = lambda: torch.nn.grad.conv2d_input(xt.shape, kt, gt, padding=1)
    passes[f"{name} dk"]["torch"] = lambda: torch.nn.grad.conv2d_weight(xt, kt.shape, gt, padding=1)


def _torch_pool(torch: Any, passes: dict[str, Any], name: str, a: Any, g: Any) -> None:
    """torch's max pooling: in training the forward returns the indices (no argmax pass of
    its own: that cell stays empty); its backward scatters."""
    at = torch.from_numpy(a.transpose(0, 3, 1, 2).copy())
    gt = torch.from_numpy(g.transpose(0, 3, 1, 2).copy())
    pool = torch.nn.functional.max_pool2d
    _, indices = pool(at, 2, return_indices=True)
    passes[f"{name} fwd"]["torch"] = lambda: pool(at, 2, return_indices=True)
    passes[f"{name} scatter"]["torch"] = lambda: torch.ops.aten.max_pool2d_with_indices_backward(
        gt, at, [2, 2], [2, 2], [0, 0], [1, 1], False, indices
    )


def _step_times(step: Callable[[], Any], repeat: int) -> tuple[float, float, int]:
    """Wall ms, process CPU ms (all threads) and minor page faults per step, over
    ``repeat`` steps."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(repeat):
        step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return wall / repeat * 1e3, cpu / repeat * 1e3, faults // repeat


def steps(repeat: int, rounds: int) -> None:
    """Time W4's step, tapegrad eager against the hand-written NumPy step, alternating."""
    from benchmarks import harness, impl_numpy_hand, impl_tapegrad
    from tapegrad.kernels import _numba, parallel_kernels_enabled

    data = harness.make_cnn_data()
    builders = {
        "tapegrad": impl_tapegrad.builders()["W4"],
        "numpy-hand": impl_numpy_hand.builders()["W4"],
    }
    calls = {name: build(data) for name, build in builders.items()}
    for call in calls.values():  # (warm-up: numba's compilation, the allocator)
        for _ in range(5):
            call()
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if os.environ.get("OMP_NUM_THREADS") == "1":
        threads = 1
    elif parallel_kernels_enabled():
        threads = max(1, min(threads, _numba.threads()))
    results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in calls}
    for r in range(rounds):
        for name in calls if r % 2 == 0 else reversed(list(calls)):
            results[name].append(_step_times(calls[name], repeat))
    print(
        f"W4 step, ms per step, best / median of {rounds} x {repeat}; "
        f"parallel kernels: {parallel_kernels_enabled()}; threads: {threads}"
    )
    print(f"{'':12s}{'wall':>16s}{'CPU':>16s}{'CPU / thread':>16s}{'faults':>8s}")
    for name, rows in results.items():
        walls, cpus = sorted(w for w, _, _ in rows), sorted(c for _, c, _ in rows)
        per_thread = [c / threads for c in cpus]
        cells = [f"{v[0]:7.2f} / {statistics.median(v):6.2f}" for v in (walls, cpus, per_thread)]
        faults = statistics.median(f for _, _, f in rows)
        print(f"{name:12s}" + "".join(f"{c:>16s}" for c in cells) + f"{faults:8.0f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", choices=["1", "default"], default="default")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--steps", action="store_true", help="time W4's whole step")
    parser.add_argument("--rounds", type=int, default=10, help="rounds of --steps")
    parser.add_argument("--parallel-kernels", action="store_true")
    parser.add_argument("--keep-freed-memory", action="store_true")
    args = parser.parse_args(argv)
    if args.threads == "1":
        if "numpy" in sys.modules:
            print("warning: NumPy already loaded; its BLAS threads stay", file=sys.stderr)
        os.environ.update(dict.fromkeys(THREAD_VARS, "1"))
    import tapegrad.kernels

    if args.parallel_kernels:
        tapegrad.kernels.set_parallel_kernels(True)
    if args.keep_freed_memory:
        tapegrad.kernels.keep_freed_memory()
    if args.steps:
        steps(args.repeat, args.rounds)
        return
    passes = _passes()
    order = ["table", "kernels", "torch"]
    columns = sorted({impl for row in passes.values() for impl in row}, key=order.index)
    totals = dict.fromkeys(columns, 0.0)
    print(f"ms per call, median (min), threads: {args.threads}")
    print(f"{'pass':16s}" + "".join(f"{c:>18s}" for c in columns))
    for name, row in passes.items():
        cells = []
        for column in columns:
            if column not in row:
                cells.append("-")
                continue
            median, low = _time(row[column], args.repeat)
            totals[column] += median
            cells.append(f"{median:9.3f} ({low:.3f})")
        print(f"{name:16s}" + "".join(f"{cell:>18s}" for cell in cells))
    print(f"{'total':16s}" + "".join(f"{totals[c]:18.3f}" for c in columns))
    if "torch" in totals:
        ratios = "  ".join(f"{c} {totals[c] / totals['torch']:.2f}" for c in columns)
        print(f"total / torch's: {ratios}")


if __name__ == "__main__":
    main()
