"""The input gradient of 2-D convolutions as one GEMM and a one-pass col2im (engine
``"numba"``), on one core or several.

Registered for `conv_input_grad` on channels-last float32/float64 NumPy arrays with two
spatial dims, ``groups == 1``, any strides, padding and dilation. The impl computes a
stride-1 input gradient as a convolution of the cotangent with the flipped kernel: it
copies every window of the cotangent (``prod(window) * C_out`` values per input position)
and multiplies. Here the cotangent meets the kernel first, ``g (rows, C_out) @ kernel^T``
(``prod(window) * C_in`` values per output position: 9x fewer for a one-channel input,
half as many for W4's 16 -> 32 convolution), and `_conv_loops.col2im` adds each row's
patch into the input's cotangent in one pass. Within rounding of the impl (the same
products, summed in another order). The batch goes in chunks of about 16 MB of patches,
as the impl's.

It runs only where `tapegrad.kernels.keep_freed_memory` is on. At glibc's default
allocator settings the impl's large temporary (7 MB in W4's second convolution) is what
raises glibc's dynamic mmap threshold, and with it the heap's trim threshold, above what a
training step frees at its end; without it glibc hands the heap's top back to the system
after every step and page-faults it in again on the next (about 2,000 faults per W4
step), which costs more than the kernel saves. With freed memory kept nothing is trimmed.

Once `tapegrad.kernels.set_parallel_kernels` switches it on (off by default), large
arrays run col2im's ``parallel=True`` loop (images split over numba's threads) where
more than one thread is allowed; a one-thread process runs the serial loop.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from typing import Any

import numpy as np

from tapegrad.core.prims.conv import batch_chunks, conv_input_grad_p
from tapegrad.core.prims.windows import canonical_params, output_shape
from tapegrad.kernels._numba import import_loops, run
from tapegrad.kernels.memory import freed_memory_kept
from tapegrad.kernels.registry import register_kernel

#: From this many elements of the input's cotangent on, col2im runs on several threads.
PARALLEL_MIN_SIZE = 1 << 15
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@functools.cache
def _loops() -> Any:
    """The compiled loops, or None where numba cannot be imported."""
    return import_loops("_conv_loops") or None


def conv_input_grad_applies(
    g: Any,
    kernel: Any,
    input_shape: Any = (),
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> bool:
    """Whether `conv_input_grad` runs here: 4-D cotangent and kernel, both NumPy arrays
    of one float dtype, no groups, numba importable, and freed memory kept
    (`tapegrad.kernels.keep_freed_memory`; see the module's docstring)."""
    if not freed_memory_kept():
        return False
    if type(g) is not np.ndarray or type(kernel) is not np.ndarray or groups != 1:
        return False
    if g.ndim != 4 or kernel.ndim != 4 or g.dtype not in _FLOATS or kernel.dtype != g.dtype:
        return False
    return g.size > 0 and kernel.size > 0 and _loops() is not None


def conv_input_grad(
    g: np.ndarray,
    kernel: np.ndarray,
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> np.ndarray:
    """`conv_input_grad`: the cotangent of the input (spatial shape ``input_shape``).

    Args:
        g: The output's cotangent ``(N, out_h, out_w, C_out)``.
        kernel: The kernel ``(kh, kw, C_in, C_out)``.
        input_shape: The input's spatial shape ``(H, W)``.
        strides, padding, dilation, groups: The convolution's params (canonical or None).

    Returns:
        ``(N, H, W, C_in)``, ``g``'s dtype.

    Examples:
        >>> g = np.ones((1, 2, 2, 1))
        >>> conv_input_grad(g, np.ones((2, 2, 1, 1)), (3, 3))[0, :, :, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    """
    window = kernel.shape[:2]
    strides, padding, dilation = canonical_params(2, strides, padding, dilation)
    c_in, c_out = kernel.shape[-2], kernel.shape[-1]
    out = output_shape("conv_input_grad", tuple(input_shape), window, strides, padding, dilation)
    if g.shape != (g.shape[0], *out, c_out):  # (the impl's checks and errors)
        return conv_input_grad_p.impl(g, kernel, input_shape, strides, padding, dilation, groups)
    loops = _loops()
    weights_t = kernel.reshape(-1, c_out).T  # (C_out, kh * kw * C_in): BLAS reads it as is
    dx = np.zeros((g.shape[0], *input_shape, c_in), g.dtype)
    geometry = (*window, *strides, padding[0][0], padding[1][0], *dilation)
    patch_bytes = math.prod(out) * kernel.shape[0] * kernel.shape[1] * c_in * g.itemsize
    for part in batch_chunks(g.shape[0], patch_bytes):
        cols = np.matmul(g[part].reshape(-1, c_out), weights_t)
        cols = cols.reshape(*g[part].shape[:-1], -1)
        chunk = dx[part]
        run(
            loops.col2im,
            loops.col2im_parallel,
            chunk.size,
            PARALLEL_MIN_SIZE,
            cols,
            *geometry,
            chunk,
        )
    return dx


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(conv_input_grad_p, "numba", conv_input_grad, applies=conv_input_grad_applies)

__all__ = ["PARALLEL_MIN_SIZE", "conv_input_grad", "conv_input_grad_applies"]
