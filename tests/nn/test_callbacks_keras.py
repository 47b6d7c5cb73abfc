"""Keras 3 callbacks beyond the basics: ReduceLROnPlateau, RemoteMonitor, LambdaCallback's
signature, Keras' calling convention, ModelCheckpoint's file names; scripted logs and real fits.

The ReduceLROnPlateau rates were recorded with Keras 3.15 (JAX backend) driving its own
callback with the same logs (a float32 rate there, hence the tolerance).
"""

import os

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn.callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    LambdaCallback,
    ModelCheckpoint,
    ReduceLROnPlateau,
    RemoteMonitor,
)


class FakeOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class FakeModel:
    def __init__(self):
        self.stop_training = False
        self.optimizer = FakeOptimizer()
        self.metrics = []


def small_model(optimizer=None):
    model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(1)])
    model.compile(optimizer=optimizer or tg.optimizers.SGD(0.1), loss="mse")
    return model


DATA = (np.arange(24, dtype=np.float32).reshape(8, 3) / 24.0, np.ones((8, 1), np.float32))


# -- ReduceLROnPlateau ----------------------------------------------------------------------

KERAS_RECORDED = [
    (
        {"factor": 0.5, "patience": 1},
        [1.0, 1.0, 0.9, 0.95, 0.95, 0.95],
        [0.1, 0.05, 0.05, 0.025, 0.0125, 0.00625],
    ),
    (
        {"factor": 0.1, "patience": 2, "cooldown": 2, "min_lr": 1e-4},
        [1.0] * 9,
        [0.1, 0.1, 0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 1e-4],
    ),
    (
        {"factor": 0.5, "patience": 0, "min_delta": 0.1},
        [1.0, 0.95, 0.8, 0.75],
        [0.1, 0.05, 0.05, 0.025],
    ),
    (
        {"monitor": "val_accuracy", "mode": "max", "factor": 0.2, "patience": 1},
        [0.5, 0.6, 0.6, 0.55, 0.7],
        [0.1, 0.1, 0.02, 0.004, 0.004],
    ),
    (
        {"monitor": "val_accuracy", "mode": "min", "factor": 0.2, "patience": 1},
        [0.5, 0.6, 0.6, 0.4],
        [0.1, 0.02, 0.004, 0.004],
    ),
]


@pytest.mark.parametrize("kwargs, values, rates", KERAS_RECORDED)
def test_reduce_lr_on_plateau_matches_keras(kwargs, values, rates):
    model = FakeModel()
    callback = ReduceLROnPlateau(**kwargs)
    callback.set_model(model)
    callback.on_train_begin()
    seen = []
    for epoch, value in enumerate(values):
        logs = {kwargs.get("monitor", "val_loss"): value}
        callback.on_epoch_end(epoch, logs)
        seen.append(model.optimizer.learning_rate)
        assert logs["learning_rate"] == pytest.approx(rates[epoch - 1] if epoch else 0.1)
    np.testing.assert_allclose(seen, rates, rtol=1e-6)


def test_reduce_lr_on_plateau_in_fit_changes_the_optimizer_rate_and_logs_it():
    model = small_model()
    callback = ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=10.0)
    history = model.fit(*DATA, epochs=3, batch_size=4, verbose=0, callbacks=[callback])
    # min_delta=10: no epoch improves on the first, so epochs 2 and 3 each halve the rate.
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.025)


def test_reduce_lr_on_plateau_reuse_resets_and_verbose(capsys):
    model = FakeModel()
    callback = ReduceLROnPlateau(factor=0.5, patience=0, verbose=1)
    callback.set_model(model)
    for _ in range(2):
        callback.on_train_begin()
        callback.on_epoch_end(0, {"val_loss": 1.0})
        callback.on_epoch_end(1, {"val_loss": 2.0})
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert "Epoch 2: ReduceLROnPlateau reducing learning rate to 0.05." in capsys.readouterr().out


def test_reduce_lr_on_plateau_with_a_schedule_raises_as_keras():
    schedule = tg.optimizers.schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)
    model = small_model(tg.optimizers.SGD(schedule))
    callback = ReduceLROnPlateau(monitor="loss", patience=0, min_delta=10.0)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        model.fit(*DATA, epochs=2, batch_size=4, verbose=0, callbacks=[callback])


