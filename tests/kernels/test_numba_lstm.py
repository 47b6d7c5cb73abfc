"""The LSTM's numba kernels at sizes where the recurrent products are cut into row blocks
(`row_bounds`, `blocked_product`): values and every argument's gradient against the NumPy
path (float32) and against the float64 computation, with cotangents at every step of ``h``
and ``c``; the compiled loop of steps and its fallback (a Python loop) alike."""

import numpy as np
import pytest

pytest.importorskip("numba")

from tapegrad import config  # noqa: E402
from tapegrad.core.prims.lstm import lstm_grad_p, lstm_grads_p, lstm_p  # noqa: E402
from tapegrad.kernels import kernel_for, numba_lstm  # noqa: E402

# 4 * 96 gate rows, 96 units, batch 32: each recurrent product has 1.2M multiply-adds, more
# than the small-matrix limit, so both directions run as blocks.
B, T, F, U = 32, 5, 7, 96


@pytest.mark.parametrize(
    ("rows", "inner", "cols"),
    [(512, 128, 32), (128, 512, 32), (384, 96, 32), (100, 50, 20), (4096, 1024, 32)],
)
def test_blocked_product_equals_matmul(rows, inner, cols):
    bounds = numba_lstm.row_bounds(rows, inner, cols)
    assert bounds[0] == 0
    assert bounds[-1] == rows
    if len(bounds) > 2:  # blocks: each within the small-matrix limit
        assert max(np.diff(bounds)) * inner * cols <= 10**6
    rng = np.random.default_rng(rows + inner)
    a = rng.standard_normal((rows, inner)).astype(np.float32)
    b = rng.standard_normal((inner, cols)).astype(np.float32)
    out = np.full((rows, cols), np.nan, np.float32)
    numba_lstm.blocked_product(a, out)(b)
    np.testing.assert_allclose(out, a @ b, rtol=1e-5, atol=1e-4)
    # The plan is reused: a second right-hand side overwrites every row.
    numba_lstm.blocked_product(a, out)(2 * b)
    np.testing.assert_allclose(out, 2 * (a @ b), rtol=1e-5, atol=2e-4)


def _arguments(dtype, c_used=True, batch=B, steps=T):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((batch, steps, F))
    weights = rng.uniform(-0.3, 0.3, (F + U + 1, 4 * U))
    state0 = rng.standard_normal((batch, 2 * U))
    g_hs, g_cs = rng.standard_normal((2, batch, steps, U))
    if not c_used:  # training: only h reaches the loss
        g_cs[...] = 0
    return [a.astype(dtype) for a in (x, weights, state0, g_hs, g_cs)]


def _run(x, weights, state0, g_hs, g_cs):
    hs, cs, residual = lstm_p(x, weights, state0)
    grads = [
        lstm_grad_p(g_hs, g_cs, x, weights, state0, hs, cs, residual, argnum=k) for k in range(3)
    ]
    return [hs, cs, *grads]


@pytest.mark.parametrize("compiled_loop", [True, False], ids=["numba-loop", "python-loop"])
@pytest.mark.parametrize("c_used", [True, False], ids=["g_cs", "g_cs-zero"])
def test_kernels_match_the_numpy_path_and_float64(monkeypatch, compiled_loop, c_used):
    # Without SciPy (numba's BLAS) the steps run in a Python loop around the compiled step.
    monkeypatch.setattr(numba_lstm, "numba_blas", lambda: compiled_loop)
    args32 = _arguments(np.float32, c_used)
    assert kernel_for(lstm_p, *args32[:3]) is numba_lstm.lstm
    got = _run(*args32)
    try:
        config.disable_engine("numba")
        numpy_path = _run(*args32)
    finally:
        config.enable_engine("numba")
    exact = _run(*_arguments(np.float64, c_used))  # float64: the NumPy path, no kernel
    for g, n, e in zip(got, numpy_path, exact, strict=True):
        assert g.dtype == np.float32
        scale = np.abs(e).max()
        np.testing.assert_allclose(g, n, rtol=0, atol=2e-5 * scale)
        np.testing.assert_allclose(g, e, rtol=0, atol=2e-5 * scale)


@pytest.mark.parametrize(("batch", "steps"), [(1, 3), (2, 1), (3, 9)])
def test_small_batches_and_sequences(batch, steps):
    args32 = _arguments(np.float32, batch=batch, steps=steps)
    got = _run(*args32)
    exact = _run(*_arguments(np.float64, batch=batch, steps=steps))
    for g, e in zip(got, exact, strict=True):
        np.testing.assert_allclose(g, e, rtol=0, atol=2e-5 * np.abs(e).max())


@pytest.mark.parametrize("argnums", [(0, 1), (1, 2, 0)])
def test_joint_grads_equal_the_separate_ones(argnums):
    # lstm_grads: several arguments' cotangents from one BPTT, the kernel and the impl alike.
    x, weights, state0, g_hs, g_cs = _arguments(np.float32)
    hs, cs, residual = lstm_p(x, weights, state0)
    args = (g_hs, g_cs, x, weights, state0, hs, cs, residual)
    separate = [lstm_grad_p(*args, argnum=k) for k in argnums]
    assert kernel_for(lstm_grads_p, *args, argnums=argnums) is numba_lstm.lstm_grads
    for joint in (
        numba_lstm.lstm_grads(*args, argnums=argnums),
        lstm_grads_p.impl(*args, argnums=argnums),
    ):
        for got, want in zip(joint, separate, strict=True):
            np.testing.assert_allclose(got, want, rtol=0, atol=2e-5 * np.abs(want).max())
