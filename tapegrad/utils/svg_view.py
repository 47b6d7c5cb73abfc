"""One self-contained HTML page around a Graphviz SVG: hover a node to read its details.

The page inlines the SVG, its CSS and its script: it opens from disk with no network (no
CDN, no external URL). Hovering a node, edge or cluster shows its details in a side panel
(the text given for its DOT name, else its Graphviz tooltip, else its label); a click pins
them. The mouse wheel zooms around the pointer, dragging pans, and double-click resets.

Text from labels never becomes markup: the title is HTML-escaped, the details travel as
JSON with ``<``, ``>`` and ``&`` escaped, and the script writes them with ``textContent``.

Examples:
    >>> page = html_page('<svg xmlns="http://www.w3.org/2000/svg"></svg>', "a <graph>",
    ...                  {"n1": "rule: g * cos(x)"})
    >>> page.startswith("<!DOCTYPE html>")
    True
    >>> "a &lt;graph&gt;" in page and "g * cos(x)" in page
    True
"""

from __future__ import annotations

import html
import json
import re

# Graphviz's SVG starts with an XML prolog and a DOCTYPE, which inline SVG must not carry.
_PROLOG = re.compile(r"^\s*(<\?xml[^>]*\?>\s*)?(<!DOCTYPE[^>]*>\s*)?", re.IGNORECASE)
# Anything that could run code or fetch: a script element, an on* handler, a link target.
_UNSAFE = (
    re.compile(r"<script\b.*?</script\s*>", re.IGNORECASE | re.DOTALL),
    re.compile(r"\s on[a-z]+\s*=\s*(\"[^\"]*\"|'[^']*')", re.IGNORECASE | re.VERBOSE),
    re.compile(r"\s (xlink:)?href\s*=\s*(\"[^\"]*\"|'[^']*')", re.IGNORECASE | re.VERBOSE),
)

_STYLE = """
html, body { margin: 0; height: 100%; font-family: system-ui, sans-serif; }
body { display: flex; flex-direction: column; }
header { padding: 6px 12px; border-bottom: 1px solid #ccc; font-size: 15px; }
header small { color: #666; margin-left: 1em; }
main { flex: 1; display: flex; min-height: 0; }
#graph { flex: 1; overflow: hidden; cursor: grab; background: #fff; }
#graph svg { width: 100%; height: 100%; }
#graph g.node:hover, #graph g.edge:hover { opacity: 0.7; }
#graph g.pinned > * { stroke-width: 2.5; }
#panel { width: 32%; min-width: 240px; border-left: 1px solid #ccc; padding: 8px 12px;
         overflow: auto; background: #fafafa; }
#panel h2 { font-size: 14px; margin: 4px 0 8px; word-break: break-all; }
#details { white-space: pre-wrap; font: 12px/1.4 ui-monospace, monospace; margin: 0; }
"""

_SCRIPT = """
(function () {
  const details = JSON.parse(document.getElementById("details-data").textContent);
  const host = document.getElementById("graph");
  const svg = host.querySelector("svg");
  const heading = document.getElementById("heading");
  const body = document.getElementById("details");
  let pinned = null;
  function nameOf(g) {
    const t = g.querySelector(":scope > title");
    return t ? t.textContent : "";
  }
  function textOf(g) {
    const name = nameOf(g);
    if (Object.prototype.hasOwnProperty.call(details, name)) return details[name];
    const a = g.querySelector("a");
    const tip = a && (a.getAttribute("xlink:title") || a.getAttribute("title"));
    if (tip) return tip;
    return Array.from(g.querySelectorAll("text")).map(t => t.textContent).join("\\n");
  }
  function show(g) {
    heading.textContent = nameOf(g);
    body.textContent = textOf(g);
  }
  function target(event) {
    return event.target.closest ? event.target.closest("g.node, g.edge, g.cluster") : null;
  }
  host.addEventListener("mouseover", e => { const g = target(e); if (g && !pinned) show(g); });
  host.addEventListener("click", e => {
    const g = target(e);
    if (pinned) pinned.classList.remove("pinned");
    pinned = g && g !== pinned ? g : null;
    if (pinned) { pinned.classList.add("pinned"); show(pinned); }
  });
  if (!svg) return;
  const start = (svg.getAttribute("viewBox") || "0 0 100 100").split(/[ ,]+/).map(Number);
  let box = start.slice();
  svg.removeAttribute("width");
  svg.removeAttribute("height");
  function apply() { svg.setAttribute("viewBox", box.join(" ")); }
  function point(e) {
    const r = svg.getBoundingClientRect();
    return [box[0] + (e.clientX - r.left) / r.width * box[2],
            box[1] + (e.clientY - r.top) / r.height * box[3]];
  }
  host.addEventListener("wheel", e => {
    e.preventDefault();
    const [x, y] = point(e);
    const k = e.deltaY > 0 ? 1.15 : 1 / 1.15;
    box = [x - (x - box[0]) * k, y - (y - box[1]) * k, box[2] * k, box[3] * k];
    apply();
  }, { passive: false });
  let drag = null;
  host.addEventListener("mousedown", e => { drag = [e.clientX, e.clientY, box[0], box[1]]; });
  window.addEventListener("mouseup", () => { drag = null; });
  window.addEventListener("mousemove", e => {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    box[0] = drag[2] - (e.clientX - drag[0]) / r.width * box[2];
    box[1] = drag[3] - (e.clientY - drag[1]) / r.height * box[3];
    apply();
  });
  host.addEventListener("dblclick", () => { box = start.slice(); apply(); });
})();
"""


def html_page(svg: str, title: str, details: dict[str, str] | None = None) -> str:
    """A standalone HTML page showing ``svg`` with a details panel for hovered nodes.

    Args:
        svg: A Graphviz SVG document (``render(dot, "svg").decode()``); its XML prolog is
            dropped and anything that could run code or load a URL is removed.
        title: The page's title and heading (escaped).
        details: Text to show per node, keyed by the node's DOT name (the ``<title>`` of
            its SVG group); nodes without an entry show their tooltip or label.

    Returns:
        The HTML text (UTF-8), to write to a ``.html`` file.

    Examples:
        >>> page = html_page("<svg></svg>", "t", {"a": "</script><b>"})
        >>> "</script><b>" in page
        False
        >>> "\\\\u003c/script\\\\u003e\\\\u003cb\\\\u003e" in page
        True
    """
    body = _PROLOG.sub("", svg, count=1)
    for pattern in _UNSAFE:
        body = pattern.sub("", body)
    # JSON inside <script>: escaping <, > and & keeps "</script>" and "<!--" out of it.
    data = json.dumps(details or {}, ensure_ascii=False)
    data = data.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    heading = html.escape(title)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{heading}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header>{heading}<small>hover a node for its details; click pins; wheel zooms, "
        "drag pans, double-click resets</small></header>\n"
        f'<main>\n<div id="graph">\n{body}\n</div>\n'
        '<aside id="panel"><h2 id="heading">details</h2><pre id="details">'
        "Hover a node.</pre></aside>\n</main>\n"
        f'<script type="application/json" id="details-data">{data}</script>\n'
        f"<script>{_SCRIPT}</script>\n</body>\n</html>\n"
    )


__all__ = ["html_page"]
