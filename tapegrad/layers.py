"""`tapegrad.layers` (Keras' `keras.layers`): re-exports `tapegrad.nn.layers`."""

from typing import Any

from tapegrad.nn.layers import *  # noqa: F403

# Keras names tapegrad does not have and will not soon, with why (read by
# tapegrad.keras_coverage); any other missing Keras name is "not implemented yet".
UNSUPPORTED: dict[str, str] = {
    "StringLookup": "string tensors: tapegrad's tensors are numeric",
    "TextVectorization": "string tensors: tapegrad's tensors are numeric",
    "Hashing": "string tensors: tapegrad's tensors are numeric",
    "HashedCrossing": "string tensors: tapegrad's tensors are numeric",
}


def __getattr__(name: str) -> Any:
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.layers", name, UNSUPPORTED)
