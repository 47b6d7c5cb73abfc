"""`tapegrad.losses`: the public face of `tapegrad.nn.losses` (Keras' `keras.losses`)."""

from tapegrad.nn.losses import *  # noqa: F403
