"""``keras.ops.image``: resizing, cropping, padding, grayscale and patches, differentiable;
with `tapegrad.ops.image_sampling` (``affine_transform``, ``map_coordinates``,
``perspective_transform``, ``elastic_transform``), `tapegrad.ops.image_scaling`
(``scale_and_translate``) and `tapegrad.ops.image_color` (``rgb_to_hsv``, ``hsv_to_rgb``,
``gaussian_blur``, ``sobel_edges``, ``ssim``) re-exported here.

Images are ``(H, W, C)`` or batches ``(N, H, W, C)`` (``data_format="channels_first"``:
``(C, H, W)`` / ``(N, C, H, W)``). ``resize`` samples as ``jax.image.resize`` (half-pixel
centres; bilinear clamps at the border, nearest takes ``floor((i + 0.5) * in / out)``;
bicubic, Lanczos and antialiased resizing use ``jax.image``'s kernel weight matrices),
with gathers or constant weights, so gradients flow to the input pixels.
Keras image ops tapegrad does not have raise an error naming them (`UNSUPPORTED`).

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.image.resize(tg.ops.ones((1, 4, 4, 3)), (2, 8)).shape
    (1, 2, 8, 3)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.ops.activations import float_input
from tapegrad.ops.conv import conv
from tapegrad.ops.image_color import gaussian_blur, hsv_to_rgb, rgb_to_hsv, sobel_edges, ssim
from tapegrad.ops.image_sampling import (
    affine_transform,
    elastic_transform,
    map_coordinates,
    perspective_transform,
)
from tapegrad.ops.image_scaling import resample_axis, scale_and_translate

__all__ = [
    "affine_transform",
    "crop_images",
    "elastic_transform",
    "extract_patches",
    "extract_patches_3d",
    "gaussian_blur",
    "hsv_to_rgb",
    "map_coordinates",
    "pad_images",
    "perspective_transform",
    "resize",
    "scale_and_translate",
    "rgb_to_grayscale",
    "rgb_to_hsv",
    "sobel_edges",
    "ssim",
]

# Keras image ops not implemented here, with the reason (read by the coverage report).
UNSUPPORTED: dict[str, str] = {}


def __getattr__(name: str) -> Any:
    if name in UNSUPPORTED:
        raise NotImplementedError(
            f"tapegrad.ops.image.{name} is not supported: {UNSUPPORTED[name]}"
        )
    raise AttributeError(f"module 'tapegrad.ops.image' has no attribute {name!r}")


def _image_axes(op: str, images: Any, data_format: str | None) -> tuple[int, int, int]:
    """The height, width and channel axes of an image or a batch of images."""
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            f"ops.image.{op}: data_format must be 'channels_last' or 'channels_first', "
            f"got {data_format!r}"
        )
    ndim = len(shape_of(images))
    if ndim not in (3, 4):
        raise ValueError(
            f"ops.image.{op}: expected an image (rank 3) or a batch of images (rank 4), "
            f"got shape {shape_of(images)}"
        )
    if fmt == "channels_last":
        return ndim - 3, ndim - 2, ndim - 1
    return ndim - 2, ndim - 1, ndim - 3


def _resample(x: Any, axis: int, out_size: int, interpolation: str) -> Any:
    """``x`` resized along one axis (bilinear and nearest resizing are separable)."""
    in_size = shape_of(x)[axis]
    if in_size == out_size:
        return x
    scale = in_size / out_size
    centres = (np.arange(out_size) + 0.5) * scale
    if interpolation == "nearest":
        index = np.minimum(np.floor(centres).astype(np.int64), in_size - 1)
        return P.take_p(x, index, axis=axis)
    position = np.clip(centres - 0.5, 0.0, in_size - 1)
    low = np.floor(position).astype(np.int64)
    high = np.minimum(low + 1, in_size - 1)
    shape = [1] * len(shape_of(x))
    shape[axis] = out_size
    weight = (position - low).astype(x.dtype).reshape(shape)
    below, above = P.take_p(x, low, axis=axis), P.take_p(x, high, axis=axis)
    return below + (above - below) * weight


def resize(
    images: Any,
    size: Any,
    interpolation: str = "bilinear",
    antialias: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    fill_mode: str = "constant",
    fill_value: float = 0.0,
    data_format: str | None = None,
) -> Any:
    """Resize images to ``size = (height, width)``.

    Args:
        images: An image or a batch of images.
        size: ``(height, width)`` of the result.
        interpolation: ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"lanczos3"`` or
            ``"lanczos5"`` (the kernels of ``jax.image.resize``).
        antialias: Low-pass filter when downsampling (the kernel stretched by the
            downscaling factor), as ``jax.image.resize``; ignored by ``"nearest"``.
        crop_to_aspect_ratio: Crop the centre to the target aspect ratio first.
        pad_to_aspect_ratio: Pad (with ``fill_value``) to the target aspect ratio first.
        fill_mode: Only ``"constant"``.
        fill_value: The padding value for ``pad_to_aspect_ratio``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Returns:
        The resized images, float (integer images are resized in float32).

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor([[0.0, 2.0]]).reshape(1, 2, 1)
        >>> tg.ops.image.resize(x, (1, 4)).numpy().ravel()
        array([0. , 0.5, 1.5, 2. ], dtype=float32)
    """
    if interpolation not in ("bilinear", "nearest", "bicubic", "lanczos3", "lanczos5"):
        raise ValueError(
            f"ops.image.resize: interpolation {interpolation!r} is not supported ('bilinear', "
            "'nearest', 'bicubic', 'lanczos3' and 'lanczos5' are)"
        )
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(
            "ops.image.resize: only one of crop_to_aspect_ratio and pad_to_aspect_ratio"
        )
    if fill_mode != "constant":
        raise ValueError(f"ops.image.resize: fill_mode must be 'constant', got {fill_mode!r}")
    sizes = tuple(int(s) for s in size)
    if len(sizes) != 2 or min(sizes) < 1:
        raise ValueError(f"ops.image.resize: size must be 2 positive ints, got {size!r}")
    images = float_input(images)
    h_axis, w_axis, _ = _image_axes("resize", images, data_format)
    height, width = shape_of(images)[h_axis], shape_of(images)[w_axis]
    target_h, target_w = sizes
    if crop_to_aspect_ratio:
        # The largest centred window with the target's aspect ratio (Keras's arithmetic).
        crop_h = max(min(height, int(float(width * target_h) / target_w)), 1)
        crop_w = max(min(width, int(float(height * target_w) / target_h)), 1)
        top, left = int(float(height - crop_h) / 2), int(float(width - crop_w) / 2)
        index = [slice(None)] * len(shape_of(images))
        index[h_axis], index[w_axis] = slice(top, top + crop_h), slice(left, left + crop_w)
        images = images[tuple(index)]
    elif pad_to_aspect_ratio:
        # Keras pads the same amount on both sides (an odd difference loses one row).
        pad_h = max(height, int(float(width * target_h) / target_w))
        pad_w = max(width, int(float(height * target_w) / target_h))
        top, left = int(float(pad_h - height) / 2), int(float(pad_w - width) / 2)
        widths = [(0, 0)] * len(shape_of(images))
        widths[h_axis], widths[w_axis] = (top, top), (left, left)
        images = P.pad_p(images, pad_width=tuple(widths), constant_values=fill_value)
    if interpolation == "nearest" or (interpolation == "bilinear" and not antialias):
        out = _resample(images, h_axis, sizes[0], interpolation)
        return _resample(out, w_axis, sizes[1], interpolation)
    # Other kernels (and antialiasing): jax.image.resize's weight matrices.
    out = images
    for axis, size in ((h_axis, sizes[0]), (w_axis, sizes[1])):
        if shape_of(out)[axis] != size:
            scale = size / shape_of(out)[axis]
            out = resample_axis(out, axis, size, scale, 0.0, interpolation, antialias)
    return out


def _sides(op: str, kind: str, before: Any, after: Any, target: Any, size: int) -> tuple[int, int]:
    """(before, amount) from two of (before, after, target); Keras's argument rules."""
    given = [before, after, target]
    if given.count(None) != 1:
        raise ValueError(f"ops.image.{op}: give exactly two of the {kind} arguments, got {given}")
    for value in given:
        if value is not None and int(value) < 0:
            raise ValueError(f"ops.image.{op}: {kind} arguments must be >= 0, got {given}")
    return (int(v) if v is not None else None for v in given)  # type: ignore[return-value]


