"""`Explanation.to_dot`, the drawings Graphviz makes of it, `save` by extension, notebooks."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.utils import graphviz

HAS_RENDERER = graphviz.available() is not None
needs_renderer = pytest.mark.skipif(not HAS_RENDERER, reason="no Graphviz renderer installed")
SVG = "{http://www.w3.org/2000/svg}"


def sin_times(x, y):
    return tnp.sin(x) * y


def _explanation() -> tg.explain.Explanation:
    return tg.explain(sin_times, np.array([0.0, 1.0]), np.array([2.0, 3.0]))


SIN_TIMES_DOT = r"""digraph explanation {
  graph [rankdir="TB", label="explain sin_times", labelloc="t", fontname="Helvetica", fontsize="12", compound="true", newrank="true"];
  node [shape="box", style="rounded,filled", fontname="Helvetica", fontsize="10"];
  edge [fontname="Helvetica", fontsize="9", arrowsize="0.7"];
  v0 [label="x0\nf64[2]", shape="ellipse", fillcolor="#eeeeee", tooltip="x0: f64[2]\ninput"];
  v1 [label="x1\nf64[2]", shape="ellipse", fillcolor="#eeeeee", tooltip="x1: f64[2]\ninput"];
  subgraph cluster_forward {
    graph [label="forward", color="#4a7ab5", style="rounded"];
    n0 [label="sin\nt0 f64[2]", fillcolor="#dbe9f6", tooltip="t0:f64[2] = sin x0\n@WHERE@\nvalue f64[2]: min 0 max 0.8415 mean 0.4207"];
    n1 [label="multiply\nt1 f64[2]", fillcolor="#dbe9f6", tooltip="t1:f64[2] = multiply t0 x1\n@WHERE@\nvalue f64[2]: min 0 max 2.524 mean 1.262"];
  }
  subgraph cluster_backward {
    graph [label="backward", color="#c0662d", style="rounded"];
    v4 [label="g = 1\nf64[2]", shape="ellipse", fillcolor="white", tooltip="g: f64[2]\nseed (the starting cotangent: ones)"];
    n2 [label="multiply\nt2 f64[2]\ng * y\nd t1/d t0", fillcolor="#fde2cf", tooltip="t2:f64[2] = multiply g x1\nd t1/d t0: multiply rule: g * y\nrule at tapegrad/core/prims/elementwise.py:51\nmultiply_p.defvjp(lambda g, ans, x, y: g * y, lambda g, ans, x, y: g * x)\nvalue f64[2]: min 2 max 3 mean 2.5"];
    n3 [label="cos\nt3 f64[2]\ng * cos_p(x)\nd t0/d x0", fillcolor="#fde2cf", tooltip="t3:f64[2] = cos x0\nd t0/d x0: sin rule: g * cos_p(x)\nrule at tapegrad/core/prims/elementwise.py:@SIN_RULE@\nsin_p.defvjp(lambda g, ans, x: g * cos_p(x))\nvalue f64[2]: min 0.5403 max 1 mean 0.7702"];
    n4 [label="multiply\nt4 f64[2]\ng * cos_p(x)\nd t0/d x0", fillcolor="#fde2cf", tooltip="t4:f64[2] = multiply t2 t3\nd t0/d x0: sin rule: g * cos_p(x)\nrule at tapegrad/core/prims/elementwise.py:@SIN_RULE@\nsin_p.defvjp(lambda g, ans, x: g * cos_p(x))\nvalue f64[2]: min 1.621 max 2 mean 1.81"];
  }
  v0 -> n0;
  n0 -> n1;
  v1 -> n1;
  v4 -> n2;
  v1 -> n2 [style="dashed", color="#8c8c8c", constraint="false", tooltip="kept for the backward pass"];
  v0 -> n3 [style="dashed", color="#8c8c8c", constraint="false", tooltip="kept for the backward pass"];
  n2 -> n4;
  n3 -> n4;
  n1 -> v4 [style="dotted", arrowhead="none", tooltip="the gradient starts here: ones"];
  grad0 [label="d/d x0", shape="box", style="bold", tooltip="gradient of x0 = t4\nvalue: min 1.621 max 2 mean 1.81"];
  n4 -> grad0;
}
"""  # noqa: E501


def test_sin_times_y_golden_dot() -> None:
    where = f"test_explain_dot.py:{sin_times.__code__.co_firstlineno + 1} in sin_times"
    # (The rule's line moves as the table grows.)
    sin_rule = str(tg.core.prims.sin_p.vjp_rules[0].__code__.co_firstlineno)
    expected = SIN_TIMES_DOT.replace("@WHERE@", where).replace("@SIN_RULE@", sin_rule)
    assert _explanation().to_dot() == expected


def test_layers_become_nested_clusters() -> None:
    layers = tg.layers
    model = tg.Sequential(
        [tg.Input((3,)), layers.Lambda(lambda t: tnp.exp(t) * 2.0, name="lam_dot")],
        name="seq_dot",
    )
    dot = tg.explain(lambda x: tnp.sum(model(x)), np.ones((2, 3), np.float32)).to_dot()
    assert re.search(r'subgraph cluster_layer1 \{\n\s+graph \[label="seq_dot"', dot)
    assert re.search(r'subgraph cluster_layer2 \{\n\s+graph \[label="lam_dot"', dot)
    inner = dot.split('label="lam_dot"')[1].split("}")[0]
    assert 'label="exp' in inner
    assert 'label="multiply' in inner
    with pytest.raises(ValueError, match="rankdir"):
        _explanation().to_dot(rankdir="up")


def _svg_nodes(svg: bytes) -> dict[str, list[str]]:
    """DOT node name -> the lines of text Graphviz drew in it."""
    root = ET.fromstring(svg)
    nodes = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") != "node":
            continue
        title = group.find(f"{SVG}title")
        assert title is not None
        nodes[title.text or ""] = [t.text or "" for t in group.iter(f"{SVG}text")]
    return nodes


@needs_renderer
def test_svg_has_a_node_per_op_and_each_backward_node_shows_its_rule() -> None:
    def f(x, w):
        return tnp.sum(tnp.where(x > 0, tnp.sqrt(x), 0.0) * w)

    e = tg.explain(f, np.array([0.0, 4.0, 1.0]), np.array([1.0, 2.0, 3.0]), argnums=(0, 1))
    nodes = _svg_nodes(graphviz.render(e.to_dot(), "svg"))
    op_nodes = {name for name in nodes if re.fullmatch(r"n\d+", name)}
    assert op_nodes == {f"n{s.index}" for s in e.steps}
    for step in e.backward:
        drawn = nodes[f"n{step.index}"]
        assert step.rule is not None
        assert drawn[0] == step.node.primitive
        assert step.rule.text[:37] in drawn[2], (step, drawn)


@needs_renderer
@pytest.mark.parametrize(
    "extension, magic", [(".svg", b"<svg"), (".png", b"\x89PNG"), (".pdf", b"%PDF")]
)
def test_save_draws_by_extension(tmp_path, extension: str, magic: bytes) -> None:
    path = _explanation().save(tmp_path / f"grad{extension}", dpi=40)
    assert magic in open(path, "rb").read()[:400]


def test_save_text_and_dot_need_no_renderer(tmp_path, monkeypatch) -> None:
    e = _explanation()
    _no_renderer(monkeypatch)
    assert open(e.save(tmp_path / "g.txt"), encoding="utf-8").read() == e.text() + "\n"
    assert open(e.save(tmp_path / "g.DOT"), encoding="utf-8").read() == e.to_dot()
    with pytest.raises(graphviz.GraphvizNotFoundError, match=r'pip install "tapegrad\[viz\]"'):
        e.save(tmp_path / "g.svg")
    with pytest.raises(graphviz.GraphvizNotFoundError, match=r"\.to_dot\(\) and \.text\(\)"):
        e.save(tmp_path / "g.html")
    with pytest.raises(ValueError, match="unknown extension '.jpgx'"):
        e.save(tmp_path / "g.jpgx")
    # A notebook without Graphviz shows the listing.
    assert e._repr_svg_() is None
    assert e._repr_html_().startswith("<pre>explain sin_times")


def _no_renderer(monkeypatch) -> None:
    import shutil

    real_which = shutil.which
    monkeypatch.setattr(
        shutil, "which", lambda name, *a, **k: None if name == "dot" else real_which(name, *a, **k)
    )
    monkeypatch.setattr(graphviz, "_pygraphviz", lambda: None)
    assert graphviz.available() is None


@needs_renderer
def test_html_page_is_self_contained_and_hover_shows_rule_shapes_and_values(tmp_path) -> None:
    e = _explanation()
    page = open(e.save(tmp_path / "g.html"), encoding="utf-8").read()
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert "http://" not in page.split("<svg", 1)[0]
    assert "<script src" not in page
    data = page.split('id="details-data">', 1)[1].split("</script>", 1)[0]
    details = json.loads(data)
    assert "d t0/d x0: sin rule: g * cos_p(x)" in details["n3"]
    assert "value f64[2]: min 0.5403 max 1 mean 0.7702" in details["n3"]
    assert details["grad0"].startswith("gradient of x0 = t4")
    assert e._repr_html_().startswith('<div class="tapegrad-explain"><svg')
    svg = e._repr_svg_()
    assert svg is not None
    assert "<svg" in svg


def test_large_graphs_draw_kept_values_as_reference_nodes() -> None:
    e = _explanation()
    dot = e.to_dot(residual_edges=False)
    # x1 is read by t2 (n2) and x0 by t3 (n3): a dashed "(kept)" node beside each reader.
    assert 'kept1_2 [label="x1\\n(kept)", style="dashed,rounded"' in dot
    assert 'kept0_3 [label="x0\\n(kept)", style="dashed,rounded"' in dot
    assert '  kept1_2 -> n2 [style="dashed"];' in dot
    assert "v1 -> n2" not in dot
    assert dot.index("kept0_3 [") < dot.index("  v0 -> n0;")  # declared inside the cluster
    assert e.to_dot() == e.to_dot(residual_edges=True)
