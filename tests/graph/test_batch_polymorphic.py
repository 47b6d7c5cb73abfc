"""`tapegrad.function(batch_polymorphic=True)`: one trace serves every batch size.

Each function is compiled once polymorphically and once per signature (the reference:
a trace at every size); both must agree at batch sizes 1, 7, 32 and 33, and the
polymorphic one must have traced once where the batch size provably only sizes arrays
and scales numbers (``k * B``, ``c / (k * B)``); other forms trace per size.
"""

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.graph.polymorphic import batch_key

SIZES = (32, 7, 1, 33)
W = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)


def _mean_of_all(x: Any) -> Any:
    return tnp.mean(tnp.tanh(x @ W))  # divisor B * 4


def _reshape_by_batch(x: Any) -> Any:
    y = tnp.reshape(x @ W, (x.shape[0], 2, -1))  # a shape read by user code
    return tnp.sum(y, axis=(1, 2)) * x.shape[0]


def _ones_of_batch(x: Any) -> Any:
    ones = tnp.ones((x.shape[0], 1), dtype="float32")  # a constant with B rows
    return tnp.concatenate([x, ones], axis=1) * (1.0 / x.shape[0])


def _batch_statistics(x: Any) -> Any:
    centred = x - tnp.mean(x, axis=0)  # a reduction over the batch
    return centred / tnp.sqrt(tnp.var(x, axis=0) + 1e-3), tnp.sum(x, axis=0)


def _gradient(x: Any) -> Any:
    w = tg.tensor(W)
    with tg.GradientTape() as tape:
        tape.watch(w)
        loss = tnp.mean(tnp.square(tnp.reshape(x @ w, (-1,))))
    return loss, tape.gradient(loss, w)


def _batch_in_a_later_entry(x: Any) -> Any:
    y = tnp.reshape(tnp.transpose(x @ W), (2, 2 * x.shape[0]))  # (2, 2B): not leading
    return tnp.sum(y, axis=0)


CASES = [
    _mean_of_all,
    _reshape_by_batch,
    _ones_of_batch,
    _batch_statistics,
    _gradient,
    _batch_in_a_later_entry,
]


def _flat(result: Any) -> list[np.ndarray]:
    results = result if isinstance(result, tuple) else (result,)
    return [np.asarray(r) for r in results]


