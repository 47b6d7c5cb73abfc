"""Kernels: faster implementations of primitives, registered by primitive and engine.

See `tapegrad.kernels.registry` for the design (engines, array types, priority). Importing
this package registers the kernels shipped with tapegrad, one module per engine and family:

* `numpy_fast`: NumPy fast paths (relu against a shared zeros array);
* `numba_xent`: the softmax cross-entropy in one pass per row (numba, the `jit` extra;
  numba itself is imported on the first call);
* `numba_erf`: ``erf`` (the exact GELU's) in a compiled loop (numba);
* `numba_lstm`: the LSTM's step loops (numba, float32);
* `numba_pool`: 2-D max pooling, its argmax and its scatter in one pass per window (numba,
  on several threads for large arrays);
* `numba_conv`: the 2-D convolution's input gradient as one GEMM and a one-pass col2im
  (numba, on several threads for large arrays).

Switch an engine off with `tapegrad.config.disable_engine`.
"""

from tapegrad.kernels import (
    numba_conv,
    numba_erf,
    numba_lstm,
    numba_pool,
    numba_xent,
    numpy_fast,
)
from tapegrad.kernels.registry import (
    Kernel,
    disable_engine,
    enable_engine,
    enabled_engines,
    kernel_for,
    kernels_of,
    operand_for,
    register_kernel,
    register_operand,
)

__all__ = [
    "Kernel",
    "disable_engine",
    "enable_engine",
    "enabled_engines",
    "kernel_for",
    "kernels_of",
    "numba_conv",
    "numba_erf",
    "numba_lstm",
    "numba_pool",
    "numba_xent",
    "numpy_fast",
    "operand_for",
    "register_kernel",
    "register_operand",
]
