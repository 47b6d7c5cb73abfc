"""`TerminateOnNaN`: stop training at the first NaN or infinite loss."""

from __future__ import annotations

import math

from tapegrad.nn.callbacks.callback import Callback, _scalar


class TerminateOnNaN(Callback):
    """Stops training as soon as a batch's loss is NaN or infinite.

    By default ``model.stop_training`` is set (the epoch ends its bookkeeping, callbacks
    still run); with ``raise_error=True`` a ``RuntimeError`` ends training at once.

    Args:
        raise_error: raise instead of stopping gracefully (Keras 3.15's argument).

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

    def __init__(self, raise_error: bool = False) -> None:
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        loss = _scalar(loss)
        if isinstance(loss, float) and not math.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(
                    f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                    "Terminating training immediately."
                )
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