def test_reduce_lr_on_plateau_missing_monitor_warns():
    model = FakeModel()
    callback = ReduceLROnPlateau(patience=0)
    callback.set_model(model)
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs"):
        callback.on_epoch_end(0, {"loss": 1.0})
    assert model.optimizer.learning_rate == 0.1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"factor": 1.0}, "factor >= 1.0"),
        ({"factor": float("nan")}, "factor"),
        ({"min_lr": -1.0}, "min_lr"),
        ({"patience": -1}, "patience must be a non-negative int, got -1"),
        ({"cooldown": 1.5}, "cooldown must be a non-negative int, got 1.5"),
    ],
)
def test_reduce_lr_on_plateau_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ReduceLROnPlateau(**kwargs)
    with pytest.raises(TypeError, match="unexpected argument.*epsilon"):
        ReduceLROnPlateau(epsilon=1e-4)


# -- RemoteMonitor --------------------------------------------------------------------------


def test_remote_monitor_refuses_at_construction():
    with pytest.raises(NotImplementedError, match="network.*http://example.org/logs"):
        RemoteMonitor(root="http://example.org", path="/logs")
    assert tg.callbacks.RemoteMonitor is RemoteMonitor


# -- LambdaCallback and the calling convention ----------------------------------------------


def test_lambda_callback_keras_positional_order_and_extra_hooks():
    events = []
    callback = LambdaCallback(
        lambda epoch, logs: events.append(("epoch_begin", epoch)),
        lambda epoch, logs: events.append(("epoch_end", epoch)),
        lambda logs: events.append("train_begin"),
        lambda logs: events.append("train_end"),
        lambda batch, logs: events.append(("batch_begin", batch)),
        lambda batch, logs: events.append(("batch_end", batch)),
        on_test_begin=lambda logs: events.append("test_begin"),
        on_predict_batch_end=lambda batch, logs: events.append(("predict_batch", batch)),
        note="kept as an attribute",
    )
    assert callback.note == "kept as an attribute"
    callbacks = CallbackList([callback], model=FakeModel())
    callbacks.on_train_begin()
    callbacks.on_epoch_begin(0)
    callbacks.on_train_batch_begin(0)
    callbacks.on_train_batch_end(0, {"loss": 1.0})
    callbacks.on_epoch_end(0, {"loss": 1.0})
    callbacks.on_test_begin()
    callbacks.on_predict_batch_end(3)
    callbacks.on_train_end()
    assert events == [
        "train_begin",
        ("epoch_begin", 0),
        ("batch_begin", 0),
        ("batch_end", 0),
        ("epoch_end", 0),
        "test_begin",
        ("predict_batch", 3),
        "train_end",
    ]


def test_lambda_callback_bad_hooks():
    with pytest.raises(TypeError, match="on_epoch_end must be callable, got int"):
        LambdaCallback(on_epoch_end=3)
    with pytest.raises(TypeError, match="unknown hook.*on_test_ends"):
        LambdaCallback(on_test_ends=print)


def test_callback_list_calls_epoch_and_begin_end_hooks_positionally():
    """As Keras: an override whose ``logs`` parameter has another name still works."""
    seen = []

    class Renamed(Callback):
        def on_epoch_end(self, epoch, log=None):
            seen.append((epoch, log))

        def on_train_end(self, final_logs=None):
            seen.append(final_logs)

        def on_train_batch_end(self, batch, logs=None):
            seen.append((batch, logs))

    callbacks = CallbackList([Renamed()], model=FakeModel())
    callbacks.on_train_batch_end(0, {"loss": 2.0})
    callbacks.on_epoch_end(0, {"loss": 1.0})
    callbacks.on_train_end({"loss": 1.0})
    assert seen == [(0, {"loss": 2.0}), (0, {"loss": 1.0}), {"loss": 1.0}]


# -- ModelCheckpoint file names -------------------------------------------------------------


@pytest.mark.parametrize(
    "filepath, weights_only, message",
    [
        ("model.weights.h5", False, r"must end in '\.keras' or '\.tapegrad'"),
        ("model.h5", False, "legacy HDF5"),
        ("model.keras", True, r"must end in '\.weights\.h5' or '\.safetensors'"),
    ],
)
def test_checkpoint_checks_the_file_name_at_construction(filepath, weights_only, message):
    with pytest.raises(ValueError, match=message):
        ModelCheckpoint(filepath, save_weights_only=weights_only)


