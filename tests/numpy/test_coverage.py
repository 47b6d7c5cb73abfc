"""The coverage report: NumPy functions are left out only when they do not compute on
numbers (I/O, printing, datetime, configuration, memory layout), each with its reason."""

from __future__ import annotations

import io
from contextlib import redirect_stdout

import numpy as np

from tapegrad.numpy import coverage


def _unsupported() -> dict[str, list[str]]:
    return {
        module: [name for name, kind in entries.items() if kind == "unsupported"]
        for module, entries in coverage.report().items()
    }


def _printed(*argv: str) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        assert coverage.main(list(argv)) == 0
    return out.getvalue()


def test_every_unsupported_function_has_a_reason_of_an_allowed_category() -> None:
    # A numerical function NumPy adds (or one tapegrad drops) fails here until it is served.
    missing = {
        f"{module}.{name}"
        for module, names in _unsupported().items()
        for name in names
        if name not in coverage.UNSUPPORTED_REASONS
    }
    assert missing == set()
    for name, why in coverage.UNSUPPORTED_REASONS.items():
        category, _, explanation = why.partition(": ")
        assert category in coverage.CATEGORIES, name
        assert explanation, name


def test_no_reason_is_stale() -> None:
    # A reason for a function tapegrad now serves (or NumPy no longer has) hides nothing.
    unsupported = {name for names in _unsupported().values() for name in names}
    assert set(coverage.UNSUPPORTED_REASONS) - unsupported == set()


def test_text_report_starts_with_the_counts_and_shows_reasons() -> None:
    text = _printed()
    first, second = text.splitlines()[:2]
    table = coverage.report()
    for line, module in ((first, "numpy"), (second, "numpy.linalg")):
        counts = coverage.counts(table[module])
        assert line.split()[0] == f"{module}:"
        assert f"{counts['differentiable']} differentiable" in line
        assert f"{counts['unsupported']} unsupported" in line
        assert sum(counts.values()) == len(table[module])
    assert f"loadtxt                      unsupported  ({coverage.reason('loadtxt')})" in text


def test_markdown_report_has_a_counts_table_and_a_reason_per_unsupported_name() -> None:
    page = _printed("--markdown")
    assert f"(NumPy {np.__version__})" in page
    assert "| module | differentiable | pass-through | unsupported |" in page
    for names in _unsupported().values():
        for name in names:
            assert f"| `{name}` | {coverage.reason(name)} |" in page


def test_differentiable_functions_are_most_of_numpy() -> None:
    counts = coverage.counts(coverage.report()["numpy"])
    assert counts["differentiable"] > 184  # the count before issue 16
