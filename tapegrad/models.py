"""`tapegrad.models` (Keras 3's ``keras.models``): `Model`, `Sequential`, `load_model`,
`save_model`, `clone_model`, `model_from_json`."""

from tapegrad.nn.models import Model, Sequential
from tapegrad.nn.saving import clone_model, load_model, model_from_json, save_model

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]
