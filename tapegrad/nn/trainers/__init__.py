"""Training machinery of models (Keras 3's ``keras/src/trainers``): the `Trainer` mixin and
the data it reads (`PyDataset`, the data adapters)."""

from tapegrad.nn.trainers.py_dataset import PyDataset, Sequence

__all__ = ["PyDataset", "Sequence"]
