"""The functional API as Keras 3 has it: `Input`, symbolic tensors with operators and ops
(each an op node), dict/list inputs and outputs keyed by name, `get_layer`, subclassing."""

from __future__ import annotations

import inspect
import operator
import pickle
import re

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers, ops
from tapegrad.nn.layers.operation import OpLayer, decode_literal, encode_literal
from tapegrad.symbolic import lookup_op

RNG = np.random.default_rng(11)
DATA = RNG.standard_normal((5, 4)).astype(np.float32)


# -- the top-level names and Input's signature ----------------------------------------------
def test_top_level_names_are_the_layers_and_models():
    assert tg.Input is layers.Input and tg.Layer is layers.Layer
    assert tg.InputLayer is layers.InputLayer and tg.KerasTensor is layers.KerasTensor
    assert tg.Model is tg.models.Model and tg.Sequential is tg.models.Sequential


def test_input_has_keras_3_signature():  # (Keras 3.15's, which has ``ragged``)
    parameters = inspect.signature(tg.Input).parameters
    assert list(parameters) == [
        "shape",
        "batch_size",
        "dtype",
        "sparse",
        "ragged",
        "batch_shape",
        "name",
        "tensor",
        "optional",
    ]
    assert parameters["optional"].default is False
    assert all(p.default is None for n, p in parameters.items() if n != "optional")


def test_input_batch_shape_name_and_dtype():
    x = tg.Input(batch_shape=(None, 3), name="title", dtype="int32")
    assert (x.shape, x.dtype, x.name, x.ndim) == ((None, 3), np.dtype("int32"), "title", 2)
    assert tg.Input(shape=(2,), batch_size=8).shape == (8, 2)


@pytest.mark.parametrize(
    "kwargs, problem",
    [
        ({"shape": (3,), "sparse": True}, "sparse=True is not supported"),
        ({"shape": (3,), "ragged": True}, "ragged=True is not supported"),
        ({"shape": (3,), "tensor": np.zeros((1, 3))}, "tensor= .* not supported"),
        ({"shape": (3,), "optional": True}, "optional=True .* not supported"),
        ({"shape": (3,), "batch_shape": (None, 3)}, "either batch_shape= or shape="),
        ({"batch_shape": ()}, "batch_shape must include the batch axis"),
        ({"shape": (-2,)}, "shape"),
    ],
)
def test_input_refuses_what_it_does_not_support(kwargs, problem):
    with pytest.raises(ValueError, match=problem):
        tg.Input(**kwargs)


# -- operators and ops on symbolic tensors ----------------------------------------------------
W = RNG.standard_normal((4, 2)).astype(np.float32)
# (name, function of the symbolic input, the same on data)
SYMBOLIC_CASES = [
    ("add", lambda x: x + 1.5, lambda x: x + 1.5),
    ("radd", lambda x: 2.0 + x, lambda x: 2.0 + x),
    ("sub", lambda x: x - x * 0.5, lambda x: x - x * 0.5),
    ("rsub", lambda x: 1.0 - x, lambda x: 1.0 - x),
    ("mul_div", lambda x: x * 3.0 / 2.0, lambda x: x * 3.0 / 2.0),
    ("rtruediv", lambda x: 1.0 / (x * x + 1.0), lambda x: 1.0 / (x * x + 1.0)),
    ("pow", lambda x: x**2, lambda x: x**2),
    ("neg_abs", lambda x: -abs(x), lambda x: -np.abs(x)),
    ("matmul", lambda x: x @ W, lambda x: x @ W),
    ("ndarray_left", lambda x: np.ones(4, np.float32) * x, lambda x: np.ones(4) * x),
    ("compare", lambda x: ops.cast(x > 0, "float32"), lambda x: (x > 0).astype(np.float32)),
    ("getitem", lambda x: x[:, 1:3], lambda x: x[:, 1:3]),
    ("getitem_int", lambda x: x[:, 0], lambda x: x[:, 0]),
    ("getitem_none", lambda x: x[..., None], lambda x: x[..., None]),
    ("mean", lambda x: ops.mean(x, axis=1, keepdims=True), lambda x: x.mean(1, keepdims=True)),
    ("sum_batch", lambda x: ops.sum(x, axis=0), lambda x: x.sum(0)),
    ("transpose", lambda x: ops.transpose(x), lambda x: x.T),
    ("T", lambda x: x.T, lambda x: x.T),
    ("exp_primitive", lambda x: ops.exp(x), np.exp),
    ("relu", lambda x: ops.relu(x), lambda x: np.maximum(x, 0)),
    (
        "concatenate",
        lambda x: ops.concatenate([x, x * 2], axis=-1),
        lambda x: np.concatenate([x, x * 2], -1),
    ),
    ("tnp_reshape", lambda x: tnp.reshape(x, (-1, 2, 2)), lambda x: x.reshape(-1, 2, 2)),
    ("linalg_norm", lambda x: tnp.linalg.norm(x, axis=-1), lambda x: np.linalg.norm(x, axis=-1)),
    ("where", lambda x: ops.where(x > 0, x, 0.0), lambda x: np.where(x > 0, x, 0)),
]


