"""Discretization: buckets and encodings, and `adapt`'s quantile boundaries against
Keras 3.15 (JAX backend) on the same data; configs, saving, compiled calls, errors."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers

DATA = np.random.default_rng(0).gamma(2.0, 3.0, (500, 3)).astype(np.float32)


@pytest.mark.parametrize(
    ("num_bins", "epsilon", "expected"),
    [  # Keras 3.15's boundaries after adapting to DATA
        (4, 0.01, [2.8750508, 5.0070748, 8.0748816]),
        (5, 0.1, [2.5072224, 4.0317435, 6.1205101, 8.9427795]),
        (3, 0.001, [3.4271083, 6.7779169]),
    ],
)
def test_adapt_matches_keras(num_bins, epsilon, expected):
    layer = layers.Discretization(num_bins=num_bins, epsilon=epsilon)
    layer.adapt(DATA)
    np.testing.assert_allclose(layer.bin_boundaries, expected, rtol=1e-6)


def test_adapt_on_batches_matches_keras():
    layer = layers.Discretization(num_bins=4, epsilon=0.05)
    layer.adapt([DATA[:200], DATA[200:]])
    # Keras 3.15, the same two batches.
    np.testing.assert_allclose(layer.bin_boundaries, [2.9127018, 5.1599727, 8.3336325], rtol=1e-6)
    layer.adapt(iter([DATA[:200], DATA[200:]]), steps=1)
    assert len(layer.bin_boundaries) == 3


X = np.array([[0.5, 3.0, 20.0], [5.0, 7.5, 1.0]], np.float32)
# Keras 3.15: Discretization(bin_boundaries=[1, 4, 6], output_mode=...)(X).
KERAS_OUTPUTS = {
    "int": [[0, 1, 3], [2, 3, 1]],
    "one_hot": [
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]],
        [[0, 0, 1, 0], [0, 0, 0, 1], [0, 1, 0, 0]],
    ],
    "multi_hot": [[1, 1, 0, 1], [0, 1, 1, 1]],
    "count": [[1, 1, 0, 1], [0, 1, 1, 1]],
}


@pytest.mark.parametrize("mode", list(KERAS_OUTPUTS))
def test_outputs_match_keras(mode):
    layer = layers.Discretization(bin_boundaries=[1.0, 4.0, 6.0], output_mode=mode)
    out = layer(X)
    np.testing.assert_array_equal(out.numpy(), KERAS_OUTPUTS[mode])
    assert out.dtype == (np.int32 if mode == "int" else np.float32)
    assert layer.compute_output_shape((None, 3)) == (None, *np.shape(KERAS_OUTPUTS[mode])[1:])
    compiled = tg.function(lambda v: layer(v))(tg.tensor(X))
    np.testing.assert_array_equal(compiled.numpy(), KERAS_OUTPUTS[mode])


def test_config_saving_and_errors(tmp_path):
    layer = layers.Discretization(num_bins=4)
    layer.adapt(DATA)
    config = layer.get_config()
    assert {"bin_boundaries", "num_bins", "epsilon", "output_mode", "sparse"} <= set(config)
    clone = layers.Discretization.from_config(config)
    assert clone.bin_boundaries == layer.bin_boundaries
    model = tg.Sequential([layers.Input((3,)), layer, layers.CategoryEncoding(5, "one_hot")])
    model.save(tmp_path / "d.keras")
    loaded = tg.models.load_model(tmp_path / "d.keras")
    np.testing.assert_array_equal(
        loaded.predict(DATA[:8], verbose=0), model.predict(DATA[:8], verbose=0)
    )
    with pytest.raises(ValueError, match="exactly one"):
        layers.Discretization()
    with pytest.raises(ValueError, match="sorted"):
        layers.Discretization(bin_boundaries=[2.0, 1.0])
    with pytest.raises(ValueError, match="adapt"):
        layers.Discretization(bin_boundaries=[1.0]).adapt(DATA)
    with pytest.raises(ValueError, match="output_mode"):
        layers.Discretization(bin_boundaries=[1.0], output_mode="tf_idf")
