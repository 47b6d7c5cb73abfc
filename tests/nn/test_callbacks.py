"""Callbacks driven by a fake model (the trainer's protocol) and scripted epoch logs."""

import csv
import math
import re

import numpy as np
import pytest

from tapegrad.nn.callbacks import (
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    MonitorCallback,
    ProgbarLogger,
    TerminateOnNaN,
)


class FakeOptimizer:
    def __init__(self, learning_rate=0.1):
        self.learning_rate = learning_rate


class FakeModel:
    """What callbacks may rely on: stop_training, weights, save, optimizer.learning_rate."""

    def __init__(self, metrics=()):
        self.stop_training = False
        self.weights = [np.zeros(3)]
        self.optimizer = FakeOptimizer()
        self.metrics = list(metrics)
        self.saved = []

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w) for w in weights]

    def save(self, path):
        self.saved.append(("model", str(path)))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path):
        self.saved.append(("weights", str(path)))
        with open(path, "w") as f:
            f.write("weights")


def fit(callbacks, epoch_logs, model=None, steps=1, verbose=0):
    """Play the trainer: epoch ``e`` sets every weight to ``e``; returns (model, epochs run)."""
    model = model or FakeModel()
    callback_list = CallbackList(
        callbacks, model=model, verbose=verbose, epochs=len(epoch_logs), steps=steps
    )
    callback_list.on_train_begin()
    run = 0
    for epoch, logs in enumerate(epoch_logs):
        callback_list.on_epoch_begin(epoch)
        model.weights = [np.full(3, float(epoch))]
        for batch in range(steps):
            callback_list.on_train_batch_begin(batch)
            callback_list.on_train_batch_end(batch, {"loss": logs.get("loss", 1.0)})
        callback_list.on_epoch_end(epoch, dict(logs))
        run += 1
        if model.stop_training:
            break
    callback_list.on_train_end()
    return model, run


def losses(*values, key="val_loss"):
    return [{key: v} for v in values]


# -- EarlyStopping --------------------------------------------------------------------------

EARLY_STOPPING_CASES = [
    # (kwargs, monitored values, epochs run, stopped_epoch)
    ({"patience": 0}, [1.0, 0.9, 0.95, 0.8], 3, 2),
    ({"patience": 2}, [1.0, 1.1, 1.2, 0.5], 3, 2),
    ({"patience": 2}, [1.0, 1.1, 0.9, 1.0, 1.0], 5, 4),
    ({"patience": 2}, [1.0, 0.9, 0.8, 0.7, 0.6], 5, 0),
    ({"patience": 1, "min_delta": 0.1}, [1.0, 0.95, 0.92], 2, 1),
    ({"patience": 1, "min_delta": -0.1}, [1.0, 0.85, 0.8], 3, 2),
    ({"patience": 0, "start_from_epoch": 2}, [1.0, 2.0, 3.0, 4.0], 4, 3),
    ({"patience": 2, "baseline": 0.5}, [0.9, 0.95, 0.85, 0.8], 2, 1),
    ({"patience": 2, "baseline": 0.92}, [0.9, 0.95, 0.85, 0.8], 4, 0),
    ({"patience": 1}, [1.0, math.nan, 0.9], 2, 1),
]


@pytest.mark.parametrize("kwargs, values, epochs_run, stopped_epoch", EARLY_STOPPING_CASES)
def test_early_stopping_patience_min_delta_baseline(kwargs, values, epochs_run, stopped_epoch):
    early = EarlyStopping(monitor="val_loss", **kwargs)
    model, run = fit([early], losses(*values))
    assert run == epochs_run
    assert early.stopped_epoch == stopped_epoch
    assert model.stop_training == (stopped_epoch > 0)


