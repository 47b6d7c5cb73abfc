"""`tapegrad.optimizers`: the public face of `tapegrad.nn.optimizers` (Keras' `keras.optimizers`)."""

from tapegrad.nn.optimizers import *  # noqa: F403
