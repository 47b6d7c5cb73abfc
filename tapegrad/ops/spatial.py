"""Keras 3's spatial rearrangements: ``depth_to_space``, ``space_to_depth``, ``unfold``,
``fold`` and the adaptive pools.

Each is gathers and reshapes (`take`, whose gradient is its scatter-add), so everything
here is differentiable and traces; index tables depend on shapes only.

Examples:
    >>> import tapegrad as tg
    >>> x = tg.ops.arange(8.0).reshape(1, 1, 2, 4)
    >>> tg.ops.depth_to_space(x, 2).shape
    (1, 2, 4, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.ops.activations import float_input

__all__ = [
    "adaptive_average_pool",
    "adaptive_max_pool",
    "depth_to_space",
    "fold",
    "space_to_depth",
    "unfold",
]


def _layout(op: str, data_format: str | None) -> bool:
    """Whether the layout is channels-first (None means channels_last, Keras's default)."""
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            f"ops.{op}: data_format must be 'channels_last' or 'channels_first', "
            f"got {data_format!r}"
        )
    return fmt == "channels_first"


def _check_4d(op: str, x: Any) -> tuple[int, int, int, int]:
    shape = shape_of(x)
    if len(shape) != 4:
        raise ValueError(f"ops.{op}: the input must be 4-D, got shape {shape}")
    return shape  # type: ignore[return-value]


def depth_to_space(x: Any, block_size: int, data_format: str = "channels_last") -> Any:
    """Move channel blocks into ``block_size x block_size`` spatial blocks (pixel shuffle).

    Args:
        x: ``(N, H, W, C)`` (or ``(N, C, H, W)`` channels-first), ``C`` divisible by
            ``block_size**2``.
        block_size: The block edge.
        data_format: ``"channels_last"`` or ``"channels_first"``.

    Returns:
        ``(N, H * b, W * b, C / b**2)`` (or channels-first).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.depth_to_space(tg.ops.ones((1, 2, 3, 8)), 2).shape
        (1, 4, 6, 2)
    """
    first = _layout("depth_to_space", data_format)
    x = x if isinstance(x, Tensor) else Tensor(x)
    b = int(block_size)
    if first:
        n, c, h, w = _check_4d("depth_to_space", x)
    else:
        n, h, w, c = _check_4d("depth_to_space", x)
    if b < 1 or c % (b * b):
        raise ValueError(
            f"ops.depth_to_space: channels ({c}) must be divisible by block_size**2 "
            f"(block_size={block_size})"
        )
    new_c = c // (b * b)
    if first:
        x = P.reshape_p(x, shape=(n, new_c, b, b, h, w))
        x = P.transpose_p(x, axes=(0, 1, 4, 2, 5, 3))
        return P.reshape_p(x, shape=(n, new_c, h * b, w * b))
    x = P.reshape_p(x, shape=(n, h, w, b, b, new_c))
    x = P.transpose_p(x, axes=(0, 1, 3, 2, 4, 5))
    return P.reshape_p(x, shape=(n, h * b, w * b, new_c))


