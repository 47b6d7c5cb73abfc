"""The docs are tested: every ```python block of README.md and docs/ runs, and the site
builds with warnings as errors.

A page's blocks run in order in one namespace (a page reads as one program), in a fresh
working directory. A ```text block right after a ```python block is that block's printed
output and must match it exactly. A block that must not run is preceded by the line
``<!-- doc-test: skip (why) -->``; `MAX_SKIPPED` keeps those few.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import tapegrad

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SKIP_MARK = "<!-- doc-test: skip"
MAX_SKIPPED = 3
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")


@dataclass
class Block:
    """One fenced code block of a page."""

    language: str
    code: str
    line: int  # 1-based line of the opening fence
    skipped: bool
    expected: str | None = None  # the ```text block that follows a ```python block


def _dedent(lines: list[str], indent: str) -> str:
    """A fenced block's text without the indentation of its fence (blocks in lists)."""
    return "\n".join(ln[len(indent) :] if ln.startswith(indent) else ln for ln in lines)


def parse_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown text, each ```text block attached as the
    expected output of a ```python block it directly follows."""
    lines = text.splitlines()
    blocks: list[Block] = []
    last_end: int | None = None  # the line after the previous block's closing fence
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        language = (match["info"].strip().split() or [""])[0]
        end = i + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        code = _dedent(lines[i + 1 : end], indent)
        previous = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        adjacent = last_end is not None and not any(ln.strip() for ln in lines[last_end:i])
        if language == "text" and adjacent and blocks and blocks[-1].language == "python":
            blocks[-1].expected = code
        else:
            blocks.append(Block(language, code, i + 1, previous.startswith(SKIP_MARK)))
        last_end = end + 1
        i = end + 1
    return blocks


def _normalized(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


def python_blocks(page: Path) -> list[Block]:
    return [b for b in parse_blocks(page.read_text()) if b.language == "python"]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_parser_reads_fences_outputs_and_skips() -> None:
    text = (
        "intro\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\n"
        "<!-- doc-test: skip (needs a GPU) -->\n```python\nraise SystemExit\n```\n\n"
        "1. item\n\n    ```python\n    x = 2\n    ```\n"
    )
    blocks = parse_blocks(text)
    assert [b.language for b in blocks] == ["python", "python", "python"]
    assert blocks[0].expected == "1"
    assert blocks[1].skipped
    assert blocks[2].code == "x = 2"
    assert blocks[2].expected is None


def test_few_blocks_are_skipped() -> None:
    blocks = [b for page in PAGES for b in python_blocks(page)]
    assert len(blocks) >= 30
    assert sum(b.skipped for b in blocks) <= MAX_SKIPPED


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=_page_id)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # As in a fresh process: layer and model names count from zero again.
    tapegrad.utils.clear_session()
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in python_blocks(page):
        if block.skipped:
            continue
        where = f"{_page_id(page)}:{block.line}"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block.code, where, "exec"), namespace)
        if block.expected is not None:
            assert _normalized(out.getvalue()) == _normalized(block.expected), where


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@pytest.mark.skipif(
    not (_has("mkdocs") and _has("material") and _has("mkdocstrings_handlers.python")),
    reason="the docs extra (mkdocs-material, mkdocstrings[python]) is not installed",
)
def test_site_builds_strict(tmp_path: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").exists()
    assert (site / "reference" / "numpy_coverage" / "index.html").exists()
