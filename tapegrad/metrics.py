"""`tapegrad.metrics` (Keras' `keras.metrics`): re-exports `tapegrad.nn.metrics`."""

from tapegrad.nn.metrics import *  # noqa: F403
