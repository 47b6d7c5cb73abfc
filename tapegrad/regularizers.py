"""`tapegrad.regularizers` (Keras' `keras.regularizers`): re-exports `tapegrad.nn.regularizers`."""

from typing import Any

from tapegrad.nn.regularizers import *  # noqa: F403

# Keras names tapegrad does not have, with why (read by tapegrad.keras_coverage).
UNSUPPORTED: dict[str, str] = {}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.regularizers", name, UNSUPPORTED)