@pytest.mark.parametrize(
    "name, symbolic, eager", SYMBOLIC_CASES, ids=[c[0] for c in SYMBOLIC_CASES]
)
def test_operators_and_ops_on_inputs_become_nodes(name, symbolic, eager):
    inputs = tg.Input(shape=(4,))
    out = symbolic(inputs)
    expected = eager(DATA)
    assert isinstance(out, tg.KerasTensor) and isinstance(out.history[0], OpLayer)
    # The symbolic shape is the data's, with the axes that follow the batch size unknown.
    assert len(out.shape) == expected.ndim
    for dim, got in zip(out.shape, expected.shape, strict=True):
        assert dim is None or dim == got
    model = tg.Model(inputs, out)
    np.testing.assert_allclose(np.asarray(model(DATA)), expected, rtol=1e-5, atol=1e-6)


def test_unknown_axes_follow_the_batch_wherever_it_goes():
    x = tg.Input(shape=(3, 4))
    assert ops.transpose(x).shape == (4, 3, None)
    assert ops.sum(x, axis=0).shape == (3, 4)
    assert ops.mean(x).shape == ()
    assert x.T.shape == (4, 3, None)


def test_unknown_lengths_stay_unknown_through_layers_and_ops():
    tokens = tg.Input(shape=(None,), dtype="int32")
    embedded = layers.Embedding(50, 8)(tokens)
    assert embedded.shape == (None, None, 8)
    assert layers.LSTM(5, return_sequences=True)(embedded).shape == (None, None, 5)
    assert layers.Conv1D(4, 3, strides=2)(embedded).shape == (None, None, 4)
    assert ops.mean(embedded, axis=1).shape == (None, 8)
    images = tg.Input(shape=(None, None, 3))  # a fully convolutional model's input
    features = layers.MaxPooling2D()(layers.Conv2D(4, 3)(images))
    assert features.shape == (None, None, None, 4)
    model = tg.Model(images, ops.max(features, axis=(1, 2)))
    assert model(np.zeros((1, 9, 13, 3), np.float32)).shape == (1, 4)


def test_a_fixed_batch_size_stays_known():
    x = tg.Input(batch_shape=(4, 3))
    hidden = layers.Dense(2)(x)
    assert hidden.shape == (4, 2) and (hidden + 1.0).shape == (4, 2)
    assert layers.Dense(2)(tg.Input(shape=(3,))).shape == (None, 2)


def test_shape_ndim_and_dtype_are_static_as_in_keras():
    x = tg.Input(shape=(3, 4))
    assert ops.shape(x) == (None, 3, 4)
    assert ops.ndim(x) == 3


