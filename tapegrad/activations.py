"""`tapegrad.activations` (Keras' `keras.activations`): re-exports `tapegrad.nn.activations`."""

from tapegrad.nn.activations import *  # noqa: F403
