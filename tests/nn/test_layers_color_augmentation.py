"""AutoContrast, RandomInvert, RandomGrayscale, Solarization: values against Keras 3.15 (JAX
backend), the draws (per image, fresh in compiled steps, none in inference), configs."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers


def test_grayscale_and_invert_match_keras():
    rgb = np.array([[[[255.0, 0.0, 0.0], [10.0, 20.0, 30.0]]]], np.float32)
    out = layers.RandomGrayscale(1.0)(rgb).numpy()
    expected = [[[[76.219505] * 3, [18.149] * 3]]]  # Keras 3.15
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    out = layers.RandomInvert((1.0, 1.0), value_range=(0, 1))(np.array([[[[0.25]]]], np.float32))
    np.testing.assert_allclose(out.numpy(), [[[[0.75]]]])  # Keras 3.15


def test_draws_per_image_and_inference():
    images = np.random.default_rng(0).uniform(0, 255, (64, 2, 2, 3)).astype(np.float32)
    inverted = layers.RandomInvert(seed=1)(images).numpy()
    flipped = np.isclose(inverted, 255.0 - images).all(axis=(1, 2, 3))
    kept = np.isclose(inverted, images).all(axis=(1, 2, 3))
    assert (flipped | kept).all() and 0.3 < flipped.mean() < 0.7  # Keras: probability 1/2
    grey = layers.RandomGrayscale(0.5, seed=1)(images).numpy()
    is_grey = np.isclose(grey, grey[..., :1]).all(axis=(1, 2, 3))
    assert 0.3 < is_grey.mean() < 0.7
    np.testing.assert_array_equal(grey[~is_grey], images[~is_grey])
    for layer in (layers.RandomInvert(), layers.RandomGrayscale()):
        np.testing.assert_array_equal(layer(images, training=False).numpy(), images)
        step = tg.function(lambda v, layer=layer: layer(v, training=True))
        assert not np.array_equal(step(tg.tensor(images)).numpy(), step(tg.tensor(images)).numpy())
    assert layers.RandomInvert()(images[0]).shape == (2, 2, 3)


def test_configs_and_errors():
    config = layers.RandomInvert().get_config()
    assert (config["factor"], config["value_range"]) == ([0.0, 1.0], [0.0, 255.0])
    assert layers.RandomGrayscale(0.3).get_config()["factor"] == 0.3
    with pytest.raises(ValueError, match="factor"):
        layers.RandomInvert(1.5)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomGrayscale(-0.5)


def test_auto_contrast_matches_keras():
    x = (np.arange(2 * 3 * 3 * 2, dtype=np.float32) ** 1.4 % 13).reshape(2, 3, 3, 2) / 13
    x[1, :, :, 1] = 0.4  # a constant channel stays as it is
    out = layers.AutoContrast(value_range=(0, 1))(x).numpy()
    # Keras 3.15, image 1, channel 0 (its other channel is constant 0.4).
    expected = [[0.335459, 0.0, 0.812043], [0.538573, 0.293675, 0.076005], [1.0, 0.83336, 0.690757]]
    np.testing.assert_allclose(out[1, :, :, 0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[1, :, :, 1], 0.4)
    np.testing.assert_allclose(out[0].min(axis=(0, 1)), [0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(out[0].max(axis=(0, 1)), [1.0, 1.0], rtol=1e-6)
    assert layers.AutoContrast().get_config()["value_range"] == [0.0, 255.0]
    with pytest.raises(ValueError, match="value_range"):
        layers.AutoContrast(value_range=(1,))


def test_solarization_matches_keras():
    x = np.array([[[[10.0, 200.0], [100.0, 140.0]]], [[[0.0, 255.0], [60.0, 130.0]]]], np.float32)
    # Keras 3.15: the default factors invert every pixel.
    expected = [245.0, 55.0, 155.0, 115.0, 255.0, 0.0, 195.0, 125.0]
    np.testing.assert_allclose(layers.Solarization()(x).numpy().ravel(), expected)
    layer = layers.Solarization(threshold_factor=(0.5, 0.5), value_range=(0, 1), seed=2)
    pixels = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(64, 1, 1, 1)
    out = layer(pixels).numpy()
    # Keras' thresholds for (0.5, 0.5) lie in [0.5, 127.5] (of 255): each pixel is kept
    # below its image's threshold and inverted from it on.
    kept = np.isclose(out, pixels)
    assert (kept | np.isclose(out, 1.0 - pixels)).all()
    assert kept[pixels * 255 < 0.5].all() and not kept[pixels * 255 >= 127.5].any()
    shifted = layers.Solarization(addition_factor=(0.1, 0.1), threshold_factor=1.0, seed=3)
    out = shifted(np.zeros((64, 1, 1, 1), np.float32)).numpy().ravel()
    # Keras' draw range for (0.1, 0.1): additions in [0.1, 25.5]; thresholds in [0, 255].
    assert out.min() >= 0.0 and out.max() <= 255.0 and len(np.unique(out)) > 10
    np.testing.assert_array_equal(layers.Solarization()(x, training=False).numpy(), x)
    config = layers.Solarization(0.2).get_config()
    assert (config["addition_factor"], config["threshold_factor"]) == ([0.0, 0.2], [0.0, 0.0])
    with pytest.raises(ValueError, match="threshold_factor"):
        layers.Solarization(threshold_factor=2.0)


def test_color_degeneration_matches_keras():
    x = np.array([[[[200.0, 30.0, 90.0], [10.0, 250.0, 120.0]]]], np.float32)
    out = layers.RandomColorDegeneration((0.5, 0.5))(x).numpy()
    expected = [[[[143.825, 58.825, 88.825], [86.7095, 206.7095, 141.7095]]]]  # Keras 3.15
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    out = layers.RandomColorDegeneration((-0.8, -0.8))(x).numpy()
    expected = [[[[255.0, 0.0, 91.88], [0.0, 255.0, 85.2648]]]]  # Keras 3.15: clipped
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    layer = layers.RandomColorDegeneration(0.3, seed=0)
    assert layer.get_config()["factor"] == [-0.3, 0.3]
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x)
    with pytest.raises(ValueError, match="factor"):
        layers.RandomColorDegeneration(2.0)
