"""The graph tracer at work in this thread, as far as the layers below `graph` need it.

`tapegrad.function` (in `tapegrad.graph`) runs a Python function once on traced tensors.
While it does, the tracer is installed here, per thread (and asyncio task) like the tape
stack: value reads of traced tensors then raise a clear error, Variable assignments become
graph updates, and code that checks *values* (label ranges, index bounds) asks `is_traced`
first. The tracer is any object with ``is_traced(value) -> bool``, ``refuse_value(tensor,
what)`` and ``assign(variable, value, how) -> bool``; this module imports nothing, so
`tapegrad.numpy`, `tapegrad.ops` and `tapegrad.nn` ask it without importing `graph`.
"""

from __future__ import annotations

import contextvars
from typing import Any

_TRACER: contextvars.ContextVar[Any] = contextvars.ContextVar("tapegrad_trace_hook", default=None)

#: The tracer of this thread, or None: the fastest lookup, for the Tensor methods.
current_tracer = _TRACER.get


def set_tracer(tracer: Any) -> Any:
    """Install ``tracer`` in this thread (None removes it); return the previous one.

    Examples:
        >>> previous = set_tracer(None)
        >>> set_tracer(previous) is None
        True
    """
    previous = _TRACER.get()
    _TRACER.set(tracer)
    return previous


def is_traced(value: Any) -> bool:
    """Whether ``value`` is a traced tensor of a function being traced now.

    Code that checks *values* for a better error message (label ranges, say) asks this
    first: a traced tensor has no value until the compiled function runs.

    Examples:
        >>> import tapegrad as tg
        >>> is_traced(tg.tensor(1.0))
        False
        >>> tg.function(lambda x: is_traced(x))(tg.tensor(1.0))
        True
    """
    tracer = _TRACER.get()
    return tracer is not None and bool(tracer.is_traced(value))


__all__ = ["current_tracer", "is_traced", "set_tracer"]
