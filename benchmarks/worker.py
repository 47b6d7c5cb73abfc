"""Time one framework's workloads in this process and write the results as JSON.

Started by :mod:`benchmarks.run`, one process per framework, so that imports, thread pools
and allocator state of one framework never affect another::

    python -m benchmarks.worker FRAMEWORK --workloads W1,W6 --out result.json

The JSON has ``status`` (``"ok"``, or ``"skipped"`` when the framework cannot be imported),
``info`` (versions, thread pools) and ``results`` (per workload: timings in seconds, the
max relative error of the first two results against numpy-hand, or ``error``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks import harness, impl_numpy_hand, transformer_w7
from benchmarks.harness import FRAMEWORKS, REFERENCE_WORKLOAD


def _reference_results(workloads: list[str]) -> dict[str, list[np.ndarray]]:
    """Compute numpy-hand's first two results for every workload that has one.

    Two calls, since a training step's second result (the loss after one update) differs
    from its first; for the other workloads both are the same. W7 has no numpy-hand step:
    its reference is tapegrad's eager step (`transformer_w7.REFERENCE`).
    """
    ref_builders = {
        **transformer_w7.run_builders(transformer_w7.REFERENCE),
        **impl_numpy_hand.builders(),
    }
    refs: dict[str, list[np.ndarray]] = {}
    for workload in workloads:
        source = REFERENCE_WORKLOAD.get(workload, workload)
        if source in ref_builders:
            fn = ref_builders[source](harness.make_data(source))
            refs[workload] = [np.asarray(fn()) for _ in range(2)]
    return refs


def _time_workload(
    to_numpy: Callable[[Any], np.ndarray],
    builder: harness.Builder,
    workload: str,
    reference: list[np.ndarray] | None,
    *,
    warmup_s: float,
    measure_s: float,
) -> dict[str, Any]:
    """Build, time and check one workload; any exception becomes an ``error`` entry."""
    try:
        fn = builder(harness.make_data(workload))
        timing, firsts = harness.time_callable(fn, warmup_s=warmup_s, measure_s=measure_s)
        arrays = [np.asarray(to_numpy(r)) for r in firsts]
    except Exception as exc:  # noqa: BLE001 -- one workload's failure must not stop the rest
        return {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
        }
    entry: dict[str, Any] = timing.as_dict()
    entry["dtype"] = str(arrays[0].dtype)
    if reference is None:
        entry["max_rel_err"] = None
        entry["correct"] = None
    else:
        floor = harness.CHECK_FLOOR.get(workload, 1e-6)
        errs = [
            harness.max_rel_err(a, ref, floor) for a, ref in zip(arrays, reference, strict=True)
        ]
        entry["max_rel_err"] = max(errs)
        entry["correct"] = bool(max(errs) <= harness.MAX_REL_ERR)
    return entry


def run_framework(
    name: str,
    workloads: list[str],
    warmup_s: float = harness.WARMUP_S,
    measure_s: float = harness.MEASURE_S,
) -> dict[str, Any]:
    """Time the given workloads of one framework.

    Args:
        name: a key of :data:`benchmarks.harness.FRAMEWORKS`.
        workloads: workload names; those the framework does not implement are left out.
        warmup_s: untimed warm-up per workload, seconds.
        measure_s: measured window per workload, seconds.

    Returns:
        The JSON-ready report described in the module docstring.
    """
    spec = FRAMEWORKS[name]
    report: dict[str, Any] = {"framework": name, "status": "ok", "results": {}}
    # Every process starts with the same large NumPy product: on one thread OpenBLAS has
    # run small products 2-3x slower until one about this large has run, which would
    # otherwise depend on the workloads that happened to run first (benchmarks/README.md).
    np.matmul(np.ones((64, 512), np.float32), np.ones((512, 1024), np.float32))
    try:
        module = importlib.import_module(spec.module)
        builders = module.builders(spec.variant)
        # W7's steps live in benchmarks/transformer_w7.py (they return the loss as NumPy).
        delegated = transformer_w7.run_builders(name)
        builders = {**builders, **delegated}
    except ImportError as exc:
        report.update(status="skipped", message=f"{type(exc).__name__}: {exc}")
        return report
    except Exception as exc:  # noqa: BLE001 -- e.g. a half-written package that breaks
        report.update(status="skipped", message=f"import failed, {type(exc).__name__}: {exc}")
        return report

    chosen = [w for w in workloads if w in builders]
    # For numpy-hand itself this only checks that its results are repeatable.
    references = _reference_results(chosen)
    for workload in chosen:
        report["results"][workload] = _time_workload(
            np.asarray if workload in delegated else module.to_numpy,
            builders[workload],
            workload,
            references.get(workload),
            warmup_s=warmup_s,
            measure_s=measure_s,
        )
    report["info"] = {
        **module.info(),
        "python": sys.version.split()[0],
        "threadpools": harness.threadpool_summary(),
        "thread_env": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS")
        },
    }
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("framework", choices=sorted(FRAMEWORKS))
    parser.add_argument("--workloads", default="W1,W6")
    parser.add_argument("--out", required=True, help="path of the JSON report")
    parser.add_argument("--warmup", type=float, default=harness.WARMUP_S)
    parser.add_argument("--duration", type=float, default=harness.MEASURE_S)
    args = parser.parse_args(argv)
    report = run_framework(
        args.framework,
        harness.expand_workloads(args.workloads),
        warmup_s=args.warmup,
        measure_s=args.duration,
    )
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(report, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
