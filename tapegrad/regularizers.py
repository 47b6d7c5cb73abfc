"""`tapegrad.regularizers`: the public face of `tapegrad.nn.regularizers` (Keras' `keras.regularizers`)."""

from tapegrad.nn.regularizers import *  # noqa: F403
