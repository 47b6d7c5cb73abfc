"""Rescaling, Normalization (adapt), CategoryEncoding, Resizing: values against Keras 3.15
(JAX backend), inside models (fit, compiled, save/load), configs, errors."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

IMAGE = (np.arange(2 * 5 * 7 * 2, dtype=np.float32) % 11).reshape(2, 5, 7, 2)

# Keras 3.15 (JAX backend) on IMAGE: [0, :, :, channel] of the output.
KERAS_RESIZED = [
    (
        {"height": 3, "width": 4},
        0,
        [
            [1.75, 5.25, 5.541667, 4.0],
            [6.75, 8.875, 2.75, 6.25],
            [3.041667, 4.25, 7.75, 3.916668],
        ],
    ),
    (
        {"height": 4, "width": 4, "crop_to_aspect_ratio": True},
        1,
        [
            [3.625, 6.125, 7.765625, 1.328125],
            [6.859375, 5.75, 3.953125, 3.875],
            [3.734375, 2.625, 5.125, 7.625],
            [3.875, 6.375, 8.875, 2.953125],
        ],
    ),
    (
        {"height": 4, "width": 4, "pad_to_aspect_ratio": True, "fill_value": -1.0},
        0,
        [
            [-0.34375, 0.96875, 2.28125, 1.015625],
            [4.125, 7.453125, 1.328125, 3.625],
            [5.765625, 3.078125, 5.375, 8.875],
            [0.03125, 1.34375, 2.65625, -0.15625],
        ],
    ),
]


@pytest.mark.parametrize(("kwargs", "channel", "expected"), KERAS_RESIZED)
def test_resizing_matches_keras(kwargs, channel, expected):
    out = layers.Resizing(**kwargs)(IMAGE).numpy()
    np.testing.assert_allclose(out[0, :, :, channel], expected, rtol=1e-5, atol=1e-5)


def test_resizing_nearest_and_channels_first():
    out = layers.Resizing(7, 10, interpolation="nearest")(IMAGE).numpy()
    rows = np.floor((np.arange(7) + 0.5) * 5 / 7).astype(int)
    cols = np.floor((np.arange(10) + 0.5) * 7 / 10).astype(int)
    np.testing.assert_array_equal(out, IMAGE[:, rows][:, :, cols])
    first = layers.Resizing(3, 2, data_format="channels_first")(IMAGE.transpose(0, 3, 1, 2))
    last = layers.Resizing(3, 2)(IMAGE)
    np.testing.assert_allclose(first.numpy(), last.numpy().transpose(0, 3, 1, 2), rtol=1e-6)
    single = layers.Resizing(3, 2)(IMAGE[0]).numpy()
    np.testing.assert_allclose(single, last.numpy()[0], rtol=1e-6)
    assert layers.Resizing(3, 2).compute_output_shape((None, 5, 7, 2)) == (None, 3, 2, 2)


def test_resizing_layer_test_and_config():
    run_layer_test(
        layers.Resizing, {"height": 3, "width": 5}, input_shape=(2, 4, 4, 1),
        expected_output_shape=(2, 3, 5, 1),
    )  # fmt: skip
    config = layers.Resizing(2, 2).get_config()
    assert {
        "height": 2, "width": 2, "interpolation": "bilinear", "crop_to_aspect_ratio": False,
        "pad_to_aspect_ratio": False, "fill_mode": "constant", "fill_value": 0.0,
        "antialias": False, "data_format": "channels_last",
    }.items() <= config.items()  # fmt: skip
    with pytest.raises(ValueError, match="interpolation"):
        layers.Resizing(2, 2, interpolation="lanczos5")
    with pytest.raises(ValueError, match="height"):
        layers.Resizing(0, 2)


DATA = np.arange(24, dtype=np.float32).reshape(4, 3, 2) ** 1.5
# Keras 3.15: Normalization(axis=1).adapt(DATA).
KERAS_MEAN = [35.230652, 44.225845, 54.359009]
KERAS_VARIANCE = [905.80127, 1126.0747, 1338.0984]
KERAS_NORMALIZED_0 = [[-1.170588, -1.137362], [-1.233643, -1.163085], [-1.267331, -1.180389]]


@pytest.mark.parametrize("batched", [False, True])
def test_normalization_adapt_matches_keras(batched):
    layer = layers.Normalization(axis=1)
    layer.adapt([DATA[:1], DATA[1:3], DATA[3:]] if batched else DATA)
    np.testing.assert_allclose(layer.adapt_mean.numpy(), KERAS_MEAN, rtol=1e-5)
    np.testing.assert_allclose(layer.adapt_variance.numpy(), KERAS_VARIANCE, rtol=1e-5)
    np.testing.assert_allclose(layer(DATA[:1]).numpy()[0], KERAS_NORMALIZED_0, rtol=1e-5)
    assert [w.name.split("/")[-1] for w in layer.weights] == ["mean", "variance", "count"]
    # Keras 3.15 keeps count only for older saved files: adapt leaves it at 0.
    assert int(layer.count.numpy()) == 0
    assert not layer.trainable_weights


def test_normalization_given_statistics_invert_and_axis_none():
    layer = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0], invert=True)
    np.testing.assert_allclose(layer(np.array([[1.0, 1.0]])).numpy(), [[3.0, 5.0]])  # Keras
    layer = layers.Normalization(mean=[1.0, 2.0], variance=[4.0, 9.0])
    np.testing.assert_allclose(layer(np.array([[3.0, 5.0]])).numpy(), [[1.0, 1.0]])
    assert not layer.weights
    config = layer.get_config()
    assert (config["axis"], config["mean"], config["variance"], config["invert"]) == (
        [-1], [1.0, 2.0], [4.0, 9.0], False,
    )  # fmt: skip
    whole = layers.Normalization(axis=None)
    whole.adapt(DATA)
    out = whole(DATA).numpy()
    np.testing.assert_allclose([out.mean(), out.std()], [0.0, 1.0], atol=1e-5)
    with pytest.raises(ValueError, match="mean and variance"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match="does not match"):
        layer = layers.Normalization()
        layer.adapt(np.ones((3, 2)))
        layer.adapt(np.ones((3, 4)))


def test_normalization_in_a_model_saved_and_compiled(tmp_path):
    norm = layers.Normalization()
    x = np.random.default_rng(0).normal(5.0, 3.0, (32, 3)).astype(np.float32)
    norm.adapt(x)
    model = tg.Sequential([layers.Input((3,)), norm, layers.Dense(1)])
    model.compile("adam", "mse")
    model.fit(x, np.ones((32, 1), np.float32), epochs=2, verbose=0)
    np.testing.assert_allclose(norm.adapt_mean.numpy(), x.mean(axis=0), rtol=1e-5)
    model.save(tmp_path / "m.keras")
    loaded = tg.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    step = tg.function(lambda v: norm(v))
    np.testing.assert_allclose(step(tg.tensor(x)).numpy(), norm(x).numpy(), rtol=1e-6)


# Keras 3.15 (JAX backend) outputs.
KERAS_ENCODINGS = [
    ("one_hot", [0, 2, 3], [[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]),
    (
        "one_hot",
        [[0, 1], [2, 2]],
        [[[1, 0, 0, 0], [0, 1, 0, 0]], [[0, 0, 1, 0], [0, 0, 1, 0]]],
    ),
    ("one_hot", [[1], [3]], [[0, 1, 0, 0], [0, 0, 0, 1]]),
    ("multi_hot", [0, 2, 3], [1, 0, 1, 1]),
    ("multi_hot", [[0, 1], [2, 2]], [[1, 1, 0, 0], [0, 0, 1, 0]]),
    ("count", [[0, 1], [2, 2]], [[1, 1, 0, 0], [0, 0, 2, 0]]),
    ("count", [[1], [3]], [[0, 1, 0, 0], [0, 0, 0, 1]]),
    ("multi_hot", [[0, 5]], [[1, 0, 0, 0]]),
]


@pytest.mark.parametrize(("mode", "ids", "expected"), KERAS_ENCODINGS)
def test_category_encoding_matches_keras(mode, ids, expected):
    layer = layers.CategoryEncoding(4, output_mode=mode)
    out = layer(np.array(ids))
    np.testing.assert_array_equal(out.numpy(), expected)
    assert out.dtype == np.float32
    assert layer.compute_output_shape(np.shape(ids)) == np.shape(expected)


def test_category_encoding_count_weights_config_and_errors():
    layer = layers.CategoryEncoding(4, output_mode="count")
    out = layer(np.array([[0, 1], [2, 2]]), count_weights=np.array([[0.5, 1.0], [2.0, 3.0]]))
    np.testing.assert_allclose(out.numpy(), [[0.5, 1.0, 0, 0], [0, 0, 5.0, 0]])  # Keras
    config = layers.CategoryEncoding(3, output_mode="binary").get_config()
    assert (config["num_tokens"], config["output_mode"]) == (3, "multi_hot")
    with pytest.raises(ValueError, match="num_tokens"):
        layers.CategoryEncoding()
    with pytest.raises(ValueError, match="count_weights"):
        layers.CategoryEncoding(3)(np.array([[0]]), count_weights=np.array([[1.0]]))
    with pytest.raises(ValueError, match="output_mode"):
        layers.CategoryEncoding(3, output_mode="tf_idf")
    ids = layers.Input((2,), dtype="int32")
    assert layers.CategoryEncoding(5)(ids).shape == (None, 5)


def test_rescaling_matches_keras():
    out = layers.Rescaling([1.0, 2.0], offset=0.5)(np.ones((1, 2, 2))).numpy()
    np.testing.assert_allclose(out, [[[1.5, 2.5], [1.5, 2.5]]])  # Keras 3.15
    layer = layers.Rescaling(1 / 255)
    assert layer(np.array([255], np.uint8)).numpy().tolist() == [1.0]
    assert layer.get_config()["scale"] == 1 / 255
    assert layers.Rescaling(np.array([1.0, 2.0])).get_config()["scale"] == [1.0, 2.0]
    run_layer_test(layers.Rescaling, {"scale": 2.0, "offset": 1.0}, input_shape=(2, 3))
    with pytest.raises(ValueError, match="scale"):
        layers.Rescaling("x")


def test_resizing_pads_floor_half_the_difference_on_each_side_as_keras():
    row = np.array([[[[1.0], [2.0]]]], np.float32)  # (1, 1, 2, 1)
    even = layers.Resizing(3, 2, interpolation="nearest", pad_to_aspect_ratio=True, fill_value=9)
    np.testing.assert_array_equal(even(row).numpy()[0, :, :, 0], [[9, 9], [1, 2], [9, 9]])
    # 3 rows missing: one on each side (Keras drops the odd one), then 3 rows resized to 4.
    odd = layers.Resizing(4, 2, interpolation="nearest", pad_to_aspect_ratio=True, fill_value=9)
    np.testing.assert_array_equal(odd(row).numpy()[0, :, :, 0], [[9, 9], [1, 2], [1, 2], [9, 9]])
