"""Nothing from a graph document or an archive runs as code.

User primitives taking ``**kwargs`` accept any param name, so a crafted file tries to
reach generated code through param names, param values, primitive names, value ids,
dtypes, shapes, constants, literals and input names — as a graph document and as a
model archive loaded by `load_model` and run by `predict` (compiled). Each attempt is
refused when the file is read, or runs without side effect and without its text in the
generated source. Also: node arity and params against the primitive's signature, nodes
the saver never writes, and linecache entries of compiled graphs.
"""

from __future__ import annotations

import gc
import inspect
import io
import json
import linecache
import zipfile
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.core.primitive import PRIMITIVES
from tapegrad.graph import (
    Graph,
    Literal,
    Node,
    codegen,
    evaluate,
    graph_from_dict,
    graph_to_dict,
    trace,
)
from tapegrad.graph.codegen import compile_graph
from tapegrad.graph.ir import Input
from tapegrad.graph.signatures import is_param_name
from tapegrad.graph.source_text import check_source
from tapegrad.nn import layers

X = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
RECEIVED: list[dict[str, Any]] = []


@tg.primitive
def scale_by(x, **options):
    """A user primitive taking any keyword: the attacker's way in."""
    RECEIVED.append(dict(options))
    factor = options.get("factor", 1.0)
    return x * (factor if isinstance(factor, float) else 1.0)


tg.defvjp(scale_by, lambda ans, x, **options: lambda g: g)


@tg.primitive
def shifted(x, shift=0.0):
    """A user primitive with a declared param only."""
    return x + shift


def _code(marker) -> str:
    return f"__import__('pathlib').Path({str(marker)!r}).touch()"


def _key_payload(marker) -> str:
    """The issue's payload: closes the call, runs a statement, comments the rest out."""
    return f"factor=2.0, **{{}})\n    {_code(marker)}\n    #"


def _value_payloads(marker) -> list[str]:
    code = _code(marker)
    return [
        f"'); {code}; ('",
        f'"""\n{code}\n"""',
        f"\n{code}\n#",
        f"\\\n{code}",
        f"\r{code}",
        f"\u2028{code}",
        f"{{{code}}}",
    ]


@pytest.fixture
def marker(tmp_path):
    RECEIVED.clear()
    path = tmp_path / "pwned"
    yield path
    assert not path.exists(), "code from the file ran"


def _document() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    graph = trace(lambda x: scale_by(tnp.tanh(x), factor=2.0), tg.tensor(X))
    doc, arrays = graph_to_dict(graph)
    return json.loads(json.dumps(doc)), arrays


def _user_node(doc: dict[str, Any]) -> dict[str, Any]:
    return next(n for n in doc["nodes"] if n["primitive"] == scale_by.name)


def _run_everywhere(graph: Graph, texts: list[str]) -> None:
    """Replay, compile (with and without fusion) and run; no text of the file in code."""
    evaluate(graph, [X])
    graph(tg.tensor(X))
    for fuse in (False, "auto"):
        compiled = compile_graph(graph, fuse=fuse)
        compiled([X], [])
        check_source(compiled.source)
        for text in texts:
            assert text not in compiled.source
            for line in text.splitlines():
                if len(line.strip()) > 3:
                    assert line.strip() not in compiled.source, compiled.source


# -- graph documents ------------------------------------------------------------------------
def _set_key(marker):
    def edit(doc):
        _user_node(doc)["params"] = {_key_payload(marker): 1}

    return edit, "is not an identifier"


def _set(path: tuple[Any, ...], value: Any, problem: str):
    def make(marker):
        def edit(doc):
            target = doc
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = value(marker) if callable(value) else value

        return edit, problem

    return make


