"""The `Callback` base: the hooks the trainer calls, each a no-op until overridden.

Logs are plain dicts of metric name to value; values may be Python floats, NumPy scalars
or scalar Tensors (anything ``float()`` accepts).
"""

from __future__ import annotations

from typing import Any

Logs = dict[str, Any]


CALLBACK_HOOKS = (
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
