"""Kernels: faster implementations of primitives, registered by primitive and engine.

See `tapegrad.kernels.registry` for the design (engines, array types, priority). Importing
this package registers the kernels shipped with tapegrad, one module per engine and family:

* `numpy_fast`: NumPy fast paths (relu against a shared zeros array);
* `numba_xent`: the softmax cross-entropy in one pass per row (numba, the `jit` extra;
  numba itself is imported on the first call);
* `numba_erf`: ``erf`` (the exact GELU's) in a compiled loop (numba);
* `numba_attention`: the attention softmax (unmasked) and its gradient in fewer passes
  over the scores (numba);
* `numba_layer_norm`: layer normalization and its gradient in one pass per row (numba);
* `numba_lstm`: the LSTM's step loops (numba, float32);
* `numba_conv`: the input gradient of 2-D convolutions as one GEMM and a one-pass col2im
  (numba; on several threads for large arrays once `set_parallel_kernels` switches that on);
* `numba_pool`: 2-D max pooling, its argmax and its scatter in one pass per window (numba;
  on several threads for large arrays once `set_parallel_kernels` switches that on).

Switch an engine off with `tapegrad.config.disable_engine`; let the kernels that have
parallel loops run them on several threads with `set_parallel_kernels` (off by default);
let freed large arrays' memory be reused without page faults with `keep_freed_memory`
(glibc's thresholds, process-wide, off by default: `tapegrad.kernels.memory`).
"""

from tapegrad.kernels import (
    numba_attention,
    numba_conv,
    numba_erf,
    numba_layer_norm,
    numba_lstm,
    numba_pool,
    numba_xent,
    numpy_fast,
)
from tapegrad.kernels.memory import freed_memory_kept, keep_freed_memory
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
from tapegrad.kernels.threads import parallel_kernels_enabled, set_parallel_kernels

__all__ = [
    "Kernel",
    "disable_engine",
    "enable_engine",
    "enabled_engines",
    "freed_memory_kept",
    "keep_freed_memory",
    "kernel_for",
    "kernels_of",
    "numba_attention",
    "numba_conv",
    "numba_erf",
    "numba_layer_norm",
    "numba_lstm",
    "numba_pool",
    "numba_xent",
    "numpy_fast",
    "operand_for",
    "parallel_kernels_enabled",
    "register_kernel",
    "register_operand",
    "set_parallel_kernels",
]