REFUSED_DOCUMENTS = {
    "param key closing the call": _set_key,
    "param key with a newline": lambda m: (
        lambda doc: _user_node(doc)["params"].update({"a\nb": 1}),
        "is not an identifier",
    ),
    "param key a keyword": lambda m: (
        lambda doc: _user_node(doc)["params"].update({"lambda": 1}),
        "is not an identifier",
    ),
    "param key with unicode": lambda m: (
        lambda doc: _user_node(doc)["params"].update({"a\u2028b": 1}),
        "is not an identifier",
    ),
    "empty param key": lambda m: (
        lambda doc: _user_node(doc)["params"].update({"": 1}),
        "is not an identifier",
    ),
    "primitive name": _set(
        ("nodes", 1, "primitive"), lambda m: f"add\n{_code(m)}", "unknown primitive"
    ),
    "output id": _set(
        ("nodes", 1, "outputs", 0, "id"), lambda m: f"1; {_code(m)}", "expected a value id"
    ),
    "graph output": _set(("outputs", 0), lambda m: f"t1; {_code(m)}", "expected a value id"),
    "input id": _set(
        ("nodes", 1, "inputs", 0), lambda m: f"x0); {_code(m)}; (", "expected a value id"
    ),
    "dtype": _set(
        ("nodes", 1, "outputs", 0, "dtype"), lambda m: f"float32; {_code(m)}", "unknown dtype"
    ),
    "shape": _set(
        ("nodes", 1, "outputs", 0, "shape"),
        lambda m: [f"2); {_code(m)}; (", 3],
        "a shape is a short list",
    ),
    "input dtype": _set(("inputs", 0, "dtype"), lambda m: f"float32{_code(m)}", "unknown dtype"),
    "tagged object": _set(
        ("nodes", 1, "params", "factor"), lambda m: {"__code__": _code(m)}, "unknown tag"
    ),
    "array dtype": _set(
        ("nodes", 1, "params", "factor"),
        lambda m: {"__array__": {"dtype": f"object{_code(m)}", "shape": [1], "data": [1]}},
        "unknown dtype",
    ),
    "literal as an extra input": _set(
        ("nodes", 1, "inputs"),
        lambda m: [0, {"literal": _code(m)}],
        "2 inputs, but primitive .* takes 1",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED_DOCUMENTS))
def test_hostile_documents_are_refused_on_load(case, marker):
    doc, arrays = _document()
    edit, problem = REFUSED_DOCUMENTS[case](marker)
    edit(doc)
    with pytest.raises(ValueError, match=problem):
        graph_from_dict(doc, arrays)
    with pytest.raises(ValueError, match=problem):
        graph_from_dict(doc, arrays, verify=False)


def _with_param_value(value: Any):
    return lambda doc: _user_node(doc)["params"].update({"label": value})


@pytest.mark.parametrize("index", range(7))
def test_string_params_reach_the_primitive_by_reference_only(index, marker):
    payload = _value_payloads(marker)[index]
    doc, arrays = _document()
    RECEIVED.clear()
    _user_node(doc)["params"]["label"] = payload
    graph = graph_from_dict(doc, arrays)
    _run_everywhere(graph, [payload, _code(marker)])
    assert RECEIVED and all(r["label"] == payload for r in RECEIVED)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(lambda m: [_code(m), {"__tuple__": [1, _code(m)]}], id="list"),
        pytest.param(
            lambda m: {"__dict__": [[_key_payload(m), _code(m)]]}, id="dict-with-a-bad-key"
        ),
        pytest.param(
            lambda m: {"__tuple__": [{"__slice__": [1, None, None]}, _code(m)]}, id="tuple"
        ),
        pytest.param(lambda m: {"__scalar__": ["float32", 1.5]}, id="numpy-scalar"),
        pytest.param(lambda m: {"__dtype__": "float32"}, id="dtype"),
        pytest.param(
            lambda m: {"__array__": {"dtype": "int64", "shape": [2], "data": [1, 2]}}, id="array"
        ),
        pytest.param(lambda m: {"__complex__": [1.0, {"__float__": "nan"}]}, id="complex"),
        pytest.param(lambda m: 10**40, id="huge-int"),
    ],
)
def test_container_and_object_params_run_without_side_effects(value, marker):
    doc, arrays = _document()
    _user_node(doc)["params"]["extra"] = value(marker)
    graph = graph_from_dict(doc, arrays)
    _run_everywhere(graph, [_code(marker), _key_payload(marker)])


def test_literal_outputs_and_input_names_never_become_code(marker):
    doc, arrays = _document()
    doc["outputs"] = [
        doc["outputs"][0],
        {"literal": _code(marker)},
        {"literal": {"__tuple__": [_key_payload(marker)]}},
    ]
    doc["out_tree"] = {"tuple": [None, None, None]}
    doc["inputs"][0]["name"] = f"x\n{_code(marker)}"
    graph = graph_from_dict(doc, arrays)
    _run_everywhere(graph, [_code(marker), _key_payload(marker)])
    outputs, _ = compile_graph(graph, fuse=False)([X], [])
    assert outputs[1] == _code(marker)


