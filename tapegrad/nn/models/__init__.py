"""Models: functional/subclassed `Model`, `Sequential`, and `load_model`."""

from tapegrad.nn.models.model import Model
from tapegrad.nn.models.sequential import Sequential

__all__ = ["Model", "Sequential"]
