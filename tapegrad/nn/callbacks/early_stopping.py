"""`EarlyStopping`: stop training when a monitored value stops improving."""

from __future__ import annotations

from typing import Any

from tapegrad.nn.callbacks.monitor_callback import MonitorCallback


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