@settings(max_examples=60, deadline=None)
@given(key=st.text(max_size=30), value=st.text(max_size=30), name=st.text(max_size=20))
@example(key="x", value="", name="x")
def test_arbitrary_text_in_a_document_never_becomes_code(key, value, name):
    doc, arrays = _document()
    _user_node(doc)["params"][key] = value
    doc["inputs"][0]["name"] = name
    try:
        graph = graph_from_dict(doc, arrays)
    except ValueError as err:
        if key == "x":  # scale_by's own positional parameter, which the input fills
            assert "is also given as an input" in str(err)
        else:
            assert not is_param_name(key) and "is not an identifier" in str(err)
        return
    assert is_param_name(key)
    RECEIVED.clear()
    compiled = compile_graph(graph, fuse=False)
    check_source(compiled.source)  # the code of every line: names, numbers, operators
    compiled([X], [])
    assert RECEIVED[-1][key] == value


# -- generated code, whatever the graph (no verification) ------------------------------------
def test_generated_source_with_a_string_in_its_code_is_never_compiled(monkeypatch):
    graph = trace(lambda x: tnp.einsum("ij,kj->ik", x, x), tg.tensor(X))
    monkeypatch.setattr(codegen._Compiler, "param", lambda self, value: repr(value))
    with pytest.raises(RuntimeError, match="holds text the generator never writes"):
        compile_graph(graph, fuse=False)


def test_codegen_passes_undeclared_param_names_by_reference(marker):
    """Even a graph built in-process, never verified, cannot put a key into source."""
    graph = trace(lambda x: scale_by(x, factor=2.0), tg.tensor(X))
    node = graph.nodes[0]
    key = _key_payload(marker)
    graph.nodes[0] = Node(
        node.primitive,
        node.inputs,
        {key: 1, "note": _code(marker)},
        node.outputs,
        node.shapes,
        node.dtypes,
    )
    compiled = compile_graph(graph, fuse=False)
    assert "**_kw" in compiled.source
    RECEIVED.clear()
    compiled([X], [])
    assert RECEIVED == [{key: 1, "note": _code(marker)}]
    assert _code(marker) not in compiled.source


def test_declared_params_are_written_by_the_impls_own_name():
    graph = trace(lambda x: shifted(x, shift=0.5), tg.tensor(X))
    source = compile_graph(graph, fuse=False).source
    assert "shift=0.5)" in source
    np.testing.assert_array_equal(compile_graph(graph, fuse=False)([X], [])[0][0], X + 0.5)


def test_registered_names_with_odd_characters_stay_out_of_code(marker):
    name = f"odd\n{_code(marker)}\n#"
    odd = tg.primitive(lambda x: x * 3.0, name=name)
    try:
        graph = trace(lambda x: odd(x), tg.tensor(X))
        compiled = compile_graph(graph, fuse=False)
        np.testing.assert_array_equal(compiled([X], [])[0][0], X * 3.0)
        assert _code(marker) not in compiled.source
        assert all(line.startswith(("def run", "    ")) for line in compiled.source.splitlines())
    finally:
        PRIMITIVES.pop(name, None)


def test_string_params_of_table_primitives_go_by_reference():
    x = tg.tensor(X)
    graph = trace(lambda x: tnp.einsum("ij,kj->ik", x, x), x)
    compiled = compile_graph(graph, fuse=False)
    code = "\n".join(line.split("#")[0] for line in compiled.source.splitlines())
    assert "ij,kj->ik" not in code and "_p" in code
    np.testing.assert_allclose(compiled([X], [])[0][0], X @ X.T, rtol=1e-6)


# -- arity and params against the signature --------------------------------------------------
def _graph_of(
    primitive: str, inputs: tuple[Any, ...], params: dict[str, Any], shape: tuple[int, ...] = (2, 3)
) -> Graph:
    spec = Input(0, "arg", (2, 3), np.dtype(np.float32), "x")
    node = Node(primitive, inputs, params, (1,), (shape,), (np.dtype(np.float32),))
    return Graph([spec], [node], [1])


