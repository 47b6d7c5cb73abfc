"""`tapegrad.callbacks` (Keras' `keras.callbacks`): re-exports `tapegrad.nn.callbacks`."""

from tapegrad.nn.callbacks import *  # noqa: F403