def test_checkpoint_weights_h5_name_writes_tapegrad_weights_that_load_back(tmp_path):
    model = small_model()
    path = tmp_path / "ckpt" / "best.weights.h5"
    checkpoint = ModelCheckpoint(path, monitor="loss", save_best_only=True, save_weights_only=True)
    model.fit(*DATA, epochs=2, batch_size=4, verbose=0, callbacks=[checkpoint])
    assert path.read_bytes()[8:9] == b"{"  # safetensors: an 8-byte length, then JSON
    fresh = small_model()
    fresh.load_weights(path)
    for saved, live in zip(fresh.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(saved, live)


def test_checkpoint_keras_name_writes_a_loadable_archive_every_two_batches(tmp_path):
    model = small_model()
    pattern = str(tmp_path / "m-{epoch}-{batch}.keras")
    model.fit(
        *DATA, epochs=1, batch_size=2, verbose=0, callbacks=[ModelCheckpoint(pattern, save_freq=2)]
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m-1-2.keras", "m-1-4.keras"]
    loaded = tg.models.load_model(tmp_path / "m-1-4.keras")
    np.testing.assert_array_equal(
        loaded.predict(DATA[0], verbose=0), model.predict(DATA[0], verbose=0)
    )


def test_a_keras_style_fit_with_every_callback(tmp_path):
    """The callbacks of a Keras 3 guide together in one fit, as a Keras program writes them."""
    keras = tg  # the program's `import tapegrad as keras`
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x @ np.array([[1.0], [-1.0], [0.5], [2.0]], np.float32)).astype(np.float32)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, "relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01, use_ema=True), loss="mse", metrics=["mae"])
    epochs_seen = []
    callbacks = [
        # First, so that the callbacks after it (checkpoints) see the averaged weights.
        keras.callbacks.SwapEMAWeights(swap_on_epoch=True),
        keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True),
        keras.callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), save_best_only=True),
        keras.callbacks.ModelCheckpoint(
            str(tmp_path / "w-{epoch:02d}.weights.h5"), save_weights_only=True
        ),
        keras.callbacks.ReduceLROnPlateau(factor=0.5, patience=1),
        keras.callbacks.CSVLogger(str(tmp_path / "log.csv")),
        keras.callbacks.TensorBoard(str(tmp_path / "tb")),
        keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch)),
        keras.callbacks.TerminateOnNaN(),
        keras.callbacks.BackupAndRestore(str(tmp_path / "backup")),
    ]
    history = model.fit(
        x, y, epochs=4, batch_size=16, validation_split=0.25, verbose=0, callbacks=callbacks
    )
    assert epochs_seen == history.epoch == list(range(len(epochs_seen)))
    assert set(history.history) >= {"loss", "mae", "val_loss", "val_mae", "learning_rate"}
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,learning_rate,loss,mae,val_loss,val_mae"
    assert len(rows) == len(epochs_seen) + 1
    assert sorted(os.listdir(tmp_path / "tb")) == ["train", "validation"]
    assert not (tmp_path / "backup").exists()
    best = keras.models.load_model(tmp_path / "best.keras")
    assert best.evaluate(x[48:], y[48:], verbose=0)[0] == pytest.approx(
        min(history.history["val_loss"]), rel=1e-5
    )


@pytest.mark.parametrize("direction, mode", [("up", "max"), ("down", "min")])
def test_auto_mode_reads_the_direction_of_a_compiled_metric(direction, mode):
    """As Keras: mode='auto' looks through the compiled metrics (CompileMetrics) for one of
    the monitored name and uses its ``_direction``."""

    class Score(tg.metrics.Mean):
        _direction = direction

    model = small_model()
    model.compile(optimizer="sgd", loss="mse", metrics=[Score(name="score")])
    model.fit(*DATA, epochs=1, verbose=0)
    for callback in (EarlyStopping(monitor="val_score"), ReduceLROnPlateau(monitor="score")):
        callback.set_model(model)
        assert callback.direction() == mode
