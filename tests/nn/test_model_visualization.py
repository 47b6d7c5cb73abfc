"""plot_model / model_to_dot drawn by Graphviz (either renderer), parsed back from the SVG."""

import shutil
import xml.etree.ElementTree as ET

import pytest

import tapegrad as tg
from tapegrad import utils
from tapegrad.utils import graphviz

SVG = "{http://www.w3.org/2000/svg}"
needs_renderer = pytest.mark.skipif(graphviz.available() is None, reason="no Graphviz")


def _nested_model():
    inner = tg.Sequential(
        [tg.Input((4,)), tg.layers.Dense(3, name="inner_a"), tg.layers.Dense(2, name="inner_b")],
        name="inner",
    )
    inputs = tg.Input(shape=(4,), name="x")
    frozen = tg.layers.Dense(2, name="frozen")
    frozen.trainable = False
    merged = tg.layers.Add(name="add")([inner(inputs), frozen(inputs)])
    return tg.Model(inputs, tg.layers.Dense(1, activation="sigmoid", name="head")(merged))


def _svg_graph(svg: bytes):
    """(node names, edge names, cluster titles, every drawn text) of a Graphviz SVG."""
    root = ET.fromstring(svg)
    found = {"node": [], "edge": [], "cluster": []}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") in found:
            found[group.get("class")].append(group.find(f"{SVG}title").text)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    return found["node"], found["edge"], found["cluster"], texts


@needs_renderer
@pytest.mark.parametrize("hide_dot", [False, True])
def test_plot_model_svg_has_every_layer_and_edge(tmp_path, monkeypatch, hide_dot):
    if hide_dot:
        if graphviz._pygraphviz() is None:
            pytest.skip("pygraphviz (the viz extra) is not installed")
        monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
        assert graphviz.available() == "pygraphviz"
    path = tmp_path / "model.svg"
    utils.plot_model(_nested_model(), to_file=path, show_shapes=True, show_trainable=True)
    nodes, edges, clusters, texts = _svg_graph(path.read_bytes())
    assert sorted(nodes) == ["add", "frozen", "head", "inner", "x"]
    expected = ["add->head", "frozen->add", "inner->add", "x->frozen", "x->inner"]
    assert sorted(edges) == expected
    assert clusters == []
    assert texts.count("Non-trainable") == 1
    assert texts.count("Trainable") == 2  # inner and head; layers without weights: none
    assert "Output shape: (None, 1)" in texts


@needs_renderer
def test_expand_nested_draws_a_cluster_with_its_layers(tmp_path):
    path = tmp_path / "model.svg"
    utils.plot_model(_nested_model(), to_file=path, expand_nested=True, show_layer_names=True)
    nodes, edges, clusters, texts = _svg_graph(path.read_bytes())
    assert {"inner/inner_a", "inner/inner_b", "head"} <= set(nodes)
    assert "inner" not in nodes
    assert not [n for n in nodes if n.startswith("inner/input")]  # as Keras: no InputLayer
    assert "x->inner/inner_a" in edges
    assert len(clusters) == 1
    assert "inner/inner_b->add" in edges
    assert "inner (Sequential)" in texts


@needs_renderer
def test_plot_model_png_and_html(tmp_path):
    png = tmp_path / "model.png"
    utils.plot_model(_nested_model(), to_file=png, dpi=30)
    assert png.read_bytes().startswith(b"\x89PNG")
    page = tmp_path / "model.html"
    utils.plot_model(_nested_model(), to_file=page, show_layer_activations=True)
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert "params: 10 (non-trainable)" in html  # the hover text: Dense(2) on 4 features
    assert "class: Dense" in html and "activation: sigmoid" in html


def test_sequential_has_no_input_box_as_in_keras():
    model = tg.Sequential(
        [tg.Input((4,)), tg.layers.Dense(3, name="a"), tg.layers.Dense(1, name="b")]
    )
    dot = utils.model_to_dot(model).to_string()
    assert "InputLayer" not in dot
    assert [line.strip() for line in dot.splitlines() if "->" in line] == ['"a" -> "b";']


def test_model_to_dot_follows_keras_arguments():
    model = _nested_model()
    dot = utils.model_to_dot(model, show_layer_activations=True).to_string()
    assert "Activation: <b>sigmoid</b>" in dot
    assert '"x" -> "inner"' in dot and '"add" -> "head"' in dot
    with pytest.raises(ValueError, match="layer_range"):
        utils.plot_model(model, to_file="unused.png", layer_range=["x", "head"])
    with pytest.raises(ValueError, match="unrecognized"):
        utils.model_to_dot(model, colour="red")


def test_subclassed_model_is_one_box():
    class Tiny(tg.Model):
        def __init__(self):
            super().__init__(name="tiny")
            self.dense = tg.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Tiny()
    with pytest.raises(ValueError, match="not built"):
        utils.model_to_dot(model)
    model(tg.ops.ones((1, 3)))
    dot = utils.model_to_dot(model).to_string()
    assert '"tiny" [label=<' in dot and "->" not in dot


def test_layer_names_are_escaped_in_labels():
    inputs = tg.Input((2,), name="in")
    out = tg.layers.Dense(1, name="a<b>&c")(inputs)
    dot = utils.model_to_dot(tg.Model(inputs, out)).to_string()
    assert "<b>a&lt;b&gt;&amp;c (Dense)</b>" in dot
    assert '"in" -> "a<b>&amp;c"' in dot