@pytest.mark.parametrize(
    "monitor, mode, values, epochs_run",
    [
        ("val_accuracy", "max", [0.5, 0.6, 0.55, 0.7], 3),
        ("val_accuracy", "auto", [0.5, 0.6, 0.55, 0.7], 3),
        ("sparse_categorical_accuracy", "auto", [0.5, 0.6, 0.55, 0.7], 3),
        ("val_accuracy", "min", [0.5, 0.6, 0.55, 0.7], 2),
        ("mean_absolute_error", "auto", [0.5, 0.4, 0.45], 3),
        ("loss", "auto", [0.5, 0.6], 2),
    ],
)
def test_early_stopping_mode(monitor, mode, values, epochs_run):
    early = EarlyStopping(monitor=monitor, mode=mode)
    _, run = fit([early], losses(*values, key=monitor))
    assert run == epochs_run


def test_early_stopping_direction_from_model_metric():
    class Metric:
        name = "score"
        _direction = "up"

    early = EarlyStopping(monitor="val_score")
    _, run = fit([early], losses(0.1, 0.2, 0.15, key="val_score"), FakeModel([Metric()]))
    assert early.direction() == "max" and run == 3


def test_early_stopping_unknown_direction_and_mode():
    with pytest.raises(ValueError, match="monitor='val_mystery'.*mode='min'"):
        fit([EarlyStopping(monitor="val_mystery")], losses(1.0, key="val_mystery"))
    with pytest.warns(UserWarning, match="mode='sideways' is unknown"):
        early = EarlyStopping(mode="sideways")
    assert early.mode == "auto"


def test_early_stopping_missing_monitor_warns_and_never_stops():
    early = EarlyStopping(monitor="val_loss", patience=0)
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs; available: loss"):
        _, run = fit([early], losses(1.0, 2.0, 3.0, key="loss"))
    assert run == 3


@pytest.mark.parametrize("restore, final_weight", [(True, 1.0), (False, 3.0)])
def test_early_stopping_restore_best_weights(restore, final_weight):
    early = EarlyStopping(patience=2, restore_best_weights=restore)
    model, run = fit([early], losses(1.0, 0.5, 0.7, 0.8, 0.1))
    assert run == 4 and early.best == 0.5 and early.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], np.full(3, final_weight))


def test_early_stopping_restores_best_even_if_baseline_never_reached():
    early = EarlyStopping(patience=2, baseline=0.1, restore_best_weights=True)
    model, run = fit([early], losses(1.0, 0.5, 0.7, 0.8))
    assert run == 3 and early.best_epoch == 1
    np.testing.assert_array_equal(model.weights[0], np.full(3, 1.0))


def test_early_stopping_verbose_and_reuse(capsys):
    early = EarlyStopping(patience=0, restore_best_weights=True, verbose=1)
    fit([early], losses(1.0, 0.5, 0.7))
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3: early stopping",
        "Restoring model weights from the end of the best epoch: 2.",
    ]
    _, run = fit([early], losses(3.0, 2.0, 1.0))
    assert run == 3 and early.stopped_epoch == 0 and early.best == 1.0


def test_early_stopping_accepts_numpy_and_0d_values():
    early = EarlyStopping(patience=0)
    _, run = fit([early], losses(np.float32(1.0), np.array(0.5), np.float64(0.6)))
    assert run == 3 and early.best == 0.5


# -- ModelCheckpoint ------------------------------------------------------------------------


def test_checkpoint_every_epoch_formats_filename(tmp_path):
    pattern = str(tmp_path / "ckpt" / "model-{epoch:02d}-{val_loss:.2f}.tapegrad")
    model, _ = fit([ModelCheckpoint(pattern)], losses(0.912, 1.5, 0.25))
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == ["model-01-0.91.tapegrad", "model-02-1.50.tapegrad", "model-03-0.25.tapegrad"]
    assert [kind for kind, _ in model.saved] == ["model"] * 3


