"""W7's matrix products one by one: tapegrad's call against plain NumPy and torch.

Usage::

    python -m benchmarks.w7_gemms [--repeat 5] [--json out.json]

Each product of one W7 eager training step (benchmarks/README.md, "W7") is timed three
ways at one BLAS thread, CPU time (``time.process_time``), best of ``repeat`` loops:

* **tapegrad**: the call the step makes, on operands in the layouts the step has
  (``einsum`` through `tapegrad.core.prims.contraction` over Keras' ``(batch, time,
  heads, dim)`` tensors, ``dense`` and its two cotangents through the primitive's rules);
* **numpy**: ``np.matmul`` of C-contiguous operands of the same (batched) product, the
  rate NumPy's BLAS reaches without any layout to follow;
* **torch**: ``torch.matmul`` of the same contiguous operands (MKL on x86), where
  torch is installed.

Printed per product: the count per step, GFLOP per call and GFLOP/s of each, and the
step's total milliseconds of each column: the part of the step that is BLAS, and how much
of it a better GEMM (or a better layout) could take off. Operands are warm in cache and
freshly allocated results reuse freed memory, so the in-step figures are lower (see
docs/performance.md, "W7 eager").
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

B, T, D, H, K, F = 32, 128, 128, 4, 32, 512  # batch, time, width, heads, key_dim, MLP
# (name, einsum subscripts, a shape, b shape, calls per step, (batch, m, k, n))
EINSUMS: tuple[tuple[str, str, tuple[int, ...], tuple[int, ...], int, tuple[int, ...]], ...] = (
    ("q/k/v projection", "abc,cde->abde", (B, T, D), (D, H, K), 6, (1, B * T, D, H * K)),
    ("scores q k^T", "aecd,abcd->acbe", (B, T, H, K), (B, T, H, K), 2, (B * H, T, K, T)),
    ("combine p v, dq", "acbe,aecd->abcd", (B, H, T, T), (B, T, H, K), 4, (B * H, T, T, K)),
    ("projection dW", "abde,abc->cde", (B, T, H, K), (B, T, D), 6, (1, D, B * T, H * K)),
    ("dp = g v^T", "abcd,aecd->acbe", (B, T, H, K), (B, T, H, K), 2, (B * H, T, K, T)),
    ("dv = p^T g", "abcd,acbe->aecd", (B, T, H, K), (B, H, T, T), 2, (B * H, T, T, K)),
    ("dk = ds^T q", "acbe,abcd->aecd", (B, H, T, T), (B, T, H, K), 2, (B * H, T, T, K)),
    ("output projection", "abcd,cde->abe", (B, T, H, K), (H, K, D), 2, (1, B * T, H * K, D)),
    ("projection dx", "abde,cde->abc", (B, T, H, K), (D, H, K), 3, (1, B * T, H * K, D)),
    ("output proj. dW", "abe,abcd->cde", (B, T, D), (B, T, H, K), 2, (1, H * K, B * T, D)),
    ("output proj. dx", "abe,cde->abcd", (B, T, D), (H, K, D), 2, (1, B * T, D, H * K)),
)
# (name, rule: "forward" | "dx" | "dW", inputs features, units, calls per step)
DENSES: tuple[tuple[str, str, int, int, int], ...] = (
    ("MLP up", "forward", D, F, 2),
    ("MLP down", "forward", F, D, 2),
    ("MLP up dx", "dx", D, F, 2),
    ("MLP down dx", "dx", F, D, 2),
    ("MLP up dW", "dW", D, F, 2),
    ("MLP down dW", "dW", F, D, 2),
)


def best_seconds(fn: Callable[[], Any], repeat: int, inner: int = 10) -> float:
    """The best of ``repeat`` loops of ``inner`` calls, CPU seconds per call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(inner):
            fn()
        best = min(best, (time.process_time() - start) / inner)
    return best


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def measure(repeat: int) -> list[dict[str, Any]]:
    """Every product's GFLOP and seconds per call for tapegrad, NumPy and torch."""
    from tapegrad.core.prims import contraction, products

    rng = np.random.default_rng(0)
    torch = _torch()
    rows: list[dict[str, Any]] = []

    def add(name: str, count: int, shape: tuple[int, ...], ours: Callable[[], Any]) -> None:
        batch, m, k, n = shape
        lead = (batch,) if batch > 1 else ()
        a = rng.standard_normal((*lead, m, k)).astype(np.float32)
        b = rng.standard_normal((*lead, k, n)).astype(np.float32)
        row = {"name": name, "count": count, "gflop": 2 * batch * m * k * n / 1e9}
        row["tapegrad"] = best_seconds(ours, repeat)
        row["numpy"] = best_seconds(functools.partial(np.matmul, a, b), repeat)
        if torch is not None:
            row["torch"] = best_seconds(
                functools.partial(torch.matmul, torch.from_numpy(a), torch.from_numpy(b)), repeat
            )
        rows.append(row)

    for name, subscripts, a_shape, b_shape, count, shape in EINSUMS:
        x = rng.standard_normal(a_shape).astype(np.float32)
        y = rng.standard_normal(b_shape).astype(np.float32)
        call = functools.partial(contraction.einsum, subscripts, x, y)
        add(f"{name} `{subscripts}`", count, shape, call)
    forward, dx, dw = products.dense_p.impl, *products.dense_p.vjp_rules[:2]
    for name, rule, features, units, count in DENSES:
        x = rng.standard_normal((B, T, features)).astype(np.float32)
        kernel = rng.standard_normal((features, units)).astype(np.float32)
        bias = np.zeros(units, np.float32)
        g = rng.standard_normal((B, T, units)).astype(np.float32)
        rule_args = {"forward": (forward, x), "dx": (dx, g, None, x), "dW": (dw, g, None, x)}
        call = functools.partial(*rule_args[rule], kernel, bias)
        shape = {
            "forward": (1, B * T, features, units),
            "dx": (1, B * T, units, features),
            "dW": (1, features, B * T, units),
        }[rule]
        add(f"{name} (dense {rule})", count, shape, call)
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table with the step's totals."""
    peers = [p for p in ("tapegrad", "numpy", "torch") if p in rows[0]]
    lines = [
        "| product | per step | GFLOP | " + " | ".join(f"{p} GFLOP/s" for p in peers) + " |",
        "| --- | --- | --- |" + " --- |" * len(peers),
    ]
    for row in rows:
        rates = " | ".join(f"{row['gflop'] / row[p]:.0f}" for p in peers)
        lines.append(f"| {row['name']} | {row['count']} | {row['gflop']:.3f} | {rates} |")
    totals = " | ".join(f"{sum(r['count'] * r[p] for r in rows) * 1e3:.1f} ms" for p in peers)
    flop = sum(r["count"] * r["gflop"] for r in rows)
    lines.append(f"| **step total** | | {flop:.2f} | {totals} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args(argv)
    rows = measure(args.repeat)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

if __name__ == "__main__":
    if any(os.environ.get(var) != "1" for var in THREAD_VARS):
        # The BLAS reads its thread count when NumPy loads: run again with one thread.
        env = {**os.environ, **dict.fromkeys(THREAD_VARS, "1")}
        os.execve(sys.executable, [sys.executable, "-m", "benchmarks.w7_gemms", *sys.argv[1:]], env)
    main()
