"""Training machinery of models (Keras 3's ``keras/src/trainers``): the `Trainer` mixin
(compile, the Model protocol, fit/evaluate/predict) and the data it reads (`PyDataset`,
generators, arrays through the data adapters)."""

from tapegrad.nn.trainers.data_adapters import (
    pack_x_y_sample_weight,
    unpack_x_y_sample_weight,
)
from tapegrad.nn.trainers.py_dataset import PyDataset, Sequence
from tapegrad.nn.trainers.trainer import Trainer

__all__ = [
    "PyDataset",
    "Sequence",
    "Trainer",
    "pack_x_y_sample_weight",
    "unpack_x_y_sample_weight",
]
