"""Global switches, as Keras keeps them in ``keras.config``.

Engines are the providers of kernels (`tapegrad.kernels`): ``"numpy"`` fast paths,
``"numba"`` compiled loops (the `jit` extra), later a GPU array library. Every engine is on
unless turned off here; turning one off makes every primitive fall back to the next engine's
kernel or to its reference implementation (same results; the kernels' docstrings say where
they differ in the last ulps).

Examples:
    >>> import tapegrad.config
    >>> "numba" in tapegrad.config.enabled_engines()
    True
    >>> tapegrad.config.disable_engine("numba")
    >>> "numba" in tapegrad.config.enabled_engines()
    False
    >>> tapegrad.config.enable_engine("numba")
"""

from tapegrad.kernels import disable_engine, enable_engine, enabled_engines

__all__ = ["disable_engine", "enable_engine", "enabled_engines"]
