"""`ReduceLROnPlateau`: lower the learning rate when a monitored value stops improving."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tapegrad.nn.callbacks.monitor_callback import MonitorCallback
from tapegrad.nn.validation import check_number


class ReduceLROnPlateau(MonitorCallback):
    """Reduces the optimizer's learning rate when a monitored value has stopped improving.

    Keras 3's rule: at each epoch end, the monitored value is compared with the best so far
    (an improvement must beat it by more than ``min_delta``); after ``patience`` epochs
    without one, the rate becomes ``max(lr * factor, min_lr)`` (only while ``lr > min_lr``),
    then ``cooldown`` epochs pass in which the wait counter stays at 0. The rate in force is
    recorded in every epoch's logs as ``learning_rate``. The optimizer's rate must be a
    float: an optimizer made with a ``LearningRateSchedule`` raises ``TypeError`` when a
    reduction is due, as in Keras.

    Args:
        monitor: the log key to watch. Defaults to ``"val_loss"``.
        factor: the factor the rate is multiplied by (must be below 1).
        patience: epochs without improvement before the rate is reduced.
        verbose: ``1`` prints a line at each reduction.
        mode: ``"auto"``, ``"min"`` or ``"max"`` (see ``MonitorCallback``).
        min_delta: the least change that counts as an improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the lower bound of the rate.

    Examples:
        >>> class Optimizer:
        ...     learning_rate = 0.1
        >>> class Model:
        ...     optimizer = Optimizer()
        >>> model = Model()
        >>> reduce = ReduceLROnPlateau(factor=0.5, patience=1, min_lr=0.03)
        >>> reduce.set_model(model)
        >>> reduce.on_train_begin()
        >>> for epoch, val_loss in enumerate([1.0, 1.0, 1.0, 0.5, 0.7, 0.7]):
        ...     reduce.on_epoch_end(epoch, {"val_loss": val_loss})
        ...     print(epoch, model.optimizer.learning_rate)
        0 0.1
        1 0.05
        2 0.03
        3 0.03
        4 0.03
        5 0.03
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float = 0.1,
        patience: int = 10,
        verbose: int = 0,
        mode: str = "auto",
        min_delta: float = 1e-4,
        cooldown: int = 0,
        min_lr: float = 0.0,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"ReduceLROnPlateau: unexpected argument(s) {sorted(kwargs)}")
        super().__init__(monitor=monitor, mode=mode, min_delta=min_delta)
        check_number("ReduceLROnPlateau", "factor", factor)
        if factor >= 1.0:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor >= 1.0, got factor={factor}"
            )
        check_number("ReduceLROnPlateau", "min_lr", min_lr, low=0.0)
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
                raise ValueError(
                    f"ReduceLROnPlateau: {name} must be a non-negative int, got {value!r}"
                )
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        """Whether a reduction happened less than ``cooldown`` epochs ago."""
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        self.direction()
        logs = {} if logs is None else logs
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(np.asarray(optimizer.learning_rate))
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"ReduceLROnPlateau: learning rate reduction is conditioned on "
                f"{self.monitor!r}, which is not in the logs; available: {', '.join(logs)}",
                stacklevel=2,
            )
            return
        current = float(current)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self.is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(optimizer, epoch):
                self.cooldown_counter = self.cooldown
                self.wait = 0

    def _reduce(self, optimizer: Any, epoch: int) -> bool:
        old_lr = float(np.asarray(optimizer.learning_rate))
        # Compared in float32, as Keras (whose rate Variable is float32) does: a rate that
        # reached min_lr stops there instead of "reducing" by rounding noise.
        if not np.float32(old_lr) > np.float32(self.min_lr):
            return False
        new_lr = max(old_lr * self.factor, self.min_lr)
        optimizer.learning_rate = new_lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
        return True
