"""CenterCrop and RandomFlip: values against Keras 3.15 (JAX backend), the flip draws
(per image, fresh in compiled steps, inactive in inference), configs, models."""

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
