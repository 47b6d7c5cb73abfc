"""StackedRNNCells: a deep RNN equals Keras 3.15's (JAX backend) with the same weights,
states flat in cell order, `run_layer_test` through `RNN` (gradients included), configs."""

import numpy as np
import pytest

from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

X = np.sin(np.arange(2 * 4 * 3, dtype=np.float32)).reshape(2, 4, 3)
# Keras 3.15: RNN(StackedRNNCells([LSTMCell(3), GRUCell(2), SimpleRNNCell(2)]),
# return_sequences=True, return_state=True) on X, every weight linspace(-0.5, 0.6).
KERAS_SEQUENCE_1 = [
    [-0.483682, 0.630002],
    [-0.133996, 0.843326],
    [-0.277274, 0.881941],
    [-0.1909, 0.892658],
]
KERAS_LSTM_H = [[-0.009629, 0.016162, 0.049104], [0.003924, 0.032385, 0.071843]]
KERAS_LSTM_C = [[-0.020653, 0.033099, 0.096448], [0.00804, 0.062362, 0.130951]]
KERAS_GRU_H = [[0.304316, 0.50253], [0.317299, 0.518382]]


def _stack():
    return layers.StackedRNNCells([layers.LSTMCell(3), layers.GRUCell(2), layers.SimpleRNNCell(2)])


def test_stacked_cells_match_keras():
    layer = layers.RNN(_stack(), return_sequences=True, return_state=True)
    layer(X)
    shapes = [w.shape for w in layer.weights]
    assert shapes == [(3, 12), (3, 12), (12,), (3, 6), (2, 6), (2, 6), (2, 2), (2, 2), (2,)]
    layer.set_weights(
        [np.linspace(-0.5, 0.6, int(np.prod(s)), dtype=np.float32).reshape(s) for s in shapes]
    )
    sequence, lstm_h, lstm_c, gru_h, rnn_h = layer(X)
    np.testing.assert_allclose(sequence.numpy()[1], KERAS_SEQUENCE_1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(lstm_h.numpy(), KERAS_LSTM_H, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(lstm_c.numpy(), KERAS_LSTM_C, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(gru_h.numpy(), KERAS_GRU_H, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rnn_h.numpy(), sequence.numpy()[:, -1], rtol=1e-6)


def test_stacked_cells_layer_test_states_and_config():
    run_layer_test(
        layers.RNN,
        {"cell": layers.StackedRNNCells([layers.GRUCell(2), layers.SimpleRNNCell(2)])},
        input_shape=(2, 3, 2),
        expected_output_shape=(2, 2),
        expected_num_trainable_weights=6,
    )
    stack = _stack()
    assert stack.state_size == [3, 3, 2, 2] and stack.output_size == 2
    initial = [np.full((2, s), 0.1, np.float32) for s in stack.state_size]
    layer = layers.RNN(stack)
    assert layer(X, initial_state=initial).shape == (2, 2)
    config = stack.get_config()
    assert [c["class_name"] for c in config["cells"]] == ["LSTMCell", "GRUCell", "SimpleRNNCell"]
    clone = layers.StackedRNNCells.from_config(config)
    assert clone.state_size == stack.state_size
    with pytest.raises(ValueError, match="cells"):
        layers.StackedRNNCells([])
    with pytest.raises(ValueError, match="states"):
        stack.call(X[:, 0], [np.zeros((2, 3), np.float32)])


def test_rnn_takes_a_list_of_cells_as_keras() -> None:
    x = np.random.default_rng(4).standard_normal((2, 5, 3)).astype(np.float32)
    cells = [layers.GRUCell(3), layers.SimpleRNNCell(2)]
    listed = layers.RNN(cells, return_sequences=True, return_state=True)
    assert isinstance(listed.cell, layers.StackedRNNCells)
    stacked = layers.RNN(
        layers.StackedRNNCells([layers.GRUCell(3), layers.SimpleRNNCell(2)]),
        return_sequences=True,
        return_state=True,
    )
    listed(x)
    stacked(x)
    stacked.set_weights(listed.get_weights())
    for got, want in zip(listed(x), stacked(x), strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
    clone = layers.RNN.from_config(listed.get_config())
    assert [type(c).__name__ for c in clone.cell.cells] == ["GRUCell", "SimpleRNNCell"]