def crop_images(
    images: Any,
    top_cropping: int | None = None,
    left_cropping: int | None = None,
    bottom_cropping: int | None = None,
    right_cropping: int | None = None,
    target_height: int | None = None,
    target_width: int | None = None,
    data_format: str | None = None,
) -> Any:
    """Crop images; give two of (top, bottom, target height) and of (left, right, width).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.image.crop_images(tg.ops.ones((5, 6, 3)), 1, 2, target_height=2,
        ...                          target_width=3).shape
        (2, 3, 3)
    """
    images = images if isinstance(images, Tensor) else Tensor(images)
    h_axis, w_axis, _ = _image_axes("crop_images", images, data_format)
    height, width = shape_of(images)[h_axis], shape_of(images)[w_axis]
    top, bottom, out_h = _sides(
        "crop_images", "vertical cropping", top_cropping, bottom_cropping, target_height, height
    )
    left, right, out_w = _sides(
        "crop_images", "horizontal cropping", left_cropping, right_cropping, target_width, width
    )
    top = height - out_h - bottom if top is None else top
    out_h = height - top - bottom if out_h is None else out_h
    left = width - out_w - right if left is None else left
    out_w = width - left - right if out_w is None else out_w
    if min(top, left, out_h, out_w) < 0 or top + out_h > height or left + out_w > width:
        raise ValueError(
            f"ops.image.crop_images: the crop (top={top}, left={left}, height={out_h}, "
            f"width={out_w}) does not fit images of {height}x{width}"
        )
    index = [slice(None)] * len(shape_of(images))
    index[h_axis], index[w_axis] = slice(top, top + out_h), slice(left, left + out_w)
    return images[tuple(index)]


