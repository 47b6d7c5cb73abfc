"""`tapegrad.optimizers` (Keras' `keras.optimizers`): re-exports `tapegrad.nn.optimizers`."""

from tapegrad.nn.optimizers import *  # noqa: F403
