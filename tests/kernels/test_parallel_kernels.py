"""The multi-core numba kernels (`numba_pool`) against the table's NumPy impls:
float32 and float64, odd shapes, padding and strides, non-contiguous inputs, NaN and ties,
each through its serial and its ``parallel=True`` loop; and the thread setting they obey."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

pytest.importorskip("numba")

import tapegrad.kernels  # noqa: E402
from tapegrad.core.prims import max_pool_p, pool_argmax_p, pool_scatter_p  # noqa: E402
from tapegrad.kernels import _numba, numba_pool  # noqa: E402
from tapegrad.kernels.registry import kernel_for  # noqa: E402
from tapegrad.kernels.threads import PARALLEL_KERNELS_ENV  # noqa: E402

RNG = np.random.default_rng(17)
DTYPES = [np.float32, np.float64]


@pytest.fixture(params=["serial", "parallel"])
def loops(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the kernels' serial loops, or their parallel twins whatever the size."""
    on = request.param == "parallel"
    monkeypatch.setattr(_numba, "parallel", lambda size, min_size: on)
    return str(request.param)


def _noncontiguous(x: np.ndarray) -> np.ndarray:
    """The same values in a strided view (every other element of a wider array)."""
    wide = np.empty((*x.shape[:-1], 2 * x.shape[-1]), x.dtype)
    wide[..., ::2] = x
    return wide[..., ::2]


