"""Weight `path` and `name` as Keras 3 assigns them (``sequential/dense/kernel``, ``kernel``)."""

import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tapegrad.core import current_path, name_scope


def paths(layer):
    return [w.path for w in layer.weights]


def test_sequential_with_input_prefixes_the_model_and_names_are_short():
    model = tg.Sequential(
        [tg.Input((3,)), layers.Dense(2, name="d"), layers.BatchNormalization(name="bn")],
        name="net",
    )
    assert paths(model) == [
        "net/d/kernel",
        "net/d/bias",
        "net/bn/gamma",
        "net/bn/beta",
        "net/bn/moving_mean",
        "net/bn/moving_variance",
    ]
    assert [w.name for w in model.weights] == [
        "kernel",
        "bias",
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]
    assert model.layers[0].path == "net/d"


def test_lazy_sequential_subclassed_model_and_layer_in_layer():
    lazy = tg.Sequential([layers.Dense(2, name="d")], name="lazy")
    lazy(np.zeros((1, 3), np.float32))
    assert paths(lazy) == ["lazy/d/kernel", "lazy/d/bias"]

    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = layers.Dense(2, name="inner")

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(2,), name="scale")

        def call(self, x):
            return self.inner(x) * self.scale

    block = Block(name="block")
    block.build((None, 3))  # built first: the inner layer is made by the first call
    block(np.zeros((1, 3), np.float32))
    assert paths(block) == ["block/scale", "block/inner/kernel", "block/inner/bias"]

    class Net(tg.Model):
        def __init__(self):
            super().__init__(name="net_model")
            self.dense = layers.Dense(2, name="d")

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), np.float32))
    assert paths(net) == ["net_model/d/kernel", "net_model/d/bias"]


def test_functional_nested_and_reused_layers():
    inner = tg.Sequential([tg.Input((3,)), layers.Dense(2, name="d1")], name="inner")
    x = tg.Input((3,))
    y = layers.Dense(1, name="d2")(inner(x))
    model = tg.Model(x, y)
    # A functional model opens no scope of its own (as Keras): its layers keep theirs.
    assert paths(model) == ["inner/d1/kernel", "inner/d1/bias", "d2/kernel", "d2/bias"]
    # A layer built alone keeps its path when a model takes it later.
    alone = layers.Dense(2, name="alone")
    alone.build((None, 3))
    again = tg.Sequential([tg.Input((3,)), alone], name="again")
    assert paths(again) == ["alone/kernel", "alone/bias"]


def test_nested_layers_as_keras():
    lstm = layers.LSTM(2, name="lstm")
    lstm.build((None, 4, 3))
    assert paths(lstm) == [
        "lstm/lstm_cell/kernel",
        "lstm/lstm_cell/recurrent_kernel",
        "lstm/lstm_cell/bias",
    ]
    bi = layers.Bidirectional(layers.GRU(2, name="gru"), name="bi")
    bi.build((None, 4, 3))
    assert paths(bi)[0] == "bi/forward_gru/gru_cell/kernel"
    assert paths(bi)[3] == "bi/backward_gru/gru_cell/kernel"
    attention = layers.MultiHeadAttention(2, 4, name="mha")
    attention(np.zeros((1, 3, 5), np.float32), np.zeros((1, 3, 5), np.float32))
    assert paths(attention)[:2] == ["mha/query/kernel", "mha/query/bias"]


def test_name_scope_and_plain_variables():
    assert tg.Variable(1.0, name="v").path == "v"
    with name_scope("outer"):
        with name_scope("inner"):
            assert current_path() == "outer/inner"
            v = tg.Variable(1.0, name="w")
        with name_scope("other", override_parent="root"):
            u = tg.Variable(1.0, name="u")
    assert (v.path, v.name, u.path) == ("outer/inner/w", "w", "root/other/u")
    assert current_path() == ""
    with pytest.raises(ValueError, match="without '/'"):
        name_scope("a/b")
    with pytest.raises(ValueError, match="boom"), name_scope("failing"):
        raise ValueError("boom")
    assert current_path() == ""  # closed on errors too


def test_optimizer_slots_named_after_paths_and_saving_round_trip(tmp_path):
    model = tg.Sequential([tg.Input((3,)), layers.Dense(2, name="d")], name="net")
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), verbose=0)
    slots = [v.name for v in model.optimizer.variables]
    assert "net_d_kernel_momentum" in slots
    model.save(tmp_path / "m.keras")
    loaded = tg.saving.load_model(tmp_path / "m.keras")
    assert paths(loaded) == paths(model)
    for a, b in zip(loaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def keras_or_skip():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "jax":
        pytest.skip("the Keras comparison runs on Keras' JAX backend")
    return keras


def test_paths_and_names_equal_keras():
    keras = keras_or_skip()

    def build(lib):
        lay = lib.layers
        seq = lib.Sequential(
            [
                lay.Input((4, 3)),
                lay.LSTM(2, return_sequences=True, name="rnn"),
                lay.Bidirectional(lay.SimpleRNN(2, name="srnn"), name="bi"),
                lay.BatchNormalization(name="bn"),
            ],
            name="seq",
        )
        x = lay.Input((4, 3))
        y = lay.Dense(3, name="top")(seq(x))
        return lib.Model(x, y, name="model")

    expected = [(w.path, w.name) for w in build(keras).weights]
    assert [(w.path, w.name) for w in build(tg).weights] == expected