def pad_images(
    images: Any,
    top_padding: int | None = None,
    left_padding: int | None = None,
    bottom_padding: int | None = None,
    right_padding: int | None = None,
    target_height: int | None = None,
    target_width: int | None = None,
    data_format: str | None = None,
) -> Any:
    """Zero-pad images; give two of (top, bottom, target height) and of (left, right, width).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.image.pad_images(tg.ops.ones((2, 2, 1)), 1, 0, target_height=4,
        ...                         target_width=3).shape
        (4, 3, 1)
    """
    images = images if isinstance(images, Tensor) else Tensor(images)
    h_axis, w_axis, _ = _image_axes("pad_images", images, data_format)
    height, width = shape_of(images)[h_axis], shape_of(images)[w_axis]
    top, bottom, out_h = _sides(
        "pad_images", "vertical padding", top_padding, bottom_padding, target_height, height
    )
    left, right, out_w = _sides(
        "pad_images", "horizontal padding", left_padding, right_padding, target_width, width
    )
    top = out_h - bottom - height if top is None else top
    bottom = out_h - top - height if bottom is None else bottom
    left = out_w - right - width if left is None else left
    right = out_w - left - width if right is None else right
    if min(top, bottom, left, right) < 0:
        raise ValueError(
            f"ops.image.pad_images: the target size is smaller than images of "
            f"{height}x{width} (top={top}, bottom={bottom}, left={left}, right={right})"
        )
    widths = [(0, 0)] * len(shape_of(images))
    widths[h_axis], widths[w_axis] = (top, bottom), (left, right)
    return P.pad_p(images, pad_width=tuple(widths), constant_values=0)


