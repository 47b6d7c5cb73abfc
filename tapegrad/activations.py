"""`tapegrad.activations`: the public face of `tapegrad.nn.activations` (Keras' `keras.activations`)."""

from tapegrad.nn.activations import *  # noqa: F403
