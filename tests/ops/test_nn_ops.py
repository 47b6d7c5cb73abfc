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
    "logsumexp": (lambda x: ops.logsumexp(x, axis=1), lambda x: np.log(np.exp(x).sum(1))),
    "scce_logits": (
        lambda x: ops.sparse_categorical_crossentropy(LABELS, x, from_logits=True),
        lambda x: -np.log(np_softmax(x)[np.arange(4), LABELS]),
    ),
    "scce_probs": (
        lambda x: ops.sparse_categorical_crossentropy(LABELS, ops.softmax(x)),
        lambda x: -np.log(np_softmax(x)[np.arange(4), LABELS]),
    ),
    "cce_logits": (
        lambda x: ops.categorical_crossentropy(
            ops.one_hot(LABELS, 5, dtype=np.float64), x, from_logits=True
        ),
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
    np.testing.assert_allclose(np.asarray(func(tg.tensor(X))), reference(X), rtol=1e-6, atol=1e-12)
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
    np.testing.assert_array_equal(ops.one_hot(np.array([1, 0]), 3), [[0, 1, 0], [1, 0, 0]])
    with pytest.raises(ValueError, match=r"labels must be in \[0, 5\)"):
        ops.sparse_categorical_crossentropy(np.array([0, 7]), tg.tensor(X[:2]), from_logits=True)
    with pytest.raises(TypeError, match="labels must be integers"):
        ops.sparse_categorical_crossentropy(
            np.array([0.5, 1.0]), tg.tensor(X[:2]), from_logits=True
        )


# -- dense: one primitive eagerly, matmul + add when traced ---------------------------------
def test_dense_is_one_tape_entry_eagerly_and_matmul_add_when_traced():
    x = tg.tensor(RNG.standard_normal((3, 4)).astype(np.float32))
    kernel = tg.Variable(RNG.standard_normal((4, 2)).astype(np.float32))
    bias = tg.Variable(np.array([0.5, -1.0], np.float32))
    with tg.GradientTape() as tape:
        out = ops.nn.dense(x, kernel, bias)
    assert [entry[0].name for entry in tape._entries] == ["dense"]
    np.testing.assert_allclose(out.numpy(), x.numpy() @ kernel.numpy() + bias.numpy(), rtol=1e-6)

    traced = tg.function(lambda x: ops.nn.dense(x, kernel, bias))
    np.testing.assert_array_equal(traced(x).numpy(), out.numpy())
    assert [node.primitive for node in traced.graph.nodes] == ["matmul", "add"]


@pytest.mark.parametrize("traced", [False, True], ids=["eager", "traced"])
def test_dense_shape_errors_name_all_three_shapes(traced):
    run = tg.function(ops.nn.dense) if traced else ops.nn.dense
    x = np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"dense: .*\(3, 4\).*\(5, 2\).*\(2,\)"):
        run(x, np.ones((5, 2), np.float32), np.ones(2, np.float32))
    with pytest.raises(ValueError, match=r"dense: .*bias \(3,\) \(units,\)"):
        run(x, np.ones((4, 2), np.float32), np.ones(3, np.float32))


def test_dense_without_bias_is_matmul():
    x, kernel = RNG.standard_normal((2, 3)), RNG.standard_normal((3, 4))
    np.testing.assert_array_equal(ops.nn.dense(x, kernel), x @ kernel)


def test_dense_keeps_numpy_dtype_promotion():
    out = ops.nn.dense(
        np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), np.ones(2, np.float64)
    )
    assert out.dtype == np.float64 and np.all(out == 4.0)


# -- the cross-entropy's numba kernels (the `jit` extra) against the NumPy path -----------------
def _numpy_path(monkeypatch, function, *args):
    import tapegrad.config

    tapegrad.config.disable_engine("numba")
    try:
        return function(*args)
    finally:
        tapegrad.config.enable_engine("numba")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_cross_entropy_kernels_match_the_numpy_path(monkeypatch, dtype):
    pytest.importorskip("numba")
    from tapegrad.core.prims import xent as prims_xent

    logits = np.array(
        [
            [1.0, np.nan, 2.0],
            [np.inf, 0.0, 1.0],
            [1e30, -1e30, 0.0],
            [0.5, 0.5, 0.5],
            [-3.0, 7.0, 0.25],
        ],
        dtype,
    )
    labels = np.array([0, 1, 2, -1, 1])  # -1: the last class, as NumPy indexes
    tol = {"rtol": 1e-6 if dtype == np.float32 else 1e-14, "atol": 1e-7}
    for function in (
        prims_xent.sparse_softmax_cross_entropy_p,
        prims_xent.sparse_softmax_cross_entropy_delta_p,
    ):
        want = _numpy_path(monkeypatch, function, logits, labels)
        got = function(logits, labels)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **tol)  # (NaN where NumPy has NaN)
    loss, delta = prims_xent.sparse_softmax_cross_entropy_with_delta_p(logits, labels)
    assert loss.tobytes() == prims_xent.sparse_softmax_cross_entropy_p(logits, labels).tobytes()
    assert (
        delta.tobytes() == prims_xent.sparse_softmax_cross_entropy_delta_p(logits, labels).tobytes()
    )
    for bad in (3, -4):
        for function in (
            prims_xent.sparse_softmax_cross_entropy_p,
            prims_xent.sparse_softmax_cross_entropy_delta_p,
            prims_xent.sparse_softmax_cross_entropy_with_delta_p,
        ):
            with pytest.raises(IndexError, match=f"index {bad} is out of bounds"):
                function(logits, np.array([0, bad, 0, 0, 0]))


def test_cross_entropy_kernels_on_batches_of_sequences(monkeypatch):
    pytest.importorskip("numba")
    logits = tg.tensor(RNG.standard_normal((2, 3, 5)).astype(np.float32) * 3)
    labels = RNG.integers(0, 5, (2, 3))

    def value_and_grad():
        with tg.GradientTape() as tape:
            tape.watch(logits)
            loss = tg.numpy.mean(
                ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
            )
        return loss.numpy(), tape.gradient(loss, logits).numpy()

    want = _numpy_path(monkeypatch, value_and_grad)
    for got, expected in zip(value_and_grad(), want, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-8)