def rgb_to_grayscale(images: Any, data_format: str | None = None) -> Any:
    """Luma of RGB images, ``0.2989 R + 0.5870 G + 0.1140 B``, keeping a channel axis of 1.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.image.rgb_to_grayscale(tg.ops.ones((2, 2, 3))).numpy()[0, 0].round(4)
        array([0.9999], dtype=float32)
    """
    images = images if isinstance(images, Tensor) else Tensor(images)
    _, _, c_axis = _image_axes("rgb_to_grayscale", images, data_format)
    channels = shape_of(images)[c_axis]
    if channels not in (1, 3):
        raise ValueError(
            f"ops.image.rgb_to_grayscale: expected 1 or 3 channels, got shape {shape_of(images)}"
        )
    if channels == 1:
        return images
    original = images.dtype
    x = float_input(images)
    shape = [1] * len(shape_of(x))
    shape[c_axis] = 3
    weights = np.array([0.2989, 0.5870, 0.1140], dtype=x.dtype).reshape(shape)
    gray = P.sum_p(x * weights, axis=(c_axis,), keepdims=True)
    return gray if gray.dtype == original else P.cast_p(gray, dtype=original)


def _patches(
    op: str,
    images: Any,
    size: Any,
    strides: Any,
    dilation_rate: Any,
    padding: str,
    data_format: str | None,
    spatial: int,
) -> Any:
    """Patches as channels: a convolution with an identity kernel (as Keras computes it)."""
    patch = (size,) * spatial if isinstance(size, int) else tuple(int(s) for s in size)
    if len(patch) != spatial or min(patch) < 1:
        raise ValueError(
            f"ops.image.{op}: size must be a positive int or {spatial} positive ints, got {size!r}"
        )
    images = float_input(images)
    rank = len(shape_of(images))
    if rank not in (spatial + 1, spatial + 2):
        raise ValueError(
            f"ops.image.{op}: expected rank {spatial + 1} or {spatial + 2} inputs, got shape "
            f"{shape_of(images)}"
        )
    fmt = "channels_last" if data_format is None else data_format
    channels = shape_of(images)[-1 if fmt == "channels_last" else -(spatial + 1)]
    depth = int(np.prod(patch)) * channels
    kernel = np.eye(depth, dtype=images.dtype).reshape(*patch, channels, depth)
    unbatched = rank == spatial + 1
    if unbatched:
        images = P.reshape_p(images, shape=(1, *shape_of(images)))
    out = conv(
        images,
        kernel,
        strides=patch if not strides else strides,
        padding=padding,
        data_format=data_format,
        dilation_rate=dilation_rate,
    )
    return P.reshape_p(out, shape=shape_of(out)[1:]) if unbatched else out


def extract_patches(
    images: Any,
    size: Any,
    strides: Any = None,
    dilation_rate: int = 1,
    padding: str = "valid",
    data_format: str | None = None,
) -> Any:
    """Patches of ``size`` as channels: ``(N, out_h, out_w, size_h * size_w * C)``.

    Each patch is flattened in (row, column, channel) order, as Keras (a convolution with
    an identity kernel). ``strides`` defaults to ``size`` (non-overlapping patches). A
    ``size`` of 3 ints extracts 3-D patches of volumes (`extract_patches_3d`), as Keras.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.image.extract_patches(tg.ops.ones((1, 4, 4, 3)), 2).shape
        (1, 2, 2, 12)
    """
    if not isinstance(size, int) and len(size) == 3:
        return extract_patches_3d(images, size, strides, dilation_rate, padding, data_format)
    return _patches(
        "extract_patches", images, size, strides, dilation_rate, padding, data_format, 2
    )


def extract_patches_3d(
    volumes: Any,
    size: Any,
    strides: Any = None,
    dilation_rate: int = 1,
    padding: str = "valid",
    data_format: str | None = None,
) -> Any:
    """3-D patches of volumes ``(N, D, H, W, C)`` as channels (depth, row, column, channel
    order): ``(N, out_d, out_h, out_w, size_d * size_h * size_w * C)``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.image.extract_patches_3d(tg.ops.ones((1, 4, 4, 4, 2)), 2).shape
        (1, 2, 2, 2, 16)
    """
    return _patches(
        "extract_patches_3d", volumes, size, strides, dilation_rate, padding, data_format, 3
    )
