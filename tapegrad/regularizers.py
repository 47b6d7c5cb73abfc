"""`tapegrad.regularizers` (Keras' `keras.regularizers`): re-exports `tapegrad.nn.regularizers`."""

from typing import Any

from tapegrad.nn.regularizers import *  # noqa: F403

# Keras names tapegrad does not have, with why (read by tapegrad.keras_coverage).
UNSUPPORTED: dict[str, str] = {}


def __getattr__(name: str) -> Any:
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.regularizers", name, UNSUPPORTED)
