"""Convolution primitives, channels-last: ``x (N, *spatial, C)``, kernel
``(*window, C_in / groups, C_out)``, any number of spatial dims; params as in `windows.py`.

Convolution is im2col (a strided view of every window, copied once) + one GEMM. Its two
VJPs are primitives of their own, `conv_input_grad` (col2im by one slice-add per kernel
offset) and `conv_kernel_grad` (im2col + GEMM); all three are bilinear and each one's
derivatives are the other two, so derivatives of any order stay in this family. The
pooling primitives, which share the window geometry, are in `pool.py`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.products import matmul_p
from tapegrad.core.prims.shape import broadcast_to_p, reshape_p
from tapegrad.core.prims.windows import (
    canonical_params,
    output_shape,
    pad_spatial,
    spatial_shape,
    strided_windows,
    unpad_spatial,
    window_slots,
)
from tapegrad.core.tensor import dtype_of, shape_of

_FEW_CHANNELS = 4  # up to this many input channels, im2col copies in transposed order
# The convolutions work through the batch in chunks of up to 16 MB of patches (the im2col
# copy), which bounds the memory a large batch takes; much smaller chunks cost speed (BLAS,
# and its threads, need large products).
_CHUNK_BYTES = 1 << 24


def batch_chunks(n: int, bytes_per_image: int) -> list[slice]:
    """Slices of the batch axis, each about 16 MB of patches (one image at least).

    Examples:
        >>> batch_chunks(3, 1 << 23)
        [slice(0, 2, None), slice(2, 3, None)]
    """
    step = max(1, _CHUNK_BYTES // max(bytes_per_image, 1))
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def _window_view(
    x: np.ndarray, window: tuple[int, ...], strides: Any, padding: Any, dilation: Any, op: str
) -> tuple[np.ndarray, tuple[int, ...]]:
    """The windows ``(N, *out, *window, C)`` of the padded input (a view) and ``out``."""
    out = output_shape(op, x.shape[1:-1], window, strides, padding, dilation)
    return strided_windows(pad_spatial(x, padding), window, out, strides, dilation), out


def _patches(view: np.ndarray, groups: int) -> np.ndarray:
    """Patches of a window view as ``(G, rows, prod(window) * C / G)`` (groups == 1: 2-D)."""
    nd = (view.ndim - 2) // 2
    rows = view.shape[0] * math.prod(view.shape[1 : nd + 1])
    channels = view.shape[-1]
    if groups == 1:
        if channels <= _FEW_CHANNELS:
            # Few channels: a (window * C, rows) copy reads long contiguous runs along the
            # image rows instead of C-long ones, several times faster (6x for C == 1);
            # BLAS takes its transpose as it is.
            return (
                np.moveaxis(view, (0, *range(1, nd + 1)), (-nd - 1, *range(-nd, 0)))
                .reshape(-1, rows)
                .T
            )
        return view.reshape(rows, -1)
    grouped = view.reshape(*view.shape[:-1], groups, channels // groups)
    return np.moveaxis(grouped, -2, 0).reshape(groups, rows, -1)


def _grouped_kernel(kernel: np.ndarray, groups: int) -> np.ndarray:
    """``(*window, C_in / G, C_out)`` as ``(G, prod(window) * C_in / G, C_out / G)``."""
    if groups == 1:
        return kernel.reshape(-1, kernel.shape[-1])
    split = kernel.reshape(*kernel.shape[:-1], groups, kernel.shape[-1] // groups)
    return np.moveaxis(split, -2, 0).reshape(groups, -1, kernel.shape[-1] // groups)


def _grouped_rows(y: np.ndarray, groups: int) -> np.ndarray:
    """Channels-last ``(N, *out, C)`` as ``(G, N * prod(out), C / G)`` (2-D if G == 1)."""
    if groups == 1:
        return y.reshape(-1, y.shape[-1])
    return np.moveaxis(y.reshape(-1, groups, y.shape[-1] // groups), 1, 0)


def _check_conv(
    op: str, x_shape: tuple[int, ...], kernel_shape: tuple[int, ...], groups: int
) -> None:
    c_in, c_out = kernel_shape[-2] * groups, kernel_shape[-1]
    if len(x_shape) != len(kernel_shape) or len(x_shape) < 3:
        raise ValueError(
            f"{op}: input {x_shape} must be (N, *spatial, C) and kernel {kernel_shape} "
            "(*window, C_in / groups, C_out) with the same number of spatial dims"
        )
    if x_shape[-1] != c_in or c_out % groups:
        raise ValueError(
            f"{op}: input channels {x_shape[-1]} must equal kernel {kernel_shape}'s "
            f"C_in / groups * groups = {c_in}, and C_out must divide into {groups} groups"
        )


def _conv_impl(
    x: Any,
    kernel: Any,
    bias: Any = None,
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> np.ndarray:
    x, kernel = np.asarray(x), np.asarray(kernel)
    _check_conv("conv", x.shape, kernel.shape, groups)
    if bias is not None:
        bias = np.asarray(bias)
        if bias.shape != kernel.shape[-1:]:
            raise ValueError(
                f"conv: bias shape {bias.shape} must be (C_out,) = "
                f"{kernel.shape[-1:]} for kernel {kernel.shape}"
            )
    strides, padding, dilation = canonical_params(kernel.ndim - 2, strides, padding, dilation)
    return _correlate(x, kernel, strides, padding, dilation, groups, "conv", bias)


def _correlate(
    x: np.ndarray,
    kernel: np.ndarray,
    strides: Any,
    padding: Any,
    dilation: Any,
    groups: int,
    op: str,
    bias: np.ndarray | None = None,
) -> np.ndarray:
    """The convolution proper (canonical params): im2col + GEMM, a chunk of images at a time,
    plus the bias while the chunk is in cache."""
    window = kernel.shape[:-2]
    view, out = _window_view(x, window, strides, padding, dilation, op)
    weights = _grouped_kernel(kernel, groups)
    c_out = kernel.shape[-1]
    dtype = np.result_type(x.dtype, kernel.dtype, *(() if bias is None else (bias.dtype,)))
    y = np.empty((x.shape[0], *out, c_out), dtype)
    patch_bytes = math.prod(out) * math.prod(window) * x.shape[-1] * x.itemsize
    for part in batch_chunks(x.shape[0], patch_bytes):
        cols = _patches(view[part], groups)
        if groups == 1:
            np.matmul(cols, weights, out=y[part].reshape(-1, c_out))
        else:  # (G, rows, C_out / G) -> (rows, G, C_out / G): output channels group-major
            y[part] = np.moveaxis(np.matmul(cols, weights), 0, 1).reshape(y[part].shape)
        if bias is not None:
            y[part] += bias
    return y


def _flipped_kernel(kernel: np.ndarray, groups: int) -> np.ndarray:
    """The kernel of the transposed convolution: windows reversed, and in each group the
    input and output channels swapped: ``(*window, C_out / G, C_in)``."""
    nd = kernel.ndim - 2
    flipped = kernel[(slice(None, None, -1),) * nd]
    c_group, c_out = kernel.shape[-2], kernel.shape[-1]
    split = flipped.reshape(*kernel.shape[:-2], c_group, groups, c_out // groups)
    swapped = np.moveaxis(split, (-3, -2, -1), (-1, -2, -3))  # (*w, C_out/G, G, C_in/G)
    return np.ascontiguousarray(swapped).reshape(
        *kernel.shape[:-2], c_out // groups, groups * c_group
    )


def _conv_input_grad_impl(
    g: Any,
    kernel: Any,
    input_shape: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> np.ndarray:
    """Transposed convolution: the cotangent of ``x`` (spatial shape ``input_shape``)."""
    g, kernel = np.asarray(g), np.asarray(kernel)
    window = kernel.shape[:-2]
    strides, padding, dilation = canonical_params(len(window), strides, padding, dilation)
    x_shape = (g.shape[0], *input_shape, kernel.shape[-2] * groups)
    _check_conv("conv_input_grad", x_shape, kernel.shape, groups)
    out = output_shape("conv_input_grad", input_shape, window, strides, padding, dilation)
    if g.shape != (g.shape[0], *out, kernel.shape[-1]):
        raise ValueError(
            f"conv_input_grad: cotangent shape {g.shape} does not match the output "
            f"{(g.shape[0], *out, kernel.shape[-1])} of the convolution"
        )
    if all(s == 1 for s in strides):
        # Stride 1: a convolution of the cotangent with the flipped kernel, padded by the
        # rest of the window span. Its im2col + GEMM run in cache, chunk by chunk: ~1.4x
        # faster than the slice-adds below, which read and write the whole input per offset.
        spans = [d * (k - 1) for k, d in zip(window, dilation, strict=True)]
        pads = tuple((s - lo, s - hi) for s, (lo, hi) in zip(spans, padding, strict=True))
        return _correlate(
            g, _flipped_kernel(kernel, groups), strides, pads, dilation, groups, "conv_input_grad"
        )
    # One GEMM per kernel offset (and group), each result laid out like an input slice:
    # (offsets, G, rows, C/G). The slice-adds below then read contiguous memory, which
    # makes them ~3x faster than adding strided columns of one big GEMM's result.
    n_offsets, c_group = math.prod(window), kernel.shape[-2]
    per_offset = kernel.reshape(n_offsets, c_group, groups, -1).transpose(0, 2, 3, 1)
    rows = g.reshape(-1, groups, g.shape[-1] // groups).transpose(1, 0, 2)
    cols = np.matmul(rows, per_offset)
    padded = tuple(n + lo + hi for n, (lo, hi) in zip(input_shape, padding, strict=True))
    dxp = np.zeros((g.shape[0], *padded, groups, c_group), dtype=cols.dtype)
    # col2im: one strided slice-add per kernel offset (windows overlap in general).
    for j, slot in enumerate(window_slots(window, out, strides, dilation)):
        dxp[slot] += np.moveaxis(cols[j].reshape(groups, *g.shape[:-1], c_group), 0, -2)
    return unpad_spatial(dxp.reshape(*dxp.shape[:-2], -1), padding, input_shape)


def _conv_kernel_grad_impl(
    x: Any,
    g: Any,
    window: tuple[int, ...],
    strides: Any = None,
    padding: Any = None,
    dilation: Any = None,
    groups: int = 1,
) -> np.ndarray:
    """The cotangent of the kernel (spatial shape ``window``): patches^T @ cotangent."""
    x, g = np.asarray(x), np.asarray(g)
    strides, padding, dilation = canonical_params(len(window), strides, padding, dilation)
    c_out = g.shape[-1]
    _check_conv("conv_kernel_grad", x.shape, (*window, x.shape[-1] // groups, c_out), groups)
    view, out = _window_view(x, window, strides, padding, dilation, "conv_kernel_grad")
    if g.shape != (x.shape[0], *out, c_out):
        raise ValueError(
            f"conv_kernel_grad: cotangent shape {g.shape} does not match the output "
            f"{(x.shape[0], *out, c_out)} of the convolution"
        )
    c_group = x.shape[-1] // groups
    dtype = np.result_type(x.dtype, g.dtype)
    dk = np.zeros((groups, math.prod(window) * c_group, c_out // groups), dtype)
    patch_bytes = math.prod(out) * math.prod(window) * x.shape[-1] * x.itemsize
    for part in batch_chunks(x.shape[0], patch_bytes):
        cols = _patches(view[part], groups)
        dk += np.matmul(np.swapaxes(cols, -1, -2), _grouped_rows(g[part], groups))
    if groups == 1:
        return dk.reshape(*window, c_group, c_out)
    dk = dk.reshape(groups, *window, c_group, c_out // groups)
    return np.moveaxis(dk, 0, -2).reshape(*window, c_group, c_out)


conv_p = Primitive("conv", _conv_impl, returns="fresh")
conv_input_grad_p = Primitive("conv_input_grad", _conv_input_grad_impl, returns="fresh")
conv_kernel_grad_p = Primitive("conv_kernel_grad", _conv_kernel_grad_impl, returns="fresh")


def _window(kernel: Any) -> tuple[int, ...]:
    return tuple(shape_of(kernel)[:-2])


# conv(x, k) is bilinear: each derivative is another member of the family, linear in the
# cotangent or tangent (<c, conv(x, k)> = <input_grad(c, k), x> = <kernel_grad(x, c), k>).
# The optional bias is added to every output position.
def _conv_vjp_x(g: Any, ans: Any, x: Any, kernel: Any, *bias: Any, **params: Any) -> Any:
    return conv_input_grad_p(g, kernel, input_shape=spatial_shape(x), **params)


def _conv_vjp_kernel(g: Any, ans: Any, x: Any, kernel: Any, *bias: Any, **params: Any) -> Any:
    return conv_kernel_grad_p(x, g, window=_window(kernel), **params)


def _conv_vjp_bias(g: Any, ans: Any, x: Any, kernel: Any, bias: Any, **params: Any) -> Any:
    return sum_leading(g)


def sum_leading(g: Any) -> Any:
    """``g`` summed over every axis but the last, as one matrix-vector product (NumPy's sum
    over the leading axes of a channels-last array is ~10x slower).

    Examples:
        >>> sum_leading(np.ones((2, 3, 4)))
        array([6., 6., 6., 6.])
    """
    shape = shape_of(g)
    rows = math.prod(shape[:-1])
    flat = reshape_p(g, shape=(rows, shape[-1]))
    return matmul_p(np.ones(rows, dtype_of(g)), flat)


conv_p.defvjp(_conv_vjp_x, _conv_vjp_kernel, _conv_vjp_bias)
conv_p.defjvp(
    lambda t, ans, x, kernel, *bias, **params: conv_p(t, kernel, **params),
    lambda t, ans, x, kernel, *bias, **params: conv_p(x, t, **params),
    lambda t, ans, x, kernel, bias, **params: broadcast_to_p(t, shape=shape_of(ans)),
)


def _input_grad_vjp_g(
    c: Any, ans: Any, g: Any, kernel: Any, input_shape: Any, **params: Any
) -> Any:
    return conv_p(c, kernel, **params)


def _input_grad_vjp_kernel(
    c: Any, ans: Any, g: Any, kernel: Any, input_shape: Any, **params: Any
) -> Any:
    return conv_kernel_grad_p(c, g, window=_window(kernel), **params)


conv_input_grad_p.defvjp(_input_grad_vjp_g, _input_grad_vjp_kernel)
conv_input_grad_p.defjvp(
    lambda t, ans, g, kernel, **params: conv_input_grad_p(t, kernel, **params),
    lambda t, ans, g, kernel, **params: conv_input_grad_p(g, t, **params),
)


def _kernel_grad_vjp_x(c: Any, ans: Any, x: Any, g: Any, window: Any, **params: Any) -> Any:
    return conv_input_grad_p(g, c, input_shape=spatial_shape(x), **params)


def _kernel_grad_vjp_g(c: Any, ans: Any, x: Any, g: Any, window: Any, **params: Any) -> Any:
    return conv_p(x, c, **params)


conv_kernel_grad_p.defvjp(_kernel_grad_vjp_x, _kernel_grad_vjp_g)
conv_kernel_grad_p.defjvp(
    lambda t, ans, x, g, **params: conv_kernel_grad_p(t, g, **params),
    lambda t, ans, x, g, **params: conv_kernel_grad_p(x, t, **params),
)
