"""Shared pieces of the benchmark harness: workloads, data, timing and checks.

Everything here follows ``workloads.md`` (kept in the shared folder): float32 data drawn
once with ``np.random.default_rng(seed)``, the timing protocol (first call, second call,
0.5 s warm-up, then single timed calls for 2.5 s, at least 5), and the correctness check of
the first two results against the hand-written NumPy version.

An implementation module (``benchmarks/impl_*.py``) provides::

    builders(variant: str | None = None) -> dict[str, Builder]
    to_numpy(result) -> np.ndarray
    info() -> dict[str, Any]

where a ``Builder`` takes the workload's data (a dict of NumPy arrays) and returns a
zero-argument callable that runs the workload once, synchronously, and returns its result.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Builder = Callable[[Mapping[str, np.ndarray]], Callable[[], Any]]

# --- workloads -------------------------------------------------------------------------

W1_SEED = 1
W6_SEED = 6

W1_SIZE = 16
W1_ITERS = 100
W1_OPS_PER_ITER = 3  # mul, add, tanh; the sum and the backward are charged to these
W1_OPS = W1_ITERS * W1_OPS_PER_ITER
# float32 constants for the NumPy-based implementations: they keep the graph float32
# whatever a framework does with a bare Python float (MyGrad would upcast to float64).
# 0-d arrays rather than np.float32 scalars: NumPy's scalar path costs ~0.5 µs more per op
# on a 16-element array (x * 0-d array 0.83 µs, x * np.float32 1.33 µs, x * 1.01 1.63 µs).
W1_SCALE = np.array(1.01, dtype=np.float32)
W1_SHIFT = np.array(0.1, dtype=np.float32)

W6_SIZE = 512

WORKLOAD_GROUPS: dict[str, tuple[str, ...]] = {
    "W1": ("W1", "W1-fwd", "W1-tape"),
    "W6": ("W6-revrev", "W6-fwdrev"),
}
ALL_WORKLOADS: tuple[str, ...] = tuple(w for ws in WORKLOAD_GROUPS.values() for w in ws)

# A workload whose reference result is that of another workload.
REFERENCE_WORKLOAD: dict[str, str] = {"W1-tape": "W1"}

WORKLOAD_DESCRIPTIONS: dict[str, str] = {
    "W1": "grad of 100 x (tanh(x*1.01+0.1)) + sum, 16 floats",
    "W1-fwd": "same forward only, no gradient tracking",
    "W1-tape": "W1 through a GradientTape (tapegrad only)",
    "W6-revrev": "Hessian-vector product, reverse over reverse, 512x512",
    "W6-fwdrev": "Hessian-vector product, forward over reverse, 512x512",
}

# --- frameworks ------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameworkSpec:
    """Where a framework's implementations live.

    Attributes:
        module: the ``benchmarks.impl_*`` module with ``builders``, ``to_numpy``, ``info``.
        variant: passed to ``builders`` (JAX: ``"eager"`` or ``"jit"``).
        requires: top-level packages that must be importable, else the framework is skipped.
    """

    module: str
    variant: str | None
    requires: tuple[str, ...]


# Column order of the table: tapegrad first, since every ratio is taken against it.
FRAMEWORKS: dict[str, FrameworkSpec] = {
    "tapegrad": FrameworkSpec("benchmarks.impl_tapegrad", None, ("tapegrad",)),
    "numpy-hand": FrameworkSpec("benchmarks.impl_numpy_hand", None, ("numpy",)),
    "torch": FrameworkSpec("benchmarks.impl_torch", None, ("torch",)),
    "jax-eager": FrameworkSpec("benchmarks.impl_jax", "eager", ("jax", "jaxlib")),
    "jax-jit": FrameworkSpec("benchmarks.impl_jax", "jit", ("jax", "jaxlib")),
    "autograd": FrameworkSpec("benchmarks.impl_autograd", None, ("autograd",)),
}
BASELINE = "tapegrad"
REFERENCE = "numpy-hand"

# --- timing and checks -----------------------------------------------------------------

WARMUP_S = 0.5
MEASURE_S = 2.5
MIN_CALLS = 5
MAX_REL_ERR = 2e-3


def expand_workloads(spec: str) -> list[str]:
    """Turn a comma-separated list of workloads or groups into workload names.

    Args:
        spec: e.g. ``"W1,W6"`` (groups) or ``"W1-fwd,W6-revrev"`` (single workloads).

    Returns:
        Workload names in the order of :data:`ALL_WORKLOADS`, without duplicates.

    Raises:
        ValueError: for a name that is neither a group nor a workload.

    Examples:
        >>> expand_workloads("W6,W1-fwd")
        ['W1-fwd', 'W6-revrev', 'W6-fwdrev']
    """
    wanted: set[str] = set()
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if item in WORKLOAD_GROUPS:
            wanted.update(WORKLOAD_GROUPS[item])
        elif item in ALL_WORKLOADS:
            wanted.add(item)
        else:
            known = ", ".join(dict.fromkeys([*WORKLOAD_GROUPS, *ALL_WORKLOADS]))
            raise ValueError(f"unknown workload {item!r}; known: {known}")
    return [w for w in ALL_WORKLOADS if w in wanted]


def workload_unit(workload: str) -> tuple[str, float]:
    """Return the display unit of a workload and the factor from seconds to that unit.

    W1 rows are reported per primitive op (time / 300) in microseconds, W6 in milliseconds.

    Examples:
        >>> workload_unit("W6-revrev")
        ('ms', 1000.0)
    """
    if workload.startswith("W1"):
        return "µs/op", 1e6 / W1_OPS
    return "ms", 1e3


def make_data(workload: str) -> dict[str, np.ndarray]:
    """Draw the float32 inputs of a workload from its seed, identically for every framework.

    Args:
        workload: a name from :data:`ALL_WORKLOADS`.

    Returns:
        ``{"x"}`` for the W1 rows; ``{"A", "w", "v"}`` for the W6 rows (drawn in that order).

    Examples:
        >>> d = make_data("W6-fwdrev")
        >>> d["A"].shape, d["A"].dtype, d["v"].shape
        ((512, 512), dtype('float32'), (512,))
    """
    if workload.startswith("W1"):
        rng = np.random.default_rng(W1_SEED)
        return {"x": rng.standard_normal(W1_SIZE, dtype=np.float32)}
    if workload.startswith("W6"):
        rng = np.random.default_rng(W6_SEED)
        scale = np.float32(1.0 / np.sqrt(W6_SIZE))
        a = rng.standard_normal((W6_SIZE, W6_SIZE), dtype=np.float32) * scale
        w = rng.standard_normal(W6_SIZE, dtype=np.float32)
        v = rng.standard_normal(W6_SIZE, dtype=np.float32)
        return {"A": a, "w": w, "v": v}
    raise ValueError(f"make_data: unknown workload {workload!r}")


@dataclass
class Timing:
    """Timings of one workload in seconds (``cpu_wall``: average cores busy while timed)."""

    first_call_s: float
    second_call_s: float
    n_calls: int
    median_s: float
    min_s: float
    p25_s: float
    p75_s: float
    cpu_wall: float

    def as_dict(self) -> dict[str, float | int]:
        """Return the fields as a JSON-ready dict."""
        return asdict(self)


def time_callable(
    fn: Callable[[], Any],
    warmup_s: float = WARMUP_S,
    measure_s: float = MEASURE_S,
    min_calls: int = MIN_CALLS,
) -> tuple[Timing, tuple[Any, Any]]:
    """Time ``fn`` by the workloads.md protocol.

    First call and second call are timed on their own (the first includes any tracing or
    compilation), then ``fn`` runs untimed for ``warmup_s``, then single calls are timed
    with :func:`time.perf_counter` until ``measure_s`` has passed and at least
    ``min_calls`` calls were made. CPU time (:func:`time.process_time`, all threads) over
    wall time of the measured window gives the average number of busy cores.

    Args:
        fn: runs the workload once, synchronously, and returns its result.
        warmup_s: untimed warm-up, seconds.
        measure_s: length of the measured window, seconds.
        min_calls: least number of measured calls.

    Returns:
        The :class:`Timing` and the results of the first two calls.

    Examples:
        >>> t, (r1, r2) = time_callable(lambda: 3, warmup_s=0.0, measure_s=0.0)
        >>> t.n_calls, r1, r2
        (5, 3, 3)
    """
    clock = time.perf_counter
    t0 = clock()
    first = fn()
    first_s = clock() - t0
    t0 = clock()
    second = fn()
    second_s = clock() - t0

    end = clock() + warmup_s
    while clock() < end:
        fn()

    times: list[float] = []
    cpu0 = time.process_time()
    wall0 = clock()
    deadline = wall0 + measure_s
    while len(times) < min_calls or clock() < deadline:
        t0 = clock()
        fn()
        times.append(clock() - t0)
    wall = clock() - wall0
    cpu = time.process_time() - cpu0

    p25, p75 = np.percentile(times, [25, 75])
    timing = Timing(
        first_call_s=first_s,
        second_call_s=second_s,
        n_calls=len(times),
        median_s=statistics.median(times),
        min_s=min(times),
        p25_s=float(p25),
        p75_s=float(p75),
        cpu_wall=cpu / wall if wall > 0 else float("nan"),
    )
    return timing, (first, second)


def max_rel_err(result: np.ndarray, reference: np.ndarray) -> float:
    """Largest elementwise relative error of ``result`` against ``reference``.

    Each difference is divided by ``max(|ref_i|, 1e-6 * max|ref|)``, so an entry of the
    reference that happens to be near zero cannot blow the error up. A shape mismatch or a
    non-finite entry gives ``inf``.

    Examples:
        >>> round(max_rel_err(np.array([1.0, 2.002]), np.array([1.0, 2.0])), 6)
        0.001
    """
    res = np.asarray(result, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if res.shape != ref.shape or not np.all(np.isfinite(res)):
        return float("inf")
    if ref.size == 0:
        return 0.0
    denom = np.maximum(np.abs(ref), 1e-6 * np.max(np.abs(ref)))
    denom = np.where(denom == 0, 1.0, denom)
    return float(np.max(np.abs(res - ref) / denom))


def threadpool_summary() -> list[dict[str, Any]]:
    """Describe the native thread pools loaded in this process (via threadpoolctl).

    Returns:
        One dict per pool (``prefix``, ``user_api``, ``internal_api``, ``num_threads``,
        ``version``), or a single ``{"error": ...}`` when threadpoolctl is not installed.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl is not installed"}]
    keys = ("prefix", "user_api", "internal_api", "num_threads", "version", "architecture")
    return [{k: pool.get(k) for k in keys if k in pool} for pool in threadpool_info()]
