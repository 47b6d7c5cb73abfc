"""NumPy's BLAS on small products: one thread against the library's default, per shape.

Usage::

    python -m benchmarks.blas_threads [--rounds 3] [--budget 0.05]

Times ``a @ b`` (float32) for the products of W2, W5 and W3 (forward and backward shapes)
in fresh processes, one with ``OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=MKL_NUM_THREADS=1`` and
one with them unset, alternating ``rounds`` times so that the drift of a shared machine
falls on both: per product the best timed loop (`benchmarks.op_overhead.best_time`) and
the mean over every call, wall time with the CPU time of all threads beside it (above the
wall time: a second thread worked, or waited busily). It answers one question: from which
size on do the BLAS's threads pay for their wake-up (benchmarks/README.md, "BLAS threads").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# (name, a shape, b shape): the GEMMs of the workloads' steps.
PRODUCTS: tuple[tuple[str, tuple[int, int], tuple[int, int]], ...] = (
    ("W2 x @ w1", (64, 64), (64, 128)),
    ("W2 h @ w2", (64, 128), (128, 128)),
    ("W2 h.T @ g", (128, 64), (64, 128)),
    ("W5 h @ wh", (32, 128), (128, 512)),
    ("W5 g @ wh.T", (32, 512), (512, 128)),
    ("W5 x @ wx (all steps)", (1600, 32), (32, 512)),
    ("W3 x @ w1", (256, 784), (784, 1024)),
    ("W3 h @ w2", (256, 1024), (1024, 1024)),
)
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
REPO_ROOT = Path(__file__).resolve().parent.parent


def measure(budget_s: float) -> dict[str, tuple[float, float, float, float]]:
    """Time every product in this process: name -> (wall µs, CPU µs) of the best loop, then
    (wall µs, CPU µs) averaged over every call of those loops (the mean shows what the
    best hides: a thread that waits for a descheduled partner)."""
    import time

    import numpy as np

    from benchmarks.op_overhead import best_time

    rng = np.random.default_rng(0)
    # (the warm-up product of benchmarks/README.md: OpenBLAS's state otherwise varies)
    np.ones((64, 512), np.float32) @ np.ones((512, 1024), np.float32)
    out = {}
    for name, sa, sb in PRODUCTS:
        a = rng.standard_normal(sa, dtype=np.float32)
        b = rng.standard_normal(sb, dtype=np.float32)
        calls = [0]

        def product(a: np.ndarray = a, b: np.ndarray = b, calls: list[int] = calls) -> Any:
            calls[0] += 1
            return a @ b

        w0, c0 = time.perf_counter(), time.process_time()
        t = best_time(product, budget_s)
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        out[name] = (t.wall_us, t.cpu_us, wall / calls[0] * 1e6, cpu / calls[0] * 1e6)
    return out


def run_child(threads: str, budget_s: float) -> dict[str, list[float]]:
    """`measure` in a fresh process with the thread variables set to 1 or unset."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    if threads == "1":
        env.update(dict.fromkeys(THREAD_VARS, "1"))
    code = f"import json, benchmarks.blas_threads as m; print(json.dumps(m.measure({budget_s})))"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1])
    result: dict[str, list[float]] = json.loads(proc.stdout.splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.blas_threads")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=0.05, help="seconds per timed loop")
    args = parser.parse_args(argv)
    best: dict[str, dict[str, list[float]]] = {"1": {}, "default": {}}
    for _ in range(args.rounds):
        for threads in ("1", "default"):
            for name, row in run_child(threads, args.budget).items():
                old = best[threads].get(name)
                best[threads][name] = row if old is None or row[0] < old[0] else old
    width = max(len(name) for name, _, _ in PRODUCTS)
    print(
        f"{os.cpu_count()} CPUs; a @ b, float32; µs per product: best loop's wall (CPU), "
        f"then the mean over every call; best of {args.rounds} processes"
    )
    print(
        f"{'product':<{width}}  {'MFLOP':>6}  {'1 thread: best':>16}  {'mean':>15}"
        f"  {'default: best':>16}  {'mean':>15}"
    )
    for name, sa, sb in PRODUCTS:
        cells = "".join(
            f"  {w:7.1f} ({c:6.1f})  {mw:6.1f} ({mc:6.1f})"
            for w, c, mw, mc in (best["1"][name], best["default"][name])
        )
        print(f"{name:<{width}}  {2 * sa[0] * sa[1] * sb[1] / 1e6:6.2f}{cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
