"""The parity suite's settings: skip without Keras/JAX, count the cases in the summary.

The test modules import `tests.parity.harness`, which sets ``KERAS_BACKEND=jax`` before it
imports Keras and skips the module when Keras or JAX is missing. This file imports neither:
it only counts, so that the closing note of a run can quote how many parity cases ran.
"""

from __future__ import annotations

from typing import Any

import pytest

_PARITY_DIR = "tests/parity/"
# Outcomes of this directory's test calls in this session.
COUNTS = {"passed": 0, "xfailed": 0, "failed": 0, "skipped": 0}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Counts each parity test once, by the outcome of its call (or its skip in setup)."""
    if _PARITY_DIR not in report.nodeid.replace("\\", "/"):
        return
    if report.when == "setup" and report.skipped:
        COUNTS["skipped"] += 1
    elif report.when != "call":
        return
    elif hasattr(report, "wasxfail"):
        COUNTS["xfailed" if report.skipped else "failed"] += 1
    elif report.skipped:
        COUNTS["skipped"] += 1
    else:
        COUNTS["passed" if report.passed else "failed"] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """ "parity: N cases, M xfail-documented" (N: cases run, the documented ones included)."""
    ran = COUNTS["passed"] + COUNTS["xfailed"] + COUNTS["failed"]
    if ran == 0 and COUNTS["skipped"] == 0:
        return
    terminalreporter.write_line(
        f"parity: {ran} cases, {COUNTS['xfailed']} xfail-documented "
        f"({COUNTS['passed']} passed, {COUNTS['failed']} failed, "
        f"{COUNTS['skipped']} skipped)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Keras' own NumPy-2 deprecation warning (its Variable.__array__) is not ours to see."""
    for item in items:
        if _PARITY_DIR in item.nodeid.replace("\\", "/"):
            item.add_marker(
                pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
            )
