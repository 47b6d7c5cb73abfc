"""`tapegrad.losses` (Keras' `keras.losses`): re-exports `tapegrad.nn.losses`."""

from tapegrad.nn.losses import *  # noqa: F403
