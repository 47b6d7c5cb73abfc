"""CenterCrop, RandomFlip, RandomCrop, RandomContrast, RandomBrightness: values against
Keras 3.15 (JAX backend), the draws (per image, fresh in compiled steps, inactive in
inference), configs, models."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

IMAGE = (np.arange(2 * 5 * 7 * 2, dtype=np.float32) % 11).reshape(2, 5, 7, 2)


def test_center_crop_matches_keras():
    out = layers.CenterCrop(3, 4)(IMAGE).numpy()
    expected = [[10.0, 1.0, 3.0, 5.0], [2.0, 4.0, 6.0, 8.0], [5.0, 7.0, 9.0, 0.0]]  # Keras 3.15
    np.testing.assert_array_equal(out[1, :, :, 1], expected)
    np.testing.assert_array_equal(out, IMAGE[:, 1:4, 1:5])
    # Taller than the image: Keras resizes (cropped to the aspect ratio) instead.
    small = layers.CenterCrop(6, 4)(IMAGE).numpy()[0, :, :, 0]
    expected_small = [  # Keras 3.15
        [4.0, 5.25, 6.75, 8.0],
        [6.25, 7.5, 5.90625, 2.0],
        [8.75, 5.989584, 3.364584, 1.75],
        [6.666668, 3.90625, 3.0, 4.25],
        [2.75, 4.0, 5.5, 6.75],
        [5.0, 6.25, 7.75, 9.0],
    ]
    np.testing.assert_allclose(small, expected_small, rtol=1e-5, atol=1e-5)


def test_center_crop_layer_test_channels_first_and_config():
    run_layer_test(
        layers.CenterCrop,
        {"height": 2, "width": 3},
        input_shape=(2, 4, 5, 1),
        expected_output_shape=(2, 2, 3, 1),
    )
    first = layers.CenterCrop(3, 4, data_format="channels_first")(IMAGE.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(first.numpy(), IMAGE[:, 1:4, 1:5].transpose(0, 3, 1, 2))
    config = layers.CenterCrop(3, 4).get_config()
    assert (config["height"], config["width"], config["data_format"]) == (
        3,
        4,
        "channels_last",
    )
    with pytest.raises(ValueError, match="images"):
        layers.CenterCrop(2, 2)(np.ones((4, 4)))


@pytest.mark.parametrize(
    ("mode", "flips"),
    [
        ("horizontal", [lambda x: x, lambda x: x[:, ::-1]]),
        ("vertical", [lambda x: x, lambda x: x[::-1]]),
        ("horizontal_and_vertical", [lambda x: x, lambda x: x[::-1, ::-1]]),
    ],
)
def test_random_flip_draws_per_image(mode, flips):
    images = np.random.default_rng(0).standard_normal((64, 3, 4, 2)).astype(np.float32)
    out = layers.RandomFlip(mode, seed=1)(images).numpy()
    kinds = []
    for image, result in zip(images, out, strict=True):
        matches = [np.array_equal(result, flip(image)) for flip in flips]
        assert any(matches)
        kinds.append(matches.index(True))
    assert 0.25 < np.mean(kinds) < 0.75  # each image drawn on its own, about half flipped


def test_random_flip_inference_compiled_and_config():
    layer = layers.RandomFlip(seed=3)
    x = tg.tensor(np.random.default_rng(0).standard_normal((8, 3, 3, 1)).astype(np.float32))
    np.testing.assert_array_equal(layer(x, training=False).numpy(), x.numpy())
    step = tg.function(lambda v: layer(v, training=True))
    draws = {step(x).numpy().tobytes() for _ in range(4)}
    assert len(draws) > 1
    model = tg.Sequential([layers.Input((3, 3, 1)), layer])
    np.testing.assert_array_equal(model.predict(x.numpy(), verbose=0), x.numpy())
    config = layer.get_config()
    assert (config["mode"], config["seed"], config["data_format"]) == (
        "horizontal_and_vertical",
        3,
        "channels_last",
    )
    with pytest.raises(ValueError, match="mode"):
        layers.RandomFlip("diagonal")


def test_augmentation_model_trains_and_saves(tmp_path):
    model = tg.Sequential(
        [
            layers.Input((6, 6, 1)),
            layers.RandomFlip("horizontal"),
            layers.CenterCrop(4, 4),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    x = np.random.default_rng(0).standard_normal((8, 6, 6, 1)).astype(np.float32)
    model.compile("adam", "mse")
    model.fit(x, np.ones((8, 1), np.float32), epochs=2, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = tg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


# -- RandomCrop, RandomContrast, RandomBrightness -----------------------------------------
RAMP = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7, 1)


@pytest.mark.parametrize(
    ("size", "expected_rows"),
    [
        # Keras 3.15: images not larger than the window are cropped to its aspect ratio
        # around the centre, then resized (first two rows of image 0).
        ((6, 4), [[2.0, 3.0, 4.0, 5.0], [7.25, 8.25, 9.25, 10.25]]),
        ((5, 7), [[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]]),
        ((5, 3), [[2.0, 3.0, 4.0], [9.0, 10.0, 11.0]]),
        (
            (8, 9),
            [
                [1.0, 1.5, 2.16667, 2.83333, 3.5, 4.16667, 4.83333, 5.5, 6.0],
                [4.0625, 4.5625, 5.22917, 5.89583, 6.5625, 7.22917, 7.89583, 8.5625, 9.0625],
            ],
        ),
    ],
)
def test_random_crop_small_images_match_keras(size, expected_rows):
    out = layers.RandomCrop(*size)(RAMP).numpy()
    assert out.shape == (2, *size, 1)
    np.testing.assert_allclose(out[0, :2, :, 0], expected_rows, rtol=1e-5, atol=1e-4)


def test_random_crop_windows():
    layer = layers.RandomCrop(3, 4, seed=1)
    step = tg.function(lambda v: layer(v, training=True))
    corners = set()
    for _ in range(12):
        out = step(tg.tensor(RAMP)).numpy()
        assert out.shape == (2, 3, 4, 1)
        np.testing.assert_array_equal(out[1] - out[0], 35.0)  # one window for the batch
        top, left = divmod(int(out[0, 0, 0, 0]), 7)
        np.testing.assert_array_equal(out[0, :, :, 0], RAMP[0, top : top + 3, left : left + 4, 0])
        corners.add((top, left))
    assert len(corners) > 1 and all(t <= 2 and c <= 3 for t, c in corners)
    # Keras 3.15 returns the images unchanged in inference.
    np.testing.assert_array_equal(layer(RAMP, training=False).numpy(), RAMP)
    assert layer.compute_output_shape((None, 5, 7, 1)) == (None, 3, 4, 1)
    config = layer.get_config()
    assert (config["height"], config["width"], config["seed"]) == (3, 4, 1)


def test_random_contrast_and_brightness():
    x = np.array([[[[10.0], [250.0]], [[40.0], [90.0]]]], np.float32)
    # Keras 3.15: a fixed brightness offset of 0.1 * 255, clipped to the value range.
    out = layers.RandomBrightness((0.1, 0.1))(x).numpy().ravel()
    np.testing.assert_allclose(out, [35.5, 255.0, 65.5, 115.5])
    images = np.random.default_rng(0).uniform(50, 200, (64, 4, 4, 3)).astype(np.float32)
    out = layers.RandomContrast(0.5, seed=2)(images).numpy()
    mean = images.mean(axis=(1, 2), keepdims=True)
    factor = ((out - mean) / (images - mean)).reshape(64, -1)
    np.testing.assert_allclose(factor, factor[:, :1].repeat(factor.shape[1], 1), rtol=1e-3)
    # Keras 3.15: a single factor f draws contrast factors in [1, 1 + f].
    assert factor.min() >= 1.0, factor.min()
    assert factor.max() <= 1.5, factor.max()
    assert factor.std() > 0.05, factor.std()  # (the 64 images drew different factors)
    for layer in (layers.RandomContrast(0.3), layers.RandomBrightness(0.3)):
        np.testing.assert_array_equal(layer(images, training=False).numpy(), images)
        step = tg.function(lambda v, layer=layer: layer(v, training=True))
        assert not np.array_equal(step(tg.tensor(images)).numpy(), step(tg.tensor(images)).numpy())
    config = layers.RandomContrast(0.5).get_config()
    assert (config["factor"], config["value_range"]) == ([0.0, 0.5], [0.0, 255.0])
    config = layers.RandomBrightness(0.2).get_config()
    assert (config["factor"], config["value_range"]) == ([-0.2, 0.2], [0.0, 255.0])
    with pytest.raises(ValueError, match="factor"):
        layers.RandomContrast(1.5)
    with pytest.raises(ValueError, match="value_range"):
        layers.RandomBrightness(0.1, value_range=(0, 1, 2))
