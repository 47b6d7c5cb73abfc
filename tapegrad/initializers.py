"""`tapegrad.initializers` (Keras' `keras.initializers`): re-exports `tapegrad.nn.initializers`."""

from tapegrad.nn.initializers import *  # noqa: F403
