"""`tapegrad.constraints` (Keras 3 ``keras.constraints``): the classes' math against numbers
Keras 3.15 gave for the same weights, name lookup, serialization, and layers that take
constraints by name and keep them in their configs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import constraints, layers

W = np.arange(-6, 6, dtype="float32").reshape(3, 4) / 3

# Keras 3.15 (JAX backend): each constraint applied to W above.
KERAS = {
    "max_norm": (
        constraints.MaxNorm(1.5),
        [
            [-1.356801, -1.267731, -1.06066, -0.760639],
            [-0.452267, -0.253546, 0.0, 0.253546],
            [0.452267, 0.760639, 1.06066, 1.267731],
        ],
    ),
    "max_norm_axes": (
        constraints.MaxNorm(2, axis=[0, 1]),
        [
            [-0.993127, -0.827606, -0.662085, -0.496564],
            [-0.331042, -0.165521, 0.0, 0.165521],
            [0.331042, 0.496564, 0.662085, 0.827606],
        ],
    ),
    "unit_norm": (
        constraints.UnitNorm(axis=1),
        [
            [-0.646997, -0.539164, -0.431331, -0.323498],
            [-0.816496, -0.408248, 0.0, 0.408248],
            [0.272166, 0.408248, 0.544331, 0.680414],
        ],
    ),
    "min_max_norm": (
        constraints.MinMaxNorm(1.0, 2.0, 0.5),
        [
            [-1.904534, -1.666666, -1.333333, -1.0],
            [-0.634845, -0.333333, 0.0, 0.333333],
            [0.634845, 1.0, 1.333333, 1.666666],
        ],
    ),
    "non_neg": (
        constraints.NonNeg(),
        [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1 / 3], [2 / 3, 1.0, 4 / 3, 5 / 3]],
    ),
}


@pytest.mark.parametrize("case", sorted(KERAS))
def test_constraint_math_matches_keras(case: str) -> None:
    constraint, expected = KERAS[case]
    out = constraint(tg.Variable(W))
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-5, atol=1e-6)


def test_base_constraint_is_identity_and_aliases() -> None:
    np.testing.assert_array_equal(np.asarray(constraints.Constraint()(tg.tensor(W))), W)
    assert constraints.max_norm is constraints.MaxNorm
    assert constraints.min_max_norm is constraints.MinMaxNorm
    assert constraints.non_neg is constraints.NonNeg
    assert constraints.unit_norm is constraints.UnitNorm


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("max_norm", constraints.MaxNorm),
        ("MaxNorm", constraints.MaxNorm),
        ("non_neg", constraints.NonNeg),
        ("unit_norm", constraints.UnitNorm),
        ("min_max_norm", constraints.MinMaxNorm),
    ],
)
def test_get_by_name_gives_a_fresh_default_instance(name: str, cls: type) -> None:
    got = constraints.get(name)
    assert type(got) is cls
    assert got.get_config() == cls().get_config()
    assert type(constraints.get(cls)) is cls


def test_get_errors_and_passthrough() -> None:
    assert constraints.get(None) is None

    def fn(w):
        return w

    assert constraints.get(fn) is fn
    with pytest.raises(ValueError, match="bogus"):
        constraints.get("bogus")
    with pytest.raises(ValueError, match="constraint identifier"):
        constraints.get(3)


def test_serialize_round_trip_is_json() -> None:
    for c in (constraints.MaxNorm(1.5, axis=[0, 1]), constraints.MinMaxNorm(0.5, 2.0, 0.3, 1)):
        config = json.loads(json.dumps(constraints.serialize(c)))
        assert config["class_name"] == type(c).__name__
        back = constraints.deserialize(config)
        assert type(back) is type(c) and back.get_config() == c.get_config()
    assert constraints.serialize(None) is None


def test_custom_constraint_registered_and_custom_objects() -> None:
    @tg.saving.register_keras_serializable(package="h10test")
    class Clip(constraints.Constraint):
        def __init__(self, limit: float = 1.0) -> None:
            self.limit = limit

        def __call__(self, w):
            return tg.numpy.clip(w, -self.limit, self.limit)

        def get_config(self):
            return {"limit": self.limit}

    config = constraints.serialize(Clip(0.5))
    back = constraints.deserialize(config)
    assert isinstance(back, Clip) and back.limit == 0.5

    class Local(constraints.Constraint):
        pass

    plain = {"class_name": "Local", "config": {}}
    assert isinstance(constraints.deserialize(plain, custom_objects={"Local": Local}), Local)


def test_layers_take_names_and_keep_constraints_in_config() -> None:
    dense = layers.EinsumDense("ab,bc->ac", output_shape=3, kernel_constraint="max_norm")
    assert isinstance(dense.kernel_constraint, constraints.MaxNorm)
    config = json.loads(json.dumps(dense.get_config()))
    assert config["kernel_constraint"]["class_name"] == "MaxNorm"
    back = layers.EinsumDense.from_config(config)
    assert isinstance(back.kernel_constraint, constraints.MaxNorm)
    assert back.bias_constraint is None

    conv = layers.Conv2D(2, 3, kernel_constraint=constraints.UnitNorm(axis=[0, 1, 2]))
    back = layers.Conv2D.from_config(json.loads(json.dumps(conv.get_config())))
    assert back.kernel_constraint.get_config() == {"axis": [0, 1, 2]}

    lstm = layers.LSTM(2, recurrent_constraint="non_neg")
    back = layers.deserialize(json.loads(json.dumps(layers.serialize(lstm))))
    assert isinstance(back.cell.recurrent_constraint, constraints.NonNeg)

    with pytest.raises(ValueError, match="kernel_constraint.*bogus"):
        layers.Conv1D(2, 3, kernel_constraint="bogus")


def test_constraint_enforced_in_fit() -> None:
    model = tg.models.Sequential(
        [tg.layers.Input((4,)), layers.EinsumDense("ab,bc->ac", 3, kernel_constraint="non_neg")]
    )
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
    model.fit(x, -np.ones((16, 3), "float32") * 5, epochs=2, verbose=0)
    assert np.asarray(model.layers[-1].kernel).min() >= 0.0


def test_top_level_keras_names() -> None:
    """`keras.Loss`, `keras.Metric`, ... and `keras.constraints` at the top level."""
    assert tg.Loss is tg.losses.Loss and tg.Metric is tg.metrics.Metric
    assert tg.Optimizer is tg.optimizers.Optimizer
    assert tg.Regularizer is tg.regularizers.Regularizer
    assert tg.Initializer is tg.initializers.Initializer
    assert tg.InputSpec is tg.layers.InputSpec
    assert tg.constraints.MaxNorm is constraints.MaxNorm
    assert tg.version() == tg.__version__
    with tg.device("CPU:0"):
        assert float(tg.numpy.sum(tg.tensor([1.0, 2.0]))) == 3.0
    with pytest.raises(ValueError, match="device_name='gpu:0'"), tg.device("gpu:0"):
        pass


ROUND_TRIP = [
    (lambda: layers.Dense(2, kernel_constraint="max_norm", bias_constraint="non_neg"), None),
    (lambda: layers.PReLU(alpha_constraint="non_neg"), None),
    (lambda: layers.Embedding(5, 2, embeddings_constraint="unit_norm"), None),
    (
        lambda: layers.BatchNormalization(beta_constraint="non_neg", gamma_constraint="max_norm"),
        None,
    ),
    (lambda: layers.LayerNormalization(gamma_constraint="unit_norm"), None),
    (lambda: layers.GroupNormalization(groups=1, beta_constraint="max_norm"), None),
    (lambda: layers.DepthwiseConv2D(3, depthwise_constraint="non_neg"), None),
    (lambda: layers.SeparableConv2D(2, 3, pointwise_constraint="unit_norm"), None),
    (lambda: layers.Conv2DTranspose(2, 3, bias_constraint="non_neg"), None),
    (lambda: layers.ConvLSTM2D(2, 3, recurrent_constraint="max_norm"), None),
    (lambda: layers.GRU(2, kernel_constraint="min_max_norm"), "cell"),
    (lambda: layers.MultiHeadAttention(2, 4, kernel_constraint="max_norm"), None),
    (
        lambda: layers.GroupQueryAttention(4, 2, 1, bias_constraint="non_neg"),
        None,
    ),
]


@pytest.mark.parametrize("index", range(len(ROUND_TRIP)))
def test_constraints_round_trip_through_layer_configs(index: int) -> None:
    make, holder = ROUND_TRIP[index]
    layer = make()
    back = layers.deserialize(json.loads(json.dumps(layers.serialize(layer))))
    src = getattr(layer, holder) if holder and hasattr(layer, holder) else layer
    dst = getattr(back, holder) if holder and hasattr(back, holder) else back
    names = [n for n in vars(src) if n.endswith("_constraint")]
    assert any(getattr(src, n) is not None for n in names)
    for name in names:
        a, b = getattr(src, name), getattr(dst, name)
        assert type(a) is type(b), name
        if a is not None:
            assert a.get_config() == b.get_config(), name
