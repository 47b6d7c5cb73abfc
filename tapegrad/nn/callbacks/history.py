"""`History`: each epoch's logs, the object ``fit`` returns."""

from __future__ import annotations

from typing import Any

from tapegrad.nn.callbacks.callback import Callback, _scalar


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
