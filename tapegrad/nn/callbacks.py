"""Training callbacks with Keras 3 semantics: hooks the trainer calls around epochs and batches.

The trainer wraps the user's callbacks in a ``CallbackList`` (which adds ``History`` and, unless
``verbose=0``, a ``ProgbarLogger``) and calls its ``on_*`` hooks. Callbacks act on the model only
through a small protocol: ``model.stop_training`` (bool), ``model.get_weights()`` /
``model.set_weights(list)``, ``model.save(path)``, ``model.save_weights(path)`` and
``model.optimizer.learning_rate`` (a settable float).

Logs are plain dicts of metric name to value; values may be Python floats, NumPy scalars or
scalar Tensors (anything ``float()`` accepts).
"""

from __future__ import annotations

import csv
import inspect
import math
import numbers
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "MonitorCallback",
    "ProgbarLogger",
    "TerminateOnNaN",
]

Logs = dict[str, Any]

_HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_batch_begin",
    "on_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)


def _scalar(value: Any) -> Any:
    """A Python float for scalar-like values (Tensors, NumPy scalars); others unchanged."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _format_logs(logs: Logs | None) -> str:
    """``"loss: 0.2500 - accuracy: 0.9000"``, Keras' progress-bar notation."""
    parts = []
    for name, value in (logs or {}).items():
        value = _scalar(value)
        if isinstance(value, float):
            # Tiny values would print as 0.0000; scientific notation keeps them readable.
            text = f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.4e}"
        else:
            text = str(value)
        parts.append(f"{name}: {text}")
    return " - ".join(parts)


def _format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}m {seconds:02d}s"


class Callback:
    """Base class: every hook does nothing; subclasses override the ones they need.

    ``self.model`` is the model being trained (set by ``set_model``) and ``self.params`` the
    trainer's settings (``verbose``, ``epochs``, ``steps``; set by ``set_params``). Epoch
    numbers and batch indices are 0-based. ``on_train_batch_begin``/``end`` call the older
    ``on_batch_begin``/``end`` names, so overriding either works.

    Examples:
        >>> class PrintEpochs(Callback):
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         print(f"epoch {epoch}: {logs}")
        >>> cb = PrintEpochs()
        >>> cb.on_epoch_end(0, {"loss": 0.5})
        epoch 0: {'loss': 0.5}
    """

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self._model: Any = None

    @property
    def model(self) -> Any:
        """The model this callback acts on (``None`` until ``set_model``)."""
        return self._model

    def set_model(self, model: Any) -> None:
        """Attach the model (called by the trainer before training)."""
        self._model = model

    def set_params(self, params: dict[str, Any]) -> None:
        """Receive the trainer's settings, e.g. ``{"verbose": 1, "epochs": 3, "steps": 10}``."""
        self.params = dict(params)

    def on_train_begin(self, logs: Logs | None = None) -> None:
        """Called once at the start of ``fit``."""

    def on_train_end(self, logs: Logs | None = None) -> None:
        """Called once at the end of ``fit``; ``logs`` are the last epoch's."""

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the start of each epoch (0-based ``epoch``)."""

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        """Called at the end of each epoch with its metrics (validation ones prefixed ``val_``)."""

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Older name of ``on_train_batch_begin``."""

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Older name of ``on_train_batch_end``."""

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each training batch (``batch`` counts from 0 in each epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each training batch with the epoch's running metrics."""
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        """Called at the start of ``evaluate`` (and of validation inside ``fit``)."""

    def on_test_end(self, logs: Logs | None = None) -> None:
        """Called at the end of ``evaluate`` with its metrics."""

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each evaluation batch."""

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each evaluation batch with the running metrics."""

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        """Called at the start of ``predict``."""

    def on_predict_end(self, logs: Logs | None = None) -> None:
        """Called at the end of ``predict``."""

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        """Called before each prediction batch."""

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        """Called after each prediction batch (``logs`` may hold ``outputs``)."""


