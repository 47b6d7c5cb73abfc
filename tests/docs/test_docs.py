"""The docs are tested: every ```python block of README.md and docs/ runs, and the site
builds with warnings as errors.

A page's blocks run in order in one namespace (a page reads as one program), in a fresh
working directory. A ```text block right after a ```python block is that block's printed
output and must match it exactly. A block that must not run is preceded by the line
``<!-- doc-test: skip (why) -->``; `MAX_SKIPPED` keeps those few.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
MAX_SKIPPED = 3


def _load_hooks() -> types.ModuleType:
    """docs/hooks.py (not a package module: MkDocs loads it by path, and so do we)."""
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # (its dataclass looks its module up there)
    spec.loader.exec_module(module)
    return module


hooks = _load_hooks()


def _normalized(output: str) -> str:
    return "\n".join(line.rstrip() for line in output.strip("\n").splitlines())


def python_blocks(page: Path) -> list[Any]:
    return [b for b in hooks.parse_blocks(page.read_text()) if b.language == "python"]


def _page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def test_parser_reads_fences_outputs_and_skips() -> None:
    text = (
        "intro\n\n```python\nprint(1)\n```\n\n```text\n1\n```\n\n"
        "<!-- doc-test: skip (needs a GPU) -->\n```python\nraise SystemExit\n```\n\n"
        "1. item\n\n    ```python\n    x = 2\n    print(x)\n    ```\n"
    )
    blocks = hooks.parse_blocks(text)
    assert [b.language for b in blocks] == ["python", "python", "python"]
    assert blocks[0].expected == "1"
    assert blocks[1].skipped
    assert blocks[2].code == "x = 2\nprint(x)"
    assert blocks[2].expected is None
    ran = hooks.run_blocks(blocks, "example.md")
    assert [(block.line, printed) for block, printed in ran] == [(3, "1\n"), (18, "2\n")]


def test_few_blocks_are_skipped() -> None:
    blocks = [b for page in PAGES for b in python_blocks(page)]
    assert len(blocks) >= 30
    assert sum(b.skipped for b in blocks) <= MAX_SKIPPED


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _can_draw() -> bool:
    from tapegrad.utils import graphviz

    return graphviz.available() is not None and _has("matplotlib")


@pytest.mark.parametrize("page", [p for p in PAGES if python_blocks(p)], ids=_page_id)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if _page_id(page).removeprefix("docs/") in hooks.PICTURE_PAGES and not _can_draw():
        pytest.skip("drawing needs Graphviz (dot or the viz extra) and matplotlib")
    monkeypatch.chdir(tmp_path)
    blocks = hooks.parse_blocks(page.read_text())
    for block, printed in hooks.run_blocks(blocks, _page_id(page)):
        if block.expected is not None:
            where = f"{_page_id(page)}:{block.line}"
            assert _normalized(printed) == _normalized(block.expected), where


@pytest.mark.skipif(
    not (_has("mkdocs") and _has("material") and _has("mkdocstrings_handlers.python")),
    reason="the docs extra (mkdocs-material, mkdocstrings[python]) is not installed",
)
@pytest.mark.skipif(not _can_draw(), reason="the site's pictures need Graphviz and matplotlib")
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
