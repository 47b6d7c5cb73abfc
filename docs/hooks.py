"""MkDocs hooks: pages and pictures generated from the code at build time.

Generated here rather than committed, so that the site never drifts from the code:

- ``reference/numpy_coverage.md``: ``python -m tapegrad.numpy.coverage --markdown``;
- ``keras_coverage.md``: its text is replaced by ``python -m tapegrad.keras_coverage
  --markdown --source snapshot`` (the committed copy serves readers of the repository);
- the ``explain`` pictures of the tutorial "How tapegrad computes your Lambda's gradient"
  (``tutorials/explain/*.svg``), drawn by `tapegrad.explain` from the tutorial's model.

MkDocs loads this file by path (``hooks:`` in ``mkdocs.yml``); it is not part of the site
(``exclude_docs``).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

NUMPY_COVERAGE = "reference/numpy_coverage.md"
KERAS_COVERAGE = "keras_coverage.md"


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


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    files.append(File.generated(config, NUMPY_COVERAGE, content=numpy_coverage_page()))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if page.file.src_uri == KERAS_COVERAGE:
        return keras_coverage_page()
    return markdown