class CallbackList(Callback):
    """Several callbacks behind one: each hook is forwarded to all of them, in order.

    The trainer builds one per ``fit``/``evaluate``/``predict`` call. Default callbacks are
    appended after the user's, so they see logs the user's callbacks added (for example the
    ``learning_rate`` that ``LearningRateScheduler`` records); a ``History`` or
    ``ProgbarLogger`` the user passed is used instead of a new one.

    Args:
        callbacks: a callback or an iterable of them (nested lists are flattened), or ``None``.
        add_history: append a ``History`` (``fit`` does; it is then ``model.history``).
        add_progbar: append a ``ProgbarLogger`` (``fit`` does unless ``verbose=0``).
        model: the model to attach to every callback.
        **params: the trainer's settings passed to ``set_params``: ``verbose``, ``epochs``,
            ``steps`` (batches per epoch, or ``None`` when unknown).

    Examples:
        >>> class Model:
        ...     stop_training = False
        >>> callbacks = CallbackList(
        ...     [TerminateOnNaN()], add_history=True, add_progbar=False, model=Model(),
        ...     verbose=0, epochs=2, steps=1)
        >>> [type(cb).__name__ for cb in callbacks]
        ['TerminateOnNaN', 'History']
        >>> callbacks.on_train_begin()
        >>> for epoch in range(2):
        ...     callbacks.on_epoch_begin(epoch)
        ...     callbacks.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
        >>> callbacks.on_train_end()
        >>> callbacks.history.history
        {'loss': [1.0, 0.5]}
    """

    def __init__(
        self,
        callbacks: Callback | Iterable[Any] | None = None,
        add_history: bool = False,
        add_progbar: bool = False,
        model: Any = None,
        **params: Any,
    ) -> None:
        super().__init__()
        self.callbacks: list[Callback] = _flatten_callbacks(callbacks)
        self.history: History | None = None
        self.progbar: ProgbarLogger | None = None
        for callback in self.callbacks:
            if isinstance(callback, History):
                self.history = callback
            elif isinstance(callback, ProgbarLogger):
                self.progbar = callback
        if add_history and self.history is None:
            self.history = History()
            self.callbacks.append(self.history)
        if add_progbar and self.progbar is None:
            self.progbar = ProgbarLogger()
            self.callbacks.append(self.progbar)
        if model is not None:
            self.set_model(model)
        if params:
            self.set_params(params)

    def __iter__(self):
        return iter(self.callbacks)

    def __len__(self) -> int:
        return len(self.callbacks)

    def append(self, callback: Callback) -> None:
        """Add one more callback at the end (it gets the list's model and params)."""
        _check_is_callback(callback)
        if self.model is not None:
            callback.set_model(self.model)
        if self.params:
            callback.set_params(self.params)
        self.callbacks.append(callback)

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        if self.history is not None:
            model.history = self.history
        for callback in self.callbacks:
            callback.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        for callback in self.callbacks:
            callback.set_params(params)

    def _call(self, hook: str, *args: Any, logs: Logs | None = None) -> None:
        # One dict shared by all, so a callback's additions reach the callbacks after it.
        logs = {} if logs is None else logs
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs=logs)

    def on_train_begin(self, logs=None):
        self._call("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._call("on_train_end", logs=logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call("on_epoch_end", epoch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._call("on_train_batch_begin", batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self._call("on_train_batch_end", batch, logs=logs)

    def on_test_begin(self, logs=None):
        self._call("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._call("on_test_end", logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._call("on_test_batch_begin", batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        self._call("on_test_batch_end", batch, logs=logs)

    def on_predict_begin(self, logs=None):
        self._call("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._call("on_predict_end", logs=logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._call("on_predict_batch_begin", batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._call("on_predict_batch_end", batch, logs=logs)


def _check_is_callback(callback: Any) -> None:
    if not isinstance(callback, Callback):
        raise TypeError(
            "CallbackList: callbacks must be instances of tapegrad.callbacks.Callback, "
            f"got {type(callback).__name__}: {callback!r}"
        )


def _flatten_callbacks(callbacks: Any) -> list[Callback]:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    flat: list[Callback] = []
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            flat.extend(_flatten_callbacks(item))
        else:
            _check_is_callback(item)
            flat.append(item)
    return flat


class History(Callback):
    """Records each epoch's logs; ``fit`` returns this object.

    Attributes:
        history: dict of metric name to the list of its per-epoch values.
        epoch: the list of epoch numbers recorded (0-based).

    Examples:
        >>> history = History()
        >>> history.on_train_begin()
        >>> history.on_epoch_end(0, {"loss": 0.9, "val_loss": 1.1})
        >>> history.on_epoch_end(1, {"loss": 0.4, "val_loss": 0.7})
        >>> history.history
        {'loss': [0.9, 0.4], 'val_loss': [1.1, 0.7]}
        >>> history.epoch
        [0, 1]
    """

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[Any]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(_scalar(value))
        if self.model is not None:
            # The model always points at the latest history, as in Keras.
            self.model.history = self


class ProgbarLogger(Callback):
    """Prints training progress to standard output.

    ``verbose`` comes from the trainer's params: ``1`` (or ``"auto"``) shows a live tqdm bar
    per epoch with the running loss and metrics; ``2`` prints one line per epoch; ``0`` prints
    nothing. During ``fit`` the validation pass shows no bar of its own (its ``val_`` metrics
    appear in the epoch's line); ``evaluate`` and ``predict`` get one.

    Examples:
        >>> progbar = ProgbarLogger()
        >>> progbar.set_params({"verbose": 2, "epochs": 3, "steps": 10})
        >>> progbar.on_train_begin()
        >>> progbar.on_epoch_begin(0)
        >>> progbar.on_epoch_end(0, {"loss": 0.25, "accuracy": 0.9})
        Epoch 1/3 - 10 steps - ...s - loss: 0.2500 - accuracy: 0.9000
    """

    def __init__(self) -> None:
        super().__init__()
        self.verbose: int = 1
        self.epochs: int = 1
        self.target: int | None = None
        self._bar: Any = None
        self._start = 0.0
        self._seen = 0
        self._in_fit = False
        self._title = ""

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else int(verbose)
        self.epochs = params.get("epochs") or 1
        self.target = params.get("steps")

    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._close_bar()
        self._in_fit = False

    def on_epoch_begin(self, epoch, logs=None):
        self._begin(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._finish(logs)

    def on_test_begin(self, logs=None):
        if not self._in_fit:
            self._begin("Evaluate")

    def on_test_batch_end(self, batch, logs=None):
        if not self._in_fit:
            self._update(batch, logs)

    def on_test_end(self, logs=None):
        if not self._in_fit:
            self._finish(logs)

    def on_predict_begin(self, logs=None):
        self._begin("Predict")

    def on_predict_batch_end(self, batch, logs=None):
        # Prediction logs hold the outputs, which are no metrics to show.
        self._update(batch, None)

    def on_predict_end(self, logs=None):
        self._finish(None)

    def _begin(self, title: str) -> None:
        self._close_bar()
        self._title = title
        self._start = time.perf_counter()
        self._seen = 0
        if self.verbose == 1:
            import tqdm  # optional until the trainer needs it; only the live bar uses it

            self._bar = tqdm.tqdm(
                total=self.target,
                desc=title,
                unit="step",
                file=sys.stdout,
                dynamic_ncols=True,
                leave=True,
            )

    def _update(self, batch: int, logs: Logs | None) -> None:
        if self._bar is None:
            return
        seen = batch + 1
        self._bar.update(max(seen - self._seen, 0))
        self._seen = seen
        if logs:
            self._bar.set_postfix_str(_format_logs(logs), refresh=False)

    def _finish(self, logs: Logs | None) -> None:
        if self.verbose == 1 and self._bar is not None:
            if logs:
                self._bar.set_postfix_str(_format_logs(logs), refresh=False)
            self._close_bar()
        elif self.verbose == 2:
            parts = [self._title]
            if self.target is not None:
                parts.append(f"{self.target} steps")
            parts.append(_format_duration(time.perf_counter() - self._start))
            if logs:
                parts.append(_format_logs(logs))
            print(" - ".join(parts), flush=True)

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class MonitorCallback(Callback):
    """Base for callbacks that track whether a monitored log value improves.

    The direction is ``mode``'s, or with ``mode="auto"`` inferred at the first epoch end: from
    a ``_direction`` (``"up"``/``"down"``) of the model's metric of that name if it has one,
    else from the name (``loss``, ``*_error``, ``*crossentropy`` ... fall; ``accuracy``,
    ``auc``, ``precision`` ... rise). ``val_`` prefixes are ignored.

    Args:
        monitor: the log key to watch.
        mode: ``"auto"``, ``"min"`` or ``"max"``; anything else warns and means ``"auto"``.
        baseline: an initial best value; ``None`` lets the first value set it.
        min_delta: the least change that counts as an improvement.

    Examples:
        >>> watcher = MonitorCallback(monitor="val_accuracy", min_delta=0.01)
        >>> watcher.direction()
        'max'
        >>> watcher.is_improvement(0.905, 0.9), watcher.is_improvement(0.92, 0.9)
        (False, True)
    """

    _RISING = frozenset({"accuracy", "acc", "auc", "precision", "recall", "f1", "fbeta", "r2"})
    _FALLING = frozenset(
        {"loss", "error", "crossentropy", "mse", "mae", "mape", "msle", "rmse", "hinge",
         "divergence", "logcosh", "poisson", "huber"}
    )  # fmt: skip

    def __init__(
        self,
        monitor: str = "val_loss",
        mode: str = "auto",
        baseline: float | None = None,
        min_delta: float = 0.0,
    ) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(
                f"{type(self).__name__}: mode={mode!r} is unknown (expected 'auto', 'min' "
                "or 'max'); falling back to 'auto'",
                stacklevel=2,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.baseline = baseline
        self.min_delta = abs(min_delta)
        self.best: float | None = None if baseline is None else float(baseline)
        self._direction: str | None = None

    def direction(self) -> str:
        """``"min"`` or ``"max"``: which way the monitored value should go."""
        if self._direction is None:
            self._direction = self._infer_direction()
        return self._direction

    def _infer_direction(self) -> str:
        if self.mode != "auto":
            return self.mode
        name = self.monitor.removeprefix("val_")
        for metric in getattr(self.model, "metrics", None) or ():
            if getattr(metric, "name", None) == name and hasattr(metric, "_direction"):
                return "max" if metric._direction == "up" else "min"
        words = set(name.lower().replace("-", "_").split("_"))
        if "loss" in words:
            return "min"
        if words & self._RISING:
            return "max"
        if words & self._FALLING:
            return "min"
        raise ValueError(
            f"{type(self).__name__}: cannot tell whether monitor={self.monitor!r} should be "
            "minimized or maximized; pass mode='min' or mode='max'"
        )

    def is_improvement(self, value: Any, reference: float | None) -> bool:
        """Whether ``value`` beats ``reference`` by more than ``min_delta`` (``None``: any)."""
        if reference is None:
            return not math.isnan(float(value))
        if self.direction() == "min":
            return float(value) < reference - self.min_delta
        return float(value) > reference + self.min_delta

    def _monitored_value(self, logs: Logs | None, what: str) -> float | None:
        logs = logs or {}
        value = logs.get(self.monitor)
        if value is None:
            warnings.warn(
                f"{type(self).__name__}: {what} conditioned on {self.monitor!r}, which is not "
                f"in the logs; available: {', '.join(logs) or 'none'}",
                stacklevel=3,
            )
            return None
        return float(value)


class EarlyStopping(MonitorCallback):
    """Stops training when the monitored quantity has stopped improving.

    At each epoch end the monitored value is compared with the best so far; after ``patience``
    epochs without an improvement of more than ``min_delta``, ``model.stop_training`` is set.

    Args:
        monitor: the log key to watch. Defaults to ``"val_loss"``.
        min_delta: the least change that counts as an improvement (absolute value used).
        patience: epochs without improvement to wait before stopping.
        verbose: ``1`` prints a line when stopping and when restoring weights.
        mode: ``"auto"``, ``"min"`` or ``"max"`` (see ``MonitorCallback``).
        baseline: a value to reach: the patience counter only resets on epochs that beat both
            the best so far and ``baseline``, so training stops after ``patience`` epochs if
            it is never reached.
        restore_best_weights: at the end of training, set the weights of the best epoch
            (even if no epoch reached ``baseline``).
        start_from_epoch: epochs of warm-up that are not monitored at all.

    Attributes:
        stopped_epoch: the epoch at which training was stopped (0 if it was not).
        best, best_epoch: the best monitored value and its epoch.

    Examples:
        >>> class Model:
        ...     stop_training = False
        >>> model = Model()
        >>> early = EarlyStopping(monitor="val_loss", patience=2)
        >>> early.set_model(model)
        >>> early.on_train_begin()
        >>> for epoch, val_loss in enumerate([0.9, 0.7, 0.8, 0.75, 0.6]):
        ...     early.on_epoch_end(epoch, {"val_loss": val_loss})
        ...     if model.stop_training:
        ...         break
        >>> early.stopped_epoch, early.best, early.best_epoch
        (3, 0.7, 1)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ) -> None:
        super().__init__(monitor=monitor, mode=mode, baseline=None, min_delta=min_delta)
        self.baseline = baseline
        self.patience = patience
        self.verbose = verbose
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights: list[Any] | None = None

    def on_train_begin(self, logs=None):
        # Reset so that one instance can serve several fit calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_epoch = 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        self.direction()
        current = self._monitored_value(logs, "early stopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            # Until something improves, the weights we have are the best we know.
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self.is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self.is_improvement(current, float(self.baseline)):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(
                    f"Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(MonitorCallback):
    """Saves the model (or its weights) at the end of epochs or every few batches.

    ``filepath`` may hold ``str.format`` fields filled from the epoch's logs plus ``epoch``
    (1-based) and, with an integer ``save_freq``, ``batch`` (1-based): for example
    ``"ckpt/model-{epoch:02d}-{val_loss:.2f}.tapegrad"``. Missing folders are created.

    Args:
        filepath: the path, or a pattern as above.
        monitor: the log key that decides what "best" means.
        verbose: ``1`` prints a line for each save (or skip).
        save_best_only: only save when ``monitor`` improved on the best saved value (with no
            ``monitor`` in the logs it warns and saves anyway, as Keras does).
        save_weights_only: call ``model.save_weights(path)`` instead of ``model.save(path)``.
        mode: ``"auto"``, ``"min"`` or ``"max"`` (see ``MonitorCallback``).
        save_freq: ``"epoch"``, or an integer: save every that many training batches.
        initial_value_threshold: a best value to beat before the first ``save_best_only`` save.

    Examples:
        >>> class Model:
        ...     def save(self, path):
        ...         print("saved", path)
        >>> checkpoint = ModelCheckpoint("model-{epoch:02d}-{val_loss:.2f}.tapegrad",
        ...                              save_best_only=True)
        >>> checkpoint.set_model(Model())
        >>> for epoch, val_loss in enumerate([0.9, 1.2, 0.5]):
        ...     checkpoint.on_epoch_end(epoch, {"val_loss": val_loss})
        saved model-01-0.90.tapegrad
        saved model-03-0.50.tapegrad
    """

    def __init__(
        self,
        filepath: str | os.PathLike[str],
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str | int = "epoch",
        initial_value_threshold: float | None = None,
    ) -> None:
        super().__init__(monitor=monitor, mode=mode, baseline=initial_value_threshold)
        if save_freq != "epoch" and not (
            isinstance(save_freq, int) and not isinstance(save_freq, bool) and save_freq > 0
        ):
            raise ValueError(
                f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, got {save_freq!r}"
            )
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._current_epoch = 0
        self._batches_since_save = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _file_path(self, epoch: int, batch: int | None, logs: Logs) -> str:
        fields = {name: _scalar(value) for name, value in logs.items()}
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as err:
            raise KeyError(
                f"ModelCheckpoint: filepath {self.filepath!r} names the field {err}, which is "
                f"neither epoch, batch nor in the logs {sorted(logs)}"
            ) from err
        except (IndexError, ValueError) as err:
            raise ValueError(
                f"ModelCheckpoint: cannot format filepath {self.filepath!r} with epoch, batch "
                f"and the logs {sorted(logs)}: {err}"
            ) from err

    def _should_save(self, epoch: int, logs: Logs, path: str) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print(f"Epoch {epoch + 1}: saving model to {path}")
            return True
        self.direction()
        current = self._monitored_value(logs, "saving the best model")
        if current is None:
            return True
        previous = "None" if self.best is None else f"{self.best:.5f}"
        if self.is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {previous} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {previous}")
        return False

    def _save(self, epoch: int, batch: int | None, logs: Logs | None) -> None:
        logs = logs or {}
        path = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        if os.path.isdir(path):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {path!r} is an existing directory; give a file path"
            )
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file: an ``epoch`` column, then the log keys sorted.

    The columns are fixed by the first epoch's keys; a key missing later is written ``NA``.
    The file is flushed after every row, so it can be watched while training runs.

    Args:
        filename: the CSV file's path.
        separator: the column separator.
        append: add to an existing file (writing the header only if the file is empty)
            instead of overwriting it.

    Examples:
        >>> import os, tempfile
        >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
        >>> logger = CSVLogger(path)
        >>> logger.on_train_begin()
        >>> logger.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.75})
        >>> logger.on_train_end()
        >>> print(open(path).read().strip())
        epoch,accuracy,loss
        0,0.75,0.5
    """

    def __init__(
        self, filename: str | os.PathLike[str], separator: str = ",", append: bool = False
    ) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys: list[str] | None = None
        self._file: Any = None
        self._writer: Any = None
        self._write_header = True

    def on_train_begin(self, logs=None):
        if self.append:
            self._write_header = not (
                os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
            )
            mode = "a"
        else:
            self._write_header = True
            mode = "w"
        self._close()
        self._file = open(self.filename, mode, newline="", encoding="utf-8")
        self.keys = None
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._file is None:
            # Driven without on_train_begin (e.g. by hand): open as fit would.
            self.on_train_begin()
        if self.keys is None:
            self.keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.writer(self._file, delimiter=self.sep, lineterminator="\n")
            if self._write_header:
                self._writer.writerow(["epoch", *self.keys])
        row = [epoch] + [_csv_value(logs.get(key, "NA")) for key in self.keys]
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs=None):
        self._close()

    def _close(self) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._file = None
        self._writer = None


def _csv_value(value: Any) -> Any:
    value = _scalar(value)
    if isinstance(value, (str, float, int)):
        return value
    if isinstance(value, Iterable):
        return f"[{', '.join(str(_scalar(item)) for item in value)}]"
    return value


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch from a schedule.

    ``schedule(epoch, lr)`` gets the 0-based epoch and the current learning rate (a float) and
    returns the new one; a one-argument ``schedule(epoch)`` works too. The rate in force is
    recorded in the epoch's logs as ``learning_rate``.

    Args:
        schedule: the function described above.
        verbose: ``1`` prints the rate set at each epoch.

    Examples:
        >>> class Optimizer:
        ...     learning_rate = 0.1
        >>> class Model:
        ...     optimizer = Optimizer()
        >>> model = Model()
        >>> scheduler = LearningRateScheduler(lambda epoch, lr: lr if epoch < 1 else lr / 2)
        >>> scheduler.set_model(model)
        >>> for epoch in range(3):
        ...     scheduler.on_epoch_begin(epoch)
        ...     print(model.optimizer.learning_rate)
        0.1
        0.05
        0.025
    """

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler: schedule must be callable, got {type(schedule).__name__}"
            )
        self.schedule = schedule
        self.verbose = verbose
        self._takes_lr = _accepts_two_arguments(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not hasattr(optimizer, "learning_rate"):
            raise ValueError(
                "LearningRateScheduler: the model's optimizer must have a `learning_rate` attribute"
            )
        current = float(optimizer.learning_rate)
        if self._takes_lr:
            learning_rate = self.schedule(epoch, current)
        else:
            learning_rate = self.schedule(epoch)
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
            raise ValueError(
                f"LearningRateScheduler: schedule({epoch}, ...) must return a float, "
                f"got {type(learning_rate).__name__}: {learning_rate!r}"
            )
        optimizer.learning_rate = float(learning_rate)
        if self.verbose > 0:
            print(
                f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{float(learning_rate)}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _accepts_two_arguments(function: Callable[..., Any]) -> bool:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return True
    try:
        signature.bind(0, 0.0)
    except TypeError:
        return False
    return True


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite.

    Examples:
        >>> class Model:
        ...     stop_training = False
        >>> model = Model()
        >>> guard = TerminateOnNaN()
        >>> guard.set_model(model)
        >>> guard.on_train_batch_end(0, {"loss": 0.3})
        >>> guard.on_train_batch_end(1, {"loss": float("nan")})
        Batch 1: Invalid loss, terminating training
        >>> model.stop_training
        True
    """

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = _scalar(loss)
        if isinstance(loss, float) and not math.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback made of plain functions, for quick one-offs.

    Each keyword names a hook and gives the function to run there, with the hook's arguments:
    ``on_epoch_begin(epoch, logs)``, ``on_train_batch_end(batch, logs)``,
    ``on_train_begin(logs)``, ... (any hook of ``Callback``).

    Args:
        **hooks: hook name to function; unknown names raise ``TypeError``.

    Examples:
        >>> log = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]),
        ...                      on_train_end=lambda logs: print("done"))
        >>> log.on_epoch_end(0, {"loss": 0.5})
        0 0.5
        >>> log.on_train_end()
        done
    """

    def __init__(self, **hooks: Callable[..., Any] | None) -> None:
        super().__init__()
        unknown = sorted(set(hooks) - set(_HOOKS))
        if unknown:
            raise TypeError(
                f"LambdaCallback: unknown hook(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(_HOOKS)}"
            )
        for name, function in hooks.items():
            if function is not None:
                setattr(self, name, _adapt_hook(name, function))


def _adapt_hook(name: str, function: Callable[..., Any]) -> Callable[..., None]:
    """Wrap ``function`` so it is called with ``logs`` passed positionally, as Keras does."""
    takes_index = name not in {
        "on_train_begin",
        "on_train_end",
        "on_test_begin",
        "on_test_end",
        "on_predict_begin",
        "on_predict_end",
    }

    if takes_index:

        def hook_with_index(index: int, logs: Logs | None = None) -> None:
            function(index, logs)

        return hook_with_index

    def hook(logs: Logs | None = None) -> None:
        function(logs)

    return hook
