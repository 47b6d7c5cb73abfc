"""`weights` / `trainable_weights` / `non_trainable_weights` in Keras 3's order.

The expected lists are what Keras 3.15 (JAX backend) prints for the same models.
"""

from __future__ import annotations

import numpy as np

import tapegrad as tg
from tapegrad import layers


def _functional_with_nested() -> tg.Model:
    inner = tg.Sequential([layers.Dense(3), layers.BatchNormalization()], name="inner")
    inputs = tg.Input(shape=(3,))
    x = layers.Dense(4)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.LayerNormalization()(x)
    x = inner(x)
    return tg.Model(inputs, layers.Dense(2)(x))


def _short(weights: list[tg.Variable]) -> list[tuple[str, tuple[int, ...]]]:
    return [(w.name.split("/")[-1], tuple(w.shape)) for w in weights]


# Keras 3.15's model.weights for _functional_with_nested().
KERAS_WEIGHTS = [
    ("kernel", (3, 4)),
    ("bias", (4,)),
    ("gamma", (4,)),
    ("beta", (4,)),
    ("moving_mean", (4,)),
    ("moving_variance", (4,)),
    ("gamma", (4,)),
    ("beta", (4,)),
    ("kernel", (4, 3)),
    ("bias", (3,)),
    ("gamma", (3,)),
    ("beta", (3,)),
    ("moving_mean", (3,)),
    ("moving_variance", (3,)),
    ("kernel", (3, 2)),
    ("bias", (2,)),
]


def test_weights_are_listed_layer_by_layer_as_keras_3() -> None:
    model = _functional_with_nested()
    assert _short(model.weights) == KERAS_WEIGHTS
    assert _short(model.trainable_weights) == [
        item for item in KERAS_WEIGHTS if not item[0].startswith("moving")
    ]
    assert _short(model.non_trainable_weights) == [
        ("moving_mean", (4,)),
        ("moving_variance", (4,)),
        ("moving_mean", (3,)),
        ("moving_variance", (3,)),
    ]


def test_frozen_layer_moves_to_non_trainable_keeping_weights_order() -> None:
    model = _functional_with_nested()
    model.layers[2].trainable = False  # the outer BatchNormalization
    assert _short(model.weights) == KERAS_WEIGHTS
    # Keras 3.15 lists these for the same freeze.
    assert _short(model.non_trainable_weights) == [
        ("gamma", (4,)),
        ("beta", (4,)),
        ("moving_mean", (4,)),
        ("moving_variance", (4,)),
        ("moving_mean", (3,)),
        ("moving_variance", (3,)),
    ]
    assert len(model.trainable_weights) == 10
    model.layers[2].trainable = True
    assert len(model.trainable_weights) == 12


def test_variable_flag_change_is_seen_by_the_cached_lists() -> None:
    layer = layers.Dense(2)
    layer.build((None, 3))
    assert len(layer.trainable_weights) == 2
    layer.bias.trainable = False
    assert _short(layer.trainable_weights) == [("kernel", (3, 2))]
    assert _short(layer.non_trainable_weights) == [("bias", (2,))]
    # Own trainable weights come first in `weights`, as in Keras 3.
    assert _short(layer.weights) == [("kernel", (3, 2)), ("bias", (2,))]


def test_set_weights_in_keras_order_fills_the_matching_weights() -> None:
    model = _functional_with_nested()
    # Same shapes in both normalizations' slots: a wrong order would go unnoticed by shape.
    arrays = [np.full(w.shape, i, dtype="float32") for i, w in enumerate(model.weights)]
    model.set_weights(arrays)
    bn = model.layers[2]
    assert bn.moving_mean.numpy()[0] == 4.0
    assert bn.moving_variance.numpy()[0] == 5.0
    assert model.layers[3].gamma.numpy()[0] == 6.0
    for got, want in zip(model.get_weights(), arrays, strict=True):
        np.testing.assert_array_equal(got, want)


def test_subclassed_layer_lists_own_weights_before_sublayers() -> None:
    class Block(layers.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.norm = layers.BatchNormalization()
            self.dense = layers.Dense(2)

        def build(self, input_shape: tuple[int | None, ...]) -> None:
            self.counter = self.add_weight(shape=(), initializer="zeros", trainable=False)
            self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones")

        def call(self, inputs: tg.Tensor) -> tg.Tensor:
            return self.dense(self.norm(inputs * self.scale))

    block = Block()
    block(np.ones((2, 3), dtype="float32"))
    # Keras 3: own trainable, own non-trainable, then sublayers in tracking order.
    assert _short(block.weights) == [
        ("weight", (3,)),
        ("weight", ()),
        ("gamma", (3,)),
        ("beta", (3,)),
        ("moving_mean", (3,)),
        ("moving_variance", (3,)),
        ("kernel", (3, 2)),
        ("bias", (2,)),
    ]
