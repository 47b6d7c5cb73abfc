"""`MonitorCallback`: the base of callbacks that watch whether a log value improves."""

from __future__ import annotations

import math
import warnings
from typing import Any

from tapegrad.nn.callbacks.callback import Callback, Logs


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
        for metric in _flat_metrics(getattr(self.model, "metrics", None) or ()):
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


def _flat_metrics(metrics: Any) -> list[Any]:
    """The metrics, with containers (Keras' ``CompileMetrics``: a ``metrics`` list) opened."""
    flat: list[Any] = []
    for metric in metrics:
        inner = getattr(metric, "metrics", None)
        if isinstance(inner, list | tuple) and inner is not metrics:
            flat.extend(_flat_metrics(inner))
        flat.append(metric)
    return flat
