"""Colour-space conversions and filters of ``keras.ops.image``: ``rgb_to_hsv``,
``hsv_to_rgb`` (dm_pix's formulas, as Keras), ``gaussian_blur``, ``sobel_edges`` and
``ssim``.

Elementwise primitives and depthwise convolutions, so all are differentiable and trace.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.image.rgb_to_hsv(tg.tensor([[[1.0, 0.0, 0.0]]])).numpy()
    array([[[0., 1., 1.]]], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.ops.activations import float_input
from tapegrad.ops.conv import depthwise_conv

__all__ = ["gaussian_blur", "hsv_to_rgb", "rgb_to_hsv", "sobel_edges", "ssim"]


def _channel_axis(op: str, images: Any, data_format: str | None) -> int:
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            f"ops.image.{op}: data_format must be 'channels_last' or 'channels_first', "
            f"got {data_format!r}"
        )
    rank = len(shape_of(images))
    if rank not in (3, 4):
        raise ValueError(
            f"ops.image.{op}: expected an image (rank 3) or a batch of images (rank 4), "
            f"got shape {shape_of(images)}"
        )
    return rank - 1 if fmt == "channels_last" else rank - 3


def _float_images(op: str, images: Any) -> Any:
    """Float images as they are; Keras refuses integer images in colour conversions."""
    images = images if isinstance(images, Tensor) else Tensor(images)
    if images.dtype.kind != "f":
        raise ValueError(f"ops.image.{op}: images must be floats, got dtype {images.dtype}")
    return images


def _planes(op: str, images: Any, axis: int) -> list[Any]:
    if shape_of(images)[axis] != 3:
        raise ValueError(f"ops.image.{op}: expected 3 channels, got shape {shape_of(images)}")
    index = (slice(None),) * axis
    return [images[index + (k,)] for k in range(3)]


def _stack(planes: list[Any], axis: int) -> Any:
    shape = shape_of(planes[0])
    expanded = [P.reshape_p(p, shape=shape[:axis] + (1,) + shape[axis:]) for p in planes]
    return P.concatenate_p(*expanded, axis=axis)


def rgb_to_hsv(images: Any, data_format: str | None = None) -> Any:
    """RGB (in ``[0, 1]``) to hue, saturation and value, each in ``[0, 1]``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.image.rgb_to_hsv(tg.tensor([[[0.0, 0.5, 0.5]]])).numpy().round(4)
        array([[[0.5, 1. , 0.5]]], dtype=float32)
    """
    images = _float_images("rgb_to_hsv", images)
    axis = _channel_axis("rgb_to_hsv", images, data_format)
    dtype = images.dtype
    zero, one = np.asarray(0, dtype), np.asarray(1, dtype)
    # Tiny values count as 0, as Keras (dm_pix) does.
    images = P.where_p(P.less_p(P.abs_p(images), np.finfo(dtype).eps), zero, images)
    r, g, b = _planes("rgb_to_hsv", images, axis)
    value = P.maximum_p(P.maximum_p(r, g), b)
    spread = value - P.minimum_p(P.minimum_p(r, g), b)
    safe_value = P.where_p(P.greater_p(value, 0), value, one)
    safe_spread = P.where_p(P.greater_p(spread, 0), spread, one)
    saturation = P.where_p(P.greater_p(value, 0), spread / safe_value, zero)
    norm = one / (np.asarray(6, dtype) * safe_spread)
    hue = P.where_p(
        P.equal_p(value, g),
        norm * (b - r) + np.asarray(2 / 6, dtype),
        norm * (r - g) + np.asarray(4 / 6, dtype),
    )
    hue = P.where_p(P.equal_p(value, r), norm * (g - b), hue)
    hue = P.where_p(P.greater_p(spread, 0), hue, zero) + P.cast_p(P.less_p(hue, 0), dtype=dtype)
    return _stack([hue, saturation, value], axis)


def hsv_to_rgb(images: Any, data_format: str | None = None) -> Any:
    """Hue, saturation and value (each in ``[0, 1]``) to RGB.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.image.hsv_to_rgb(tg.tensor([[[0.5, 1.0, 0.5]]])).numpy()
        array([[[0. , 0.5, 0.5]]], dtype=float32)
    """
    images = _float_images("hsv_to_rgb", images)
    axis = _channel_axis("hsv_to_rgb", images, data_format)
    dtype = images.dtype
    hue, saturation, value = _planes("hsv_to_rgb", images, axis)

    def const(v: float) -> np.ndarray:
        return np.asarray(v, dtype)

    sixths = P.remainder_p(hue, const(1)) * const(6)
    dr = P.clip_p(P.abs_p(sixths - const(3)) - const(1), const(0), const(1))
    dg = P.clip_p(const(2) - P.abs_p(sixths - const(2)), const(0), const(1))
    db = P.clip_p(const(2) - P.abs_p(sixths - const(4)), const(0), const(1))
    grey = const(1) - saturation
    planes = [value * (grey + saturation * d) for d in (dr, dg, db)]
    return _stack(planes, axis)


def _depthwise(op: str, images: Any, kernel: Any, data_format: str | None) -> Any:
    """Each channel convolved with the same 2-D ``kernel`` (``"same"`` padding)."""
    axis = _channel_axis(op, images, data_format)
    rank = len(shape_of(images))
    if rank == 3:
        images = P.reshape_p(images, shape=(1, *shape_of(images)))
        axis += 1
    channels = shape_of(images)[axis]
    kh, kw = shape_of(kernel)
    per_channel = P.broadcast_to_p(
        P.reshape_p(kernel, shape=(kh, kw, 1, 1)), shape=(kh, kw, channels, 1)
    )
    out = depthwise_conv(images, per_channel, padding="same", data_format=data_format)
    return P.reshape_p(out, shape=shape_of(out)[1:]) if rank == 3 else out


def _gaussian_1d(size: int, sigma: Any, dtype: np.dtype) -> Any:
    offsets = np.arange(size, dtype=dtype) - np.asarray((size - 1) / 2, dtype)
    weights = P.exp_p(np.asarray(-0.5, dtype) * P.square_p(offsets / sigma))
    return weights / P.sum_p(weights, axis=(0,), keepdims=True)


def gaussian_blur(
    images: Any,
    kernel_size: tuple[int, int] = (3, 3),
    sigma: tuple[float, float] = (1.0, 1.0),
    data_format: str | None = None,
) -> Any:
    """Blur each channel with a Gaussian kernel (``"same"`` padding with zeros).

    As Keras: ``kernel_size[0]`` and ``sigma[0]`` shape the kernel along the width,
    ``kernel_size[1]`` and ``sigma[1]`` along the height. ``sigma`` may be a tensor.

    Examples:
        >>> import tapegrad as tg
        >>> out = tg.ops.image.gaussian_blur(tg.ops.ones((5, 5, 1)))
        >>> float(out[2, 2, 0])
        1.0
    """
    images = float_input(images)
    sizes = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if len(sizes) != 2 or min(int(s) for s in sizes) < 1:
        raise ValueError(
            f"ops.image.gaussian_blur: kernel_size must be 2 positive ints, got {kernel_size!r}"
        )
    sigmas = float_input(sigma)
    if sigmas.dtype != images.dtype:
        sigmas = P.cast_p(sigmas, dtype=images.dtype)
    sigmas = P.broadcast_to_p(sigmas, shape=(2,))
    across = _gaussian_1d(int(sizes[0]), sigmas[0], images.dtype)
    down = _gaussian_1d(int(sizes[1]), sigmas[1], images.dtype)
    kernel = P.reshape_p(down, shape=(-1, 1)) * P.reshape_p(across, shape=(1, -1))
    return _depthwise("gaussian_blur", images, kernel, data_format)


def sobel_edges(images: Any, data_format: str | None = None) -> Any:
    """Sobel derivatives of each channel, stacked on a new last axis as ``[dy, dx]``
    (zero padding; Keras's layout).

    Examples:
        >>> import tapegrad as tg
        >>> edges = tg.ops.image.sobel_edges(tg.ops.ones((1, 4, 4, 1)))
        >>> edges.shape, edges.numpy()[0, 0, 1, 0].tolist(), edges.numpy()[0, 1, 1, 0].tolist()
        ((1, 4, 4, 1, 2), [4.0, 0.0], [0.0, 0.0])
    """
    images = float_input(images)
    along_y = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], dtype=images.dtype)
    gy = _depthwise("sobel_edges", images, along_y, data_format)
    gx = _depthwise("sobel_edges", images, np.ascontiguousarray(along_y.T), data_format)
    return _stack([gy, gx], len(shape_of(gy)))


def ssim(
    image1: Any,
    image2: Any,
    max_val: float = 1.0,
    filter_size: int = 11,
    filter_sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    data_format: str | None = None,
) -> Any:
    """Structural similarity of two images (or batches), as Keras computes it: Gaussian
    local statistics over ``filter_size`` windows (``"valid"`` positions), the SSIM map
    averaged over positions and channels.

    Args:
        image1: ``(H, W, C)`` or ``(N, H, W, C)`` (or channels-first).
        image2: The same shape.
        max_val: The dynamic range (1 for images in ``[0, 1]``).
        filter_size: The Gaussian window's size.
        filter_sigma: Its standard deviation.
        k1: The luminance constant factor.
        k2: The contrast constant factor.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Returns:
        A scalar, or one value per image.

    Examples:
        >>> import tapegrad as tg
        >>> image = tg.ops.linspace(0.0, 1.0, 12 * 12 * 3).reshape(12, 12, 3)
        >>> float(tg.ops.image.ssim(image, image))
        1.0
    """
    original = image1.dtype if isinstance(image1, Tensor) else np.asarray(image1).dtype
    x, y = float_input(image1), float_input(image2)
    if y.dtype != x.dtype:
        y = P.cast_p(y, dtype=x.dtype)
    _channel_axis("ssim", x, data_format)
    if shape_of(x) != shape_of(y):
        raise ValueError(
            f"ops.image.ssim: the images differ in shape: {shape_of(x)} and {shape_of(y)}"
        )
    unbatched = len(shape_of(x)) == 3
    if unbatched:
        x, y = P.reshape_p(x, shape=(1, *shape_of(x))), P.reshape_p(y, shape=(1, *shape_of(y)))
    if data_format == "channels_first":
        x, y = P.transpose_p(x, axes=(0, 2, 3, 1)), P.transpose_p(y, axes=(0, 2, 3, 1))
    n, h, w, c = shape_of(x)
    if min(h, w) < filter_size:
        raise ValueError(
            f"ops.image.ssim: images of {h}x{w} are smaller than filter_size={filter_size}"
        )
    dtype = x.dtype
    offsets = np.arange(filter_size) - (filter_size - 1) / 2
    g = np.exp(-(offsets**2) / (2.0 * filter_sigma**2))
    g = g / g.sum()
    kernel = np.broadcast_to(np.outer(g, g)[:, :, None, None], (filter_size, filter_size, c, 1))
    kernel = np.ascontiguousarray(kernel, dtype=dtype)

    def local_mean(t: Any) -> Any:
        return depthwise_conv(t, kernel, padding="valid")

    mu1, mu2 = local_mean(x), local_mean(y)
    var1 = local_mean(x * x) - mu1 * mu1
    var2 = local_mean(y * y) - mu2 * mu2
    covariance = local_mean(x * y) - mu1 * mu2
    c1, c2 = np.asarray((k1 * max_val) ** 2, dtype), np.asarray((k2 * max_val) ** 2, dtype)
    two = np.asarray(2, dtype)
    ssim_map = ((two * mu1 * mu2 + c1) * (two * covariance + c2)) / (
        (mu1 * mu1 + mu2 * mu2 + c1) * (var1 + var2 + c2)
    )
    per_image = P.sum_p(ssim_map, axis=(1, 2, 3), keepdims=False) / np.asarray(
        int(np.prod(shape_of(ssim_map)[1:])), dtype
    )
    result = P.reshape_p(per_image, shape=()) if unbatched else per_image
    return result if original.kind == "f" else P.cast_p(result, dtype=original)
