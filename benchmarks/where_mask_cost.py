"""What exact zeros behind `where` cost: W1-style chains with and without mask handling.

``python -m benchmarks.where_mask_cost`` times, in one process:

* W1 itself (no `where`): the masks' only cost is a ``None`` check per backward entry;
* a W1 variant whose every step is ``x = where(x > -5, tanh(x * 1.01 + 0.1), x)``, with
  `where`'s zero masks on (the default) and switched off for the measurement.

Prints medians (µs per forward op) and the on/off ratio.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.prims.elementwise import where_p


def _w1(x: tg.Tensor) -> tg.Tensor:
    for _ in range(100):
        x = tnp.tanh(x * 1.01 + 0.1)
    return tnp.sum(x)


def _w1_where(x: tg.Tensor) -> tg.Tensor:
    for _ in range(100):
        x = tnp.where(x > -5.0, tnp.tanh(x * 1.01 + 0.1), x)
    return tnp.sum(x)


def _median_us(func: Callable[[], object], ops: int, seconds: float = 1.5) -> float:
    func()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / ops * 1e6


def main() -> None:
    """Run the comparison and print the table."""
    x = np.random.default_rng(1).standard_normal(16).astype(np.float32)
    grad_w1 = tg.grad(_w1)
    grad_where = tg.grad(_w1_where)
    rows = [("W1 (no where)", _median_us(lambda: grad_w1(x), 300))]
    rows.append(("W1-where, masks on", _median_us(lambda: grad_where(x), 500)))
    rule = where_p.zero_mask_rule
    where_p.zero_mask_rule = None
    try:
        rows.append(("W1-where, masks off", _median_us(lambda: grad_where(x), 500)))
    finally:
        where_p.zero_mask_rule = rule
    for name, value in rows:
        print(f"{name:22s} {value:7.2f} µs/op")
    print(f"masks on / off: {rows[1][1] / rows[2][1]:.3f}")


if __name__ == "__main__":
    main()
