"""`tapegrad.metrics`: the public face of `tapegrad.nn.metrics` (Keras' `keras.metrics`)."""

from tapegrad.nn.metrics import *  # noqa: F403
