"""tapegrad.nn.initializers and activations (what layers resolve by name when they build).

Initializers: shapes and dtypes, statistics on large shapes (mean, standard deviation,
bounds), fans, seeding, lookups and config round trips. Activations: values against
NumPy in float32 and float64, gradients, lookups and serialization.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn import activations, initializers

SHAPE = (300, 400)  # 120k samples: sample moments within ~1% of the truth
FAN_IN, FAN_OUT = SHAPE
TRUNCATED_STD = 0.87962566103423978  # std of a standard normal truncated to [-2, 2]


def uniform_limit(scale, fan):
    return math.sqrt(3 * scale / fan)


# name: (initializer, expected mean, expected std, bound on |value - mean| or None)
STATISTICS = {
    "RandomNormal": (initializers.RandomNormal(mean=1.0, stddev=2.0, seed=1), 1.0, 2.0, None),
    "RandomUniform": (initializers.RandomUniform(-3.0, 1.0, seed=1), -1.0, 4 / math.sqrt(12), 2.0),
    "TruncatedNormal": (
        initializers.TruncatedNormal(mean=0.5, stddev=0.1, seed=1),
        0.5,
        0.1 * TRUNCATED_STD,
        0.2,
    ),
    "GlorotUniform": (
        initializers.GlorotUniform(seed=1),
        0.0,
        math.sqrt(2 / (FAN_IN + FAN_OUT)),
        uniform_limit(1.0, (FAN_IN + FAN_OUT) / 2),
    ),
    "GlorotNormal": (
        initializers.GlorotNormal(seed=1),
        0.0,
        math.sqrt(2 / (FAN_IN + FAN_OUT)),
        2 * math.sqrt(2 / (FAN_IN + FAN_OUT)) / TRUNCATED_STD,
    ),
    "HeUniform": (
        initializers.HeUniform(seed=1),
        0.0,
        math.sqrt(2 / FAN_IN),
        uniform_limit(2.0, FAN_IN),
    ),
    "HeNormal": (
        initializers.HeNormal(seed=1),
        0.0,
        math.sqrt(2 / FAN_IN),
        2 * math.sqrt(2 / FAN_IN) / TRUNCATED_STD,
    ),
    "LecunUniform": (
        initializers.LecunUniform(seed=1),
        0.0,
        math.sqrt(1 / FAN_IN),
        uniform_limit(1.0, FAN_IN),
    ),
    "LecunNormal": (
        initializers.LecunNormal(seed=1),
        0.0,
        math.sqrt(1 / FAN_IN),
        2 * math.sqrt(1 / FAN_IN) / TRUNCATED_STD,
    ),
    "VarianceScaling_fan_out_untruncated": (
        initializers.VarianceScaling(3.0, "fan_out", "untruncated_normal", seed=1),
        0.0,
        math.sqrt(3.0 / FAN_OUT),
        None,
    ),
    "Orthogonal": (initializers.Orthogonal(seed=1), 0.0, math.sqrt(1 / FAN_OUT), None),
}


@pytest.mark.parametrize("name", list(STATISTICS))
def test_random_initializer_statistics(name):
    init, mean, std, bound = STATISTICS[name]
    values = init(SHAPE)
    assert values.shape == SHAPE and values.dtype == np.float32
    assert isinstance(values, np.ndarray)
    assert values.mean() == pytest.approx(mean, abs=0.02 * std)
    assert values.std() == pytest.approx(std, rel=0.01)
    if bound is not None:
        assert np.abs(values - mean).max() <= bound * (1 + 1e-6)
        assert np.abs(values - mean).max() >= 0.95 * bound  # the bounds are reached


@pytest.mark.parametrize("name", list(STATISTICS))
def test_random_initializer_seeding(name):
    init = STATISTICS[name][0]
    config = init.get_config()
    first = init((6, 5))
    np.testing.assert_array_equal(first, init((6, 5)))  # same values on every call
    np.testing.assert_array_equal(first, type(init).from_config(config)((6, 5)))
    np.testing.assert_array_equal(first, init.clone()((6, 5)))
    other = type(init).from_config({**config, "seed": 2})((6, 5))
    assert not np.array_equal(first, other)
    assert init((6, 5), dtype="float64").dtype == np.float64
    np.testing.assert_allclose(init((6, 5), dtype=np.float64), first, rtol=1e-6, atol=1e-7)


def test_unseeded_initializers_follow_numpy_global_seed():
    np.random.seed(123)
    a = initializers.GlorotUniform()((4, 4))
    b = initializers.GlorotUniform()((4, 4))
    np.random.seed(123)
    assert np.array_equal(a, initializers.GlorotUniform()((4, 4)))
    assert not np.array_equal(a, b)  # two unseeded instances differ
    init = initializers.RandomNormal()
    assert np.array_equal(init((3,)), init((3,)))  # one instance repeats (Keras 3)
    assert init.get_config()["seed"] is None


@pytest.mark.parametrize(
    "shape, fans",
    [
        ((), (1, 1)),
        ((7,), (7, 7)),
        ((3, 5), (3, 5)),
        ((3, 3, 4, 8), (36, 72)),
        ((5, 2, 6), (10, 30)),
    ],
)
def test_compute_fans(shape, fans):
    assert initializers.compute_fans(shape) == fans


def test_variance_scaling_uses_conv_fans():
    values = initializers.HeUniform(seed=0)((3, 3, 16, 64))
    assert np.abs(values).max() <= math.sqrt(6 / (9 * 16))
    assert values.std() == pytest.approx(math.sqrt(2 / (9 * 16)), rel=0.02)


@pytest.mark.parametrize("shape", [(4, 4), (3, 7), (7, 3), (2, 3, 4)])
def test_orthogonal(shape):
    q = initializers.Orthogonal(gain=2.0, seed=3)(shape, dtype="float64")
    assert q.shape == shape
    flat = q.reshape(-1, shape[-1]) / 2.0
    small = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(small, np.eye(len(small)), atol=1e-12)


def test_deterministic_initializers():
    assert np.array_equal(initializers.Zeros()((2, 3)), np.zeros((2, 3), np.float32))
    assert initializers.Ones()(4, dtype="int32").tolist() == [1, 1, 1, 1]
    assert initializers.Constant(2.5)((2,), dtype="float64").tolist() == [2.5, 2.5]
    np.testing.assert_array_equal(
        initializers.Identity(gain=3.0)((2, 3)), 3 * np.eye(2, 3, dtype=np.float32)
    )


def test_initializer_errors():
    with pytest.raises(
        ValueError,
        match=r"Identity: can only initialize 2-D matrices, got "
        r"shape \(3,\)",
    ):
        initializers.Identity()((3,))
    with pytest.raises(ValueError, match=r"Orthogonal: the shape must be at least 2-D"):
        initializers.Orthogonal()((5,))
    with pytest.raises(
        ValueError, match="RandomNormal: random values need a float dtype, got int32"
    ):
        initializers.RandomNormal(seed=0)((2,), dtype="int32")
    with pytest.raises(ValueError, match="seed must be an int or None"):
        initializers.RandomUniform(seed=1.5)
    with pytest.raises(ValueError, match="scale must be a positive float"):
        initializers.VarianceScaling(scale=0.0)
    with pytest.raises(ValueError, match="mode must be one of"):
        initializers.VarianceScaling(mode="fan_max")
    with pytest.raises(ValueError, match="distribution must be one of"):
        initializers.VarianceScaling(distribution="cauchy")


@pytest.mark.parametrize(
    "identifier, cls",
    [
        ("zeros", initializers.Zeros),
        ("zero", initializers.Zeros),
        ("ones", initializers.Ones),
        ("constant", initializers.Constant),
        ("identity", initializers.Identity),
        ("random_normal", initializers.RandomNormal),
        ("normal", initializers.RandomNormal),
        ("random_uniform", initializers.RandomUniform),
        ("uniform", initializers.RandomUniform),
        ("truncated_normal", initializers.TruncatedNormal),
        ("variance_scaling", initializers.VarianceScaling),
        ("glorot_uniform", initializers.GlorotUniform),
        ("glorot_normal", initializers.GlorotNormal),
        ("he_uniform", initializers.HeUniform),
        ("he_normal", initializers.HeNormal),
        ("lecun_uniform", initializers.LecunUniform),
        ("lecun_normal", initializers.LecunNormal),
        ("orthogonal", initializers.Orthogonal),
        ("GlorotUniform", initializers.GlorotUniform),
        (initializers.HeNormal, initializers.HeNormal),
    ],
)
def test_initializer_get(identifier, cls):
    init = initializers.get(identifier)
    assert type(init) is cls
    assert init((3, 2)).shape == (3, 2)


def test_initializer_get_instances_callables_and_errors():
    instance = initializers.Ones()
    assert initializers.get(instance) is instance and initializers.get(None) is None

    def halves(shape, dtype=None):
        return np.full(shape, 0.5, dtype=dtype)

    assert initializers.get(halves) is halves
    with pytest.raises(ValueError, match="never restores code"):
        initializers.deserialize(initializers.serialize(halves))
    with pytest.raises(
        ValueError, match="Could not interpret initializer identifier 'glorot'.*glorot_uniform"
    ):
        initializers.get("glorot")
    with pytest.raises(ValueError, match="Could not interpret initializer identifier"):
        initializers.get(42)


CONFIGURED = [
    initializers.Constant(1.5),
    initializers.Zeros(),
    initializers.Ones(),
    initializers.Identity(gain=0.5),
    initializers.RandomNormal(0.1, 0.2, seed=4),
    initializers.TruncatedNormal(stddev=3.0, seed=5),
    initializers.RandomUniform(0, 2, seed=6),
    initializers.VarianceScaling(2.0, "fan_avg", "uniform", seed=7),
    initializers.GlorotUniform(seed=8),
    initializers.GlorotNormal(),
    initializers.HeUniform(9),
    initializers.HeNormal(10),
    initializers.LecunUniform(11),
    initializers.LecunNormal(12),
    initializers.Orthogonal(gain=1.5, seed=13),
]


@pytest.mark.parametrize("init", CONFIGURED, ids=lambda i: type(i).__name__)
def test_initializer_config_round_trip(init):
    config = init.get_config()
    restored = initializers.deserialize(initializers.serialize(init))
    assert type(restored) is type(init) and restored.get_config() == config
    assert type(init).from_config(config).get_config() == config
    if config.get("seed", 0) is not None:
        np.testing.assert_array_equal(restored((4, 3)), init((4, 3)))
    assert repr(init).startswith(type(init).__name__ + "(")


# -- activations ---------------------------------------------------------------------------

X = np.array([[-3.5, -1.2, -0.3, 0.4, 1.1, 2.7, 4.2, 7.5]])
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


ERF = np.vectorize(math.erf)
ACTIVATIONS = {
    "relu": (activations.relu, lambda x: np.maximum(x, 0)),
    "relu_params": (
        lambda x: activations.relu(x, negative_slope=0.1, max_value=5.0, threshold=0.5),
        lambda x: np.where(x > 0.5, np.minimum(x, 5.0), 0.1 * (x - 0.5)),
    ),
    "relu_threshold": (
        lambda x: activations.relu(x, threshold=1.0),
        lambda x: np.where(x > 1.0, x, 0.0),
    ),
    "leaky_relu": (activations.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    "relu6": (activations.relu6, lambda x: np.clip(x, 0, 6)),
    "elu": (activations.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "selu": (activations.selu, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x))),
    "sigmoid": (activations.sigmoid, np_sigmoid),
    "hard_sigmoid": (activations.hard_sigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hard_silu": (activations.hard_silu, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "softmax": (activations.softmax, np_softmax),
    "log_softmax": (activations.log_softmax, lambda x: np.log(np_softmax(x))),
    "tanh": (activations.tanh, np.tanh),
    "gelu": (activations.gelu, lambda x: 0.5 * x * (1 + ERF(x / math.sqrt(2)))),
    "gelu_tanh": (
        lambda x: activations.gelu(x, approximate=True),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "silu": (activations.silu, lambda x: x * np_sigmoid(x)),
    "softplus": (activations.softplus, lambda x: np.log1p(np.exp(x))),
    "softsign": (activations.softsign, lambda x: x / (1 + abs(x))),
    "mish": (activations.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "exponential": (activations.exponential, np.exp),
    "linear": (activations.linear, lambda x: x),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_values(name, dtype):
    fn, ref = ACTIVATIONS[name]
    out = fn(tg.tensor(X, dtype=dtype))
    assert out.dtype == dtype and out.shape == X.shape
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(np.asarray(out), ref(X), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_gradients(name):
    fn, _ = ACTIVATIONS[name]
    tg.check_grads(fn, (X,), order=1)


def test_activations_accept_arrays_and_lists():
    assert activations.relu([-1.0, 2.0]).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(activations.relu(np.array([-1.0, 2.0]))), [0, 2])


@pytest.mark.parametrize(
    "name",
    [
        "relu",
        "leaky_relu",
        "relu6",
        "elu",
        "selu",
        "sigmoid",
        "hard_sigmoid",
        "hard_silu",
        "softmax",
        "log_softmax",
        "tanh",
        "gelu",
        "silu",
        "softplus",
        "softsign",
        "mish",
        "exponential",
        "linear",
    ],
)
def test_activation_lookup_and_serialize(name):
    fn = activations.get(name)
    assert fn is getattr(activations, name)
    assert activations.serialize(fn) == name
    assert activations.deserialize(activations.serialize(fn)) is fn


def test_activation_aliases_none_and_callables():
    assert activations.get("swish") is activations.silu
    assert activations.get("hard_swish") is activations.hard_silu
    assert activations.get(None) is activations.linear
    assert activations.serialize(activations.swish) == "silu"
    assert activations.serialize(None) is None

    def cube(x):
        return x * x * x

    assert activations.get(cube) is cube
    config = activations.serialize(cube)
    assert config["class_name"] == "function" and config["config"] == "cube"
    with pytest.raises(ValueError, match="Cannot deserialize activation"):
        activations.deserialize(config)
    with pytest.raises(
        ValueError, match="Could not interpret activation function identifier 'rellu'.*relu"
    ):
        activations.get("rellu")
    with pytest.raises(ValueError, match="Could not interpret activation"):
        activations.get(3)
