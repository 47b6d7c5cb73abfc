"""tapegrad.utils.graphviz (both renderers, quoting) and tapegrad.utils.svg_view (the page)."""

import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from tapegrad.utils import graphviz, svg_view

HAS_DOT = shutil.which("dot") is not None
try:
    import pygraphviz  # noqa: F401

    HAS_PYGRAPHVIZ = True
except ImportError:
    HAS_PYGRAPHVIZ = False

SVG_NS = "{http://www.w3.org/2000/svg}"
HOSTILE = 'x" -> evil [label="pwned"]; "\\N <b>&amp;</b>\nline2 </script>'


def _graph(label: str) -> str:
    return (
        "digraph G {\n"
        f"  a [label={graphviz.dot_quote(label)}, tooltip={graphviz.dot_quote('tip: ' + label)}];\n"
        f"  b [label=<<b>{graphviz.html_label_escape(label)}</b>>];\n"
        "  a -> b;\n}\n"
    )


def _svg_nodes(svg: bytes) -> dict[str, list[str]]:
    """Node name -> the texts drawn in it."""
    root = ET.fromstring(svg)
    nodes = {}
    for group in root.iter(f"{SVG_NS}g"):
        if group.get("class") == "node":
            title = group.find(f"{SVG_NS}title").text
            nodes[title] = ["".join(t.itertext()) for t in group.iter(f"{SVG_NS}text")]
    return nodes


def _hide_dot(monkeypatch):
    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, *a, **k: None if name == "dot" else real_which(name, *a, **k)
    )


@pytest.fixture(params=["dot", "pygraphviz"])
def renderer(request, monkeypatch):
    if request.param == "dot" and not HAS_DOT:
        pytest.skip("the Graphviz program 'dot' is not on PATH")
    if request.param == "pygraphviz":
        if not HAS_PYGRAPHVIZ:
            pytest.skip("pygraphviz (the viz extra) is not installed")
        _hide_dot(monkeypatch)
    assert graphviz.available() == request.param
    return request.param


@pytest.mark.parametrize("fmt, magic", [("svg", b"<svg"), ("png", b"\x89PNG"), ("pdf", b"%PDF")])
def test_render_draws_each_format(renderer, fmt, magic):
    data = graphviz.render("digraph { a -> b }", fmt, dpi=40)
    assert magic in data[:400]


def test_render_keeps_hostile_labels_as_text(renderer):
    nodes = _svg_nodes(graphviz.render(_graph(HOSTILE), "svg"))
    assert sorted(nodes) == ["a", "b"]  # no node "evil" was injected
    assert nodes["a"] == ['x" -> evil [label="pwned"]; "\\N <b>&amp;</b>', "line2 </script>"]
    assert nodes["b"] == nodes["a"]


def test_render_reports_bad_dot_and_formats(renderer):
    with pytest.raises(ValueError, match="render"):
        graphviz.render("digraph { a -> ", "svg")
    with pytest.raises(ValueError, match="unknown format"):
        graphviz.render("digraph { a }", "bmpx")


def test_render_without_any_renderer_says_how_to_get_one(monkeypatch):
    _hide_dot(monkeypatch)
    monkeypatch.setattr(graphviz, "_pygraphviz", lambda: None)
    assert graphviz.available() is None
    with pytest.raises(graphviz.GraphvizNotFoundError, match=r"tapegrad\[viz\]"):
        graphviz.render("digraph { a }", "svg")
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        graphviz.render("digraph { a }", "png")


def test_quoting_escapes_what_could_break_out():
    assert graphviz.dot_quote('a"b') == '"a\\"b"'
    assert graphviz.dot_quote("a\\N") == '"a\\\\N"'
    assert graphviz.dot_quote("a\nb\x00") == '"a\\nb"'
    assert graphviz.html_label_escape("<&>\"'") == "&lt;&amp;&gt;&quot;&#39;"
    assert graphviz.html_label_escape("a\r\nb") == "a<br/>b"


class _Page(HTMLParser):
    """Collects tags, attributes, node titles and the script data of a page."""

    def __init__(self):
        super().__init__()
        self.tags, self.attributes, self.titles, self.scripts = [], [], [], []
        self._stack = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)
        self._stack.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if not self._stack:
            return
        tag, attrs = self._stack[-1]
        if tag == "title" and len(self._stack) > 1 and self._stack[-2][1].get("class") == "node":
            self.titles.append(data)
        if tag == "script":
            self.scripts.append((attrs.get("id"), data))


@pytest.mark.skipif(graphviz.available() is None, reason="no Graphviz renderer installed")
def test_html_page_is_self_contained_with_hover_details():
    import json

    svg = graphviz.render(_graph(HOSTILE), "svg").decode()
    page = svg_view.html_page(svg, "grad of <f>", {"a": "rule: g * cos(x)\n" + HOSTILE})
    parser = _Page()
    parser.feed(page)
    assert parser.tags.count("svg") == 1
    assert sorted(parser.titles) == ["a", "b"]
    assert ("id", "details") in parser.attributes
    # No attribute loads anything: no src/href at all, no URL but the SVG namespaces.
    names = {name for name, _ in parser.attributes}
    assert not names & {"src", "href", "xlink:href", "onload", "onclick"}
    assert "<link" not in page
    assert page.count("http") == page.count("http://www.w3.org/")
    assert "<title>grad of &lt;f&gt;</title>" in page
    data = dict(parser.scripts)["details-data"]
    assert json.loads(data) == {"a": "rule: g * cos(x)\n" + HOSTILE}
    assert "</script" not in data
    assert "tip: x" in page  # Graphviz's own tooltip, the panel's fallback


def test_html_page_strips_code_and_links_from_the_svg():
    svg = (
        '<?xml version="1.0"?>\n<!DOCTYPE svg>\n<svg viewBox="0 0 1 1" onload="alert(1)">'
        '<script>alert(2)</script><a xlink:href="https://x.invalid/">'
        "<text>t</text></a></svg>"
    )
    page = svg_view.html_page(svg, "t")
    assert "alert" not in page and "x.invalid" not in page and "<?xml" not in page
    assert '<svg viewBox="0 0 1 1">' in page


def test_headless_browser_shows_the_page(tmp_path):
    browser = next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )
    if browser is None or graphviz.available() is None:
        pytest.skip("no headless browser installed (chromium / google-chrome)")
    import subprocess

    page = tmp_path / "page.html"
    svg = graphviz.render(_graph("hello"), "svg").decode()
    page.write_text(svg_view.html_page(svg, "t", {"a": "rule: g * cos(x)"}), encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            f"--screenshot={shot}",
            "--window-size=800,600",
            page.as_uri(),
        ],
        capture_output=True,
        timeout=60,
        check=False,
    )
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert len(set(data[100:])) > 16  # not one flat colour
    dom = subprocess.run(
        [browser, "--headless", "--disable-gpu", "--no-sandbox", "--dump-dom", page.as_uri()],
        capture_output=True,
        timeout=60,
        check=False,
        text=True,
    ).stdout
    assert "rule: g * cos(x)" in dom


def test_page_script_parses_where_node_is_installed(tmp_path):
    import re
    import subprocess

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (only used to syntax-check the page's script)")
    page = svg_view.html_page('<svg viewBox="0 0 1 1"></svg>', "t", {"a": "b"})
    scripts = re.findall(r"<script>(.*?)</script>", page, re.DOTALL)
    assert len(scripts) == 1
    path = tmp_path / "page.js"
    path.write_text(scripts[0], encoding="utf-8")
    done = subprocess.run([node, "--check", str(path)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
