"""`tapegrad.models`: `Model`, `Sequential`, `load_model` (Keras' ``keras.models``)."""

from tapegrad.nn.models import Model, Sequential
from tapegrad.nn.saving import load_model

__all__ = ["Model", "Sequential", "load_model"]
