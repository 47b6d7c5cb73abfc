"""ops.rearrange (Keras's einops subset) and ops.vectorize (numpy/jax vectorize)."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import ops

RNG = np.random.default_rng(4)
IMAGES = RNG.normal(size=(4, 6, 8, 3))


@pytest.mark.parametrize(
    ("pattern", "lengths", "reference"),
    [
        ("b h w c -> b c h w", {}, lambda x: x.transpose(0, 3, 1, 2)),
        ("b h w c -> (b h) w c", {}, lambda x: x.reshape(24, 8, 3)),
        ("b h w c -> h (b w) c", {}, lambda x: x.transpose(1, 0, 2, 3).reshape(6, 32, 3)),
        ("b h w c -> b (c h w)", {}, lambda x: x.transpose(0, 3, 1, 2).reshape(4, -1)),
        (
            "b (h1 h) (w1 w) c -> (b h1 w1) h w c",
            {"h1": 2, "w1": 2},
            lambda x: x.reshape(4, 2, 3, 2, 4, 3).transpose(0, 1, 3, 2, 4, 5).reshape(16, 3, 4, 3),
        ),
        (
            "b (h h1) (w w1) c -> b h w (c h1 w1)",
            {"h1": 2, "w1": 2},
            lambda x: x.reshape(4, 3, 2, 4, 2, 3).transpose(0, 1, 3, 5, 2, 4).reshape(4, 3, 4, 12),
        ),
    ],
)
def test_rearrange_matches_reshape_transpose(pattern, lengths, reference) -> None:
    out = ops.rearrange(IMAGES, pattern, **lengths)
    np.testing.assert_array_equal(out.numpy(), reference(IMAGES))


def test_rearrange_gradient_and_errors() -> None:
    x = tg.tensor(IMAGES[:2, :2, :2])
    tg.check_grads(lambda t: ops.rearrange(t, "b h w c -> c (w h) b"), (x,), order=2)
    with pytest.raises(ValueError, match="rearrange: each axis must appear once"):
        ops.rearrange(IMAGES, "b h w c -> b h w")
    with pytest.raises(ValueError, match="rearrange: give the sizes"):
        ops.rearrange(IMAGES, "b (h1 h) w c -> b h1 h w c")
    with pytest.raises(ValueError, match="rearrange: the pattern's input side"):
        ops.rearrange(IMAGES, "b h w -> b h w")
    with pytest.raises(ValueError, match="anonymous axes"):
        ops.rearrange(IMAGES, "b h w c -> b h w c 1")


def test_vectorize_elementwise_and_with_signature() -> None:
    x = RNG.normal(size=(3, 4))
    clip = ops.vectorize(lambda v: v * 2 if v > 0 else -v)
    np.testing.assert_allclose(clip(x).numpy(), np.vectorize(lambda v: v * 2 if v > 0 else -v)(x))
    add = ops.vectorize(lambda a, b: a + b)
    np.testing.assert_allclose(add(x, x[0]).numpy(), x + x[0])  # broadcasting
    dot = ops.vectorize(lambda a, b: (a * b).sum(), signature="(n),(n)->()")
    np.testing.assert_allclose(dot(x, x[1]).numpy(), x @ x[1])
    outer = ops.vectorize(lambda a, b: a[:, None] * b[None, :], signature="(m),(n)->(m,n)")
    assert outer(x, x[1]).shape == (3, 4, 4)
    with pytest.raises(ValueError, match="vectorize: the loop axes"):
        outer(x, x[:2])
    pair = ops.vectorize(lambda a: (a.sum(), a.max()), signature="(n)->(),()")
    total, biggest = pair(x)
    np.testing.assert_allclose(total.numpy(), x.sum(1))
    np.testing.assert_allclose(biggest.numpy(), x.max(1))
    scaled = ops.vectorize(lambda a, k: a * k, excluded={1})
    np.testing.assert_allclose(scaled(x, 3.0).numpy(), x * 3)
    tg.check_grads(lambda t: dot(t, t), (tg.tensor(x),), order=2)
    with pytest.raises(ValueError, match="vectorize: not a valid gufunc signature"):
        ops.vectorize(lambda a: a, signature="(n)->")
    with pytest.raises(ValueError, match="vectorize: the signature"):
        dot(x)
