"""`tapegrad.regularizers` (Keras' `keras.regularizers`): re-exports `tapegrad.nn.regularizers`."""

from tapegrad.nn.regularizers import *  # noqa: F403