def test_ops_with_several_outputs_give_several_tensors():
    x = tg.Input(shape=(4,))
    first, second = ops.split(x, 2, axis=-1)
    assert first.shape == second.shape == (None, 2)
    model = tg.Model(x, [second, first])
    out = model(DATA)
    np.testing.assert_allclose(out[0].numpy(), DATA[:, 2:])
    np.testing.assert_allclose(out[1].numpy(), DATA[:, :2])


@pytest.mark.parametrize(
    "use, problem",
    [
        (bool, "bool\\(KerasTensor\\)"),
        (np.asarray, "numpy.asarray\\(KerasTensor\\)"),
        (list, "iterating over a KerasTensor"),
        (float, "float\\(KerasTensor\\)"),
        (lambda x: x.numpy(), "has no values"),
    ],
)
def test_symbolic_tensors_have_no_values(use, problem):
    with pytest.raises(TypeError, match=problem):
        use(tg.Input(shape=(3,)))


def test_an_op_error_on_symbolic_tensors_names_the_op_and_shapes():
    a, b = tg.Input(shape=(3,)), tg.Input(shape=(2,))
    with pytest.raises(ValueError, match="concatenate.*\\(2, 3\\), \\(2, 2\\)"):
        ops.concatenate([a, b], axis=0)


def test_wrapped_ops_are_unchanged_on_data():
    t = tg.tensor(DATA)
    assert tnp.add.__tapegrad_op__ == "tapegrad.numpy.add"
    np.testing.assert_allclose(tnp.add(t, 1.0).numpy(), DATA + 1)
    np.testing.assert_allclose(ops.mean(DATA, axis=0), DATA.mean(0), rtol=1e-6)
    assert pickle.loads(pickle.dumps(tnp.mean)) is tnp.mean
    with pytest.raises(ValueError, match="axis"):
        ops.mean(t, axis=5)


# -- models with op nodes ----------------------------------------------------------------------
def _residual_model() -> tg.Model:
    inputs = tg.Input(shape=(4,), name="features")
    hidden = layers.Dense(8, activation="tanh", name="hidden")(inputs)
    mixed = hidden + ops.tanh(layers.Dense(8, name="gate")(hidden)) * 0.5
    pooled = ops.concatenate([mixed, ops.mean(inputs, axis=-1, keepdims=True)], axis=-1)
    return tg.Model(inputs, layers.Dense(1, name="score")(pooled[:, 1:]))


def test_op_nodes_are_operations_not_layers_as_in_keras():
    model = _residual_model()
    assert [layer.name for layer in model.layers] == ["features", "hidden", "gate", "score"]
    kinds = {type(op).__name__ for op in model.operations}
    assert kinds == {"InputLayer", "Dense", "OpLayer"}
    names = {re.sub(r"_\d+$", "", op.name) for op in model.operations}  # (unique suffixes)
    assert {"tanh", "multiply", "add", "mean", "concatenate", "get_item"} <= names
    with pytest.raises(AttributeError, match="reserved"):
        model.layers = []


@pytest.mark.parametrize("jit", [False, True])
def test_models_with_op_nodes_train_eagerly_and_compiled(jit):
    x = RNG.standard_normal((128, 4)).astype(np.float32)
    y = x.sum(1, keepdims=True)
    model = _residual_model()
    model.compile(tg.optimizers.Adam(0.02), "mse", jit_compile=jit)
    history = model.fit(x, y, epochs=6, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]
    assert model.predict(x[:3], verbose=0).shape == (3, 1)


def test_summary_lists_op_nodes_keras_style(capsys):
    inputs = tg.Input(shape=(4,))
    tg.Model(inputs, _residual_model()(inputs), name="outer").summary()
    assert "(Functional)" in capsys.readouterr().out  # a nested graph model, as Keras
    _residual_model().summary()
    text = capsys.readouterr().out
    assert "hidden (Dense)" in text and "(Mean)" in text and "(GetItem)" in text
    assert "features (InputLayer)" in text  # as Keras lists a functional model's inputs
    assert "(None, 9)" in text  # the concatenation


