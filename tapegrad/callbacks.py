"""`tapegrad.callbacks`: the public face of `tapegrad.nn.callbacks` (Keras' `keras.callbacks`)."""

from tapegrad.nn.callbacks import *  # noqa: F403
