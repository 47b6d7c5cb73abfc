"""SpatialDropout1D/2D/3D, GaussianNoise, GaussianDropout, AlphaDropout: identity outside
training, the distributions Keras 3 draws while training, gradients through the draws,
fresh draws in compiled steps, configs as Keras writes them."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

RANDOM_LAYERS = [
    (layers.SpatialDropout1D, {"rate": 0.5}, (2, 3, 4)),
    (layers.SpatialDropout2D, {"rate": 0.5}, (2, 3, 3, 4)),
    (layers.SpatialDropout3D, {"rate": 0.5, "data_format": "channels_first"}, (2, 4, 2, 2, 2)),
    (layers.GaussianNoise, {"stddev": 0.5}, (2, 5)),
    (layers.GaussianDropout, {"rate": 0.3}, (2, 5)),
    (layers.AlphaDropout, {"rate": 0.3}, (2, 5)),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), RANDOM_LAYERS)
def test_identity_outside_training(cls, kwargs, shape):
    x = np.random.default_rng(0).standard_normal(shape)
    out = run_layer_test(cls, kwargs, input_shape=shape, input_data=x, expected_output_shape=shape)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize(("cls", "kwargs", "shape"), RANDOM_LAYERS)
def test_compiled_training_draws_fresh_values(cls, kwargs, shape):
    layer = cls(**kwargs, seed=3)
    step = tg.function(lambda v: layer(v, training=True))
    x = tg.tensor(np.random.default_rng(0).standard_normal(shape).astype(np.float32) + 3)
    first, second = step(x).numpy(), step(x).numpy()
    assert first.shape == shape
    assert not np.array_equal(first, second)
    assert not np.array_equal(first, x.numpy())


def test_spatial_dropout_drops_whole_channels():
    x = np.ones((64, 5, 6, 8), np.float32)
    out = layers.SpatialDropout2D(0.5, seed=0)(x, training=True).numpy()
    assert set(np.unique(out)) <= {0.0, 2.0}
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1, :1, :], out.shape))
    dropped = (out[:, 0, 0, :] == 0).mean()
    assert dropped > 0.4
    assert dropped < 0.6
    out = layers.SpatialDropout1D(0.5, seed=0)(np.ones((32, 4, 6)), training=True).numpy()
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1, :], out.shape))
    out = layers.SpatialDropout3D(0.5, data_format="channels_first", seed=0)(
        np.ones((16, 6, 2, 2, 2)), training=True
    ).numpy()
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :, :1, :1, :1], out.shape))


def test_gaussian_layers_distributions_and_gradients():
    x = np.full((20000,), 2.0)
    noisy = layers.GaussianNoise(0.3, seed=1)(x, training=True).numpy()
    assert abs(noisy.mean() - 2.0) < 0.02 and abs(noisy.std() - 0.3) < 0.02
    layer = layers.GaussianDropout(0.2, seed=1)
    xt = tg.tensor(x)
    with tg.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt, training=True)
        loss = tg.numpy.sum(out * 3.0)
    noise = out.numpy() / 2.0
    assert abs(noise.mean() - 1.0) < 0.02 and abs(noise.std() - np.sqrt(0.2 / 0.8)) < 0.02
    np.testing.assert_allclose(tape.gradient(loss, xt).numpy(), 3.0 * noise, rtol=1e-12)


def test_alpha_dropout_keeps_selu_statistics_and_gradient():
    x = tg.tensor(np.random.default_rng(0).standard_normal(50000))
    layer = layers.AlphaDropout(0.25, seed=2)
    with tg.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, training=True)
        loss = tg.numpy.sum(out)
    values = out.numpy()
    assert abs(values.mean()) < 0.03 and abs(values.std() - 1.0) < 0.03
    # Keras' affine correction: a * (x * kept + alpha_p * (1 - kept)) + b.
    alpha_p = -1.6732632423543772 * 1.0507009873554805
    a = ((1 - 0.25) * (1 + 0.25 * alpha_p**2)) ** -0.5
    b = -a * alpha_p * 0.25
    grad = tape.gradient(loss, x).numpy()
    kept = grad > 0
    assert kept.mean() > 0.72
    assert kept.mean() < 0.78
    np.testing.assert_allclose(grad[kept], a)
    np.testing.assert_allclose(values[~kept], a * alpha_p + b)
    np.testing.assert_allclose(values[kept], a * x.numpy()[kept] + b)


def test_alpha_dropout_noise_shape():
    layer = layers.AlphaDropout(0.5, noise_shape=(None, 1), seed=0)
    out = layer(np.random.default_rng(0).standard_normal((8, 5)), training=True).numpy()
    dropped = np.isclose(out, out[:, :1]) & np.isclose(out[:, :1], out.min())
    assert (dropped.all(axis=1) | ~dropped.any(axis=1)).all()


# Keras 3.15's configs, without name, trainable and dtype.
KERAS_CONFIGS = [
    (layers.SpatialDropout1D, {"rate": 0.5}, {"rate": 0.5, "seed": None}),
    (
        layers.SpatialDropout2D,
        {"rate": 0.5},
        {"rate": 0.5, "seed": None, "data_format": "channels_last"},
    ),
    (layers.GaussianNoise, {"stddev": 0.1, "seed": 3}, {"stddev": 0.1, "seed": 3}),
    (layers.GaussianDropout, {"rate": 0.1}, {"rate": 0.1, "seed": None}),
    (layers.AlphaDropout, {"rate": 0.1}, {"rate": 0.1, "seed": None, "noise_shape": None}),
]


@pytest.mark.parametrize(("cls", "kwargs", "expected"), KERAS_CONFIGS)
def test_configs_as_keras(cls, kwargs, expected):
    config = cls(**kwargs).get_config()
    # Keras' spatial dropouts write no "trainable" (tests/parity compares the key sets).
    for key in ("name", "trainable", "dtype"):
        config.pop(key, None)
    assert config == expected


def test_bad_arguments():
    with pytest.raises(ValueError, match="stddev"):
        layers.GaussianNoise(1.5)
    with pytest.raises(ValueError, match="rate"):
        layers.GaussianDropout(1.0)
    with pytest.raises(ValueError, match="rate"):
        layers.SpatialDropout2D(-0.1)
    with pytest.raises(ValueError, match="3 dims"):
        layers.SpatialDropout1D(0.5)(np.ones((2, 3)), training=True)


def test_training_a_model_with_noise_layers(tmp_path):
    model = tg.Sequential(
        [
            layers.Input((4, 3)),
            layers.GaussianNoise(0.1),
            layers.SpatialDropout1D(0.2),
            layers.Flatten(),
            layers.AlphaDropout(0.1),
            layers.GaussianDropout(0.1),
            layers.Dense(1),
        ]
    )
    x = np.random.default_rng(0).standard_normal((16, 4, 3)).astype(np.float32)
    model.compile("adam", "mse")
    history = model.fit(x, np.ones((16, 1), np.float32), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    model.save(tmp_path / "m.keras")
    loaded = tg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