def test_op_nodes_survive_save_and_load(tmp_path):
    model = _residual_model()
    path = tmp_path / "model.tapegrad"
    model.save(path)
    loaded = tg.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(DATA, verbose=0), model.predict(DATA, verbose=0))
    assert [op.name for op in loaded.operations] == [op.name for op in model.operations]


def test_op_layer_config_round_trip_and_literals():
    x = tg.Input(shape=(4,))
    out = ops.sum(x[..., 1:3], axis=-1, keepdims=True)
    layer = out.history[0]
    config = layer.get_config()
    assert config["op"] == "tapegrad.numpy.sum"
    assert config["arguments"]["kwargs"] == {"axis": -1, "keepdims": True}
    again = OpLayer.from_config(config)
    assert again.call([tg.tensor(np.ones((2, 1)))]).shape == (2, 1)
    for literal in [(slice(1, None, 2), Ellipsis, None), np.eye(2), [1, "a", 2.5], np.float32]:
        decoded = decode_literal(encode_literal(literal, "t"), "t")
        if isinstance(literal, np.ndarray):
            np.testing.assert_array_equal(decoded, literal)
        else:
            assert decoded == (np.dtype(literal) if literal is np.float32 else literal)


@pytest.mark.parametrize(
    "op, arguments, problem",
    [
        ("os.system", None, "not a public tapegrad op"),
        ("tapegrad.numpy._symbolic_helpers", None, "not a public tapegrad op"),
        ("tapegrad.numpy.mean.__globals__", None, "not a public tapegrad op"),
        ("builtins.eval", None, "not a public tapegrad op"),
        ("operator.getitem", {"args": [{"__import__": "os"}], "kwargs": {}}, "unexpected"),
        (
            "tapegrad.numpy.add",
            {"args": [{"__array__": [1], "dtype": "object", "shape": [1]}], "kwargs": {}},
            "dtype",
        ),
        ("tapegrad.numpy.add", {"args": []}, "keys 'args' and 'kwargs'"),
    ],
)
def test_loading_an_op_refuses_anything_but_public_ops_and_plain_literals(op, arguments, problem):
    with pytest.raises(ValueError, match=problem):
        OpLayer(op, arguments)


def test_lookup_op_resolves_only_wrapped_public_ops():
    assert lookup_op("tapegrad.ops.relu") is ops.relu
    assert lookup_op("operator.add") is operator.add
    with pytest.raises(ValueError):
        lookup_op("tapegrad.numpy.linalg")  # a module, not an op


def test_a_variable_in_an_op_is_used_but_not_saved(tmp_path):
    scale = tg.Variable(np.full((4,), 2.0, np.float32))
    inputs = tg.Input(shape=(4,))
    model = tg.Model(inputs, inputs * scale)
    np.testing.assert_allclose(model(DATA).numpy(), DATA * 2)
    with pytest.raises(ValueError, match="Variable .* cannot be saved"):
        model.get_config()


# -- dict and list inputs and outputs ------------------------------------------------------
def _two_input_model(dict_inputs: bool, dict_outputs: bool) -> tg.Model:
    title = tg.Input(shape=(3,), name="title")
    body = tg.Input(shape=(2,), name="body")
    joined = layers.Dense(4, name="joined")(ops.concatenate([title, body], axis=-1))
    priority = layers.Dense(1, name="priority")(joined)
    department = layers.Dense(3, activation="softmax", name="department")(joined)
    inputs = {"title": title, "body": body} if dict_inputs else [title, body]
    outputs = (
        {"priority": priority, "department": department} if dict_outputs else [priority, department]
    )
    return tg.Model(inputs=inputs, outputs=outputs)


TITLE = RNG.standard_normal((6, 3)).astype(np.float32)
BODY = RNG.standard_normal((6, 2)).astype(np.float32)


@pytest.mark.parametrize("dict_inputs", [True, False])
def test_inputs_keyed_by_input_name(dict_inputs):
    model = _two_input_model(dict_inputs, dict_outputs=False)
    by_name = model({"body": BODY, "title": TITLE})
    assert by_name[0].shape == (6, 1) and by_name[1].shape == (6, 3)
    ordered = [BODY, TITLE] if dict_inputs else [TITLE, BODY]  # dicts flatten by sorted key
    np.testing.assert_allclose(model(ordered)[0].numpy(), by_name[0].numpy())


