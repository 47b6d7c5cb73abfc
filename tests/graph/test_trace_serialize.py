"""trace -> replay, JSON round trip, gradients through the replay, hostile documents."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.graph import (
    Graph,
    Literal,
    UntraceableError,
    graph_from_dict,
    graph_to_dict,
    trace,
    trace_checked,
)

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 3)).astype(np.float32)
X_OTHER = RNG.standard_normal((4, 3)).astype(np.float32)
W = tg.Variable(RNG.standard_normal(3).astype(np.float32), name="w")
BIG = RNG.standard_normal((3, 300)).astype(np.float32)  # > INLINE_MAX: stored as an array
MASK = np.array([True, False, True, True])

# name -> function of one (4, 3) float32 tensor
FUNCTIONS = {
    "elementwise": lambda x: tnp.tanh(x) * 2.0 + tnp.exp(-x) / (1.0 + x * x),
    "power_log": lambda x: tnp.log1p(x**2) ** 1.5,
    "sum_axis": lambda x: tnp.sum(x, axis=1),
    "mean_keepdims": lambda x: tnp.mean(x, axis=0, keepdims=True) - x,
    "max_min": lambda x: tnp.max(x, axis=1) + tnp.min(x, axis=(0, 1)),
    "prod_cumsum": lambda x: tnp.prod(x, axis=1) + tnp.cumsum(x, axis=1)[:, -1],
    "slices": lambda x: x[1:, ::-1][..., None, :2],
    "int_array_index": lambda x: x[np.array([0, 2, 2]), 1:],
    "bool_mask_index": lambda x: x[MASK],
    "matmul": lambda x: x @ x.T,
    "concatenate": lambda x: tnp.concatenate([x, tnp.square(x)], axis=1),
    "where": lambda x: tnp.where(x > 0, tnp.sqrt(tnp.abs(x)), x * 0.5),
    "relu_softmax": lambda x: tg.ops.softmax(tg.ops.relu(x), axis=-1),
    "reshape_transpose": lambda x: tnp.transpose(tnp.reshape(x, (2, 6))),
    "stop_gradient": lambda x: x * tg.stop_gradient(x),
    "variable_and_constant": lambda x: (x * W) @ BIG + np.float32(0.5),
    "clip_cast": lambda x: tnp.clip(x, -0.5, 0.5).astype(np.float64),
}


def _round_trip(graph: Graph) -> Graph:
    doc, arrays = graph_to_dict(graph)
    return graph_from_dict(json.loads(json.dumps(doc)), arrays)


def _replay(graph: Graph, x: np.ndarray) -> tg.Tensor:
    variables = [W] if graph.variable_inputs else None
    return graph(tg.tensor(x), variables=variables)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_replay_equals_direct_call(name):
    function = FUNCTIONS[name]
    graph = trace(function, tg.tensor(X))
    graph.verify()
    for x in (X, X_OTHER):
        expected = function(tg.tensor(x)).numpy()
        np.testing.assert_array_equal(_replay(graph, x).numpy(), expected)


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_json_round_trip_gives_the_same_results(name):
    function = FUNCTIONS[name]
    loaded = _round_trip(trace(function, tg.tensor(X)))
    expected = function(tg.tensor(X_OTHER))
    got = _replay(loaded, X_OTHER)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_gradients_through_the_replay(name):
    function = FUNCTIONS[name]
    loaded = _round_trip(trace(function, tg.tensor(X)))

    def direct(x):
        return tnp.sum(tnp.astype(function(x), np.float32))

    def replayed(x):
        out = loaded(x, variables=[W] if loaded.variable_inputs else None)
        return tnp.sum(tnp.astype(out, np.float32))

    x = tg.tensor(X_OTHER)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, b = direct(x), replayed(x)
    np.testing.assert_array_equal(tape.gradient(b, x).numpy(), tape.gradient(a, x).numpy())
    if loaded.variable_inputs:
        np.testing.assert_array_equal(tape.gradient(b, W).numpy(), tape.gradient(a, W).numpy())


def test_second_order_gradient_through_the_replay():
    graph = _round_trip(trace(lambda x: tnp.sin(x) * x, tg.tensor(2.0)))
    d2 = tg.grad(tg.grad(lambda x: graph(x)))(tg.tensor(0.7))
    expected = tg.grad(tg.grad(lambda x: tnp.sin(x) * x))(tg.tensor(0.7))
    np.testing.assert_allclose(d2.numpy(), expected.numpy())


def test_variables_are_inputs_that_can_be_rebound():
    graph = trace(FUNCTIONS["variable_and_constant"], tg.tensor(X))
    assert [spec.kind for spec in graph.inputs] == ["arg", "variable"]
    assert graph.variable_inputs[0].name == "w"
    assert len(graph.constants) == 2  # BIG and the 0-d float32 scalar
    loaded = _round_trip(graph)
    other = tg.Variable(np.full(3, 2.0, np.float32))
    got = loaded(tg.tensor(X), variables=[other])
    np.testing.assert_array_equal(got.numpy(), ((tg.tensor(X) * other) @ BIG + 0.5).numpy())
    with pytest.raises(ValueError, match="variables="):
        loaded(tg.tensor(X))


def test_structured_arguments_and_results():
    def function(pair, scale):
        a, b = pair["a"], pair["b"]
        return {"sum": a + b * scale, "parts": [a, b]}

    example = ({"a": np.ones(2, np.float32), "b": np.arange(2, dtype=np.float32)}, np.float32(3.0))
    loaded = _round_trip(trace(function, *example))
    out = loaded({"a": np.full(2, 2.0, np.float32), "b": np.ones(2, np.float32)}, np.float32(10.0))
    np.testing.assert_array_equal(out["sum"].numpy(), [12.0, 12.0])
    np.testing.assert_array_equal(out["parts"][1].numpy(), [1.0, 1.0])
    with pytest.raises(ValueError, match="structure"):
        loaded(np.ones(2, np.float32))


def test_python_control_flow_is_resolved_at_trace_time():
    def function(x):
        return x * 2 if x.shape[0] > 2 else x * 3

    graph = trace(function, np.ones(4, np.float32))
    assert [node.primitive for node in graph.nodes] == ["multiply"]
    assert graph.nodes[0].inputs[1] == Literal(2)


def test_str_is_a_readable_listing():
    listing = str(trace(FUNCTIONS["variable_and_constant"], tg.tensor(X)))
    assert listing.splitlines()[0] == (
        "{ lambda c0:f32[3,300] c1:f32[] ; x0:f32[4,3] | w0:f32[3] . let"
    )
    assert "    t0:f32[4,3] = multiply x0 w0" in listing
    assert "t1:f32[4,300] = matmul t0 c0" in listing
    assert listing.endswith("in t2 }")
    index_listing = str(trace(FUNCTIONS["slices"], tg.tensor(X)))
    assert "getitem[index=(1:, ::-1)]" in index_listing
    assert "getitem[index=(..., None, :2)]" in index_listing


def test_verify_rejects_inconsistent_graphs():
    graph = trace(FUNCTIONS["sum_axis"], tg.tensor(X))
    bad_shape = copy.copy(graph)
    node = graph.nodes[0]
    bad_shape.nodes = [
        type(node)(node.primitive, node.inputs, node.params, node.outputs, ((5,),), node.dtypes)
    ]
    with pytest.raises(ValueError, match="computes f32\\[4\\] but records f32\\[5\\]"):
        bad_shape.verify()
    undefined = copy.copy(graph)
    undefined.nodes = [
        type(node)(node.primitive, (99,), node.params, node.outputs, node.shapes, node.dtypes)
    ]
    with pytest.raises(ValueError, match="reads value 99 before it is defined"):
        undefined.verify()


# -- untraceable functions ------------------------------------------------------------------
def test_custom_gradient_functions_are_untraceable():
    @tg.custom_gradient
    def square(x):
        return x * x, lambda dy: dy * 2 * x

    with pytest.raises(UntraceableError, match="not in the primitive table"):
        trace(lambda x: square(x) + 1, tg.tensor(X))


@pytest.mark.parametrize(
    "function, problem",
    [
        (lambda x: x * 2 if float(tnp.sum(x)) > 0 else x * 3, "changes with the input"),
        (lambda x: x + np.sin(np.asarray(x)), "changes with the input"),
        (lambda x: x[x > 0], "changes with the input"),
        (lambda x: tnp.reshape(x, (x.shape[0] * 3,)), "changes with the input"),
        (lambda x: np.asarray(x) * 2, "does not depend on the inputs"),
    ],
)
def test_trace_checked_refuses_value_dependent_functions(function, problem):
    probes = [(-X,), (X_OTHER[:2],)]
    with pytest.raises(UntraceableError, match=problem):
        trace_checked(function, (np.abs(X),), probes)


def test_trace_checked_accepts_batch_independent_functions():
    graph = trace_checked(FUNCTIONS["relu_softmax"], (np.zeros((1, 3), np.float32),), [(X,), (-X,)])
    np.testing.assert_array_equal(graph(X).numpy(), FUNCTIONS["relu_softmax"](tg.tensor(X)))


# -- serialization: values and hostile documents ---------------------------------------------
def test_params_encoding_round_trips_every_kind():
    from tapegrad.graph.serialize import decode_value, encode_value

    values = [
        0,
        -3,
        2.5,
        float("nan"),
        float("inf"),
        True,
        None,
        "ij,jk->ik",
        (1, (2, 3)),
        [1, 2],
        slice(1, None, -1),
        Ellipsis,
        np.dtype("float16"),
        np.float32,
        np.int64(7),
        np.array([1, 0, 3]),
        np.array([[True, False]]),
        1 + 2j,
        {"k": (1,)},
        np.array([np.nan, -np.inf, 0.1], np.float32),
    ]
    decoded = [decode_value(e) for e in json.loads(json.dumps([encode_value(v) for v in values]))]
    for original, back in zip(values, decoded, strict=True):
        if isinstance(original, np.ndarray):
            assert back.dtype == original.dtype
            np.testing.assert_array_equal(back, original)
        elif isinstance(original, float) and original != original:
            assert back != back
        elif original is np.float32:
            assert back == np.dtype("float32")
        else:
            assert back == original and type(back) is type(original)
    with pytest.raises(ValueError, match="cannot be inlined"):
        encode_value(np.zeros(1000))


def test_large_constants_go_to_the_array_dict():
    doc, arrays = graph_to_dict(
        trace(FUNCTIONS["variable_and_constant"], tg.tensor(X)), key_prefix="lambda/"
    )
    assert list(arrays) == ["lambda/0"]
    np.testing.assert_array_equal(arrays["lambda/0"], BIG)
    assert doc["constants"][0]["value"] == {
        "__ref__": {"key": "lambda/0", "dtype": "float32", "shape": [3, 300]}
    }
    assert doc["format"] == "tapegrad-graph" and doc["version"] == 1


def _document():
    doc, arrays = graph_to_dict(trace(FUNCTIONS["slices"], tg.tensor(X)))
    return json.loads(json.dumps(doc)), arrays


def _set(doc, path, value):
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


@pytest.mark.parametrize(
    "path, value, problem",
    [
        (("format",), "keras", "format 'keras'"),
        (("version",), 2, "unsupported version 2"),
        (("version",), True, "unsupported version"),
        (("nodes", 0, "primitive"), "system", "unknown primitive 'system'"),
        (("nodes", 0, "primitive"), "__import__('os').system('rm -rf /')", "unknown primitive"),
        (("nodes", 0, "params", "index"), {"__pickle__": "gASV"}, "unknown tag '__pickle__'"),
        (("nodes", 0, "params", "index"), {"__tuple__": [], "__slice__": []}, "exactly one key"),
        (("nodes", 0, "params", "index"), {"__dtype__": "os.system"}, "unknown dtype"),
        (("nodes", 0, "params", "index"), {"__slice__": ["1+1", None, None]}, "slice bounds"),
        (
            ("nodes", 0, "params", "index"),
            {"__array__": {"dtype": "object", "shape": [1], "data": ["x"]}},
            "unknown dtype",
        ),
        (
            ("nodes", 0, "params", "index"),
            {"__array__": {"dtype": "int8", "shape": [1], "data": [300]}},
            "do not fit",
        ),
        (
            ("nodes", 0, "params", "index"),
            {"__array__": {"dtype": "int64", "shape": [3], "data": [1]}},
            "inline elements",
        ),
        (
            ("nodes", 0, "params", "index"),
            {"__ref__": {"key": "nope", "dtype": "int64", "shape": [1]}},
            "missing",
        ),
        (("nodes", 0, "inputs", 0), 42, "before it is defined"),
        (("nodes", 0, "inputs", 0), "x0", "value id"),
        (("nodes", 0, "outputs", 0, "shape"), [2**30, 2**30], "exceeds"),
        (("nodes", 0, "outputs", 0, "dtype"), "float32; import os", "unknown dtype"),
        (("nodes", 0, "params"), [], "expected an object"),
        (("nodes", 0, "surprise"), 1, "unexpected keys"),
        (("inputs", 0, "kind"), "file", "unknown input kind"),
        (("in_tree",), {"set": []}, "unknown structure kind"),
        (("outputs",), {"a": 1}, "expected a list"),
    ],
)
def test_hostile_documents_raise_value_error(path, value, problem):
    doc, arrays = _document()
    with pytest.raises(ValueError, match=problem):
        graph_from_dict(_set(doc, path, value), arrays)


def test_wrong_stored_array_is_refused():
    doc, arrays = graph_to_dict(trace(FUNCTIONS["variable_and_constant"], tg.tensor(X)))
    arrays = {"0": arrays["0"].astype(np.float64)}
    with pytest.raises(ValueError, match="declared float32"):
        graph_from_dict(json.loads(json.dumps(doc)), arrays)


def test_params_that_cannot_be_encoded_are_refused():
    graph = trace(lambda x: x + 1.0, tg.tensor(X))
    graph.nodes[0] = type(graph.nodes[0])(
        "add",
        graph.nodes[0].inputs,
        {"callback": print},
        graph.nodes[0].outputs,
        graph.nodes[0].shapes,
        graph.nodes[0].dtypes,
    )
    with pytest.raises(ValueError, match="cannot encode a value of type"):
        graph_to_dict(graph)