def space_to_depth(x: Any, block_size: int, data_format: str = "channels_last") -> Any:
    """Move ``block_size x block_size`` spatial blocks into channels (inverse of
    `depth_to_space`).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.space_to_depth(tg.ops.ones((1, 4, 6, 2)), 2).shape
        (1, 2, 3, 8)
    """
    first = _layout("space_to_depth", data_format)
    x = x if isinstance(x, Tensor) else Tensor(x)
    b = int(block_size)
    if first:
        n, c, h, w = _check_4d("space_to_depth", x)
    else:
        n, h, w, c = _check_4d("space_to_depth", x)
    if b < 1 or h % b or w % b:
        raise ValueError(
            f"ops.space_to_depth: height ({h}) and width ({w}) must be divisible by "
            f"block_size ({block_size})"
        )
    if first:
        x = P.reshape_p(x, shape=(n, c, h // b, b, w // b, b))
        x = P.transpose_p(x, axes=(0, 1, 3, 5, 2, 4))
        return P.reshape_p(x, shape=(n, c * b * b, h // b, w // b))
    x = P.reshape_p(x, shape=(n, h // b, b, w // b, b, c))
    x = P.transpose_p(x, axes=(0, 1, 3, 2, 4, 5))
    return P.reshape_p(x, shape=(n, h // b, w // b, c * b * b))


def _pair(value: Any, name: str, op: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 0:
        raise ValueError(f"ops.{op}: {name} must be an int or 2 non-negative ints, got {value!r}")
    return pair  # type: ignore[return-value]


def _patch_positions(
    height: int,
    width: int,
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    stride: tuple[int, int],
    op: str,
) -> tuple[np.ndarray, int, int]:
    """Flat positions ``(kH, kW, L)`` of every patch element in a padded ``height x width``."""
    out_h = (height - (kernel[0] - 1) * dilation[0] - 1) // stride[0] + 1
    out_w = (width - (kernel[1] - 1) * dilation[1] - 1) // stride[1] + 1
    if out_h < 1 or out_w < 1 or min(stride) < 1 or min(kernel) < 1 or min(dilation) < 1:
        raise ValueError(
            f"ops.{op}: kernel {kernel} with dilation {dilation} and stride {stride} does not "
            f"fit a padded input of {height}x{width}"
        )
    rows = np.arange(kernel[0])[:, None] * dilation[0] + np.arange(out_h)[None, :] * stride[0]
    cols = np.arange(kernel[1])[:, None] * dilation[1] + np.arange(out_w)[None, :] * stride[1]
    flat = rows[:, None, :, None] * width + cols[None, :, None, :]  # (kH, kW, oH, oW)
    return flat.reshape(kernel[0], kernel[1], out_h * out_w), out_h, out_w


def unfold(x: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Any:
    """Sliding local blocks of a channels-first image (PyTorch's ``unfold``, im2col).

    Args:
        x: ``(N, C, H, W)``.
        kernel_size: An int or ``(kH, kW)``.
        dilation: Spacing between kernel elements.
        padding: Zero padding on both sides of each spatial dim.
        stride: Step between blocks.

    Returns:
        ``(N, C * kH * kW, L)``, ``L`` the number of blocks.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.unfold(tg.ops.ones((1, 2, 4, 4)), 2, stride=2).shape
        (1, 8, 4)
    """
    n, c, h, w = _check_4d("unfold", x)
    kernel = _pair(kernel_size, "kernel_size", "unfold")
    dil, pad, step = (
        _pair(v, k, "unfold")
        for v, k in ((dilation, "dilation"), (padding, "padding"), (stride, "stride"))
    )
    x = x if isinstance(x, Tensor) else Tensor(x)
    if max(pad) > 0:
        x = P.pad_p(x, pad_width=((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    height, width = h + 2 * pad[0], w + 2 * pad[1]
    positions, _, _ = _patch_positions(height, width, kernel, dil, step, "unfold")
    flat = P.reshape_p(x, shape=(n, c, height * width))
    patches = P.take_p(flat, positions, axis=2)  # (N, C, kH, kW, L)
    return P.reshape_p(patches, shape=(n, c * kernel[0] * kernel[1], positions.shape[-1]))


def fold(
    x: Any,
    output_size: Any,
    kernel_size: Any,
    dilation: Any = 1,
    padding: Any = 0,
    stride: Any = 1,
) -> Any:
    """Sum sliding local blocks back into an image (PyTorch's ``fold``, col2im; the
    transpose of `unfold`).

    Args:
        x: ``(N, C * kH * kW, L)``.
        output_size: An int or ``(H, W)``.
        kernel_size: An int or ``(kH, kW)``.
        dilation: Spacing between kernel elements.
        padding: The padding `unfold` used (cropped off).
        stride: Step between blocks.

    Returns:
        ``(N, C, H, W)``; overlapping block elements add up.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.fold(tg.ops.unfold(tg.ops.ones((1, 1, 3, 3)), 2), 3, 2).numpy()[0, 0]
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]], dtype=float32)
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    shape = shape_of(x)
    if len(shape) != 3:
        raise ValueError(f"ops.fold: x must be 3-D (N, C*kH*kW, L), got shape {shape}")
    out = _pair(output_size, "output_size", "fold")
    kernel = _pair(kernel_size, "kernel_size", "fold")
    dil, pad, step = (
        _pair(v, k, "fold")
        for v, k in ((dilation, "dilation"), (padding, "padding"), (stride, "stride"))
    )
    n, ckk, length = shape
    if ckk % (kernel[0] * kernel[1]):
        raise ValueError(
            f"ops.fold: x.shape[1] ({ckk}) must be divisible by kH * kW ({kernel[0] * kernel[1]})"
        )
    c = ckk // (kernel[0] * kernel[1])
    height, width = out[0] + 2 * pad[0], out[1] + 2 * pad[1]
    positions, _, _ = _patch_positions(height, width, kernel, dil, step, "fold")
    if positions.shape[-1] != length:
        raise ValueError(
            f"ops.fold: x has {length} blocks, but output_size {out} with these kernel, "
            f"dilation, padding and stride gives {positions.shape[-1]}"
        )
    blocks = P.reshape_p(x, shape=(n, c, kernel[0], kernel[1], length))
    image = P.take_add_p(blocks, positions, axis=2, shape=(n, c, height * width))
    image = P.reshape_p(image, shape=(n, c, height, width))
    return image[:, :, pad[0] : pad[0] + out[0], pad[1] : pad[1] + out[1]]


def _adaptive_pool(op: str, inputs: Any, output_size: Any, data_format: str | None) -> Any:
    first = _layout(op, data_format)
    x = float_input(inputs)
    shape = shape_of(x)
    spatial = len(shape) - 2
    if spatial not in (1, 2, 3):
        raise ValueError(f"ops.{op}: inputs must be 3-D, 4-D or 5-D, got shape {shape}")
    sizes = (output_size,) * spatial if isinstance(output_size, int) else tuple(output_size)
    if len(sizes) != spatial or min(int(s) for s in sizes) < 1:
        raise ValueError(
            f"ops.{op}: output_size must be a positive int or {spatial} positive ints, "
            f"got {output_size!r}"
        )
    reduce = P.max_p if op == "adaptive_max_pool" else None
    first_axis = 2 if first else 1
    # Rectangular windows: pooling one spatial axis after another gives the same result.
    for k, out_len in enumerate(int(s) for s in sizes):
        axis = first_axis + k
        length = shape_of(x)[axis]
        pieces = []
        for i in range(out_len):
            # PyTorch's (and Keras's) windows: [floor(i L / n), ceil((i + 1) L / n)).
            start = (i * length) // out_len
            stop = -((-(i + 1) * length) // out_len)
            window = x[(slice(None),) * axis + (slice(start, stop),)]
            if reduce is not None:
                pieces.append(reduce(window, axis=(axis,), keepdims=True))
            else:
                total = P.sum_p(window, axis=(axis,), keepdims=True)
                pieces.append(total / np.asarray(stop - start, x.dtype))
        x = P.concatenate_p(*pieces, axis=axis)
    return x


def adaptive_average_pool(inputs: Any, output_size: Any, data_format: str | None = None) -> Any:
    """Average pooling to a fixed output size (windows as PyTorch's ``AdaptiveAvgPool``).

    Args:
        inputs: ``(N, *spatial, C)`` (or channels-first), 1 to 3 spatial dims.
        output_size: An int or one int per spatial dim.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Returns:
        The pooled tensor.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.ops.arange(5.0).reshape(1, 5, 1)
        >>> tg.ops.adaptive_average_pool(x, 2).numpy().ravel()
        array([1., 3.], dtype=float32)
    """
    return _adaptive_pool("adaptive_average_pool", inputs, output_size, data_format)


def adaptive_max_pool(inputs: Any, output_size: Any, data_format: str | None = None) -> Any:
    """Max pooling to a fixed output size (windows as PyTorch's ``AdaptiveMaxPool``).

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.ops.arange(5.0).reshape(1, 5, 1)
        >>> tg.ops.adaptive_max_pool(x, 2).numpy().ravel()
        array([2., 4.], dtype=float32)
    """
    return _adaptive_pool("adaptive_max_pool", inputs, output_size, data_format)
