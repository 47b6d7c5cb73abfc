"""`LearningRateScheduler`: the optimizer's learning rate set from a schedule each epoch."""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from typing import Any

from tapegrad.nn.callbacks.callback import Callback


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
