"""MixUp: images and labels mixed with the same weights and partner (Keras 3's
definition), Beta-distributed weights, fresh draws in compiled steps, inference."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers

BATCH = 64
IMAGES = np.broadcast_to(np.arange(BATCH, dtype=np.float32)[:, None, None, None], (BATCH, 2, 2, 3))
LABELS = np.eye(BATCH, dtype=np.float32)


def test_images_and_labels_mixed_together():
    out = layers.MixUp(alpha=0.4, seed=0)({"images": IMAGES, "labels": LABELS})
    images, labels = out["images"].numpy(), out["labels"].numpy()
    # Image i is the label-weighted mix of the constant images 0..BATCH-1.
    np.testing.assert_allclose(images[:, 0, 0, 0], labels @ np.arange(BATCH), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    assert ((labels > 0).sum(axis=1) <= 2).all()
    weights = labels[np.arange(BATCH), np.arange(BATCH)]
    weights = weights[(labels > 0).sum(axis=1) == 2]  # the partner is another image
    assert 0.25 < weights.mean() < 0.75 and weights.std() > 0.2  # Beta(0.4, 0.4): U-shaped


def test_plain_images_inference_compiled_and_config():
    layer = layers.MixUp(seed=1)
    assert layer(IMAGES).shape == IMAGES.shape
    np.testing.assert_array_equal(layer(IMAGES, training=False).numpy(), IMAGES)
    step = tg.function(lambda x: layer(x, training=True))
    assert not np.array_equal(step(tg.tensor(IMAGES)).numpy(), step(tg.tensor(IMAGES)).numpy())
    config = layer.get_config()
    assert (config["alpha"], config["seed"], config["data_format"]) == (0.2, 1, "channels_last")
    with pytest.raises(ValueError, match="alpha"):
        layers.MixUp(alpha=0.0)
