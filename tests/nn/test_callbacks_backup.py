"""BackupAndRestore: an interrupted fit, re-run with the callback, ends bit-identical to an
uninterrupted one (weights, optimizer variables, random states), eager and compiled,
interrupted mid-epoch or at an epoch end; the backup file's checks."""

import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.callbacks import BackupAndRestore, Callback
from tests.nn import archive_tools

X = np.linspace(-1, 1, 60, dtype=np.float32).reshape(20, 3)
Y = (X @ np.array([[1.0], [-2.0], [0.5]], np.float32)) ** 2


def new_model(jit_compile, seed=0, use_ema=False):
    """Dropout (its own generator), shuffling and Adam slots: every kind of state."""
    tg.utils.set_random_seed(seed)
    model = tg.Sequential(
        [
            tg.layers.Input((3,)),
            tg.layers.Dense(8, activation="tanh"),
            tg.layers.Dropout(0.3, seed=7),
            tg.layers.Dense(1),
        ]
    )
    model.compile(
        optimizer=tg.optimizers.Adam(0.01, use_ema=use_ema),
        loss="mse",
        jit_compile=jit_compile,
    )
    return model


class Interrupt(Callback):
    """Raises before batch ``batch`` of epoch ``epoch`` (or at that epoch's end)."""

    def __init__(self, epoch, batch=None):
        super().__init__()
        self.at_epoch, self.at_batch, self.epoch = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self.epoch == self.at_epoch and batch == self.at_batch:
            raise KeyboardInterrupt(f"interrupted at epoch {epoch_name(self.epoch)}")

    def on_epoch_end(self, epoch, logs=None):
        if self.at_batch is None and epoch == self.at_epoch:
            raise KeyboardInterrupt("interrupted after an epoch")


def epoch_name(epoch):
    return str(epoch)


def state(model):
    return [*model.get_weights(), *(v.numpy().copy() for v in model.optimizer.variables)]


FIT = {"epochs": 3, "batch_size": 4, "verbose": 0}


@pytest.mark.parametrize("jit_compile", [False, True])
@pytest.mark.parametrize(
    "save_freq, epoch, batch",
    [(1, 1, 2), (2, 0, 3), (3, 2, 4), ("epoch", 1, None), (1, 1, None)],
)
def test_interrupted_fit_resumes_bit_identical(tmp_path, jit_compile, save_freq, epoch, batch):
    reference = new_model(jit_compile)
    reference.fit(X, Y, **FIT)

    folder = tmp_path / "backup"
    interrupted = new_model(jit_compile)
    with pytest.raises(KeyboardInterrupt):
        interrupted.fit(
            X,
            Y,
            **FIT,
            callbacks=[BackupAndRestore(folder, save_freq=save_freq), Interrupt(epoch, batch)],
        )
    assert os.listdir(folder) == ["latest.tapegrad-backup"]

    # A new process would build a new model: other initial weights, a fresh optimizer.
    resumed = new_model(jit_compile, seed=123)
    resumed.fit(X, Y, **FIT, callbacks=[BackupAndRestore(folder, save_freq=save_freq)])
    for got, want in zip(state(resumed), state(reference), strict=True):
        np.testing.assert_array_equal(got, want)
    assert not folder.exists()  # delete_checkpoint


def test_resume_twice_and_keep_the_backup(tmp_path):
    reference = new_model(False, use_ema=True)
    reference.fit(X, Y, **FIT)
    folder = tmp_path / "b"
    model = new_model(False, use_ema=True)
    for epoch, batch in [(0, 3), (1, 1)]:
        with pytest.raises(KeyboardInterrupt):
            model.fit(
                X,
                Y,
                **FIT,
                callbacks=[BackupAndRestore(folder, save_freq=1), Interrupt(epoch, batch)],
            )
        model = new_model(False, seed=epoch + 50, use_ema=True)
    model.fit(
        X, Y, **FIT, callbacks=[BackupAndRestore(folder, save_freq=1, delete_checkpoint=False)]
    )
    for got, want in zip(state(model), state(reference), strict=True):
        np.testing.assert_array_equal(got, want)
    assert os.listdir(folder) == ["latest.tapegrad-backup"]