@pytest.mark.parametrize(
    "monitor, mode, values, saved_epochs",
    [
        ("val_loss", "auto", [1.0, 1.2, 0.8, 0.8, 0.5], [1, 3, 5]),
        ("val_loss", "max", [1.0, 1.2, 0.8, 0.8, 0.5], [1, 2]),
        ("val_accuracy", "auto", [0.5, 0.4, 0.7, 0.9], [1, 3, 4]),
    ],
)
def test_checkpoint_save_best_only(tmp_path, monitor, mode, values, saved_epochs):
    pattern = str(tmp_path / "best-{epoch}.tapegrad")
    checkpoint = ModelCheckpoint(pattern, monitor=monitor, mode=mode, save_best_only=True)
    model, _ = fit([checkpoint], losses(*values, key=monitor))
    assert [path for _, path in model.saved] == [pattern.format(epoch=e) for e in saved_epochs]


def test_checkpoint_fixed_path_is_overwritten_with_the_best(tmp_path):
    path = tmp_path / "best.weights.h5"
    checkpoint = ModelCheckpoint(path, save_best_only=True, save_weights_only=True)
    model, _ = fit([checkpoint], losses(1.0, 0.5, 0.9))
    assert model.saved == [("weights", str(path))] * 2
    assert path.read_text() == "weights" and checkpoint.best == 0.5


def test_checkpoint_initial_value_threshold(tmp_path):
    checkpoint = ModelCheckpoint(
        tmp_path / "m.tapegrad", save_best_only=True, initial_value_threshold=0.6
    )
    model, _ = fit([checkpoint], losses(1.0, 0.7, 0.5))
    assert len(model.saved) == 1


def test_checkpoint_every_n_batches(tmp_path):
    pattern = str(tmp_path / "e{epoch}-b{batch}.tapegrad")
    checkpoint = ModelCheckpoint(pattern, save_freq=2)
    model, _ = fit([checkpoint], losses(1.0, 0.9), steps=3)
    # Batches counted across epochs: the 2nd, 4th and 6th training batches trigger a save.
    assert [path for _, path in model.saved] == [
        pattern.format(epoch=1, batch=2),
        pattern.format(epoch=2, batch=1),
        pattern.format(epoch=2, batch=3),
    ]


def test_checkpoint_missing_monitor_warns_and_saves(tmp_path):
    checkpoint = ModelCheckpoint(tmp_path / "m.tapegrad", save_best_only=True)
    with pytest.warns(UserWarning, match="'val_loss', which is not in the logs"):
        model, _ = fit([checkpoint], losses(1.0, key="loss"))
    assert len(model.saved) == 1


def test_checkpoint_errors(tmp_path):
    with pytest.raises(KeyError, match=r"names the field 'val_acc'.*\['val_loss'\]"):
        fit([ModelCheckpoint(str(tmp_path / "{val_acc:.2f}.tapegrad"))], losses(1.0))
    with pytest.raises(ValueError, match="save_freq must be 'epoch' or a positive int"):
        ModelCheckpoint("m.tapegrad", save_freq="batch")
    (tmp_path / "folder.keras").mkdir()
    with pytest.raises(IsADirectoryError, match="existing directory"):
        fit([ModelCheckpoint(tmp_path / "folder.keras")], losses(1.0))


def test_checkpoint_verbose(tmp_path, capsys):
    path = str(tmp_path / "m.tapegrad")
    fit([ModelCheckpoint(path, save_best_only=True, verbose=1)], losses(1.0, 2.0))
    assert capsys.readouterr().out.splitlines() == [
        f"Epoch 1: val_loss improved from None to 1.00000, saving model to {path}",
        "Epoch 2: val_loss did not improve from 1.00000",
    ]


# -- CSVLogger ------------------------------------------------------------------------------

LOGS = [
    {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625},
    {"loss": np.float32(0.25), "accuracy": np.float64(0.875), "val_loss": 0.5},
]


