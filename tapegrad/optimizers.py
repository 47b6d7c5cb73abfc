"""`tapegrad.optimizers` (Keras' `keras.optimizers`): re-exports `tapegrad.nn.optimizers`."""

from typing import Any

from tapegrad.nn.optimizers import *  # noqa: F403

# Keras names tapegrad does not have and will not soon, with why (read by
# tapegrad.keras_coverage); any other missing Keras name is "not implemented yet".
UNSUPPORTED: dict[str, str] = {}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.optimizers", name, UNSUPPORTED)
