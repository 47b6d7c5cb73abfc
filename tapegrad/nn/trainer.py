"""The trainer's old home: `Trainer` now lives in `tapegrad.nn.trainers` (Keras 3's layout)."""

from tapegrad.nn.trainers.trainer import Trainer

__all__ = ["Trainer"]
