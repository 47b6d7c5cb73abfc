"""Writing an explanation: files by extension, and notebook display.

``.txt`` and ``.dot`` are text and need nothing. ``.svg``, ``.png``, ``.pdf`` are drawn
by Graphviz (`tapegrad.utils.graphviz.render`: the ``dot`` program, else the pygraphviz
wheel of the ``viz`` extra) and ``.html`` is one self-contained page around the SVG
(`tapegrad.utils.svg_view.html_page`: inline SVG, hover a node for its rule, shapes and
values; no network).
"""

from __future__ import annotations

import html
import os

from tapegrad.explain.explanation import Explanation
from tapegrad.utils import graphviz
from tapegrad.utils.svg_view import html_page

#: The extensions `Explanation.save` understands.
EXTENSIONS = (".svg", ".png", ".pdf", ".html", ".dot", ".txt")


def save_explanation(
    explanation: Explanation, path: str | os.PathLike[str], dpi: float | None = None
) -> str:
    """See `Explanation.save`."""
    target = os.fspath(path)
    extension = os.path.splitext(target)[1].lower()
    if extension not in EXTENSIONS:
        raise ValueError(
            f"Explanation.save({target!r}): unknown extension {extension or '(none)'!r}; "
            f"use one of {', '.join(EXTENSIONS)}"
        )
    if extension == ".txt":
        _write(target, (explanation.text() + "\n").encode("utf-8"))
    elif extension == ".dot":
        _write(target, explanation.to_dot().encode("utf-8"))
    elif extension == ".html":
        _write(target, page(explanation).encode("utf-8"))
    else:
        _write(target, _render(explanation, extension[1:], dpi))
    return target


def page(explanation: Explanation) -> str:
    """The self-contained HTML page (needs a Graphviz renderer)."""
    svg = _render(explanation, "svg", None).decode("utf-8")
    return html_page(svg, f"explain {explanation.title}", explanation.node_details())


def svg_or_none(explanation: Explanation) -> str | None:
    """The SVG drawing, or None without a Graphviz renderer (notebooks then show text)."""
    if graphviz.available() is None:
        return None
    return _render(explanation, "svg", None).decode("utf-8")


def notebook_html(explanation: Explanation) -> str:
    """Inline SVG for a notebook (hover shows tooltips), else the listing as text."""
    svg = svg_or_none(explanation)
    if svg is None:
        return f"<pre>{html.escape(explanation.text())}</pre>"
    start = svg.find("<svg")
    return f'<div class="tapegrad-explain">{svg[start:] if start >= 0 else svg}</div>'


def _render(explanation: Explanation, fmt: str, dpi: float | None) -> bytes:
    # A notebook asks for the SVG and the HTML of one explanation: lay it out once.
    cached = explanation.drawings.get((fmt, dpi))
    if cached is not None:
        return cached
    try:
        drawn = graphviz.render(explanation.to_dot(), fmt, dpi)
    except graphviz.GraphvizNotFoundError:
        raise graphviz.GraphvizNotFoundError(
            f"Explanation.save: drawing a .{fmt} needs Graphviz; {graphviz.INSTALL_HINT}. "
            "Without it, .to_dot() and .text() (and saving .dot or .txt) still work."
        ) from None
    explanation.drawings[(fmt, dpi)] = drawn
    return drawn


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)


__all__ = ["EXTENSIONS", "notebook_html", "page", "save_explanation", "svg_or_none"]