@pytest.mark.parametrize(
    "primitive, inputs, params, problem",
    [
        ("tanh", (0, 0), {}, r"node 0 \(tanh\): 2 inputs, but primitive 'tanh' takes 1"),
        ("tanh", (), {}, r"0 inputs, but primitive 'tanh' needs its argument 'x'"),
        ("add", (0,), {}, r"1 input, but primitive 'add' needs its argument 'x2'"),
        ("tanh", (0,), {"out": None}, "unknown param 'out'"),
        ("tanh", (0,), {"where": True}, "unknown param 'where'"),
        ("round", (0, Literal(1), 0), {}, r"3 inputs, but primitive 'round' takes at most 2"),
        ("round", (0,), {"out": None}, "unknown param 'out'"),
        ("sum", (0,), {"axes": 0}, r"unknown param 'axes' \(primitive 'sum' takes: axis, keepdims"),
        ("sum", (0,), {"x": 0}, "param 'x' of primitive 'sum' is also given as an input"),
        ("reshape", (0,), {}, "missing param 'shape' of primitive 'reshape'"),
        ("where", (0,), {}, r"1 input, but primitive 'where' takes 3 \(one per derivative rule"),
        ("getitem", (0,), {"index": 0, "1x": 2}, "param name '1x' is not a Python identifier"),
    ],
)
def test_nodes_must_fit_their_primitive_signature(primitive, inputs, params, problem):
    graph = _graph_of(primitive, inputs, params)
    with pytest.raises(ValueError, match=problem):
        graph.verify()


def test_tanh_reading_its_input_twice_is_refused_before_numpy_writes_into_it():
    graph = _graph_of("tanh", (0, 0), {})
    doc, arrays = graph_to_dict(trace(lambda x: tnp.tanh(x), tg.tensor(X)))
    doc["nodes"][0]["inputs"] = [0, 0]
    with pytest.raises(
        ValueError,
        match=r"graph.nodes\[0\] \(tanh\): 2 inputs, but primitive "
        r"'tanh' takes 1",
    ):
        graph_from_dict(json.loads(json.dumps(doc)), arrays)
    with pytest.raises(ValueError, match="2 inputs"):
        graph.verify()


@pytest.mark.parametrize(
    "function",
    [
        lambda x: tnp.concatenate([x, x, x, x, x], axis=0),
        lambda x: tnp.einsum("ij,ij,ij->i", x, x, x),
        lambda x: tnp.round(x, 2),
        lambda x: scale_by(x, anything=1, factor=3.0),
        lambda x: shifted(x, shift=1.0),
        lambda x: shifted(x, 1.0),
    ],
)
def test_legitimate_nodes_pass_the_signature_check(function):
    graph = trace(function, tg.tensor(X))
    doc, arrays = graph_to_dict(graph)
    loaded = graph_from_dict(json.loads(json.dumps(doc)), arrays)
    np.testing.assert_array_equal(
        compile_graph(loaded, fuse=False)([X], [])[0][0], np.asarray(evaluate(graph, [X])[0])
    )


@pytest.mark.parametrize(
    "primitive, shape", [("det", (2,)), ("cholesky", (2, 3)), ("solve", (2, 3))]
)
def test_linear_algebra_on_non_square_matrices_is_refused(primitive, shape):
    # A singular random matrix is trusted (the values, not the graph, are off); a
    # non-square one is a malformed graph.
    inputs = (0, 0) if primitive == "solve" else (0,)
    with pytest.raises(ValueError, match=rf"node 0 \({primitive}\) fails on inputs .*square"):
        _graph_of(primitive, inputs, {}, shape).verify()


def test_singular_square_matrices_still_verify():
    spec = Input(0, "arg", (3, 3), np.dtype(np.float64), "a")
    graph = Graph(
        [spec], [Node("solve", (0, 0), {}, (1,), ((3, 3),), (np.dtype(np.float64),))], [1]
    )
    graph.verify(example_args=[np.zeros((3, 3))])


# -- nodes the saver never writes ----------------------------------------------------------------
@pytest.mark.parametrize(
    "primitive, params",
    [
        ("custom_gradient", {"key": 0, "n_inputs": 1}),
        ("custom_gradient_multi", {"key": 0, "n_inputs": 1}),
        ("dropout_mask", {"rate": 0.5, "shape": [2, 3]}),
    ],
)
def test_nodes_the_saver_refuses_are_refused_on_load(primitive, params):
    doc, arrays = _document()
    doc["nodes"][0]["primitive"] = primitive
    doc["nodes"][0]["params"] = params
    with pytest.raises(
        ValueError,
        match=rf"graph.nodes\[0\]: a '{primitive}' node, which "
        "tapegrad never saves .*refusing to load it",
    ):
        graph_from_dict(doc, arrays, verify=False)


def test_custom_gradient_graphs_are_refused_by_the_saver_too():
    @tg.custom_gradient
    def clipped(x):
        return x * 1.0, lambda g: g

    graph = tg.function(lambda x: clipped(x)).get_concrete_function(tg.tensor(X)).graph
    assert any(node.primitive == "custom_gradient" for node in graph.nodes)
    with pytest.raises(ValueError, match="custom_gradient function"):
        graph_to_dict(graph)


