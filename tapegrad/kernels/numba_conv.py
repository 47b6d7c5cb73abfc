"""The 2-D convolution's input gradient as one GEMM and a one-pass col2im (engine
``"numba"``), on one core or several.

Registered for `conv_input_grad` on channels-last float32/float64 NumPy arrays with two
spatial dims, one group and no cropping. The impl convolves the cotangent with the flipped
kernel: an im2col copy of the cotangent (``window * C_out`` columns) and a GEMM. Here the
GEMM comes first, ``g (rows, C_out) @ kernel^T (C_out, window * C_in)``, giving each output
pixel's patch cotangent, and `_conv_loops.col2im` sums the patches that share an input
element in one pass that writes each element once: no copy of the cotangent, and the
slice-adds of strided convolutions become one pass too. The sums run in another order than
the impl's GEMM: results agree to float rounding (a few ulps of the largest term).

Large arrays run the ``parallel=True`` col2im when more than one thread is allowed
(`tapegrad.kernels._numba.threads`); the GEMM is NumPy's, threaded by its BLAS.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import math
from typing import Any

import numpy as np

from tapegrad.core.prims.conv import batch_chunks, conv_input_grad_p
from tapegrad.core.prims.windows import canonical_params, output_shape
from tapegrad.kernels.registry import register_kernel

#: From this many input elements on, col2im runs on several threads.
PARALLEL_MIN_SIZE = 1 << 15
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@functools.cache
def _loops() -> Any:
    """The compiled loops, or None where numba cannot be imported."""
    try:
        return importlib.import_module("tapegrad.kernels._conv_loops")
    except ImportError:
        return None


@functools.cache
def _numba() -> Any:
    return importlib.import_module("tapegrad.kernels._numba")


def _float4(a: Any) -> bool:
    return type(a) is np.ndarray and a.ndim == 4 and a.dtype in _FLOATS


def input_grad_applies(
    g: Any,
    kernel: Any,
    input_shape: Any = (),
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> bool:
    """Whether `conv_input_grad` runs here: a 4-D float cotangent and kernel of one dtype, two
    spatial dims, one group, no cropping, numba importable."""
    if groups != 1 or not (_float4(g) and _float4(kernel) and g.dtype == kernel.dtype):
        return False
    if len(input_shape) != 2 or g.shape[-1] != kernel.shape[-1]:
        return False
    if padding is not None and not all(lo >= 0 and hi >= 0 for lo, hi in padding):
        return False
    return _loops() is not None


def conv_input_grad(
    g: np.ndarray,
    kernel: np.ndarray,
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> np.ndarray:
    """`conv_input_grad`: the cotangent of the input (spatial shape ``input_shape``) from the
    cotangent ``g`` of the output, one GEMM and one col2im per chunk of images."""
    window = kernel.shape[:2]
    strides, padding, dilation = canonical_params(2, strides, padding, dilation)
    out = output_shape("conv_input_grad", tuple(input_shape), window, strides, padding, dilation)
    c_in, c_out = kernel.shape[2], kernel.shape[3]
    if g.shape[1:] != (*out, c_out):
        raise ValueError(
            f"conv_input_grad: cotangent shape {g.shape} does not match the output "
            f"{(g.shape[0], *out, c_out)} of the convolution"
        )
    weights_t = kernel.reshape(-1, c_out).T  # (C_out, window * C_in): BLAS takes it as is
    dx = np.empty((g.shape[0], *input_shape, c_in), g.dtype)
    numba_config, loops = _numba(), _loops()
    patch_bytes = math.prod(out) * math.prod(window) * c_in * g.itemsize
    for part in batch_chunks(g.shape[0], patch_bytes):
        cols = np.matmul(g[part].reshape(-1, c_out), weights_t)  # (fresh: C-contiguous)
        target = dx[part]
        geometry = (*window, *strides, *dilation, padding[0][0], padding[1][0], *out)
        numba_config.run(
            loops.col2im,
            loops.col2im_parallel,
            target.size,
            PARALLEL_MIN_SIZE,
            cols,
            *geometry,
            target,
        )
    return dx


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(conv_input_grad_p, "numba", conv_input_grad, applies=input_grad_applies)

__all__ = ["PARALLEL_MIN_SIZE", "conv_input_grad", "input_grad_applies"]
