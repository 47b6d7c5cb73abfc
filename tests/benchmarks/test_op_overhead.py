"""benchmarks/op_overhead.py: the breakdown's rows are there and add up (timings not judged)."""

from __future__ import annotations

import math

import pytest

from benchmarks import op_overhead

# Tiny loops: these tests check the bookkeeping of the table, not the numbers.
BUDGET = 2e-5


def test_tapegrad_forward_parts_add_up_to_the_total() -> None:
    rows = op_overhead.tapegrad_rows(BUDGET)
    parts = [t for what, t in rows if what.startswith("forward:")]
    total = dict(rows)["= forward with tape, per op"]
    assert len(parts) == 5
    assert math.isclose(sum(t.cpu_us for t in parts), total.cpu_us, abs_tol=1e-9)
    assert math.isclose(sum(t.wall_us for t in parts), total.wall_us, abs_tol=1e-9)


def test_tapegrad_backward_parts_add_up_to_the_total() -> None:
    rows = dict(op_overhead.tapegrad_rows(BUDGET))
    rule = rows["backward: VJP rule's NumPy call (g * 1.01)"]
    walk = rows["backward: walk per entry (relevance, lookup, shape check, accumulate)"]
    total = rows["= backward, per op"]
    assert math.isclose(rule.cpu_us + walk.cpu_us, total.cpu_us, abs_tol=1e-9)
    both = rows["= forward + backward, per op"]
    forward = rows["= forward with tape, per op"]
    assert math.isclose(forward.wall_us + total.wall_us, both.wall_us, abs_tol=1e-9)


def test_best_time_keeps_the_fastest_loop() -> None:
    timing = op_overhead.best_time(lambda: sum(range(50)), budget_s=1e-4, repeat=3)
    assert timing.wall_us > 0.0
    assert timing.cpu_us >= 0.0


def test_table_names_each_row() -> None:
    text = op_overhead.format_table("t", [("a", op_overhead.Timing(1.5, 1.25))])
    assert text.splitlines()[-1].split() == ["a", "1.50", "1.25"]


def test_torch_rows_have_the_same_totals() -> None:
    pytest.importorskip("torch")
    rows = dict(op_overhead.torch_rows(BUDGET))
    both = rows["= forward + backward, per op"]
    parts = rows["= forward recording the graph, per op"] + rows["= backward, per op"]
    assert math.isclose(both.cpu_us, parts.cpu_us, abs_tol=1e-9)
