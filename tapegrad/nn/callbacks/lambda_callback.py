"""`LambdaCallback`: a callback made of plain functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tapegrad.nn.callbacks.callback import _HOOKS, Callback, Logs


class LambdaCallback(Callback):
    """A callback made of plain functions, for quick one-offs.

    Each keyword names a hook and gives the function to run there, with the hook's arguments:
    ``on_epoch_begin(epoch, logs)``, ``on_train_batch_end(batch, logs)``,
    ``on_train_begin(logs)``, ... (any hook of ``Callback``).

    Args:
        **hooks: hook name to function; unknown names raise ``TypeError``.

    Examples:
        >>> log = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]),
        ...                      on_train_end=lambda logs: print("done"))
        >>> log.on_epoch_end(0, {"loss": 0.5})
        0 0.5
        >>> log.on_train_end()
        done
    """

    def __init__(self, **hooks: Callable[..., Any] | None) -> None:
        super().__init__()
        unknown = sorted(set(hooks) - set(_HOOKS))
        if unknown:
            raise TypeError(
                f"LambdaCallback: unknown hook(s) {', '.join(unknown)}; "
                f"expected some of {', '.join(_HOOKS)}"
            )
        for name, function in hooks.items():
            if function is not None:
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
