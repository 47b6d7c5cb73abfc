"""ctc_loss against a brute-force sum over every alignment and Keras 3.15 numbers (JAX
backend, recorded in the side venv); gradients by finite differences; greedy ctc_decode."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import ops

RNG = np.random.default_rng(2)
LOGITS = RNG.normal(size=(3, 6, 5)).astype(np.float32)
TARGET = np.array([[1, 2, 2, 0], [3, 3, 1, 4], [4, 0, 0, 0]])
TARGET_LENGTH = np.array([3, 2, 1])
OUTPUT_LENGTH = np.array([6, 5, 3])


def _collapse(path: tuple[int, ...], blank: int) -> list[int]:
    merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
    return [k for k in merged if k != blank]


def _brute_force(logits, target, target_length, output_length, blank):
    losses = []
    for b in range(len(logits)):
        steps = output_length[b]
        logp = logits[b, :steps] - np.log(np.exp(logits[b, :steps]).sum(-1, keepdims=True))
        wanted = list(target[b, : target_length[b]])
        total = 0.0
        for path in itertools.product(range(logits.shape[-1]), repeat=steps):
            if _collapse(path, blank) == wanted:
                total += np.exp(sum(logp[t, k] for t, k in enumerate(path)))
        losses.append(-np.log(total))
    return np.array(losses)


@pytest.mark.parametrize("blank", [0, 4])
def test_ctc_loss_is_the_sum_over_alignments(blank: int) -> None:
    logits = LOGITS.astype(np.float64)
    target = np.where(TARGET == blank, 2, TARGET)  # a label equal to the blank has no path
    got = ops.ctc_loss(target, logits, TARGET_LENGTH, OUTPUT_LENGTH, mask_index=blank).numpy()
    expected = _brute_force(logits, target, TARGET_LENGTH, OUTPUT_LENGTH, blank)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_ctc_loss_matches_keras_and_differentiates() -> None:
    # Keras 3.15 (JAX backend) numbers.
    got = ops.ctc_loss(TARGET, LOGITS, TARGET_LENGTH, OUTPUT_LENGTH)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), [8.12843, 6.3563223, 2.3549254], rtol=1e-5)
    masked = ops.ctc_loss(TARGET, LOGITS, TARGET_LENGTH, OUTPUT_LENGTH, mask_index=4)
    np.testing.assert_allclose(masked.numpy(), [10.694807, 7.484117, 3.1766706], rtol=1e-5)
    logits = tg.tensor(LOGITS[:2, :4].astype(np.float64))
    tg.check_grads(lambda x: ops.ctc_loss(TARGET[:2], x, [2, 1], [4, 3]), (logits,), order=1)
    traced = tg.function(lambda x, t: ops.ctc_loss(t, x, [3, 2, 1], [6, 5, 3]))
    np.testing.assert_allclose(
        traced(tg.tensor(LOGITS), tg.tensor(TARGET)).numpy(), got.numpy(), rtol=1e-6
    )
    assert ops.nn.ctc_loss is not None
    with pytest.raises(ValueError, match="ctc_loss: expected output"):
        ops.ctc_loss(TARGET, LOGITS[0], TARGET_LENGTH, OUTPUT_LENGTH)


def test_ctc_decode_greedy_matches_keras() -> None:
    decoded, scores = ops.ctc_decode(LOGITS, np.array([6, 4, 2]))
    np.testing.assert_array_equal(
        decoded.numpy(),
        [[[4, 1, 1, -1, -1, -1], [2, 1, 2, -1, -1, -1], [4, 3, -1, -1, -1, -1]]],
    )
    np.testing.assert_allclose(
        scores.numpy(), [[-7.3648977], [-5.0725703], [-1.8485405]], rtol=1e-6
    )
    decoded, _ = ops.ctc_decode(LOGITS, np.array([6, 4, 2]), merge_repeated=False, mask_index=2)
    np.testing.assert_array_equal(
        decoded.numpy(),
        [[[4, 0, 0, 1, 0, 1], [1, -1, -1, -1, -1, -1], [4, 3, -1, -1, -1, -1]]],
    )
    with pytest.raises(ValueError, match="ctc_decode: strategy 'beam_search'"):
        ops.ctc_decode(LOGITS, [6, 4, 2], strategy="beam_search")