@pytest.mark.parametrize("body", CASES, ids=lambda f: f.__name__)
def test_one_trace_equals_a_trace_per_size(body: Callable[..., Any]) -> None:
    polymorphic = tg.function(body, batch_polymorphic=True)
    per_size = tg.function(body)
    rng = np.random.default_rng(1)
    for size in SIZES:
        x = rng.standard_normal((size, 6)).astype(np.float32)
        for got, want in zip(_flat(polymorphic(x)), _flat(per_size(x)), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert per_size.tracing_count == len(SIZES)
    assert polymorphic.tracing_count == 1
    assert polymorphic.specialization_count == len(SIZES) - 1


def test_off_by_default_like_jax_jit() -> None:
    f = tg.function(_mean_of_all)
    f(np.ones((4, 6), np.float32))
    f(np.ones((5, 6), np.float32))
    assert f.tracing_count == 2
    assert f.specialization_count == 0


def test_random_draws_shaped_by_the_batch_follow_it() -> None:
    seed = tg.random.SeedGenerator(3)

    def noisy(x: Any) -> Any:
        return x + tg.random.normal((x.shape[0], 6), seed=seed)

    f = tg.function(noisy, batch_polymorphic=True)
    for size in SIZES:
        out = f(np.zeros((size, 6), np.float32)).numpy()
        assert out.shape == (size, 6)
        assert float(np.std(out)) > 0.1  # fresh draws, not a frozen constant
    assert f.tracing_count == 1


def test_what_cannot_be_proven_traces_again_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def positions(x: Any) -> Any:
        # Rows computed from the batch size outside the graph: a constant, not a shape.
        return x + np.arange(x.shape[0], dtype=np.float32)[:, None]

    f = tg.function(positions, batch_polymorphic=True)
    with caplog.at_level(logging.DEBUG, logger="tapegrad.function"):
        for size in (8, 5):
            x = np.zeros((size, 2), np.float32)
            np.testing.assert_array_equal(f(x).numpy(), x + np.arange(size)[:, None])
    assert f.tracing_count == 2
    reasons = [r.getMessage() for r in caplog.records if "does not serve" in r.getMessage()]
    assert len(reasons) == 1
    assert "rows that differ" in reasons[0]


def test_a_number_equal_to_the_batch_size_stays_fixed() -> None:
    # Both divide by 8 at batch 8; the probe trace (batch 3) tells the mean over 8 time
    # steps and the hard-coded 8.0 (fixed) from the count of rows (the batch).
    def body(x: Any) -> Any:
        return tnp.mean(x, axis=1) / 8.0 + tnp.sum(x) / x.shape[0]

    f = tg.function(body, batch_polymorphic=True)
    for size in (8, 5, 9):
        x = np.random.default_rng(size).standard_normal((size, 8, 2)).astype(np.float32)
        want = x.mean(axis=1) / 8.0 + x.sum() / size
        np.testing.assert_allclose(f(x).numpy(), want, rtol=1e-5)
    assert f.tracing_count == 1


def _root(x: Any) -> Any:
    return tnp.sum(x) / math.sqrt(x.shape[0])


def _unbiased(x: Any) -> Any:
    return tnp.sum(tnp.square(x - tnp.mean(x, axis=0))) / (x.shape[0] - 1)


def _branch(x: Any) -> Any:
    return tnp.sum(x) if x.shape[0] > 16 else tnp.max(x)


@pytest.mark.parametrize("body", [_root, _unbiased, _branch], ids=lambda f: f.__name__)
def test_other_forms_of_the_batch_trace_per_size(
    body: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    f = tg.function(body, batch_polymorphic=True)
    per_size = tg.function(body)
    with caplog.at_level(logging.DEBUG, logger="tapegrad.function"):
        for size in SIZES[:3]:
            x = np.random.default_rng(size).standard_normal((size, 6)).astype(np.float32)
            np.testing.assert_allclose(f(x).numpy(), per_size(x).numpy(), rtol=1e-6)
    assert f.tracing_count == 3
    assert f.specialization_count == 0
    probes = [r.getMessage() for r in caplog.records if "probe trace" in r.getMessage()]
    assert len(probes) == 1  # refuted once, not probed again
    assert "not batch-polymorphic" in probes[0]


def test_a_probe_the_program_cannot_run_traces_per_size() -> None:
    def groups_of_four(x: Any) -> Any:
        return tnp.sum(tnp.reshape(x, (-1, 4, 6)), axis=1)  # needs a multiple of 4 rows

    f = tg.function(groups_of_four, batch_polymorphic=True)
    for size in (8, 12):
        x = np.random.default_rng(size).standard_normal((size, 6)).astype(np.float32)
        np.testing.assert_allclose(f(x).numpy(), x.reshape(-1, 4, 6).sum(axis=1), rtol=1e-6)
    assert f.tracing_count == 2  # the probe at batch 3 failed: refuted, not an error


def test_a_trace_at_batch_one_is_reused() -> None:
    # The probe (batch 3) tells a broadcast of 1 from the batch.
    f = tg.function(_mean_of_all, batch_polymorphic=True)
    for size in (1, 5, 9):
        x = np.random.default_rng(size).standard_normal((size, 6)).astype(np.float32)
        np.testing.assert_allclose(float(f(x)), np.tanh(x @ W).mean(), rtol=1e-5)
    assert f.tracing_count == 1
    assert f.specialization_count == 2


def test_arguments_of_different_leading_sizes_have_no_batch() -> None:
    key = ("tree", ("array", (3, 2), "<f4"), ("array", (4,), "<f4"))
    assert batch_key(key) is None
