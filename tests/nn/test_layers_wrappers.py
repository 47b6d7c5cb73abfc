"""Bidirectional and TimeDistributed: `run_layer_test` (gradients included), values against
Keras 3.15 (JAX backend) with the same weights, shapes of every output combination,
compiled calls, configs and saving."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

X = np.arange(12, dtype=np.float32).reshape(2, 3, 2) / 10 - 0.5


def _weights(shapes):
    """The fixed weights the Keras reference run used."""
    return [np.linspace(-0.6, 0.7, int(np.prod(s)), dtype=np.float32).reshape(s) for s in shapes]


# Computed by Keras 3.15 (JAX backend): Bidirectional(SimpleRNN(2, return_sequences=True))
# on X, with _weights for the forward layer and the backward layer's reversed and halved.
KERAS_CONCAT = [
    [
        [-0.3856387, 0.4647346, 0.4921373, -0.251393],
        [-0.1174759, 0.7614208, 0.4700763, -0.2428888],
        [-0.2603361, 0.8535917, 0.3244983, -0.3230063],
    ],
    [
        [-0.5417764, 0.6768801, 0.3696981, -0.150876],
        [-0.1662097, 0.9040786, 0.338989, -0.1318051],
        [-0.3792527, 0.935061, 0.2323448, -0.1732352],
    ],
]
KERAS_AVE = [
    [[0.0532493, 0.1066708], [0.1763002, 0.259266], [0.0320811, 0.2652927]],
    [[-0.0860392, 0.263002], [0.0863897, 0.3861368], [-0.073454, 0.3809129]],
]
# Keras 3.15: Bidirectional(GRU(2, return_state=True), merge_mode="sum") with _weights.
KERAS_GRU_STATE = [
    [[0.2590976, 0.5424454], [0.8651225, 1.3000846]],
    [[0.1601556, 0.3073322], [0.4687831, 0.6731619]],
    [[0.098942, 0.2351132], [0.3963394, 0.6269227]],
]


@pytest.mark.parametrize(("merge_mode", "expected"), [("concat", KERAS_CONCAT), ("ave", KERAS_AVE)])
def test_bidirectional_matches_keras(merge_mode, expected):
    layer = layers.Bidirectional(layers.SimpleRNN(2, return_sequences=True), merge_mode=merge_mode)
    layer(X)
    weights = _weights([w.shape for w in layer.weights])
    weights[3:] = [w[::-1].copy() * 0.5 for w in weights[3:]]
    layer.set_weights(weights)
    np.testing.assert_allclose(layer(X).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_bidirectional_return_state_matches_keras():
    layer = layers.Bidirectional(layers.GRU(2, return_state=True), merge_mode="sum")
    layer(X)
    layer.set_weights(_weights([w.shape for w in layer.weights]))
    outputs = layer(X)
    assert len(outputs) == 3
    for got, expected in zip(outputs, KERAS_GRU_STATE, strict=True):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_bidirectional_weights_and_config_as_keras():
    layer = layers.Bidirectional(layers.LSTM(2), name="bi")
    layer(X)
    names = [w.path for w in layer.weights]
    assert names[0].startswith("bi/forward_lstm") and names[3].startswith("bi/backward_lstm")
    assert len(names) == 6
    config = layer.get_config()
    assert {"merge_mode", "layer", "backward_layer"} <= set(config)
    assert config["layer"]["config"]["name"].startswith("forward_")
    assert config["backward_layer"]["config"]["go_backwards"] is True
    clone = layers.Bidirectional.from_config(config)
    clone(X)
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(X).numpy(), layer(X).numpy(), rtol=1e-6)


@pytest.mark.parametrize("cls", [layers.SimpleRNN, layers.LSTM, layers.GRU])
@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave"])
def test_bidirectional_layer_test(cls, merge_mode):
    run_layer_test(
        layers.Bidirectional,
        {"layer": cls(2, return_sequences=True, dtype="float64"), "merge_mode": merge_mode},
        input_shape=(2, 3, 2),
        expected_output_shape=(2, 3, 4 if merge_mode == "concat" else 2),
        expected_num_trainable_weights=6,
    )


@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("return_state", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "mul", None])
def test_bidirectional_output_structure(return_sequences, return_state, merge_mode):
    layer = layers.Bidirectional(
        layers.LSTM(3, return_sequences=return_sequences, return_state=return_state),
        merge_mode=merge_mode,
    )
    x = np.random.default_rng(0).standard_normal((2, 5, 4)).astype(np.float32)
    out = layer(x)
    flat = list(out) if isinstance(out, list | tuple) else [out]
    step = (5,) if return_sequences else ()
    width = 6 if merge_mode == "concat" else 3
    expected = [(2, *step, width)] * (2 if merge_mode is None else 1)
    expected += [(2, 3)] * (4 if return_state else 0)
    assert [tuple(o.shape) for o in flat] == expected
    shapes = layer.compute_output_shape((None, 5, 4))
    shapes = [shapes] if not return_state and merge_mode is not None else list(shapes)
    assert [tuple(s) for s in shapes] == [(None, *e[1:]) for e in expected]
    symbolic = layer(layers.Input((5, 4)))
    symbolic = list(symbolic) if isinstance(symbolic, list | tuple) else [symbolic]
    assert [s.shape for s in symbolic] == [(None, *e[1:]) for e in expected]


def test_bidirectional_initial_state_and_backward_layer():
    forward = layers.GRU(2, return_sequences=True)
    backward = layers.SimpleRNN(2, return_sequences=True, go_backwards=True)
    layer = layers.Bidirectional(forward, backward_layer=backward, merge_mode=None)
    states = [np.ones((2, 2), np.float32), np.zeros((2, 2), np.float32)]
    y, y_rev = layer(X, initial_state=states)
    assert layer.backward_layer is backward
    expected = backward(X, initial_state=[states[1]]).numpy()[:, ::-1]
    np.testing.assert_allclose(y_rev.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(
        y.numpy(), layer.forward_layer(X, initial_state=[states[0]]).numpy(), rtol=1e-6
    )


def test_bidirectional_compiled_and_gradients():
    layer = layers.Bidirectional(layers.LSTM(3))
    x = tg.tensor(np.random.default_rng(1).standard_normal((2, 4, 3)).astype(np.float32))

    def loss_and_grads(x):
        with tg.GradientTape() as tape:
            loss = tg.numpy.sum(layer(x) ** 2)
        return loss, tape.gradient(loss, layer.trainable_weights)

    eager = loss_and_grads(x)
    compiled = tg.function(loss_and_grads)(x)
    np.testing.assert_allclose(compiled[0].numpy(), eager[0].numpy(), rtol=1e-5)
    for a, b in zip(compiled[1], eager[1], strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


def test_bidirectional_bad_arguments():
    with pytest.raises(ValueError, match="merge_mode"):
        layers.Bidirectional(layers.LSTM(2), merge_mode="max")
    with pytest.raises(ValueError, match="recurrent layer"):
        layers.Bidirectional(layers.Dense(2))
    with pytest.raises(ValueError, match="go_backwards"):
        layers.Bidirectional(layers.LSTM(2), backward_layer=layers.LSTM(2))
    with pytest.raises(ValueError, match="return_sequences"):
        layers.Bidirectional(
            layers.LSTM(2), backward_layer=layers.LSTM(2, go_backwards=True, return_sequences=True)
        )


def test_time_distributed_layer_test():
    out = run_layer_test(
        layers.TimeDistributed,
        {"layer": layers.Dense(3, dtype="float64")},
        input_shape=(2, 4, 5),
        expected_output_shape=(2, 4, 3),
        expected_num_trainable_weights=2,
    )
    assert out.shape == (2, 4, 3)
    run_layer_test(
        layers.TimeDistributed,
        {"layer": layers.Conv2D(2, 2, dtype="float64")},
        input_shape=(2, 3, 4, 4, 1),
        expected_output_shape=(2, 3, 3, 3, 2),
        expected_num_trainable_weights=2,
    )


def test_time_distributed_is_per_step_application():
    inner = layers.Dense(3)
    layer = layers.TimeDistributed(inner)
    x = np.random.default_rng(2).standard_normal((2, 4, 5)).astype(np.float32)
    out = layer(x).numpy()
    for t in range(4):
        np.testing.assert_allclose(out[:, t], inner(x[:, t]).numpy(), rtol=1e-6)
    assert layer.compute_output_shape((None, 4, 5)) == (None, 4, 3)
    assert tg.function(lambda v: layer(v))(tg.tensor(x)).numpy().shape == (2, 4, 3)
    with pytest.raises(ValueError, match="at least 3 dims"):
        layer(np.ones((2, 5), np.float32))


def test_wrappers_save_and_load(tmp_path):
    model = tg.Sequential(
        [
            layers.Input((3, 2)),
            layers.Bidirectional(layers.GRU(2, return_sequences=True)),
            layers.TimeDistributed(layers.Dense(1)),
        ]
    )
    model.compile("adam", "mse")
    model.fit(X, np.ones((2, 3, 1), np.float32), epochs=2, verbose=0)
    model.save(tmp_path / "wrapped.keras")
    loaded = tg.models.load_model(tmp_path / "wrapped.keras")
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_serialize_deserialize():
    config = layers.serialize(layers.Dense(2, name="d"))
    assert config["class_name"] == "Dense"
    assert layers.deserialize(config).units == 2
    with pytest.raises(ValueError, match="unknown layer class"):
        layers.deserialize({"class_name": "os.system", "config": {}})


# -- SpectralNormalization and Wrapper ---------------------------------------------------
SN_X = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
SN_KERNEL = np.linspace(-1.5, 2.0, 12, dtype=np.float32).reshape(4, 3)
SN_BIAS = np.array([0.1, 0.2, 0.3], np.float32)
SN_U = np.array([[0.3, -0.2, 0.5]], np.float32)
# Keras 3.15: SpectralNormalization(Dense(3), power_iterations=2) with the weights above,
# after one training call on SN_X.
KERAS_SN_OUTPUT = [[0.499564, 0.40832, 0.317075], [0.417602, 0.708847, 1.000092]]
KERAS_SN_KERNEL = [
    [-0.394442, -0.310772, -0.227103],
    [-0.143433, -0.059764, 0.023906],
    [0.107575, 0.191245, 0.274914],
    [0.358583, 0.442253, 0.525922],
]
KERAS_SN_U = [[0.535398, 0.57638, 0.617361]]


def _spectral(power_iterations=2):
    layer = layers.SpectralNormalization(layers.Dense(3), power_iterations=power_iterations)
    layer(SN_X)
    layer.layer.kernel.assign(SN_KERNEL)
    layer.layer.bias.assign(SN_BIAS)
    layer.vector_u.assign(SN_U)
    return layer


def test_spectral_normalization_matches_keras():
    layer = _spectral()
    np.testing.assert_allclose(layer(SN_X, training=True).numpy(), KERAS_SN_OUTPUT, rtol=1e-5)
    np.testing.assert_allclose(layer.layer.kernel.numpy(), KERAS_SN_KERNEL, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.vector_u.numpy(), KERAS_SN_U, rtol=1e-5)
    before = layer.layer.kernel.numpy()
    layer(SN_X)  # inference: the kernel is used as it is
    np.testing.assert_array_equal(layer.layer.kernel.numpy(), before)
    assert layer.get_config()["power_iterations"] == 2
    assert [w.name.split("/")[-1] for w in layer.non_trainable_weights] == ["vector_u"]


def test_spectral_normalization_compiled_training_and_layer_test(tmp_path):
    layer = _spectral()
    step = tg.function(lambda x: layer(x, training=True))
    np.testing.assert_allclose(step(tg.tensor(SN_X)).numpy(), KERAS_SN_OUTPUT, rtol=1e-5)
    np.testing.assert_allclose(layer.layer.kernel.numpy(), KERAS_SN_KERNEL, rtol=1e-5, atol=1e-6)
    run_layer_test(
        layers.SpectralNormalization,
        {"layer": layers.Conv2D(2, 2, dtype="float64")},
        input_shape=(2, 3, 3, 1),
        expected_output_shape=(2, 2, 2, 2),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=1,
    )
    model = tg.Sequential([layers.Input((4,)), layers.SpectralNormalization(layers.Dense(1))])
    model.compile("adam", "mse")
    model.fit(SN_X, np.ones((2, 1), np.float32), epochs=3, verbose=0)
    model.save(tmp_path / "sn.keras")
    loaded = tg.models.load_model(tmp_path / "sn.keras")
    np.testing.assert_allclose(loaded.predict(SN_X, verbose=0), model.predict(SN_X, verbose=0))
    with pytest.raises(ValueError, match="kernel"):
        layers.SpectralNormalization(layers.ReLU())(SN_X)
    with pytest.raises(ValueError, match="power_iterations"):
        layers.SpectralNormalization(layers.Dense(2), power_iterations=0)


def test_wrapper_base_builds_and_configures_the_layer():
    class Doubled(layers.Wrapper):
        def call(self, inputs):
            return 2 * self.layer(inputs)

    wrapped = Doubled(layers.Dense(2, kernel_initializer="ones"))
    np.testing.assert_allclose(wrapped(np.ones((1, 3), np.float32)).numpy(), [[6.0, 6.0]])
    config = wrapped.get_config()
    assert config["layer"]["class_name"] == "Dense"
    assert Doubled.from_config(config).layer.units == 2
    assert isinstance(layers.TimeDistributed(layers.Dense(1)), layers.Wrapper)
    with pytest.raises(ValueError, match="must be a Layer"):
        Doubled("dense")
