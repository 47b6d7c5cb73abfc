"""Global switches, as Keras keeps them in ``keras.config``.

Keras 3's settings (`floatx`, `epsilon`, `image_data_format` and their setters, `backend`)
are the ones of `tapegrad.backend`, shared with it. Next to them, tapegrad's engine
switches: engines are the providers of kernels (`tapegrad.kernels`): ``"numpy"`` fast
paths, ``"numba"`` compiled loops (the `jit` extra), later a GPU array library. Every
engine is on unless turned off here; turning one off makes every primitive fall back to the
next engine's kernel or to its reference implementation (same results; the kernels'
docstrings say where they differ in the last ulps).

Examples:
    >>> import tapegrad.config
    >>> "numba" in tapegrad.config.enabled_engines()
    True
    >>> tapegrad.config.disable_engine("numba")
    >>> "numba" in tapegrad.config.enabled_engines()
    False
    >>> tapegrad.config.enable_engine("numba")
    >>> tapegrad.config.floatx(), tapegrad.config.image_data_format()
    ('float32', 'channels_last')
"""

from __future__ import annotations

import os
from typing import Any

from tapegrad.backend import (
    backend,
    epsilon,
    floatx,
    floatx_scope,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from tapegrad.kernels import disable_engine, enable_engine, enabled_engines

# Keras names tapegrad does not have, with why (read by tapegrad.keras_coverage).
UNSUPPORTED: dict[str, str] = {
    "enable_flash_attention": "tapegrad has no flash-attention kernel",
    "disable_flash_attention": "tapegrad has no flash-attention kernel",
    "is_flash_attention_enabled": "tapegrad has no flash-attention kernel",
    "dtype_policy": "not implemented yet (mixed precision)",
    "set_dtype_policy": "not implemented yet (mixed precision)",
    "max_epochs": "not implemented yet (fit does not read a global cap)",
    "set_max_epochs": "not implemented yet (fit does not read a global cap)",
    "max_steps_per_epoch": "not implemented yet (fit does not read a global cap)",
    "set_max_steps_per_epoch": "not implemented yet (fit does not read a global cap)",
}
# Keras names tapegrad has, with how they differ (read by tapegrad.keras_coverage).
DIFFERS: dict[str, str] = {
    "enable_traceback_filtering": "refused: tapegrad never filters tracebacks",
    "enable_unsafe_deserialization": "changes nothing: archives never hold code",
    "set_floatx": "bfloat16 is refused (NumPy has no such type)",
}

_UNSAFE_DESERIALIZATION = [False]
_INTERACTIVE_LOGGING = [True]
_BATCH_POLYMORPHISM = [
    os.environ.get("TAPEGRAD_BATCH_POLYMORPHIC", "1").lower() not in ("0", "false")
]


def enable_batch_polymorphism() -> None:
    """Compiled ``fit``/``evaluate``/``predict`` steps reuse one trace for every batch size.

    The default. A smaller last batch, or evaluation at another batch size, then
    re-specializes the traced graph instead of compiling a new trace (one trace per
    model per phase). The first other size proves it: the step's Python is traced once
    more at a small probe size (not compiled), and every number that differs between
    the two traces must follow the batch (``k * B`` or ``c / (k * B)``); a number the
    program wrote stays as written (a loss divided by a hard-coded 32.0), and a step
    whose traces differ otherwise (``sqrt(B)``, rows computed outside the graph) traces
    per size. `tapegrad.graph.polymorphic` says how. Steps compiled before the call keep
    their setting.

    Examples:
        >>> disable_batch_polymorphism()
        >>> enable_batch_polymorphism()
        >>> is_batch_polymorphism_enabled()
        True
    """
    _BATCH_POLYMORPHISM[0] = True


def disable_batch_polymorphism() -> None:
    """Compiled steps trace once per batch size, as ``jax.jit`` does.

    For a step whose numbers depend on the batch size in a way two traces cannot tell
    from a linear one (``min(B, 32)``). ``TAPEGRAD_BATCH_POLYMORPHIC=0`` at import does
    the same. Steps compiled before the call keep their setting.

    Examples:
        >>> disable_batch_polymorphism()
        >>> is_batch_polymorphism_enabled()
        False
        >>> enable_batch_polymorphism()
    """
    _BATCH_POLYMORPHISM[0] = False


def is_batch_polymorphism_enabled() -> bool:
    """Whether compiled ``fit`` steps reuse one trace for every batch size."""
    return _BATCH_POLYMORPHISM[0]


def enable_interactive_logging() -> None:
    """Progress messages go to standard output (the default), as in Keras.

    Examples:
        >>> disable_interactive_logging()
        >>> is_interactive_logging_enabled()
        False
        >>> enable_interactive_logging()
    """
    _INTERACTIVE_LOGGING[0] = True


def disable_interactive_logging() -> None:
    """Progress messages (`tapegrad.utils.Progbar`) go to the ``logging`` module
    (logger ``"tapegrad"``, level INFO) instead of standard output, as Keras sends them to
    its logger: for jobs whose output is a log file."""
    _INTERACTIVE_LOGGING[0] = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress messages go to standard output (see `disable_interactive_logging`)."""
    return _INTERACTIVE_LOGGING[0]


def enable_unsafe_deserialization() -> None:
    """Keras' switch allowing code (lambdas) to be loaded from saved models.

    In tapegrad it changes nothing and is accepted so Keras programs run: an archive never
    contains code (a `Lambda` is saved as a graph of primitives and replayed through the
    primitive table; custom functions are looked up by registered name among the objects
    you register or pass as ``custom_objects``), so every load is already what Keras
    calls safe, and nothing unsafe is there to enable.

    Examples:
        >>> enable_unsafe_deserialization()
        >>> is_unsafe_deserialization_enabled()
        True
    """
    _UNSAFE_DESERIALIZATION[0] = True


def is_unsafe_deserialization_enabled() -> bool:
    """Whether `enable_unsafe_deserialization` was called (it has no effect on loading)."""
    return _UNSAFE_DESERIALIZATION[0]


def disable_traceback_filtering() -> None:
    """Keras' switch to show full tracebacks: tapegrad never filters them, so they are
    always full (a no-op, accepted so Keras programs run).

    Examples:
        >>> disable_traceback_filtering()
        >>> is_traceback_filtering_enabled()
        False
    """


def enable_traceback_filtering() -> None:
    """Refused: tapegrad does not filter tracebacks (its errors name the op, layer and
    argument instead).

    Raises:
        NotImplementedError: Always.
    """
    raise NotImplementedError(
        "enable_traceback_filtering: tapegrad does not filter tracebacks; they are always "
        "shown in full"
    )


def is_traceback_filtering_enabled() -> bool:
    """Always False: tapegrad shows full tracebacks."""
    return False


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.config", name, UNSUPPORTED)


__all__ = [
    "backend",
    "disable_batch_polymorphism",
    "disable_engine",
    "disable_interactive_logging",
    "disable_traceback_filtering",
    "enable_batch_polymorphism",
    "enable_engine",
    "enable_interactive_logging",
    "enable_traceback_filtering",
    "enable_unsafe_deserialization",
    "enabled_engines",
    "epsilon",
    "floatx",
    "floatx_scope",
    "image_data_format",
    "is_batch_polymorphism_enabled",
    "is_interactive_logging_enabled",
    "is_traceback_filtering_enabled",
    "is_unsafe_deserialization_enabled",
    "set_epsilon",
    "set_floatx",
    "set_image_data_format",
]