def test_csv_logger_writes_header_and_rows(tmp_path):
    path = tmp_path / "log.csv"
    fit([CSVLogger(path)], LOGS)
    assert path.read_text().splitlines() == [
        "epoch,accuracy,loss,val_loss",
        "0,0.75,0.5,0.625",
        "1,0.875,0.25,0.5",
    ]


def test_csv_logger_separator_and_missing_keys(tmp_path):
    path = tmp_path / "log.tsv"
    fit([CSVLogger(str(path), separator="\t")], [{"loss": 1.0, "lr": 0.1}, {"loss": 0.5}])
    rows = list(csv.reader(path.open(newline=""), delimiter="\t"))
    # No val_ key in the first logs: Keras 3 adds a val_ column for each key.
    assert rows == [
        ["epoch", "loss", "lr", "val_loss", "val_lr"],
        ["0", "1.0", "0.1", "NA", "NA"],
        ["1", "0.5", "NA", "NA", "NA"],
    ]


def test_csv_logger_append_and_overwrite(tmp_path):
    path = tmp_path / "log.csv"
    fit([CSVLogger(path)], LOGS[:1])
    fit([CSVLogger(path, append=True)], LOGS[1:])
    assert path.read_text().splitlines() == [
        "epoch,accuracy,loss,val_loss",
        "0,0.75,0.5,0.625",
        "0,0.875,0.25,0.5",
    ]
    fit([CSVLogger(path)], LOGS[1:])
    assert path.read_text().splitlines() == ["epoch,accuracy,loss,val_loss", "0,0.875,0.25,0.5"]


def test_csv_logger_append_to_new_file_writes_header(tmp_path):
    path = tmp_path / "new.csv"
    logger = CSVLogger(path, append=True)
    fit([logger], LOGS[:1])
    assert path.read_text().splitlines()[0] == "epoch,accuracy,loss,val_loss"
    assert logger._file is None  # closed at train end


# -- LearningRateScheduler ------------------------------------------------------------------


def test_learning_rate_scheduler_sets_and_records_rate():
    def schedule(epoch, lr):
        return lr if epoch < 2 else lr * 0.5

    history = History()
    model, _ = fit([LearningRateScheduler(schedule), history], losses(1.0, 0.9, 0.8, 0.7))
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.05, 0.025])
    assert model.optimizer.learning_rate == pytest.approx(0.025)


def test_learning_rate_scheduler_one_argument_schedule_and_ints(capsys):
    model, _ = fit([LearningRateScheduler(lambda epoch: 10**-epoch, verbose=1)], losses(1, 2))
    assert model.optimizer.learning_rate == 0.1
    assert isinstance(model.optimizer.learning_rate, float)
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 1: LearningRateScheduler setting learning rate to 1.0.",
        "Epoch 2: LearningRateScheduler setting learning rate to 0.1.",
    ]


def test_learning_rate_scheduler_errors():
    with pytest.raises(ValueError, match=r"schedule\(0, \.\.\.\) must return a float.*'fast'"):
        fit([LearningRateScheduler(lambda epoch, lr: "fast")], losses(1.0))
    model = FakeModel()
    model.optimizer = object()
    with pytest.raises(ValueError, match="must have a `learning_rate`"):
        fit([LearningRateScheduler(lambda epoch, lr: lr)], losses(1.0), model)
    with pytest.raises(TypeError, match="schedule must be callable"):
        LearningRateScheduler(0.1)


# -- TerminateOnNaN -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss, stops",
    [
        (0.5, False),
        (math.nan, True),
        (math.inf, True),
        (-math.inf, True),
        (np.float32("nan"), True),
        (None, False),
    ],
)
def test_terminate_on_nan(loss, stops, capsys):
    model = FakeModel()
    callbacks = CallbackList([TerminateOnNaN()], model=model)
    callbacks.on_train_batch_end(4, {} if loss is None else {"loss": loss})
    assert model.stop_training is stops
    expected = "Batch 4: Invalid loss, terminating training\n" if stops else ""
    assert capsys.readouterr().out == expected


