"""`tapegrad.models` (Keras 3's ``keras.models``): `Model`, `Sequential`, `load_model`,
`save_model`, `clone_model`, `model_from_json`."""

from typing import Any

from tapegrad.nn.models import Model, Sequential
from tapegrad.nn.saving import clone_model, load_model, model_from_json, save_model

# Keras names tapegrad does not have, with why (read by tapegrad.keras_coverage).
UNSUPPORTED: dict[str, str] = {}
# Keras names tapegrad has, with how they differ (read by tapegrad.keras_coverage).
DIFFERS: dict[str, str] = {
    "load_model": "reads tapegrad archives (not Keras's .keras files); never runs code",
    "save_model": "writes a tapegrad archive; zipped=False (a folder) is refused",
    "model_from_json": "reads the JSON of tapegrad's to_json (not Keras's)",
}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):  # a protocol probe (doctest's __wrapped__): no Keras name
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from tapegrad.keras_coverage import missing_name_error

    raise missing_name_error("keras.models", name, UNSUPPORTED)


__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
