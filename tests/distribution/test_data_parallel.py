"""`DataParallel` and fit / evaluate / predict under it.

The multi-process checks run ``scripts/dp_fit.py`` under ``mpiexec -n 2`` and ``-n 3``
(oversubscribed on a 2-core machine is fine): weights identical on every process, the
default all-reduce allclose to one process, ``deterministic=True`` bit for bit the
single process that accumulates the same micro-batches, History / evaluate / predict
equal everywhere, checkpoint and resume exact, stop_training and EarlyStopping agreed,
check_weights naming a drifted weight, a custom GradientTape loop with
``average_gradients`` — eager and compiled steps; and ``tapegrad launch -n 2 tapegrad
demo`` trains the demo data-parallel. The rest runs in this process, where a
`DataParallel` has one process and must change nothing.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.distribution import DataParallel, distribution, set_distribution

SCRIPTS = pathlib.Path(__file__).parent / "scripts"
CHECKS = [
    "default eager",
    "default compiled",
    "deterministic eager",
    "deterministic compiled",
    "checkpoint resume",
    "callbacks",
    "pre-sharded",
    "custom loop",
]


def mpiexec() -> str:
    """The ``mpiexec`` to launch with (the test is skipped without MPI)."""
    pytest.importorskip("mpi4py")
    found = shutil.which("mpiexec")
    if found is None:
        pytest.skip("no mpiexec on PATH")
    return found


@pytest.mark.parametrize("processes", [2, 3])
def test_fit_under_mpiexec(processes: int, tmp_path: pathlib.Path) -> None:
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", TAPEGRAD_DIST_TIMEOUT="60")
    command = [mpiexec(), "-n", str(processes), sys.executable, str(SCRIPTS / "dp_fit.py")]
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    for check in CHECKS:
        assert f"ok {check}" in done.stdout, output[-4000:]
    assert f"done {processes}" in done.stdout


def test_launch_trains_the_demo_data_parallel(tmp_path: pathlib.Path) -> None:
    mpiexec()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", TAPEGRAD_DIST_TIMEOUT="60")
    command = [sys.executable, "-m", "tapegrad", "launch", "-n", "2", "tapegrad", "demo"]
    done = subprocess.run(
        [*command, "--epochs", "8"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert "data parallel on 2 processes" in done.stdout, output[-4000:]
    for epoch in range(1, 9):  # process 0 alone prints
        assert done.stdout.count(f"epoch {epoch}/8 ") == 1, output[-4000:]
    assert "predictions identical" in done.stdout, output[-4000:]


def small_model(jit: bool) -> tg.Model:
    tg.utils.set_random_seed(3)
    model = tg.Sequential(
        [tg.layers.Input((5,)), tg.layers.Dense(7, activation="relu"), tg.layers.Dense(2)]
    )
    model.compile("adam", "mse", metrics=["mae"], jit_compile=jit, run_eagerly=not jit)
    return model


@pytest.mark.parametrize("jit", [False, True])
def test_one_process_changes_nothing(jit: bool) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(21, 5)).astype(np.float32)
    y = rng.normal(size=(21, 2)).astype(np.float32)
    results = []
    for dp in (None, DataParallel(deterministic=True, check_weights=True), DataParallel()):
        model = small_model(jit)
        with dp.scope() if dp is not None else contextlib.nullcontext():
            history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
            evaluated = model.evaluate(x, y, batch_size=8, verbose=0)
            predicted = model.predict(x, batch_size=8, verbose=0)
        results.append((model.get_weights(), history.history, evaluated, predicted))
    base = results[0]
    for weights, history, evaluated, predicted in results[1:]:
        for got, want in zip(weights, base[0], strict=True):
            assert got.tobytes() == want.tobytes()
        assert history == base[1]
        assert evaluated == base[2]
        np.testing.assert_array_equal(predicted, base[3])
    assert distribution() is None


class FakeComm:
    """Rank and size only: enough for the batch arithmetic."""

    def __init__(self, rank: int, size: int) -> None:
        self.rank, self.size = rank, size


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_shards_cover_a_batch_in_order(size: int) -> None:
    dp = DataParallel()
    for count in [0, 1, 2, 7, 16, 50]:
        bounds = []
        for rank in range(size):
            dp.comm = FakeComm(rank, size)
            bounds.append(dp.shard_bounds(count))
        assert bounds[0][0] == 0
        assert bounds[-1][1] == count
        for (_, stop), (start, _) in zip(bounds[:-1], bounds[1:], strict=True):
            assert stop == start
        sizes = [stop - start for start, stop in bounds]
        assert max(sizes) - min(sizes) <= 1


def test_buckets_keep_order_dtype_and_size() -> None:
    dp = DataParallel(bucket_bytes=100)
    specs = [((10,), "float32"), ((10,), "float32"), ((30,), "float32"), ((2,), "float64")]
    assert dp.buckets(specs) == [[0, 1], [2], [3]]
    # A gradient of a MiB or more is reduced alone (it needs no copy into a fused buffer).
    large = [((4,), "float32"), ((2**18,), "float32"), ((4,), "float32"), ((4,), "float32")]
    assert DataParallel().buckets(large) == [[0], [1], [2, 3]]
    arrays = [np.full(shape, i, dtype) for i, (shape, dtype) in enumerate(specs)]
    summed = dp.sum_arrays(arrays)
    for got, want in zip(summed, arrays, strict=True):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    grads = dp.reduce_gradients([tg.tensor(np.ones((2, 3), np.float32)), None])
    assert grads[1] is None
    np.testing.assert_array_equal(grads[0], np.ones((2, 3), np.float32))


def test_share_scales_the_loss() -> None:
    dp = DataParallel()
    dp.set_batch_share(3, 12)
    assert float(dp.scale_loss(tg.tensor(np.float32(2.0)))) == 0.5
    dp.set_batch_share(0, 0)
    assert float(dp.batch_share.value) == 0.0


def test_scope_and_set_distribution() -> None:
    outer, inner = DataParallel(), DataParallel(deterministic=True)
    with outer.scope():
        assert distribution() is outer
        with inner.scope():
            assert distribution() is inner
        assert distribution() is outer
    assert distribution() is None
    assert inner.num_model_replicas == 1
    assert inner.data_shard_id == 0
    assert inner.batch_dim_name == "batch"
    assert inner.device_mesh is None


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"device_mesh": object()}, ValueError, "no DeviceMesh"),
        ({"devices": ["cpu:0", "cpu:1"]}, ValueError, "2 devices for 1 processes"),
        ({"bucket_bytes": 0}, ValueError, "bucket_bytes must be positive"),
    ],
)
def test_bad_arguments(arguments: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        DataParallel(**arguments)


def test_set_distribution_refuses_other_objects() -> None:
    with pytest.raises(TypeError, match="expected a tapegrad.distribution.DataParallel"):
        set_distribution("data_parallel")
    assert distribution() is None
