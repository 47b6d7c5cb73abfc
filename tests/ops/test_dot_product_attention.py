"""The fused attention softmax (`attention_softmax` primitive) against its composite
``where -> softmax`` (values, gradients, second order, forward mode, compiled), and
`ops.dot_product_attention` / `MultiHeadAttention` built on it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import ops
from tapegrad.core import prims as P
from tapegrad.core.prims.attention import causal_keep, masked_value

RNG = np.random.default_rng(17)


def composite(scores: Any, mask: Any, scale: float, causal: bool) -> Any:
    """The reference: the same math from separate primitives."""
    shape = tg.Tensor(scores).shape if not isinstance(scores, tg.Tensor) else scores.shape
    keep = None if mask is None else mask
    if causal:
        band = causal_keep(shape[-2], shape[-1])
        keep = band if keep is None else np.logical_and(keep, band)
    logits = scores * scale
    if keep is not None:
        logits = tnp.where(keep, logits, masked_value(np.float64))
    return ops.softmax(logits, axis=-1)


def fused(scores: Any, mask: Any, scale: float, causal: bool) -> Any:
    return ops.attention_softmax(scores, mask, scale=scale, is_causal=causal)


MASK = RNG.uniform(size=(2, 1, 3, 4)) > 0.4
DEAD_ROW = np.ones((2, 1, 3, 4), bool)
DEAD_ROW[0, 0, 1] = False  # one query sees no key: a uniform row with zero gradient
CASES = {
    "plain": (None, 1.0, False),
    "scaled": (None, 0.7, False),
    "mask": (MASK, 1.3, False),
    "dead_row": (DEAD_ROW, 1.0, False),
    "causal": (None, 1.0, True),
    "mask_and_causal": (MASK, 0.5, True),
}


def _scores() -> np.ndarray:
    return RNG.normal(size=(2, 2, 3, 4))


@pytest.mark.parametrize("case", CASES)
def test_values_gradients_and_second_order_equal_the_composite(case: str) -> None:
    mask, scale, causal = CASES[case]
    x = _scores()
    weights = RNG.normal(size=x.shape)

    def loss(f: Any) -> Any:
        return lambda s: tnp.sum(f(s, mask, scale, causal) ** 2 * weights)

    np.testing.assert_allclose(
        np.asarray(fused(x, mask, scale, causal)),
        np.asarray(composite(x, mask, scale, causal)),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        np.asarray(tg.grad(loss(fused))(x)), np.asarray(tg.grad(loss(composite))(x)), atol=1e-12
    )
    # Second order: reverse over reverse, and forward over reverse.
    direction = RNG.normal(size=x.shape)
    for f in (fused, composite):
        hvp = tg.grad(lambda s, f=f: tnp.sum(tg.grad(loss(f))(s) * direction))(x)
        fwd = tg.jvp(tg.grad(loss(f)), (x,), (direction,))[1]
        if f is fused:
            hvp_fused, fwd_fused = np.asarray(hvp), np.asarray(fwd)
    np.testing.assert_allclose(hvp_fused, np.asarray(hvp), atol=1e-10)
    np.testing.assert_allclose(fwd_fused, np.asarray(fwd), atol=1e-10)
    tg.check_grads(lambda s: fused(s, mask, scale, causal), (x,), order=2, modes=("fwd", "rev"))


def test_fully_masked_row_is_uniform_with_zero_gradient() -> None:
    x = _scores()
    probs = np.asarray(fused(x, DEAD_ROW, 1.0, False))
    np.testing.assert_allclose(probs[0, :, 1], 0.25)
    grad = np.asarray(tg.grad(lambda s: tnp.sum(fused(s, DEAD_ROW, 1.0, False) * x))(x))
    np.testing.assert_array_equal(grad[0, :, 1], 0.0)
    assert np.abs(grad[0, :, 0]).max() > 0


@pytest.mark.parametrize("case", ["mask", "dead_row", "mask_and_causal"])
def test_compiled_equals_eager_with_the_mask_as_an_input(case: str) -> None:
    _, scale, causal = CASES[case]
    mask = CASES[case][0]
    x = _scores().astype(np.float32)

    def step(s: Any, keep: Any) -> Any:
        with tg.GradientTape() as tape:
            tape.watch(s)
            out = tnp.sum(ops.attention_softmax(s, keep, scale=scale, is_causal=causal) ** 2)
        return out, tape.gradient(out, s)

    compiled = tg.function(step)
    eager = step(tg.tensor(x), tg.tensor(mask))
    traced = compiled(tg.tensor(x), tg.tensor(mask))
    for a, b in zip(eager, traced, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_float32_stays_float32_and_large_scores_stay_finite() -> None:
    x = (RNG.normal(size=(1, 1, 2, 3)) * 1e4).astype(np.float32)
    probs = P.attention_softmax_p(x, np.True_, scale=1.0, causal=False)
    assert probs.dtype == np.float32
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)


def _attention_composite(q: Any, k: Any, v: Any, mask: Any, causal: bool) -> Any:
    scores = tnp.einsum("BTNH,BSNH->BNTS", q, k)
    probs = composite(scores, mask, 1.0 / np.sqrt(q.shape[-1]), causal)
    return tnp.einsum("BNTS,BSNH->BTNH", probs, v)


@pytest.mark.parametrize("causal", [False, True])
def test_dot_product_attention_against_einsum_softmax_einsum(causal: bool) -> None:
    q, k, v = (RNG.normal(size=(2, 4, 2, 3)) for _ in range(3))
    mask = RNG.uniform(size=(2, 1, 4, 4)) > 0.3

    def total(f: Any) -> Any:
        return lambda q, k, v: tnp.sum(f(q, k, v) ** 2)

    def ours(q: Any, k: Any, v: Any) -> Any:
        return ops.dot_product_attention(q, k, v, mask=mask, is_causal=causal)

    def reference(q: Any, k: Any, v: Any) -> Any:
        return _attention_composite(q, k, v, mask, causal)

    np.testing.assert_allclose(
        np.asarray(ours(q, k, v)), np.asarray(reference(q, k, v)), atol=1e-12
    )
    ours_grads = tg.grad(total(ours), argnums=(0, 1, 2))(q, k, v)
    ref_grads = tg.grad(total(reference), argnums=(0, 1, 2))(q, k, v)
    for a, b in zip(ours_grads, ref_grads, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-12)
    tg.check_grads(ours, (q, k, v), order=2, modes=("rev",))


def test_multi_head_attention_fused_path_matches_the_composite_path() -> None:
    # The fused path (no probabilities returned) against the path that returns them.
    layer = tg.layers.MultiHeadAttention(num_heads=2, key_dim=3)
    x = RNG.normal(size=(2, 5, 4)).astype(np.float32)
    mask = RNG.uniform(size=(2, 5, 5)) > 0.3
    out = layer(x, x, attention_mask=mask)
    out_with_scores, scores = layer(x, x, attention_mask=mask, return_attention_scores=True)
    np.testing.assert_allclose(out.numpy(), out_with_scores.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(scores.numpy().sum(-1), 1.0, rtol=1e-5)
    causal = layer(x, x, use_causal_mask=True).numpy()
    q_first = layer(x[:, :1], x[:, :1]).numpy()
    np.testing.assert_allclose(causal[:, :1], q_first, rtol=1e-5, atol=1e-6)