# (input shape, window, strides, padding): the default tiling, odd sizes that leave rows
# out, padding, strides wider than the window, a window of one element.
POOLS = [
    ((3, 8, 6, 5), (2, 2), None, None),
    ((2, 7, 9, 3), (2, 3), None, ((1, 0), (0, 2))),
    ((2, 9, 8, 4), (3, 2), (4, 3), ((1, 1), (2, 0))),
    ((1, 5, 4, 2), (1, 1), None, None),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, window, strides, padding", POOLS)
def test_max_pool_argmax_and_scatter_match_the_impls(
    loops: str, dtype: Any, shape: Any, window: Any, strides: Any, padding: Any
) -> None:
    x = RNG.standard_normal(shape).round(1).astype(dtype)  # rounded: ties in windows
    x[0, 0, 0, 0] = np.nan
    x[-1, -1, -1, -1] = -np.inf
    params = {"window": window, "strides": strides, "padding": padding}
    for values in (x, _noncontiguous(x)):
        maxima = numba_pool.max_pool(values, **params)
        want = max_pool_p.impl(values, **params)
        np.testing.assert_array_equal(maxima, want)
        index = numba_pool.pool_argmax(values, maxima, **params)
        np.testing.assert_array_equal(index, pool_argmax_p.impl(values, want, **params))
        assert index.dtype == np.uint8
        np.testing.assert_array_equal(
            numba_pool.pool_argmax(values, **params), index
        )  # maxima computed inside
        g = _noncontiguous(RNG.standard_normal(maxima.shape).astype(dtype))
        scatter = {**params, "input_shape": shape[1:3]}
        if numba_pool.pool_scatter_applies(g, index, **scatter):
            got = numba_pool.pool_scatter(g, index, **scatter)
            np.testing.assert_array_equal(got, pool_scatter_p.impl(g, index, **scatter))
            assert got.dtype == g.dtype


def test_the_pool_kernels_are_chosen_only_where_they_apply() -> None:
    x = RNG.standard_normal((2, 4, 4, 3)).astype(np.float32)
    assert kernel_for(max_pool_p, x, window=(2, 2)) is numba_pool.max_pool
    # One spatial dim, integers, cropping, overlapping windows: the impls.
    assert kernel_for(max_pool_p, x[:, 0], window=(2,)) is max_pool_p.impl
    assert kernel_for(max_pool_p, x.astype(np.int32), window=(2, 2)) is max_pool_p.impl
    cropped = {"window": (2, 2), "padding": ((-1, 0), (0, 0))}
    assert kernel_for(max_pool_p, x, **cropped) is max_pool_p.impl
    g = np.ones((2, 3, 3, 3), np.float32)
    index = np.zeros(g.shape, np.uint8)
    overlapping = {"window": (2, 2), "input_shape": (4, 4), "strides": (1, 1)}
    assert kernel_for(pool_scatter_p, g, index, **overlapping) is pool_scatter_p.impl


def test_an_all_padding_window_picks_the_padding_as_the_impl() -> None:
    # A window whose elements are all -inf, padding first: the first offset (in the padding).
    x = np.full((1, 2, 2, 1), -np.inf, np.float32)
    params = {"window": (2, 2), "strides": (2, 2), "padding": ((1, 1), (1, 1))}
    want = pool_argmax_p.impl(x, **params)
    np.testing.assert_array_equal(numba_pool.pool_argmax(x, **params), want)
    g = np.ones(want.shape, np.float32)
    scatter = {**params, "input_shape": (2, 2)}
    np.testing.assert_array_equal(
        numba_pool.pool_scatter(g, want, **scatter), pool_scatter_p.impl(g, want, **scatter)
    )


def test_parallel_loops_run_only_once_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    tapegrad.kernels.set_parallel_kernels(False)  # (the default, unless the environment says)
    assert not _numba.parallel(1 << 30, 0)
    monkeypatch.setattr(_numba, "quiet_thread_pool", lambda: False)  # (this process's env)
    monkeypatch.setattr(_numba, "threads", lambda: 2)  # (whatever this machine's cores)
    monkeypatch.setattr(_numba.numba, "get_num_threads", lambda: 2)
    tapegrad.kernels.set_parallel_kernels(True)
    try:
        assert _numba.parallel(1 << 30, 0)
        assert not _numba.parallel(10, 100)  # small arrays: serial
    finally:
        tapegrad.kernels.set_parallel_kernels(False)
    assert not _numba.parallel(1 << 30, 0)


def test_threads_follow_omp_num_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    numba = pytest.importorskip("numba")
    tapegrad.kernels.set_parallel_kernels(True)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    _numba._thread_limit.cache_clear()
    try:
        assert _numba.threads() == 1
        assert not _numba.parallel(1 << 30, 0)  # one thread: the serial loops
    finally:
        monkeypatch.undo()
        _numba._thread_limit.cache_clear()
        tapegrad.kernels.set_parallel_kernels(False)
    assert _numba.threads() <= numba.get_num_threads()


def test_a_running_parallel_loop_sends_other_threads_to_the_serial_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_numba, "parallel", lambda size, min_size: True)
    calls: list[str] = []

    def serial() -> None:
        calls.append("serial")

    def parallel() -> None:
        calls.append("parallel")

    with _numba._launch:  # (as while another thread runs a parallel loop)
        _numba.run(serial, parallel, 1, 0)
    _numba.run(serial, parallel, 1, 0)
    assert calls == ["serial", "parallel"]


def test_kernels_called_from_several_threads_at_once(loops: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    x = RNG.standard_normal((8, 16, 16, 8)).astype(np.float32)
    want = max_pool_p.impl(x, window=(2, 2))

    def pool(_: int) -> bool:
        return all(np.array_equal(numba_pool.max_pool(x, window=(2, 2)), want) for _ in range(20))

    with ThreadPoolExecutor(4) as workers:
        assert all(workers.map(pool, range(8)))


@pytest.mark.parametrize(("value", "expected"), [("1", "True"), ("0", "False")])
def test_environment_switches_parallel_loops_at_import(value: str, expected: str) -> None:
    env = {**os.environ, PARALLEL_KERNELS_ENV: value}
    code = "import tapegrad.kernels as k; print(k.parallel_kernels_enabled())"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == expected


def test_quiet_thread_pool_sets_a_passive_wait_policy_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet = tapegrad.kernels.threads.quiet_thread_pool.__wrapped__
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert quiet()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert not quiet()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    monkeypatch.setenv("GOMP_SPINCOUNT", "1000")
    assert not quiet()
    assert "OMP_WAIT_POLICY" not in os.environ
