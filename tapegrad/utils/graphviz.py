"""Render DOT text with Graphviz, whichever one this machine has, and quote text for DOT.

Two renderers, tried in order: the system ``dot`` program when it is on ``PATH``, else
pygraphviz (``pip install "tapegrad[viz]"``: its wheel carries Graphviz's own libraries, so
no system package is needed). Graphviz lays the graph out either way; tapegrad never draws
its own layout. Without either, `render` raises an error that says how to get one, and the
DOT text itself (``.to_dot()``, ``plot_model(to_file="x.dot")``) still works.

Examples:
    >>> from tapegrad.utils import graphviz
    >>> print(graphviz.dot_quote('say "hi"'))
    "say \\"hi\\""
    >>> graphviz.html_label_escape("a<b & c")
    'a&lt;b &amp; c'
    >>> graphviz.available() in (None, "dot", "pygraphviz")
    True
"""

from __future__ import annotations

import shutil
import subprocess

# Formats every Graphviz build renders (cairo/gd ones in both renderers here).
FORMATS = ("svg", "png", "pdf", "jpg", "jpeg", "gif", "ps")

INSTALL_HINT = (
    'install the optional renderer with  pip install "tapegrad[viz]"  (pygraphviz, a wheel '
    "that carries Graphviz; no system package needed), or the system Graphviz package "
    "(apt-get install graphviz, brew install graphviz, conda install graphviz); the DOT text "
    "(a '.dot' file) needs neither"
)


class GraphvizNotFoundError(RuntimeError):
    """Neither the ``dot`` program nor pygraphviz is installed."""


def available() -> str | None:
    """Which renderer `render` would use: ``"dot"``, ``"pygraphviz"``, or None.

    Returns:
        ``"dot"`` when the Graphviz program is on ``PATH``, else ``"pygraphviz"`` when that
        package imports, else None.

    Examples:
        >>> available() in (None, "dot", "pygraphviz")
        True
    """
    if shutil.which("dot") is not None:
        return "dot"
    if _pygraphviz() is not None:
        return "pygraphviz"
    return None


def render(dot_source: str, fmt: str = "svg", dpi: float | None = None) -> bytes:
    """Lay out and draw ``dot_source`` with Graphviz's ``dot`` layout.

    Args:
        dot_source: A graph in the DOT language.
        fmt: The image format: one of `FORMATS` (``"svg"``, ``"png"``, ``"pdf"``, ...).
        dpi: Resolution of raster images (Graphviz's ``dpi`` graph attribute); None keeps
            the graph's own.

    Returns:
        The image file's bytes.

    Raises:
        ValueError: An unknown format, or DOT text Graphviz cannot read (its message).
        GraphvizNotFoundError: No renderer is installed (the message says how to get one).

    Examples:
        >>> svg = render("digraph { a -> b }", "svg")
        >>> b"<svg" in svg
        True
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"graphviz.render: unknown format {fmt!r}; use one of {list(FORMATS)}")
    which = available()
    if which == "dot":
        return _render_with_program(dot_source, fmt, dpi)
    if which == "pygraphviz":
        return _render_with_pygraphviz(dot_source, fmt, dpi)
    raise GraphvizNotFoundError(f"graphviz.render: no Graphviz renderer found; {INSTALL_HINT}")


def dot_quote(text: object) -> str:
    """``text`` as a double-quoted DOT string (an id or a plain label), safe to embed.

    Backslashes and quotes are escaped, so user text cannot end the string or start a
    Graphviz escape (``\\N``, ``\\l``); ``&`` becomes ``&amp;`` because Graphviz reads
    entities in strings (the drawn text and the SVG ``<title>`` show ``&`` again);
    newlines become DOT's line break; other control characters are dropped.

    Args:
        text: Any object; its ``str`` is quoted.

    Returns:
        The quoted string, quotes included.

    Examples:
        >>> print(dot_quote('a "b" \\\\ c'))
        "a \\"b\\" \\\\ c"
        >>> print(dot_quote("two\\nlines"))
        "two\\nlines"
    """
    value = str(text).replace("\r\n", "\n").replace("\\", "\\\\").replace('"', '\\"')
    value = value.replace("&", "&amp;")
    value = value.replace("\n", "\\n")
    return '"' + "".join(c for c in value if c >= " " or c == "\t") + '"'


def html_label_escape(text: object) -> str:
    """``text`` escaped for a Graphviz HTML-like label (``label=<...>``).

    ``&``, ``<``, ``>`` and quotes become entities so user text cannot open a tag or end
    the label; backslashes are doubled (Graphviz expands ``\\N`` even here); newlines become
    ``<br/>``; other control characters are dropped.

    Args:
        text: Any object; its ``str`` is escaped.

    Returns:
        The escaped text (no surrounding ``<>``).

    Examples:
        >>> html_label_escape('<b>"x" & y</b>')
        '&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;'
        >>> html_label_escape("a\\nb")
        'a<br/>b'
    """
    value = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = value.replace('"', "&quot;").replace("'", "&#39;").replace("\\", "\\\\")
    value = value.replace("\r\n", "\n")
    kept = "".join(c for c in value if c >= " " or c in "\n\t")
    return kept.replace("\n", "<br/>")


def _pygraphviz() -> object | None:
    try:
        import pygraphviz  # type: ignore[import-untyped]
    except ImportError:
        return None
    return pygraphviz


def _render_with_program(dot_source: str, fmt: str, dpi: float | None) -> bytes:
    program = shutil.which("dot")
    if program is None:  # removed since available() looked
        raise GraphvizNotFoundError(f"graphviz.render: 'dot' is gone from PATH; {INSTALL_HINT}")
    command = [program, f"-T{fmt}"] + ([f"-Gdpi={dpi:g}"] if dpi else [])
    done = subprocess.run(  # noqa: S603 (a fixed program; the DOT text goes on stdin)
        command, input=dot_source.encode("utf-8"), capture_output=True, check=False
    )
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", errors="replace").strip()[:500]
        raise ValueError(f"graphviz.render: Graphviz's dot failed: {message}")
    return done.stdout


def _render_with_pygraphviz(dot_source: str, fmt: str, dpi: float | None) -> bytes:
    module = _pygraphviz()
    try:
        graph = module.AGraph(string=dot_source)  # type: ignore[attr-defined]
        if dpi:
            graph.graph_attr["dpi"] = f"{dpi:g}"
        data = graph.draw(format=fmt, prog="dot")
    except Exception as error:  # pygraphviz raises DotError/ValueError/TypeError by case
        raise ValueError(f"graphviz.render: pygraphviz failed: {error}") from error
    return bytes(data)


__all__ = [
    "FORMATS",
    "GraphvizNotFoundError",
    "available",
    "dot_quote",
    "html_label_escape",
    "render",
]
