"""MkDocs hooks: pages and pictures generated from the code at build time.

Generated here rather than committed, so that the site never drifts from the code:

- ``reference/numpy_coverage.md``: ``python -m tapegrad.numpy.coverage --markdown``;
- ``keras_coverage.md``: its text is replaced by ``python -m tapegrad.keras_coverage
  --markdown --source snapshot`` (the committed copy serves readers of the repository);
- the pictures of the pages in `PICTURE_PAGES` (the ``tapegrad.explain`` drawings of "How
  tapegrad computes your Lambda's gradient", ``plot_model``/``plot_history`` in the Keras
  tutorial): the hook runs the page's own code blocks, and what they save lands beside
  the page, so a picture is always what the code above it draws.

MkDocs loads this file by path (``hooks:`` in ``mkdocs.yml``); it is not part of the site
(``exclude_docs``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NUMPY_COVERAGE = "reference/numpy_coverage.md"
KERAS_COVERAGE = "keras_coverage.md"
#: Pages whose code blocks run at build time; the pictures (and HTML pages) they write
#: become files of the site beside the page.
PICTURE_PAGES = ("tutorials/keras_models.md", "tutorials/lambda_gradient.md")
PICTURE_SUFFIXES = (".svg", ".html")


SKIP_MARK = "<!-- doc-test: skip"
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


def run_blocks(blocks: list[Block], where: str) -> list[tuple[Block, str]]:
    """Run a page's ```python blocks in order in one namespace, in the current directory,
    as a fresh process would (layer names count from zero); return what each printed.

    Args:
        blocks: The page's blocks (`parse_blocks`); other languages and skipped blocks
            are left out.
        where: The page's path, for tracebacks (``page.md:LINE``).

    Returns:
        ``(block, printed output)`` for each block that ran, in order.
    """
    import tapegrad

    tapegrad.utils.clear_session()
    namespace: dict[str, Any] = {"__name__": "__docs__"}
    printed: list[tuple[Block, str]] = []
    for block in blocks:
        if block.language != "python" or block.skipped:
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(block.code, f"{where}:{block.line}", "exec"), namespace)
        printed.append((block, out.getvalue()))
    return printed


def _printed(main: Any, argv: list[str]) -> str:
    """What a coverage module's ``main(argv)`` prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(argv)
    if status:
        raise RuntimeError(f"{main.__module__}.main({argv}) returned {status}")
    return out.getvalue()


def numpy_coverage_page() -> str:
    """The NumPy coverage report as a Markdown page."""
    from tapegrad.numpy import coverage

    return _printed(coverage.main, ["--markdown"])


def keras_coverage_page() -> str:
    """The Keras 3 coverage report as a Markdown page (from the committed snapshot of
    Keras's names, so that the site is the same with or without Keras installed)."""
    from tapegrad import keras_coverage

    return _printed(keras_coverage.main, ["--markdown", "--source", "snapshot"])


def page_pictures(docs_dir: str, page: str) -> dict[str, bytes]:
    """Run a page's code in a scratch directory; return the pictures and HTML pages it
    wrote, keyed by their site path beside the page (``tutorials/name.svg``)."""
    source = Path(docs_dir, page)
    blocks = parse_blocks(source.read_text())
    folder = os.path.dirname(page)
    pictures = {}
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)  # (contextlib.chdir needs Python 3.11)
        try:
            run_blocks(blocks, f"docs/{page}")
        finally:
            os.chdir(here)
        for name in sorted(os.listdir(scratch)):
            if name.endswith(PICTURE_SUFFIXES):
                pictures[os.path.join(folder, name)] = Path(scratch, name).read_bytes()
    return pictures


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, NUMPY_COVERAGE, content=numpy_coverage_page()))
    for page in PICTURE_PAGES:
        for path, data in page_pictures(config["docs_dir"], page).items():
            files.append(File.generated(config, path, content=data))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri == KERAS_COVERAGE:
        return keras_coverage_page()
    return markdown
