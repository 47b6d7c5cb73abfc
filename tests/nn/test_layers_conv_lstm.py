"""ConvLSTM1D/2D/3D: values against Keras 3.15 (JAX backend) with the same weights,
`run_layer_test` (gradients included), dropout in compiled steps, configs, saving."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test


def _linspace(shape, low, high):
    return np.linspace(low, high, int(np.prod(shape)), dtype=np.float32).reshape(shape)


# Keras 3.15: ConvLSTM1D(2, 2, return_sequences=True, return_state=True) on X1, every
# weight linspace(-0.6, 0.8).
X1 = np.sin(np.arange(12, dtype=np.float32)).reshape(1, 3, 4, 1)
KERAS_1D_SEQUENCE = [
    [[0.163084, 0.256416], [0.094241, 0.197178], [0.010866, 0.076734]],
    [[0.039847, 0.087093], [0.115469, 0.192184], [0.167162, 0.288244]],
    [[0.082749, 0.213931], [0.046385, 0.139917], [-0.004192, 0.039389]],
]
KERAS_1D_CELL = [[0.11271, 0.274307], [0.076089, 0.214546], [-0.008968, 0.081147]]
# Keras 3.15: ConvLSTM2D(1, 2, padding="same", data_format="channels_first",
# dilation_rate=2, go_backwards=True) on X2, weights linspace(-0.7, 0.5).
X2 = np.cos(np.arange(18, dtype=np.float32)).reshape(1, 2, 1, 3, 3)
KERAS_2D = [
    [0.002931, 0.05561, 0.020314],
    [0.044679, -0.012834, 0.014363],
    [0.057005, 0.153395, 0.10754],
]


def test_conv_lstm_matches_keras():
    layer = layers.ConvLSTM1D(2, 2, return_sequences=True, return_state=True)
    layer(X1)
    layer.set_weights([_linspace(w.shape, -0.6, 0.8) for w in layer.weights])
    sequence, hidden, cell = layer(X1)
    np.testing.assert_allclose(sequence.numpy()[0], KERAS_1D_SEQUENCE, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(hidden.numpy(), sequence.numpy()[:, -1], rtol=1e-6)
    np.testing.assert_allclose(cell.numpy()[0], KERAS_1D_CELL, rtol=1e-4, atol=1e-6)
    layer = layers.ConvLSTM2D(
        1, 2, padding="same", data_format="channels_first", dilation_rate=2, go_backwards=True
    )
    layer(X2)
    layer.set_weights([_linspace(w.shape, -0.7, 0.5) for w in layer.weights])
    np.testing.assert_allclose(layer(X2).numpy()[0, 0], KERAS_2D, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("cls", "kwargs", "shape", "out_shape"),
    [
        (layers.ConvLSTM1D, {"filters": 2, "kernel_size": 2}, (2, 3, 4, 1), (2, 3, 2)),
        (
            layers.ConvLSTM2D,
            {"filters": 1, "kernel_size": 2, "padding": "same", "return_sequences": True},
            (1, 2, 3, 3, 1),
            (1, 2, 3, 3, 1),
        ),
        (layers.ConvLSTM3D, {"filters": 1, "kernel_size": 2}, (1, 2, 2, 2, 3, 1), (1, 1, 1, 2, 1)),
    ],
)
def test_conv_lstm_layer_test(cls, kwargs, shape, out_shape):
    run_layer_test(
        cls, kwargs, input_shape=shape, expected_output_shape=out_shape,
        expected_num_trainable_weights=3,
    )  # fmt: skip


def test_conv_lstm_weights_initial_state_dropout_and_config(tmp_path):
    layer = layers.ConvLSTM2D(4, 3, padding="same", name="clstm")
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5, 2)).astype(np.float32)
    out = layer(x)
    assert out.shape == (2, 5, 5, 4)
    assert [w.path for w in layer.weights] == [
        "clstm/conv_lstm_cell/kernel",
        "clstm/conv_lstm_cell/recurrent_kernel",
        "clstm/conv_lstm_cell/bias",
    ]
    np.testing.assert_array_equal(layer.cell.bias.numpy(), [0] * 4 + [1] * 4 + [0] * 8)
    states = [np.full((2, 5, 5, 4), 0.5, np.float32)] * 2
    assert not np.allclose(layer(x, initial_state=states).numpy(), out.numpy())
    with pytest.raises(ValueError, match="initial_state"):
        layer(x, initial_state=[np.zeros((2, 4, 4, 4), np.float32)] * 2)
    noisy = layers.ConvLSTM2D(2, 3, dropout=0.3, recurrent_dropout=0.3, seed=1)
    step = tg.function(lambda v: noisy(v, training=True))
    assert not np.array_equal(step(tg.tensor(x)).numpy(), step(tg.tensor(x)).numpy())
    config = layer.get_config()
    assert {"filters", "kernel_size", "recurrent_initializer", "unit_forget_bias"} <= set(config)
    model = tg.Sequential([layers.Input((3, 5, 5, 2)), layers.ConvLSTM2D(2, 3), layers.Flatten()])
    model.compile("adam", "mse")
    model.fit(x, np.zeros((2, 18), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = tg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.raises(ValueError, match="stateful=True the batch size must be static"):
        layers.ConvLSTM2D(2, 3, stateful=True)(tg.Input((3, 5, 5, 2)))


def test_conv_lstm_zero_output_for_mask_unroll_and_activity_regularizer():
    # Keras 3.15's own ConvLSTM fails on a mask with zero_output_for_mask (its masked step
    # does not broadcast), so the semantics are checked against the carried-output run.
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 2)).astype(np.float32)
    mask = np.array([[1, 0, 1, 0], [1, 1, 1, 1]], bool)
    kwargs = {"filters": 3, "kernel_size": 2, "return_sequences": True, "return_state": True}
    carried = layers.ConvLSTM1D(**kwargs)
    zeroed = layers.ConvLSTM1D(**kwargs, unroll=True, zero_output_for_mask=True)
    carried(x)
    zeroed(x)
    zeroed.set_weights(carried.get_weights())
    seq_c, h_c, c_c = (t.numpy() for t in carried(x, mask=mask))
    seq_z, h_z, c_z = (t.numpy() for t in zeroed(x, mask=mask))
    assert np.all(seq_z[~mask] == 0.0)
    np.testing.assert_allclose(seq_z[mask], seq_c[mask], rtol=1e-6)
    # The states are carried through masked steps either way.
    np.testing.assert_allclose(h_z, h_c, rtol=1e-6)
    np.testing.assert_allclose(c_z, c_c, rtol=1e-6)
    last = layers.ConvLSTM1D(3, 2, zero_output_for_mask=True)
    last(x)
    out = last(x, mask=mask).numpy()
    assert np.all(out[0] == 0.0)  # the last step of sequence 0 is masked
    assert np.any(out[1] != 0.0)

    config = zeroed.get_config()
    assert config["unroll"] is True
    assert config["zero_output_for_mask"] is True
    assert config["activity_regularizer"] is None
    restored = layers.ConvLSTM1D.from_config(config)
    assert restored.zero_output_for_mask is True

    reg = layers.ConvLSTM1D(3, 2, activity_regularizer="l2")
    out = reg(x)
    expected = 0.01 * float(np.sum(np.square(out.numpy()))) / x.shape[0]
    assert len(reg.losses) == 1
    np.testing.assert_allclose(float(reg.losses[0].numpy()), expected, rtol=1e-5)
    rebuilt = layers.ConvLSTM1D.from_config(reg.get_config())
    assert rebuilt.activity_regularizer is not None
