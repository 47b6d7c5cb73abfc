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

# Keras names tapegrad has, with how they differ from Keras (read by tapegrad.keras_coverage).
DIFFERS: dict[str, str] = {
    "StackedRNNCells": "the states are one flat list in cell order (Keras nests them per cell)",
    "TimeDistributed": "one call of the layer on the steps folded into the batch: equal to "
    "Keras' per-step calls except BatchNormalization's training statistics",
    "RMSNormalization": "also works on non-trailing axes (Keras fails there)",
    "IntegerLookup": "needs no TensorFlow; sparse=True and oov_method='farmhash' are refused "
    "(no sparse tensors, no TensorFlow fingerprints); an adapted vocabulary is saved in the "
    "config (tapegrad archives have no assets folder)",
    "InputSpec": "a layer's input_spec is not checked on each call yet "
    "(tapegrad.nn.layers.input_spec.assert_input_compatibility checks it on request)",
}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.layers", name, UNSUPPORTED)
