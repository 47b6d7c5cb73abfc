"""`tapegrad.layers`: the public face of `tapegrad.nn.layers` (Keras' `keras.layers`)."""

from tapegrad.nn.layers import *  # noqa: F403
