"""`LambdaCallback`: a callback made of plain functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tapegrad.nn.callbacks.callback import CALLBACK_HOOKS, Callback, Logs


class LambdaCallback(Callback):
    """A callback made of plain functions, for quick one-offs (Keras 3's signature).

    Each hook argument gives the function to run there, with the hook's arguments:
    ``on_epoch_begin(epoch, logs)``, ``on_train_batch_end(batch, logs)``,
    ``on_train_begin(logs)``, ... The six named arguments can be passed by position, in
    Keras' order; any other hook of ``Callback`` (``on_test_begin``, ``on_predict_end``,
    ``on_batch_end``, ...) is accepted by keyword, and other keywords become attributes of
    the callback, as in Keras.

    Args:
        on_epoch_begin: ``f(epoch, logs)``.
        on_epoch_end: ``f(epoch, logs)``.
        on_train_begin: ``f(logs)``.
        on_train_end: ``f(logs)``.
        on_train_batch_begin: ``f(batch, logs)``.
        on_train_batch_end: ``f(batch, logs)``.
        **kwargs: other hooks (name to function), or attributes to set. A keyword that
            starts with ``on_`` but names no hook raises ``TypeError`` (a typo would
            otherwise never run).

    Examples:
        >>> log = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]),
        ...                      on_train_end=lambda logs: print("done"))
        >>> log.on_epoch_end(0, {"loss": 0.5})
        0 0.5
        >>> log.on_train_end()
        done
    """

    def __init__(
        self,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_begin: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
        on_train_batch_begin: Callable[..., Any] | None = None,
        on_train_batch_end: Callable[..., Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        unknown = sorted(k for k in kwargs if k.startswith("on_") and k not in CALLBACK_HOOKS)
        if unknown:
            raise TypeError(
                f"LambdaCallback: unknown hook(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(CALLBACK_HOOKS)}"
            )
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, value in kwargs.items():
            if name in CALLBACK_HOOKS:
                hooks[name] = value
            else:
                setattr(self, name, value)
        for name, function in hooks.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(
                    f"LambdaCallback: {name} must be callable, got "
                    f"{type(function).__name__}: {function!r}"
                )
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
