"""AdaptiveAveragePooling1D/2D/3D, AdaptiveMaxPooling1D/2D/3D and RMSNormalization:
values against Keras 3.15 (JAX backend), `run_layer_test` (gradients included), configs."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

X = (np.arange(2 * 7 * 5 * 3, dtype=np.float32) ** 1.2 % 9).reshape(2, 7, 5, 3)


def test_adaptive_pooling_matches_keras():
    # Keras 3.15 outputs on X (windows of uneven sizes: 7 rows into 3, 5 columns into 2).
    out = layers.AdaptiveAveragePooling2D((3, 2))(X).numpy()
    expected = [[4.23915, 3.88395], [3.96677, 4.69281], [5.00558, 6.3106]]
    np.testing.assert_allclose(out[0, :, :, 0], expected, rtol=1e-5)
    out = layers.AdaptiveMaxPooling2D((3, 2))(X).numpy()
    expected = [[7.60757, 6.84893], [8.92578, 6.60514], [8.95967, 8.95967]]
    np.testing.assert_allclose(out[0, :, :, 1], expected, rtol=1e-5)
    sequence = X.reshape(2, 35, 3)
    out = layers.AdaptiveAveragePooling1D(4)(sequence).numpy()
    np.testing.assert_allclose(out[1, :, 2], [3.65451, 4.76514, 3.90821, 4.81346], rtol=1e-5)
    out = layers.AdaptiveMaxPooling1D(4, data_format="channels_first")(sequence).numpy()
    np.testing.assert_allclose(out[1, 0], [5.33438, 8.3811, 8.3811, 2.43356], rtol=1e-5)


@pytest.mark.parametrize(
    ("cls", "size", "shape", "out_shape"),
    [
        (layers.AdaptiveAveragePooling1D, 3, (2, 7, 2), (2, 3, 2)),
        (layers.AdaptiveAveragePooling2D, (2, 3), (2, 5, 4, 1), (2, 2, 3, 1)),
        (layers.AdaptiveAveragePooling3D, 2, (1, 3, 4, 5, 1), (1, 2, 2, 2, 1)),
        (layers.AdaptiveMaxPooling1D, 3, (2, 7, 2), (2, 3, 2)),
        (layers.AdaptiveMaxPooling2D, (2, 3), (2, 5, 4, 1), (2, 2, 3, 1)),
        (layers.AdaptiveMaxPooling3D, (1, 2, 2), (1, 3, 4, 5, 1), (1, 1, 2, 2, 1)),
    ],
)
def test_adaptive_pooling_layer_test(cls, size, shape, out_shape):
    out = run_layer_test(
        cls, {"output_size": size}, input_shape=shape, expected_output_shape=out_shape
    )
    layer = cls(size)
    assert layer.compute_output_shape((None, *shape[1:])) == (None, *out.shape[1:])
    config = layer.get_config()
    assert config["output_size"] == list(layer.output_size)
    assert config["data_format"] == "channels_last"


def test_adaptive_pooling_errors():
    with pytest.raises(ValueError, match="output_size"):
        layers.AdaptiveAveragePooling2D((2, 2, 2))
    with pytest.raises(ValueError, match="spatial axes"):
        layers.AdaptiveMaxPooling2D(2)(np.ones((1, 4, 4), np.float32))


# Keras 3.15: RMSNormalization(axis=[2, 3], epsilon=0.01) on X with scale
# linspace(0.5, 1.5, 15) as (5, 3); row [0, 0].
KERAS_RMS = [
    [0.0, 0.11365, 0.29373],
    [0.53091, 0.82479, 1.17604],
    [1.58563, 0.2646, 0.66607],
    [1.1289, 1.65405, 2.24242],
    [0.46561, 1.05512, 1.71034],
]


def test_rms_normalization_matches_keras():
    layer = layers.RMSNormalization(axis=[2, 3], epsilon=0.01)
    layer(X)
    layer.set_weights([np.linspace(0.5, 1.5, 15, dtype=np.float32).reshape(5, 3)])
    np.testing.assert_allclose(layer(X).numpy()[0, 0], KERAS_RMS, rtol=1e-4, atol=1e-5)
    assert layer.get_config()["axis"] == [2, 3] and layer.get_config()["epsilon"] == 0.01
    leading = layers.RMSNormalization(axis=[1, 2])  # non-trailing axes (Keras fails here)
    out = leading(X).numpy()
    expected = X / np.sqrt(np.mean(X**2, axis=(1, 2), keepdims=True) + 1e-6)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    run_layer_test(
        layers.RMSNormalization,
        {},
        input_shape=(2, 3, 4),
        expected_output_shape=(2, 3, 4),
        expected_num_trainable_weights=1,
    )
    x = tg.tensor(X)
    np.testing.assert_allclose(
        tg.function(lambda v: leading(v))(x).numpy(), leading(x).numpy(), rtol=1e-6
    )
