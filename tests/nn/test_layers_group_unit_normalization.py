"""GroupNormalization and UnitNormalization: values against Keras 3.15 (JAX backend) with
the same weights, `run_layer_test` (gradients included), configs, errors."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tests.nn.layer_test_utils import run_layer_test

X = (np.sin(np.arange(24, dtype=np.float32)) * 3).reshape(2, 3, 4)

# Keras 3.15: GroupNormalization(groups=2) on X, gamma [1, .5, 2, -1], beta [.1, .2, .3, .4].
KERAS_GROUPS_2 = [
    [
        [-0.018424, 0.707818, 3.094227, 0.158595],
        [-1.038375, -0.505389, -0.482566, -0.617516],
        [1.314946, 0.418497, -1.278754, 1.875374],
    ],
    [
        [-0.751989, 0.452654, 3.160699, -0.523197],
        [-0.399209, -0.527337, -2.030033, 0.222527],
        [1.304396, 0.748083, 0.181864, 1.706935],
    ],
]
# Keras 3.15: GroupNormalization(groups=-1, axis=1, center=False, epsilon=0.01) on X.
KERAS_INSTANCE_AXIS_1 = [
    [
        [-1.160476, 0.904143, 1.07056, -0.814227],
        [-0.67643, -1.000212, 0.088303, 1.588338],
        [1.3113, 0.572821, -0.650394, -1.233727],
    ],
    [
        [-1.614685, 0.068699, 1.072389, 0.473597],
        [0.405604, -1.158065, -0.66955, 1.422011],
        [0.96193, 0.855468, -0.324429, -1.492969],
    ],
]
# Keras 3.15: UnitNormalization(axis=[1, 2]) on X[0].
KERAS_UNIT = [
    [0.0, 0.343489, 0.371175, 0.057605],
    [-0.308927, -0.391433, -0.114057, 0.268182],
    [0.403856, 0.168227, -0.22207, -0.408196],
]


def test_group_normalization_matches_keras():
    layer = layers.GroupNormalization(groups=2)
    layer(X)
    layer.set_weights([np.array([1.0, 0.5, 2.0, -1.0]), np.array([0.1, 0.2, 0.3, 0.4])])
    np.testing.assert_allclose(layer(X).numpy(), KERAS_GROUPS_2, rtol=1e-5, atol=1e-5)
    layer = layers.GroupNormalization(groups=-1, axis=1, center=False, epsilon=0.01)
    np.testing.assert_allclose(layer(X).numpy(), KERAS_INSTANCE_AXIS_1, rtol=1e-5, atol=1e-5)
    assert layer.groups == 3 and [w.name.split("/")[-1] for w in layer.weights] == ["gamma"]


def test_unit_normalization_matches_keras():
    out = layers.UnitNormalization(axis=[1, 2])(X).numpy()
    np.testing.assert_allclose(out[0], KERAS_UNIT, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.sum(out**2, axis=(1, 2)), 1.0, rtol=1e-5)
    zeros = layers.UnitNormalization()(np.zeros((1, 3), np.float32)).numpy()
    np.testing.assert_array_equal(zeros, 0.0)


@pytest.mark.parametrize(
    ("cls", "kwargs", "shape", "weights"),
    [
        (layers.GroupNormalization, {"groups": 2}, (2, 3, 4), 2),
        (layers.GroupNormalization, {"groups": 3, "axis": 1, "scale": False}, (2, 6, 2, 2), 1),
        (layers.GroupNormalization, {"groups": -1}, (2, 5, 3), 2),
        (layers.UnitNormalization, {}, (2, 4), 0),
        (layers.UnitNormalization, {"axis": [1, 2]}, (2, 3, 2), 0),
    ],
)
def test_layer_test(cls, kwargs, shape, weights):
    run_layer_test(
        cls,
        {**kwargs, "dtype": "float64"},
        input_shape=shape,
        expected_output_shape=shape,
        expected_num_trainable_weights=weights,
    )


def test_group_normalization_config_errors_and_compiled():
    config = layers.GroupNormalization().get_config()
    assert {
        "groups", "axis", "epsilon", "center", "scale", "beta_initializer",
        "gamma_initializer", "beta_regularizer", "gamma_regularizer",
    } <= set(config)  # fmt: skip
    assert (config["groups"], config["axis"], config["epsilon"]) == (32, -1, 1e-3)
    with pytest.raises(ValueError, match="groups"):
        layers.GroupNormalization(groups=0)
    with pytest.raises(ValueError, match="multiple of groups"):
        layers.GroupNormalization(groups=3)(np.ones((1, 2, 4), np.float32))
    layer = layers.GroupNormalization(groups=2)
    x = tg.tensor(X)
    np.testing.assert_allclose(
        tg.function(lambda v: layer(v))(x).numpy(), layer(x).numpy(), rtol=1e-6
    )
    assert layers.UnitNormalization(axis=[1, 2]).get_config()["axis"] == [1, 2]
