"""`CallbackList`: several callbacks behind one, as the trainer uses them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tapegrad.nn.callbacks.callback import Callback, Logs
from tapegrad.nn.callbacks.history import History
from tapegrad.nn.callbacks.progbar_logger import ProgbarLogger


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
        >>> from tapegrad.nn.callbacks import TerminateOnNaN
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
        if "batch" in hook:
            for callback in self.callbacks:
                getattr(callback, hook)(*args, logs=logs)
        else:
            # Positionally, as Keras calls them: an override may name the parameter `log`.
            for callback in self.callbacks:
                getattr(callback, hook)(*args, logs)

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