def test_dict_outputs_and_the_names_of_inputs_and_outputs():
    model = _two_input_model(dict_inputs=True, dict_outputs=True)
    out = model({"title": TITLE, "body": BODY})
    assert set(out) == {"priority", "department"} and out["department"].shape == (6, 3)
    assert model.input_names == ["body", "title"]  # Keras: dicts flatten by sorted key
    # Keras 3: the names of the layers producing the (flattened) outputs.
    assert model.output_names == ["department", "priority"]
    assert _two_input_model(False, False).output_names == ["priority", "department"]
    assert isinstance(model.input, dict) and isinstance(model.output, dict)
    assert model.output_shape == {"priority": (None, 1), "department": (None, 3)}


@pytest.mark.parametrize(
    "data, problem",
    [
        ({"title": TITLE, "body": BODY, "extra": BODY}, "unknown key.*'extra'.*'body', 'title'"),
        ({"title": TITLE}, "the keys \\['body'\\] are missing"),
        ([TITLE], "has 2 input"),
        (TITLE, "has 2 inputs"),
        ({"title": TITLE, "body": TITLE}, "input 'body': expected \\(None, 2\\), got \\(6, 3\\)"),
    ],
)
def test_bad_inputs_are_clear_errors(data, problem):
    with pytest.raises(ValueError, match=problem):
        _two_input_model(dict_inputs=False, dict_outputs=False)(data)


def test_input_rank_is_adjusted_as_keras_functional_does():
    x = tg.Input(shape=(1,))
    model = tg.Model(x, x * 2.0)
    assert model(np.ones(5, np.float32)).shape == (5, 1)  # a missing trailing 1 added
    y = tg.Input(shape=(4,))
    squeezing = tg.Model(y, y + 0.0)
    assert squeezing(np.ones((5, 4, 1), np.float32)).shape == (5, 4)  # an extra 1 removed
    with pytest.raises(ValueError, match="expected \\(None, 4\\), got \\(5, 4, 2\\)"):
        squeezing(np.ones((5, 4, 2), np.float32))


def test_data_is_converted_to_the_input_dtype():
    x = tg.Input(shape=(2,))
    assert tg.Model(x, x * 2.0)(np.ones((3, 2), np.float64)).dtype == np.float32


def test_fit_with_list_inputs_and_list_losses():
    model = _two_input_model(dict_inputs=False, dict_outputs=False)
    model.compile("adam", loss=["mse", "categorical_crossentropy"])
    y = [TITLE.sum(1, keepdims=True), np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]]
    model.fit([TITLE, BODY], y, epochs=2, batch_size=3, verbose=0)
    assert model.predict([TITLE, BODY], verbose=0)[1].shape == (6, 3)


# -- get_layer and model construction -----------------------------------------------------
def test_get_layer_by_name_and_index_with_keras_errors():
    model = _residual_model()
    assert model.get_layer("gate").name == "gate" and model.get_layer(index=0).name == "features"
    for kwargs, problem in [
        ({"name": "gate", "index": 1}, "Provide only a layer name or a layer index"),
        ({"name": "nope"}, "No such layer: nope. Existing layers are"),
        ({"index": 10}, "at index 10 but model only has 4 layers"),
        ({}, "Provide either a layer name or layer index"),
    ]:
        with pytest.raises(ValueError, match=problem):
            model.get_layer(**kwargs)


def test_model_arguments_are_checked():
    x = tg.Input(shape=(2,))
    with pytest.raises(ValueError, match="outputs are required"):
        tg.Model(x)
    with pytest.raises(ValueError, match="must be KerasTensors"):
        tg.Model(x, np.ones(2))
    with pytest.raises(ValueError, match="not an Input tensor"):
        tg.Model(x + 1.0, x * 2.0)
    other = tg.Input(shape=(2,), name="other")
    with pytest.raises(ValueError, match="depend on Input.*other"):
        tg.Model(x, x + other)
    assert tg.Model(inputs=x, outputs=x * 2.0, name="named").name == "named"
    assert tg.Model(x, x * 3.0).name.startswith("functional")


