"""`tapegrad.constraints` (Keras' `keras.constraints`): re-exports `tapegrad.nn.constraints`."""

from typing import Any

from tapegrad.nn.constraints import *  # noqa: F403

# Keras names tapegrad does not have and will not soon, with why (read by
# tapegrad.keras_coverage); any other missing Keras name is "not implemented yet".
UNSUPPORTED: dict[str, str] = {}


def __getattr__(name: str) -> Any:
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.constraints", name, UNSUPPORTED)