def test_double_checkpoint_falls_back_to_the_previous_backup(tmp_path):
    folder = tmp_path / "b"
    model = new_model(False)
    callback = BackupAndRestore(folder, save_freq=2, double_checkpoint=True)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, **FIT, callbacks=[callback, Interrupt(1, 0)])
    assert sorted(os.listdir(folder)) == ["latest.tapegrad-backup", "latest.tapegrad-backup.bkp"]
    (folder / "latest.tapegrad-backup").write_bytes(b"\x00" * 40)  # a damaged latest
    fresh = new_model(False)
    fallback = BackupAndRestore(folder, double_checkpoint=True)
    fallback.set_model(fresh)
    with pytest.warns(UserWarning, match="restoring the previous backup"):
        fallback.on_train_begin()
    # The latest had 4 batches of epoch 0 done; the one before it 2.
    assert (fresh._initial_epoch, fresh._initial_step) == (0, 2)


def test_damaged_or_foreign_backups_raise_clearly(tmp_path):
    folder = tmp_path / "b"
    model = new_model(False)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, Y, **FIT, callbacks=[BackupAndRestore(folder), Interrupt(1, None)])
    path = folder / "latest.tapegrad-backup"
    other = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(2)])
    other.compile(optimizer="adam", loss="mse")
    callback = BackupAndRestore(folder)
    callback.set_model(other)
    with pytest.raises(ValueError, match="holds 4 model weights but the model has 2"):
        callback.on_train_begin()
    path.write_bytes(path.read_bytes()[:100])
    callback.set_model(new_model(False))
    with pytest.raises(ValueError, match="latest.tapegrad-backup: (damaged file|not a backup)"):
        callback.on_train_begin()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"backup_dir": ""}, "backup_dir must be a folder"),
        ({"backup_dir": "b", "save_freq": 0}, "save_freq must be 'epoch' or a positive int, got 0"),
        ({"backup_dir": "b", "save_freq": "batch"}, "got 'batch'"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BackupAndRestore(**kwargs)


# -- real crashes: a process that dies without any cleanup -----------------------------------

_CHILD = """
import os
import tapegrad as tg
from tapegrad.callbacks import BackupAndRestore
from tests.nn.test_callbacks_backup import FIT, X, Y, new_model

class Crash(tg.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch
    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == {where}:
            os._exit(3)  # no exception, no finally, no atexit: as a crash
        print("batch", self.epoch, batch, flush=True)

fit = dict(FIT, epochs={epochs})
model = new_model({jit})
model.fit(X, Y, **fit, callbacks=[BackupAndRestore({folder!r}, save_freq=1), Crash()])
"""


@pytest.mark.parametrize("jit_compile", [False, True])
def test_a_crashed_process_resumes_bit_identical(tmp_path, jit_compile):
    folder = str(tmp_path / "backup")
    code = _CHILD.format(where=(1, 3), epochs=3, jit=jit_compile, folder=folder)
    child = archive_tools.run_child(code)
    assert child.returncode == 3, child.stderr
    reference = new_model(jit_compile)
    reference.fit(X, Y, **FIT)
    resumed = new_model(jit_compile, seed=5)
    resumed.fit(X, Y, **FIT, callbacks=[BackupAndRestore(folder, save_freq=1)])
    for got, want in zip(state(resumed), state(reference), strict=True):
        np.testing.assert_array_equal(got, want)


def test_kill_9_at_random_moments_leaves_a_backup_that_restores(tmp_path):
    folder = tmp_path / "backup"
    code = _CHILD.format(where=None, epochs=10**6, jit=False, folder=str(folder))
    rng = random.Random(3)
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": archive_tools.REPO},
            cwd=archive_tools.REPO,
        )
        for _ in range(rng.randrange(3, 12)):
            child.stdout.readline()
        time.sleep(rng.random() * 0.02)
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        fresh = new_model(False, seed=11)
        callback = BackupAndRestore(folder, save_freq=1, delete_checkpoint=True)
        callback.set_model(fresh)
        callback.on_train_begin()  # the last complete backup, whatever the kill interrupted
        assert fresh._initial_epoch is not None and fresh._initial_step is not None
        callback.on_train_end()  # removes the backup and any half-written temporary
        assert not folder.exists()
        folder.mkdir()
        (folder / ".latest.tapegrad-backup.x1.tmp").write_bytes(b"half")
        callback.on_train_end()
        assert not folder.exists()
