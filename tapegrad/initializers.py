"""`tapegrad.initializers`: the public face of `tapegrad.nn.initializers` (Keras' `keras.initializers`)."""

from tapegrad.nn.initializers import *  # noqa: F403
