"""tapegrad.ops neural-net ops: values against NumPy references, gradients checked."""

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import ops

RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 5)) * 2
LABELS = np.array([0, 4, 2, 1])


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


CASES = {
    "relu": (ops.relu, lambda x: np.maximum(x, 0)),
    "relu6": (ops.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (ops.leaky_relu, lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (ops.elu, lambda x: np.where(x > 0, x, np.expm1(x))),
    "sigmoid": (ops.sigmoid, np_sigmoid),
    "softplus": (ops.softplus, lambda x: np.log1p(np.exp(x))),
    "softsign": (ops.softsign, lambda x: x / (1 + abs(x))),
    "silu": (ops.silu, lambda x: x * np_sigmoid(x)),
    "gelu_exact": (
        lambda x: ops.gelu(x, approximate=False),
        lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2))),
    ),
    "gelu_tanh": (
        ops.gelu,
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "softmax": (ops.softmax, np_softmax),
    "log_softmax": (ops.log_softmax, lambda x: np.log(np_softmax(x))),
    "logsumexp": (lambda x: ops.logsumexp(x, axis=1),
                  lambda x: np.log(np.exp(x).sum(1))),
    "scce_logits": (
        lambda x: ops.sparse_categorical_crossentropy(LABELS, x, from_logits=True),
        lambda x: -np.log(np_softmax(x)[np.arange(4), LABELS]),
    ),
    "scce_probs": (
        lambda x: ops.sparse_categorical_crossentropy(LABELS, ops.softmax(x)),
        lambda x: -np.log(np_softmax(x)[np.arange(4), LABELS]),
    ),
    "cce_logits": (
        lambda x: ops.categorical_crossentropy(ops.one_hot(LABELS, 5, dtype=np.float64), x,
                                               from_logits=True),
        lambda x: -np.log(np_softmax(x)[np.arange(4), LABELS]),
    ),
    "bce_logits": (
        lambda x: ops.binary_crossentropy(np.ones_like(x) * 0.3, x, from_logits=True),
        lambda x: -(0.3 * np.log(np_sigmoid(x)) + 0.7 * np.log(1 - np_sigmoid(x))),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients(name):
    func, reference = CASES[name]
    np.testing.assert_allclose(np.asarray(func(tg.tensor(X))), reference(X), rtol=1e-6,
                               atol=1e-12)
    tg.check_grads(func, (X,), order=2)


def test_float32_is_kept():
    out = ops.softmax(tg.tensor(X.astype(np.float32)))
    assert out.dtype == np.float32


def test_relu_gradient_at_zero_is_zero():
    assert float(tg.grad(lambda x: ops.relu(x))(tg.tensor(0.0))) == 0.0


def test_softmax_is_stable_for_huge_logits():
    out = ops.softmax(tg.tensor([1000.0, 0.0])).numpy()
    np.testing.assert_allclose(out, [1.0, 0.0])


def test_one_hot_and_label_errors():
    np.testing.assert_array_equal(ops.one_hot(np.array([1, 0]), 3),
                                  [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\)"):
        ops.sparse_categorical_crossentropy(np.array([0, 7]), tg.tensor(X[:2]),
                                            from_logits=True)
    with pytest.raises(TypeError, match="labels must be integers"):
        ops.sparse_categorical_crossentropy(np.array([0.5, 1.0]), tg.tensor(X[:2]),
                                            from_logits=True)
