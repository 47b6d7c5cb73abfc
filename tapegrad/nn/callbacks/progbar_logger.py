"""`ProgbarLogger`: training progress on standard output."""

from __future__ import annotations

import sys
import time
from typing import Any

from tapegrad.nn.callbacks.callback import Callback, Logs, _scalar


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
