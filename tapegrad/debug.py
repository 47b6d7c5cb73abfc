"""Debugging aids: anomaly detection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from tapegrad.core import primitive as _primitive


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise at the first op whose result (forward) or VJP (backward) is NaN or inf.

    The error names the op and the user's source line that created it. Checking every
    result costs time: use it to find a bug, not in production. Only the thread (or
    asyncio task) that entered the block is checked (docs/threads.md).

    Examples:
        >>> import tapegrad as tg
        >>> import tapegrad.numpy as tnp
        >>> with tg.debug.detect_anomaly():
        ...     tnp.log(tg.tensor(-1.0))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        FloatingPointError: detect_anomaly: forward of op 'log' produced NaN, at ...
    """
    _primitive.push_anomaly(+1)
    try:
        yield
    finally:
        _primitive.push_anomaly(-1)
