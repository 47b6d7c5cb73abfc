"""`RemoteMonitor`: Keras' callback that posts epoch logs to a server; tapegrad refuses it."""

from __future__ import annotations

from typing import Any

from tapegrad.nn.callbacks.callback import Callback


class RemoteMonitor(Callback):
    """Keras' callback that sends each epoch's logs to a server by HTTP; not supported.

    tapegrad never opens network connections, so constructing one raises at once (rather
    than failing at the first epoch end, after training has started). Log locally instead
    with ``CSVLogger``, ``TensorBoard`` or a ``LambdaCallback``.

    Args:
        root: the server's root URL (Keras' default ``"http://localhost:9000"``).
        path: the path the logs are posted to.
        field: the form field holding the JSON logs.
        headers: optional HTTP headers.
        send_as_json: post the logs as a JSON body.

    Raises:
        NotImplementedError: always, naming the URL and the local alternatives.

    Examples:
        >>> RemoteMonitor()
        Traceback (most recent call last):
        ...
        NotImplementedError: RemoteMonitor: tapegrad does not send data over the network (it \
would post to http://localhost:9000/publish/epoch/end/); log locally with CSVLogger, \
TensorBoard or a LambdaCallback instead
    """

    def __init__(
        self,
        root: str = "http://localhost:9000",
        path: str = "/publish/epoch/end/",
        field: str = "data",
        headers: dict[str, Any] | None = None,
        send_as_json: bool = False,
    ) -> None:
        raise NotImplementedError(
            "RemoteMonitor: tapegrad does not send data over the network (it would post to "
            f"{root}{path}); log locally with CSVLogger, TensorBoard or a LambdaCallback instead"
        )
