"""keras.ops.nn names beyond the classics: activations, normalizations, attention, multi_hot.

Values against NumPy references written from the definitions, and against numbers
recorded from Keras 3.15 (JAX backend) in the side venv where noted; gradients by
`tg.check_grads` (finite differences, second order, both modes) at float64 points away from
kinks; float32 in, float32 out; bad arguments raise errors naming the op.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

import tapegrad as tg
from tapegrad import ops

X1 = np.array([-2.5, -1.0, -0.3, 0.0, 0.4, 1.0, 3.0], np.float32)
# Gradient points: no kinks (|x| != 1, thresholds 0.5 and 0.1, 0 avoided).
SMOOTH = np.array([-2.3, -0.7, -0.2, 0.3, 0.8, 1.7])
RNG = np.random.default_rng(7)
M24 = np.array(
    [
        [0.12573022, -0.13210486, 0.64042264, 0.10490011],
        [-0.5356694, 0.36159506, 1.304, 0.94708097],
    ],
    np.float32,
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


ACTIVATIONS = {
    "selu": (
        ops.selu,
        lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    ),
    "celu": (
        lambda x: ops.celu(x, alpha=1.5),
        lambda x: np.where(x > 0, x, 1.5 * np.expm1(x / 1.5)),
    ),
    "hard_sigmoid": (ops.hard_sigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hard_silu": (ops.hard_silu, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "hard_swish": (ops.hard_swish, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "hard_tanh": (ops.hard_tanh, lambda x: np.clip(x, -1, 1)),
    "log_sigmoid": (ops.log_sigmoid, lambda x: np.log(_sigmoid(x))),
    "sparse_plus": (
        ops.sparse_plus,
        lambda x: np.where(x <= -1, 0, np.where(x < 1, (x + 1) ** 2 / 4, x)),
    ),
    "sparse_sigmoid": (ops.sparse_sigmoid, lambda x: np.clip((x + 1) / 2, 0, 1)),
    "squareplus": (lambda x: ops.squareplus(x, b=2), lambda x: (x + np.sqrt(x * x + 2)) / 2),
    "soft_shrink": (
        ops.soft_shrink,
        lambda x: np.where(x > 0.5, x - 0.5, np.where(x < -0.5, x + 0.5, 0)),
    ),
    "hard_shrink": (ops.hard_shrink, lambda x: np.where(np.abs(x) > 0.5, x, 0)),
    "tanh_shrink": (ops.tanh_shrink, lambda x: x - np.tanh(x)),
    "threshold": (lambda x: ops.threshold(x, 0.1, -7.0), lambda x: np.where(x > 0.1, x, -7.0)),
    "erfinv": (lambda x: ops.erfinv(x / 3), lambda x: special.erfinv(x / 3)),
    "erfc": (ops.erfc, special.erfc),
    "rsqrt": (lambda x: ops.rsqrt(x * x + 0.5), lambda x: 1 / np.sqrt(x * x + 0.5)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values_dtype_and_gradients(name: str) -> None:
    op, reference = ACTIVATIONS[name]
    out = op(tg.tensor(X1))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), reference(X1.astype(np.float64)), rtol=2e-6, atol=2e-6)
    tg.check_grads(op, (tg.tensor(SMOOTH),), order=2)


def test_activations_match_keras_numbers() -> None:
    # Recorded from Keras 3.15 (JAX backend) in the side venv, inputs X1.
    keras = {
        ops.selu: [-1.613786, -1.111331, -0.455667, 0.0, 0.42028, 1.050701, 3.152103],
        ops.celu: [-0.917915, -0.632121, -0.259182, 0.0, 0.4, 1.0, 3.0],
        ops.hard_sigmoid: [0.083333, 0.333333, 0.45, 0.5, 0.566667, 0.666667, 1.0],
        ops.log_sigmoid: [
            -2.57889,
            -1.313262,
            -0.854355,
            -0.693147,
            -0.513015,
            -0.313262,
            -0.048587,
        ],
        ops.sparse_plus: [0.0, 0.0, 0.1225, 0.25, 0.49, 1.0, 3.0],
        ops.squareplus: [0.350781, 0.618034, 0.861187, 1.0, 1.219804, 1.618034, 3.302776],
    }
    for op, expected in keras.items():
        np.testing.assert_allclose(op(X1).numpy(), expected, atol=2e-6)
    erfinv_in = np.array([-0.999, -0.5, 0.0, 0.3, 0.9, 0.99999], np.float32)
    np.testing.assert_allclose(
        ops.erfinv(erfinv_in).numpy(),
        [-2.326758, -0.476936, 0.0, 0.272463, 1.163087, 3.123205],
        rtol=2e-5,
    )


def test_integer_inputs_give_float32() -> None:
    for op in (ops.selu, ops.hard_sigmoid, ops.log_sigmoid, ops.rsqrt, ops.erfinv, ops.sparse_plus):
        assert op(np.array([1, 2])).dtype == np.float32


def test_erfinv_edges_and_float64_accuracy() -> None:
    out = ops.erfinv(tg.tensor([-1.0, 1.0, 1.5, -2.0])).numpy()
    assert out[0] == -np.inf and out[1] == np.inf and np.isnan(out[2:]).all()
    x = np.linspace(-0.999999, 0.999999, 201)
    np.testing.assert_allclose(ops.erfinv(tg.tensor(x)).numpy(), special.erfinv(x), rtol=1e-12)
    # The derivative is the inverse's: sqrt(pi) / 2 * exp(y^2).
    y = special.erfinv(0.9)
    assert math.isclose(
        float(tg.grad(ops.erfinv)(tg.tensor(0.9))),
        math.sqrt(math.pi) / 2 * math.exp(y * y),
        rel_tol=1e-6,
    )


def test_glu_and_sparsemax() -> None:
    a, b = M24[:, :2], M24[:, 2:]
    np.testing.assert_allclose(ops.glu(M24).numpy(), a * _sigmoid(b), rtol=1e-6)
    np.testing.assert_allclose(
        ops.glu(M24).numpy(), [[0.082334, -0.069514], [-0.421308, 0.260539]], atol=2e-6
    )
    tg.check_grads(lambda x: ops.glu(x, axis=0), (tg.tensor(M24.astype(np.float64)),), order=2)
    with pytest.raises(ValueError, match="glu.*even"):
        ops.glu(np.ones((2, 3), np.float32))
    # Sparsemax is the Euclidean projection onto the simplex: rows sum to 1, small logits
    # give exact zeros, and a hand-computed row matches.
    out = ops.sparsemax(M24).numpy()
    np.testing.assert_allclose(out.sum(-1), 1, rtol=1e-6)
    np.testing.assert_allclose(out[0], [0.16871256, 0.0, 0.683405, 0.14788246], rtol=1e-5)
    np.testing.assert_allclose(ops.sparsemax(M24, axis=0).numpy().sum(0), 1, rtol=1e-6)
    np.testing.assert_allclose(
        ops.sparsemax(np.array([-0.5, 0, 1, 2, 3.0])).numpy(), [0, 0, 0, 0, 1]
    )
    # Its Jacobian on the support is I - 1/k (Martins & Astudillo).
    x = tg.tensor(M24[0].astype(np.float64))
    jac = tg.jacobian(ops.sparsemax)(x).numpy()
    support = np.array([0, 2, 3])
    expected = np.zeros((4, 4))
    expected[np.ix_(support, support)] = np.eye(3) - 1 / 3
    np.testing.assert_allclose(jac, expected, atol=1e-12)


def test_moments_and_batch_normalization() -> None:
    x = RNG.normal(size=(2, 4, 6, 8)).astype(np.float32)
    mean, var = ops.moments(x, axes=[0, 1, 2])
    np.testing.assert_allclose(mean.numpy(), x.mean((0, 1, 2)), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var.numpy(), x.var((0, 1, 2)), rtol=1e-5)
    kept = ops.moments(x, axes=-1, keepdims=True)
    assert [t.shape for t in kept] == [(2, 4, 6, 1)] * 2
    m, v = np.arange(8.0, dtype=np.float32), np.arange(1.0, 9.0, dtype=np.float32)
    out = ops.batch_normalization(
        x, m, v, axis=-1, offset=np.ones(8, np.float32), scale=np.full(8, 2.0, np.float32)
    )
    np.testing.assert_allclose(
        out.numpy(), (x - m) / np.sqrt(v + 1e-3) * 2 + 1, rtol=1e-5, atol=1e-5
    )
    assert out.dtype == np.float32
    xc = RNG.normal(size=(3, 2, 4))
    tg.check_grads(
        lambda t, mu, s: ops.batch_normalization(t, mu, s * s + 1, axis=1, scale=s),
        (tg.tensor(xc), tg.tensor([0.5, -1.0]), tg.tensor([1.5, 0.7])),
        order=2,
    )
    tg.check_grads(lambda t: ops.moments(t, axes=(0, 2))[1], (tg.tensor(xc),), order=2)
    with pytest.raises(ValueError, match="moments: axis 5"):
        ops.moments(x, axes=5)


def test_layer_rms_and_l2_normalization_match_keras() -> None:
    gamma, beta = np.array([1.0, 2, 3, 4], np.float32), np.array([0.1, 0.2, 0.3, 0.4], np.float32)
    # Keras 3.15 numbers (JAX backend).
    np.testing.assert_allclose(
        ops.layer_normalization(M24, gamma=gamma, beta=beta).numpy(),
        [[-0.10931, -2.047818, 5.149256, -0.732798], [-1.416114, -0.253163, 3.68348, 2.859475]],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        ops.rms_normalization(M24, scale=gamma).numpy(),
        [[0.373034, -0.783893, 5.70028, 1.244928], [-0.61699, 0.832978, 4.505884, 4.363433]],
        atol=1e-5,
    )
    np.testing.assert_allclose(
        ops.normalize(M24, axis=0, order=1).numpy(),
        [[0.190097, -0.267581, 0.329364, 0.099717], [-0.809903, 0.732419, 0.670636, 0.900283]],
        atol=1e-6,
    )
    np.testing.assert_allclose(
        ops.normalize(M24).numpy(), M24 / np.linalg.norm(M24, axis=-1, keepdims=True), rtol=1e-6
    )
    x = tg.tensor(RNG.normal(size=(2, 3, 4)))
    tg.check_grads(lambda t: ops.layer_normalization(t, axis=(1, 2), epsilon=1e-3), (x,), order=2)
    tg.check_grads(lambda t: ops.rms_normalization(t, axis=1), (x,), order=2)
    tg.check_grads(lambda t: ops.normalize(t, order=3), (x,), order=2)
    rms_only = ops.layer_normalization(M24, rms_scaling=True, epsilon=0.0).numpy()
    np.testing.assert_allclose(rms_only, M24 / M24.std(-1, keepdims=True), rtol=1e-5)
    with pytest.raises(ValueError, match="normalize: order"):
        ops.normalize(M24, order=0)
    with pytest.raises(TypeError, match="layer_normalization: unexpected"):
        ops.layer_normalization(M24, bogus=1)


def _attention_reference(q, k, v, bias=None, mask=None, is_causal=False, scale=None):
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    logits = np.einsum("BTNH,BSNH->BNTS", q, k) * scale
    if bias is not None:
        logits = logits + bias
    keep = np.ones(logits.shape, bool)
    if mask is not None:
        keep &= mask
    if is_causal:
        keep &= np.tril(np.ones(logits.shape[-2:], bool))
    logits = np.where(keep, logits, -0.7 * 3.38953e38)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    return np.einsum("BNTS,BSNH->BTNH", probs, v)


def test_dot_product_attention() -> None:
    q = RNG.normal(size=(2, 3, 2, 4)).astype(np.float32)
    k = RNG.normal(size=(2, 5, 2, 4)).astype(np.float32)
    v = RNG.normal(size=(2, 5, 2, 4)).astype(np.float32)
    mask = RNG.uniform(size=(2, 1, 3, 5)) > 0.3
    bias = RNG.normal(size=(1, 2, 3, 5)).astype(np.float32)
    out = ops.dot_product_attention(q, k, v, bias=bias, mask=mask)
    assert out.dtype == np.float32 and out.shape == (2, 3, 2, 4)
    np.testing.assert_allclose(
        out.numpy(), _attention_reference(q, k, v, bias, mask), rtol=1e-5, atol=1e-6
    )
    qc = q[:, :3]
    causal = ops.dot_product_attention(qc, qc, qc, is_causal=True, scale=0.3).numpy()
    np.testing.assert_allclose(
        causal, _attention_reference(qc, qc, qc, is_causal=True, scale=0.3), rtol=1e-5, atol=1e-6
    )
    # Keras 3.15 (JAX backend) on one causal case: the first position attends to itself only.
    np.testing.assert_allclose(causal[:, 0], qc[:, 0], rtol=1e-6)
    q64, k64, v64 = (tg.tensor(a.astype(np.float64)) for a in (q, k, v))
    tg.check_grads(
        lambda a, b, c: ops.dot_product_attention(a, b, c, mask=mask), (q64, k64, v64), order=1
    )
    capped = ops.dot_product_attention(q, k, v, attn_logits_soft_cap=2.0).numpy()
    logits = np.einsum("BTNH,BSNH->BNTS", q, k) / 2.0
    probs = np.exp(2.0 * np.tanh(logits / 2.0))
    probs /= probs.sum(-1, keepdims=True)
    np.testing.assert_allclose(capped, np.einsum("BNTS,BSNH->BTNH", probs, v), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="dot_product_attention: query must be 4-D"):
        ops.dot_product_attention(q[0], k, v)
    with pytest.raises(ValueError, match="flash_attention"):
        ops.dot_product_attention(q, k, v, flash_attention=True)


def test_multi_hot_and_psnr() -> None:
    np.testing.assert_array_equal(
        ops.multi_hot(np.array([[0, 2, 2], [1, 3, 0]]), 4).numpy(), [[1, 0, 1, 0], [1, 1, 0, 1]]
    )
    np.testing.assert_array_equal(
        ops.multi_hot(tg.tensor([1, 1, 3]), num_tokens=5).numpy(), [0, 1, 0, 1, 0]
    )
    assert ops.multi_hot([[0]], 2, dtype="int32").dtype == np.int32
    with pytest.raises(ValueError, match="multi_hot: num_classes"):
        ops.multi_hot([0, 1])
    a, b = RNG.uniform(size=(5, 6, 3)), RNG.uniform(size=(5, 6, 3))
    expected = 20 * np.log10(1.0) - 10 * np.log10(np.mean((a - b) ** 2))
    assert math.isclose(float(ops.psnr(a, b, 1.0)), expected, rel_tol=1e-12)
    with pytest.raises(ValueError, match="psnr: x1 and x2"):
        ops.psnr(a, b[:2], 1.0)


def test_nn_submodule_has_keras_names() -> None:
    names = [
        "adaptive_average_pool",
        "batch_normalization",
        "celu",
        "depth_to_space",
        "dot_product_attention",
        "fold",
        "glu",
        "hard_sigmoid",
        "layer_normalization",
        "moments",
        "multi_hot",
        "normalize",
        "psnr",
        "rms_normalization",
        "selu",
        "sparsemax",
        "space_to_depth",
        "unfold",
        "conv",
        "max_pool",
    ]
    for name in names:
        assert getattr(ops.nn, name) is not None
