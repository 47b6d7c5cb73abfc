"""Pipeline: layers applied in order, training mode by default (as Keras), inference in
predict, configs and saving."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers


def test_pipeline_applies_layers_in_order():
    pipeline = layers.Pipeline([layers.Rescaling(2.0), layers.Rescaling(1.0, offset=1.0)])
    np.testing.assert_allclose(pipeline(np.array([[1.0, 2.0]])).numpy(), [[3.0, 5.0]])
    assert [type(layer).__name__ for layer in pipeline.layers] == ["Rescaling", "Rescaling"]


def test_pipeline_training_mode_and_saving(tmp_path):
    images = np.random.default_rng(0).uniform(0, 1, (16, 4, 4, 1)).astype(np.float32)
    pipeline = layers.Pipeline([layers.RandomFlip("horizontal", seed=1), layers.Rescaling(2.0)])
    flipped = pipeline(images).numpy()  # direct call: training, as in Keras
    assert not np.allclose(flipped, 2.0 * images)
    np.testing.assert_allclose(pipeline(images, training=False).numpy(), 2.0 * images)
    model = tg.Sequential([layers.Input((4, 4, 1)), pipeline, layers.Flatten(), layers.Dense(1)])
    np.testing.assert_allclose(
        model.predict(images, verbose=0),
        model.layers[-1](model.layers[-2](2.0 * images)).numpy(),
        rtol=1e-6,
    )
    model.compile("adam", "mse")
    model.fit(images, np.zeros((16, 1), np.float32), epochs=1, verbose=0)
    model.save(tmp_path / "p.keras")
    loaded = tg.models.load_model(tmp_path / "p.keras")
    np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0))
    config = pipeline.get_config()
    assert [entry["class_name"] for entry in config["layers"]] == ["RandomFlip", "Rescaling"]
    with pytest.raises(ValueError, match="list of layers"):
        layers.Pipeline("rescaling")
