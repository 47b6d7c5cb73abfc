"""The Keras 3 activations added to `tapegrad.activations` (celu ... threshold): values
against Keras 3.15's for the same inputs, lookup and serialization by name, use in layers."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import activations as A

X = np.linspace(-3, 3, 7).astype("float32").reshape(1, 7)
X2 = np.array([[-1.0, 0.5, 2.0, 0.3], [3.0, 1.0, -2.0, 0.0]], "float32")

# Keras 3.15 (JAX backend): keras.activations.<name>(X), rounded to 6 digits.
KERAS_ON_X = {
    "celu": [-0.950213, -0.864665, -0.632121, 0.0, 1.0, 2.0, 3.0],
    "hard_shrink": [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0],
    "hard_tanh": [-1.0, -1.0, -1.0, 0.0, 1.0, 1.0, 1.0],
    "log_sigmoid": [-3.048587, -2.126928, -1.313262, -0.693147, -0.313262, -0.126928, -0.048587],
    "soft_shrink": [-2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5],
    "sparse_plus": [0.0, 0.0, 0.0, 0.25, 1.0, 2.0, 3.0],
    "sparse_sigmoid": [0.0, 0.0, 0.0, 0.5, 1.0, 1.0, 1.0],
    "squareplus": [0.302776, 0.414214, 0.618034, 1.0, 1.618034, 2.414214, 3.302776],
    "tanh_shrink": [-2.004945, -1.035972, -0.238406, 0.0, 0.238406, 1.035972, 2.004945],
}


@pytest.mark.parametrize("name", sorted(KERAS_ON_X))
def test_values_match_keras(name: str) -> None:
    out = getattr(A, name)(X)
    np.testing.assert_allclose(np.asarray(out), [KERAS_ON_X[name]], rtol=1e-5, atol=1e-6)


def test_arguments_match_keras() -> None:
    np.testing.assert_allclose(
        np.asarray(A.celu(X, alpha=2.0)),
        [[-1.55374, -1.264241, -0.786939, 0.0, 1.0, 2.0, 3.0]],
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        np.asarray(A.squareplus(X, b=1)),
        [[0.081139, 0.118034, 0.207107, 0.5, 1.207107, 2.118034, 3.081139]],
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        np.asarray(A.hard_shrink(X, threshold=1.5)), [[-3.0, -2.0, 0.0, 0.0, 0.0, 2.0, 3.0]]
    )
    np.testing.assert_allclose(
        np.asarray(A.threshold(X, 0.5, -9.0)), [[-9.0, -9.0, -9.0, -9.0, 1.0, 2.0, 3.0]]
    )
    np.testing.assert_allclose(
        np.asarray(A.glu(X2)), [[-0.880797, 0.287221], [0.357609, 0.5]], rtol=1e-5
    )
    np.testing.assert_allclose(np.asarray(A.sparsemax(X2)), [[0, 0, 1, 0], [1, 0, 0, 0]])
    soft = np.asarray(A.sparsemax(np.array([[0.5, 0.3, -1.0], [0.1, 0.2, 0.15]], "float32")))
    np.testing.assert_allclose(soft, [[0.6, 0.4, 0.0], [0.283333, 0.383333, 0.333333]], rtol=1e-5)


NAMES = sorted([*KERAS_ON_X, "glu", "sparsemax", "threshold"])


@pytest.mark.parametrize("name", NAMES)
def test_get_and_serialize_by_name(name: str) -> None:
    fn = getattr(A, name)
    assert A.get(name) is fn
    assert A.serialize(fn) == name
    assert A.deserialize(name) is fn


@pytest.mark.parametrize("name", sorted(KERAS_ON_X))
def test_layer_by_name_round_trips_and_has_gradients(name: str) -> None:
    layer = tg.layers.Dense(3, activation=name)
    config = json.loads(json.dumps(layer.get_config()))
    assert config["activation"] == name
    assert tg.layers.Dense.from_config(config).activation is getattr(A, name)
    x = tg.tensor(np.linspace(-2.0, 2.0, 8, dtype="float32").reshape(2, 4))
    with tg.GradientTape() as tape:
        loss = tg.numpy.sum(layer(x))
    grads = tape.gradient(loss, layer.trainable_weights)
    assert all(np.isfinite(np.asarray(g)).all() for g in grads)


def test_gradient_of_celu_matches_finite_differences() -> None:
    x = tg.tensor([-1.5, -0.2, 0.7], dtype="float64")
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.numpy.sum(A.celu(x, alpha=0.5))
    g = np.asarray(tape.gradient(y, x))
    expected = np.where(np.asarray(x) > 0, 1.0, np.exp(np.asarray(x) / 0.5))
    np.testing.assert_allclose(g, expected, rtol=1e-6)
