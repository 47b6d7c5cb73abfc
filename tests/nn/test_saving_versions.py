"""Files written before format version 3 index weights in the old order (trainable first)
and still load into the right slots, even where shapes would let them load permuted."""

from __future__ import annotations

from typing import Any

import numpy as np
from safetensors.numpy import load_file, save_file

import tapegrad as tg
from tapegrad import layers
from tapegrad.nn.saving.archive import VERSION
from tapegrad.nn.saving.weights import layer_keys

WEIGHTS_FORMAT = "tapegrad-weights"


class Block(tg.Layer):
    """BatchNormalization next to LayerNormalization: six weights of one shape, whose
    old and Keras 3 orders differ."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.batch_norm = layers.BatchNormalization()
        self.layer_norm = layers.LayerNormalization()

    def call(self, x: Any, training: bool | None = None) -> Any:
        return self.layer_norm(self.batch_norm(x, training=training))


def _model() -> tg.Model:
    inputs = tg.Input((4,))
    return tg.Model(inputs, Block()(inputs))


def _distinct_weights(model: tg.Model) -> None:
    for i, weight in enumerate(model.weights):
        weight.assign(np.full(weight.shape, i + 1.0, np.float32))


def test_a_version_2_weights_file_loads_in_its_own_order(tmp_path: Any) -> None:
    source = _model()
    _distinct_weights(source)
    path = str(tmp_path / "new.safetensors")
    source.save_weights(path)
    # Rewrite the file as version 2 wrote it: indices into trainable + non-trainable.
    new = load_file(path)
    old = {}
    for key, layer in layer_keys(source):
        old_order = layer.trainable_weights + layer.non_trainable_weights
        if isinstance(layer, Block):  # (the case this test is about: the orders differ)
            assert [id(w) for w in old_order] != [id(w) for w in layer.weights]
        for i, weight in enumerate(layer.weights):
            j = next(k for k, w in enumerate(old_order) if w is weight)
            old[f"layers/{key}/{j}"] = new[f"layers/{key}/{i}"]
    old_path = str(tmp_path / "old.safetensors")
    save_file(old, old_path, metadata={"format": WEIGHTS_FORMAT, "version": "2"})

    target = _model()
    target.load_weights(old_path)
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_new_files_are_version_3_in_keras_order(tmp_path: Any) -> None:
    assert VERSION == 3
    source = _model()
    _distinct_weights(source)
    path = str(tmp_path / "w.safetensors")
    source.save_weights(path)
    stored = load_file(path)
    block = [stored[f"layers/block/{i}"][0] for i in range(6)]
    assert block == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    target = _model()
    target.load_weights(path)
    for a, b in zip(source.get_weights(), target.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