def test_terminate_on_nan_raise_error():
    model = FakeModel()
    guard = TerminateOnNaN(raise_error=True)
    guard.set_model(model)
    guard.on_train_batch_end(0, {"loss": 1.0})
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered at batch 3"):
        guard.on_train_batch_end(3, {"loss": math.inf})


def test_terminate_on_nan_stops_fit_after_the_epoch():
    _, run = fit([TerminateOnNaN()], [{"loss": 1.0}, {"loss": math.nan}, {"loss": 0.5}])
    assert run == 2


# -- History and CallbackList ---------------------------------------------------------------


def test_history_records_epochs_and_attaches_to_model():
    history = History()
    model, _ = fit([history], LOGS)
    assert history.epoch == [0, 1]
    assert history.history == {
        "loss": [0.5, 0.25],
        "accuracy": [0.75, 0.875],
        "val_loss": [0.625, 0.5],
    }
    assert all(type(v) is float for values in history.history.values() for v in values)
    assert model.history is history


def test_callback_list_adds_defaults_after_user_callbacks():
    early = EarlyStopping()
    callbacks = CallbackList([[early]], add_history=True, add_progbar=True, verbose=2)
    assert [type(cb) for cb in callbacks] == [EarlyStopping, History, ProgbarLogger]
    assert callbacks.history is callbacks.callbacks[1]
    assert callbacks.progbar.verbose == 2 and early.params["verbose"] == 2


def test_callback_list_reuses_given_history_and_progbar():
    history, progbar = History(), ProgbarLogger()
    model = FakeModel()
    callbacks = CallbackList(
        (progbar, history), add_history=True, add_progbar=True, model=model, verbose=0
    )
    assert callbacks.callbacks == [progbar, history]
    assert model.history is history and history.model is model and progbar.model is model


def test_callback_list_append_and_type_check():
    model = FakeModel()
    callbacks = CallbackList(model=model, epochs=3)
    nan_guard = TerminateOnNaN()
    callbacks.append(nan_guard)
    assert len(callbacks) == 1 and nan_guard.model is model and nan_guard.params["epochs"] == 3
    with pytest.raises(TypeError, match="must be instances of .*Callback, got str"):
        CallbackList(["EarlyStopping"])


def test_callback_list_dispatches_every_hook_in_order():
    calls = []

    class Recorder(Callback):
        def __init__(self, tag):
            super().__init__()
            self.tag = tag

        def __getattribute__(self, name):
            if name.startswith("on_"):
                tag = object.__getattribute__(self, "tag")
                return lambda *args, logs=None: calls.append((tag, name, args))
            return object.__getattribute__(self, name)

    callbacks = CallbackList([Recorder("a"), Recorder("b")])
    hooks = [name for name in dir(Callback) if name.startswith("on_")]
    for name in hooks:
        if "batch" in name or "epoch" in name:
            getattr(callbacks, name)(7, {})
        else:
            getattr(callbacks, name)({})
    assert len(calls) == 2 * len(hooks)
    assert [tag for tag, _, _ in calls] == ["a", "b"] * len(hooks)
    # The older on_batch_* names reach the callbacks through the on_train_batch_* hooks.
    assert {name for _, name, _ in calls} == set(hooks) - {"on_batch_begin", "on_batch_end"}


def test_callback_base_routes_train_batch_hooks_to_batch_aliases():
    seen = []

    class Old(Callback):
        def on_batch_end(self, batch, logs=None):
            seen.append((batch, logs))

    Old().on_train_batch_end(3, {"loss": 1.0})
    assert seen == [(3, {"loss": 1.0})]


# -- LambdaCallback -------------------------------------------------------------------------