# -- archives: load_model then predict (compiled) ----------------------------------------------
def _load(path):
    # Archives may carry checksums: a crafted one would carry matching ones, so skip them.
    if "verify" in inspect.signature(tg.models.load_model).parameters:
        return tg.models.load_model(path, verify=False)
    return tg.models.load_model(path)


def _saved_model(tmp_path, function) -> Any:
    model = tg.Sequential([layers.Input(shape=(3,)), layers.Lambda(function, name="lam")])
    model.compile("adam", "mse")  # so predict runs compiled steps (generated code)
    path = tmp_path / "model.tapegrad"
    model.save(path)
    return path


def _edit_archive(path, edit) -> None:
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    entry = next(e for e in config["config"]["layers"] if e["config"]["name"] == "lam")
    edit(entry["config"]["function"]["graph"])
    members["config.json"] = json.dumps(config).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    path.write_bytes(buffer.getvalue())


ARCHIVE_ATTACKS = {
    "param key": (
        lambda m: lambda g: _user_node(g)["params"].update({_key_payload(m): 1}),
        "is not an identifier",
    ),
    "param key with a newline": (
        lambda m: lambda g: _user_node(g)["params"].update({f"a\n{_code(m)}": 1}),
        "is not an identifier",
    ),
    "primitive name": (
        lambda m: lambda g: _user_node(g).update(primitive=_code(m)),
        "unknown primitive",
    ),
    "tanh reading its input twice": (
        lambda m: lambda g: g["nodes"][0].update(inputs=[0, 0]),
        r"\(tanh\): 2 inputs, but primitive 'tanh' takes 1",
    ),
    "custom_gradient node": (
        lambda m: (
            lambda g: g["nodes"][0].update(
                primitive="custom_gradient", params={"key": 0, "n_inputs": 1}
            )
        ),
        "a 'custom_gradient' node, which tapegrad never saves",
    ),
    "output dtype": (
        lambda m: lambda g: g["nodes"][0]["outputs"][0].update(dtype=f"float32\n{_code(m)}"),
        "unknown dtype",
    ),
}


@pytest.mark.parametrize("case", sorted(ARCHIVE_ATTACKS))
def test_crafted_archives_are_refused_by_load_model(case, tmp_path, marker):
    path = _saved_model(tmp_path, lambda x: scale_by(tnp.tanh(x), factor=2.0))
    make_edit, problem = ARCHIVE_ATTACKS[case]
    _edit_archive(path, make_edit(marker))
    with pytest.raises(ValueError, match=problem):
        _load(path).predict(X, verbose=0)


def test_crafted_archive_string_params_predict_without_side_effects(tmp_path, marker):
    path = _saved_model(tmp_path, lambda x: scale_by(tnp.tanh(x), factor=2.0))
    payloads = _value_payloads(marker)
    RECEIVED.clear()
    _edit_archive(
        path,
        lambda g: _user_node(g)["params"].update(
            {f"p{k}": text for k, text in enumerate(payloads)}
        ),
    )
    model = _load(path)
    np.testing.assert_allclose(model.predict(X, verbose=0), np.tanh(X) * 2.0, rtol=1e-6)
    assert RECEIVED and all(r[f"p{k}"] == text for r in RECEIVED for k, text in enumerate(payloads))


def test_archive_round_trip_with_a_kwargs_primitive_still_predicts(tmp_path):
    function = lambda x: scale_by(tnp.tanh(x), factor=2.0)  # noqa: E731
    path = _saved_model(tmp_path, function)
    np.testing.assert_allclose(_load(path).predict(X, verbose=0), np.tanh(X) * 2.0, rtol=1e-6)


# -- linecache --------------------------------------------------------------------------------
def test_linecache_entries_go_with_their_compiled_graphs():
    graph = trace(lambda x: tnp.tanh(x * 2.0) - 1.0, tg.tensor(X))
    gc.collect()
    before = len(linecache.cache)
    compiled = [compile_graph(graph, fuse=False) for _ in range(200)]
    assert len(linecache.cache) == before + 200
    filename = compiled[0]._function.__code__.co_filename
    assert "np_multiply" in linecache.getline(filename, 3)  # tracebacks show the code
    del compiled
    gc.collect()
    assert len(linecache.cache) == before
    assert linecache.getline(filename, 3) == ""
