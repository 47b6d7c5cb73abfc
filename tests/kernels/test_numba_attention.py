"""The numba attention-softmax kernels against the table's impls (values, dtypes, which
calls they take), on one thread and on the parallel loops, and a training step through
MultiHeadAttention with the numba engine on and off."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.core.prims.attention import (
    _attention_softmax_grad_impl,
    _attention_softmax_impl,
    attention_softmax_grad_p,
    attention_softmax_p,
)
from tapegrad.kernels import kernel_for, numba_attention, set_parallel_kernels

pytest.importorskip("numba")

RNG = np.random.default_rng(0)
SHAPES = [(2, 3, 5, 7), (4, 1), (1, 2, 300), (64, 4, 16, 16)]


def _tolerance(dtype: type) -> float:
    return 2e-6 if dtype == np.float32 else 1e-13


# The parallel loops in float32 only (each dtype is a compilation of its own).
CASES = [(shape, dtype, False) for shape in SHAPES for dtype in (np.float32, np.float64)] + [
    (SHAPES[0], np.float32, True),
    (SHAPES[-1], np.float32, True),
]


@pytest.mark.parametrize(("shape", "dtype", "parallel"), CASES)
def test_kernels_match_impls(shape: tuple[int, ...], dtype: type, parallel: bool) -> None:
    scores = (RNG.standard_normal(shape) * 8).astype(dtype)
    g = RNG.standard_normal(shape).astype(dtype)
    set_parallel_kernels(parallel)
    try:
        probs = numba_attention.attention_softmax(scores, np.True_, scale=0.3, causal=False)
        grad = numba_attention.attention_softmax_grad(g, probs, scale=0.3)
    finally:
        set_parallel_kernels(False)
    reference = _attention_softmax_impl(scores, np.True_, scale=0.3, causal=False)
    assert probs.dtype == dtype
    assert probs.shape == shape
    np.testing.assert_allclose(probs, reference, rtol=0, atol=_tolerance(dtype))
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=0, atol=10 * _tolerance(dtype))
    expected = _attention_softmax_grad_impl(g, reference, scale=0.3)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, expected, rtol=0, atol=4 * _tolerance(dtype))


def test_non_contiguous_and_extreme_scores() -> None:
    base = RNG.standard_normal((3, 8, 6)).astype(np.float32)
    scores = base.transpose(0, 2, 1) * 1e4  # a transposed view, huge logits
    out = numba_attention.attention_softmax(scores, np.True_, scale=1.0, causal=False)
    reference = _attention_softmax_impl(scores, np.True_, scale=1.0, causal=False)
    np.testing.assert_allclose(out, reference, rtol=0, atol=1e-6)
    assert np.isfinite(out).all()


def test_which_calls_the_kernels_take() -> None:
    scores = RNG.standard_normal((2, 4, 4)).astype(np.float32)
    mask = RNG.random((2, 4, 4)) > 0.3
    take = numba_attention.attention_softmax
    assert kernel_for(attention_softmax_p, scores, np.True_, scale=1.0, causal=False) is take
    # Masks and the causal band stay with the impl.
    assert kernel_for(attention_softmax_p, scores, mask, scale=1.0, causal=False) is not take
    assert kernel_for(attention_softmax_p, scores, np.True_, scale=1.0, causal=True) is not take
    assert not numba_attention.applies(scores.astype(np.int32), np.True_, scale=1.0, causal=False)
    assert not numba_attention.applies(scores[:, :, :0], np.True_, scale=1.0, causal=False)
    grad = numba_attention.attention_softmax_grad
    assert kernel_for(attention_softmax_grad_p, scores, scores, scale=1.0) is grad
    assert not numba_attention.applies_grad(scores, scores.astype(np.float64), scale=1.0)
    assert not numba_attention.applies_grad(scores, scores[:1], scale=1.0)


def _attention_gradients() -> list[np.ndarray]:
    layer = tg.layers.MultiHeadAttention(num_heads=2, key_dim=4, seed=1)
    x = np.random.default_rng(1).standard_normal((3, 5, 6)).astype(np.float32)
    layer(x, x)
    layer.set_weights(
        [np.random.default_rng(2).standard_normal(w.shape) * 0.5 for w in layer.weights]
    )
    with tg.GradientTape() as tape:
        loss = tg.ops.sum(layer(x, x) ** 2)
    return [np.asarray(g) for g in tape.gradient(loss, layer.trainable_weights)]


def test_layer_gradients_with_and_without_the_engine() -> None:
    with_kernels = _attention_gradients()
    tg.config.disable_engine("numba")
    try:
        without = _attention_gradients()
    finally:
        tg.config.enable_engine("numba")
    for a, b in zip(with_kernels, without, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