def test_lambda_callback_runs_given_functions():
    events = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_epoch_end=lambda epoch, logs: events.append(("epoch", epoch, logs["val_loss"])),
        on_train_batch_end=lambda batch, logs: events.append(("batch", batch)),
        on_train_end=lambda logs: events.append("end"),
    )
    fit([callback], losses(0.5, 0.25), steps=2)
    assert events == [
        "begin",
        ("batch", 0),
        ("batch", 1),
        ("epoch", 0, 0.5),
        ("batch", 0),
        ("batch", 1),
        ("epoch", 1, 0.25),
        "end",
    ]


def test_lambda_callback_rejects_unknown_hooks():
    with pytest.raises(TypeError, match="unknown hook.*on_epoch_ends"):
        LambdaCallback(on_epoch_ends=print)


# -- MonitorCallback ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "monitor, direction",
    [
        ("val_loss", "min"),
        ("val_mean_squared_error", "min"),
        ("binary_crossentropy", "min"),
        ("val_accuracy", "max"),
        ("auc", "max"),
        ("val_precision", "max"),
        ("val_f1_score", "max"),
    ],
)
def test_monitor_direction_from_name(monitor, direction):
    assert MonitorCallback(monitor=monitor).direction() == direction


# -- ProgbarLogger --------------------------------------------------------------------------

PROGBAR_LOGS = [{"loss": 0.5, "accuracy": 0.75}, {"loss": 0.25, "accuracy": 0.875}]


def test_progbar_verbose_0_is_silent(capsys):
    fit([ProgbarLogger()], PROGBAR_LOGS, steps=3, verbose=0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progbar_verbose_2_prints_one_line_per_epoch(capsys):
    fit([ProgbarLogger()], PROGBAR_LOGS, steps=3, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(
        r"Epoch 1/2 - 3 steps - \d+ms - loss: 0\.5000 - accuracy: 0\.7500", lines[0]
    )
    assert re.fullmatch(
        r"Epoch 2/2 - 3 steps - \d+ms - loss: 0\.2500 - accuracy: 0\.8750", lines[1]
    )


def test_progbar_verbose_2_formats_small_values_and_evaluate(capsys):
    progbar = ProgbarLogger()
    progbar.set_params({"verbose": 2, "epochs": 1, "steps": None})
    progbar.on_test_begin()
    progbar.on_test_batch_end(0, {"loss": 0.1})
    progbar.on_test_end({"loss": 2e-5, "accuracy": 0.0})
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"Evaluate - \d+ms - loss: 2\.0000e-05 - accuracy: 0\.0000", line)


def test_progbar_is_silent_for_validation_inside_fit(capsys):
    progbar = ProgbarLogger()
    progbar.set_params({"verbose": 2, "epochs": 1, "steps": 1})
    progbar.on_train_begin()
    progbar.on_epoch_begin(0)
    progbar.on_test_begin()
    progbar.on_test_end({"loss": 1.0})
    assert capsys.readouterr().out == ""
    progbar.on_epoch_end(0, {"loss": 1.0, "val_loss": 1.0})
    assert "val_loss: 1.0000" in capsys.readouterr().out


def test_progbar_verbose_1_shows_a_tqdm_bar_per_epoch(capsys):
    pytest.importorskip("tqdm")
    logs = [dict(logs, val_loss=0.125) for logs in PROGBAR_LOGS]
    fit([ProgbarLogger()], logs, steps=3, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "Epoch 2/2" in out
    assert "3/3" in out
    assert "loss: 0.5000 - accuracy: 0.7500 - val_loss: 0.1250" in out
    assert "loss: 0.2500 - accuracy: 0.8750 - val_loss: 0.1250" in out
    assert out.count("\n") == 2  # one finished bar per epoch, each left on its own line


def test_progbar_auto_verbose_means_bar():
    progbar = ProgbarLogger()
    progbar.set_params({"verbose": "auto", "epochs": 2, "steps": 4})
    assert progbar.verbose == 1 and progbar.epochs == 2 and progbar.target == 4
