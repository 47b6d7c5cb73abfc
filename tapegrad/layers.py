"""`tapegrad.layers` (Keras' `keras.layers`): re-exports `tapegrad.nn.layers`."""

from tapegrad.nn.layers import *  # noqa: F403