class CreatesLayersFirst(tg.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(4, activation="relu")
        self.out = layers.Dense(1)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs))


class SetsLayersBeforeInit(tg.Model):
    def __init__(self):
        self.hidden = layers.Dense(3)
        super().__init__(name="before")
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs) + inputs[:, :1])


class FunctionalSubclass(tg.Model):
    def __init__(self, **kwargs):
        inputs = tg.Input(shape=(4,), name="features")
        hidden = layers.Dense(4)(inputs)
        super().__init__(inputs, layers.Dense(1)(hidden * 2.0), **kwargs)


@pytest.mark.parametrize("make", [CreatesLayersFirst, SetsLayersBeforeInit, FunctionalSubclass])
def test_subclassed_models_train(make):
    x = RNG.standard_normal((64, 4)).astype(np.float32)
    y = x[:, :1] * 2
    model = make()
    model.compile(tg.optimizers.Adam(0.05), "mse")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert len(model.trainable_weights) == 4
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x[:2], verbose=0).shape == (2, 1)


def test_a_functional_model_is_a_layer_of_another():
    inner = _residual_model()
    x = tg.Input(shape=(4,))
    outer = tg.Model(x, inner(x) * 2.0)
    np.testing.assert_allclose(
        outer.predict(DATA, verbose=0), 2 * inner.predict(DATA, verbose=0), rtol=1e-6
    )


# -- op nodes in archives: only public ops, plain literals, bounded sizes --------------------
def _op_archive(path):
    inputs = tg.Input(shape=(3,), name="x")
    tg.Model(inputs, tnp.tile(inputs * 2.0, (1, 2))).save(path)
    return path


def _op_entry(document, op):
    return next(e for e in document["config"]["layers"] if e["config"].get("op") == op)


def _set_op(document, name):
    _op_entry(document, "operator.mul")["config"]["op"] = name


def _set_reps(document, reps):
    _op_entry(document, "tapegrad.numpy.tile")["config"]["arguments"]["args"][1] = reps


def _drop_slot(document):
    _op_entry(document, "operator.mul")["config"]["arguments"]["args"][0] = 1.0


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda d: _set_op(d, "os.system"), "'os.system' is not a public tapegrad op"),
        (lambda d: _set_op(d, "tapegrad.numpy._symbolic"), "not a public tapegrad op"),
        (lambda d: _set_reps(d, {"__tuple__": [1, 10**9]}), "exceeds the limit"),
        (lambda d: _set_reps(d, 10**9), "exceeds the limit"),
        (lambda d: _set_reps(d, {"__import__": "os"}), "unexpected argument"),
        (_drop_slot, "symbolic inputs as slots"),
    ],
)
def test_edited_op_nodes_are_refused_on_load(tmp_path, edit, problem):
    from tapegrad.nn import saving
    from tests.nn import archive_tools as tools

    path = _op_archive(tmp_path / "model.tapegrad")
    assert tg.models.load_model(path).predict(np.ones((2, 3)), verbose=0).shape == (2, 6)
    path.write_bytes(tools.edit_json(path.read_bytes(), "config.json", edit))
    with pytest.raises(saving.ArchiveError, match=problem):
        tg.models.load_model(path)


def test_layer_input_and_output_build_feature_extractors():
    model = _residual_model()
    extractor = tg.Model(model.input, [layer.output for layer in model.layers])
    outputs = extractor(DATA)
    assert [o.shape for o in outputs] == [(5, 4), (5, 8), (5, 8), (5, 1)]
    assert model.get_layer("gate").input is model.get_layer("hidden").output
    with pytest.raises(AttributeError, match="has never been called"):
        _ = layers.Dense(2).output
