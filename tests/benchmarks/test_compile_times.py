"""`benchmarks.compile_times` measures a workload and knows W7 (W7 itself is not run here:
its steps take about a second each)."""

from __future__ import annotations

import pytest

from benchmarks import compile_times


def test_compile_times_lists_w2_to_w7() -> None:
    assert compile_times.WORKLOADS[0] == "W2"
    assert compile_times.WORKLOADS[-1] == "W7"


def test_measure_reports_trace_compile_and_cpu_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compile_times, "WARMUP_STEPS", 2)
    result = compile_times.measure("W2", warm=True)
    assert result["cpu_s"] > 0
    assert result["trace_s"] > 0
    assert result["compile_s"] > 0
    assert result["nodes_optimized"] <= result["nodes_traced"]
    assert result["ragged_reused"] in (True, False)
