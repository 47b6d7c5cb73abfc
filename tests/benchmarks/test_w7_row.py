"""W7 is a row of `benchmarks.run`: its group expands, and the worker finds its builders
(`benchmarks.transformer_w7.run_builders`) for the peers that have the step. (Running the
step is `python -m benchmarks.run --workloads W7`'s business: a step takes about a second.)"""

from __future__ import annotations

from benchmarks import harness, transformer_w7


def test_w7_is_a_workload_of_the_run() -> None:
    assert harness.expand_workloads("W7") == ["W7"]
    assert "W7" in harness.WORKLOAD_DESCRIPTIONS
    assert harness.workload_unit("W7") == ("ms", 1e3)


def test_w7_builders_exist_for_the_peers_that_have_the_step() -> None:
    for framework in ("tapegrad", "tapegrad-compiled", "torch", "jax-jit"):
        assert framework in harness.FRAMEWORKS
        assert list(transformer_w7.run_builders(framework)) == ["W7"]
    assert transformer_w7.run_builders("numpy-hand") == {}
    # The worker checks W7's losses against this framework's (W7 has no numpy-hand step).
    assert transformer_w7.REFERENCE in transformer_w7.RUN_PEERS
