"""Resampling at computed coordinates: ``map_coordinates``, ``affine_transform`` and
``perspective_transform`` (``keras.ops.image``), as ``jax.scipy.ndimage.map_coordinates``
computes them.

Each output value is a weighted sum of gathered input values: order 0 takes the nearest
sample (rounded half away from zero), order 1 the ``2**ndim`` corners with linear
weights. Out-of-range indices follow ``fill_mode``: ``"constant"`` (``fill_value``),
``"nearest"`` (clamped), ``"wrap"``, ``"mirror"`` (``abcd|cba``) or ``"reflect"``
(``abcd|dcba``). Indices are computed with primitives, so the result is differentiable
with respect to the input and (order 1) the coordinates, and traces.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.image.map_coordinates(tg.tensor([0.0, 10.0, 20.0]), [[0.5, 1.25]], 1).numpy()
    array([ 5. , 12.5], dtype=float32)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.numpy.linalg import solve
from tapegrad.ops.activations import float_input
from tapegrad.ops.core import concrete_value
from tapegrad.ops.image_color import gaussian_blur
from tapegrad.random import normal

__all__ = ["affine_transform", "elastic_transform", "map_coordinates", "perspective_transform"]

FILL_MODES = ("constant", "nearest", "wrap", "mirror", "reflect")
_INT = np.dtype(np.int64)


def _mirror(index: Any, size: int) -> Any:
    if size == 1:
        return P.multiply_p(index, 0)
    period = size - 1  # the half-wavelength of a triangular wave over the samples
    return P.abs_p(P.remainder_p(index + period, 2 * period) - period)


def _reflect(index: Any, size: int) -> Any:
    return P.floor_divide_p(_mirror(2 * index + 1, 2 * size + 1) - 1, 2)


_FIXERS: dict[str, Callable[[Any, int], Any]] = {
    "constant": lambda index, size: index,
    "nearest": lambda index, size: P.clip_p(index, 0, size - 1),
    "wrap": lambda index, size: P.remainder_p(index, size),
    "mirror": _mirror,
    "reflect": _reflect,
}


def _round_half_away(x: Any) -> Any:
    return P.sign_p(x) * P.floor_p(P.abs_p(x) + np.asarray(0.5, x.dtype))


def _corners(coordinate: Any, order: int) -> list[tuple[Any, Any]]:
    """(integer index, weight) pairs of one axis."""
    if order == 0:
        return [(P.cast_p(_round_half_away(coordinate), dtype=_INT), None)]
    lower = P.floor_p(coordinate)
    upper_weight = coordinate - lower
    index = P.cast_p(lower, dtype=_INT)
    return [(index, np.asarray(1, coordinate.dtype) - upper_weight), (index + 1, upper_weight)]


def _sample(
    values: Any, per_axis: list[list[tuple[Any, Any]]], fill_mode: str, fill_value: float
) -> Any:
    """Sum over corner combinations of weight * value (``fill_value`` outside, if constant)."""
    shape = shape_of(values)
    flat = P.reshape_p(values, shape=(-1,))
    strides = np.cumprod((1,) + shape[:0:-1])[::-1]
    fixer = _FIXERS[fill_mode]
    fill = np.asarray(fill_value, values.dtype)
    total = None
    for combination in itertools.product(*per_axis):
        position: Any = 0
        valid: Any = True
        weight: Any = None
        for axis, (index, w) in enumerate(combination):
            fixed = fixer(index, shape[axis])
            if fill_mode == "constant":
                inside = P.logical_and_p(P.greater_equal_p(fixed, 0), P.less_p(fixed, shape[axis]))
                valid = inside if valid is True else P.logical_and_p(valid, inside)
                fixed = P.clip_p(fixed, 0, shape[axis] - 1)
            position = position + fixed * int(strides[axis])
            if w is not None:
                weight = w if weight is None else weight * w
        picked = P.take_p(flat, position, axis=0)
        if valid is not True:
            picked = P.where_p(valid, picked, fill)
        term = picked if weight is None else picked * weight
        total = term if total is None else total + term
    return total


def map_coordinates(
    inputs: Any, coordinates: Any, order: int, fill_mode: str = "constant", fill_value: float = 0
) -> Any:
    """Values of ``inputs`` at fractional ``coordinates`` (``jax.scipy.ndimage`` semantics).

    Args:
        inputs: An N-d array.
        coordinates: ``(N, ...)``: one coordinate array per axis of ``inputs``.
        order: 0 (nearest) or 1 (linear).
        fill_mode: ``"constant"``, ``"nearest"``, ``"wrap"``, ``"mirror"`` or ``"reflect"``.
        fill_value: The value outside the input with ``"constant"``.

    Returns:
        An array shaped as ``coordinates[0]``, float (integer inputs are rounded back to
        their dtype, as JAX).

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor([[0.0, 1.0], [2.0, 3.0]])
        >>> tg.ops.image.map_coordinates(x, [[0.5], [0.5]], 1).numpy()
        array([1.5], dtype=float32)
    """
    if order not in (0, 1):
        raise ValueError(f"ops.image.map_coordinates: order must be 0 or 1, got {order!r}")
    if fill_mode not in FILL_MODES:
        raise ValueError(
            f"ops.image.map_coordinates: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}"
        )
    original = inputs.dtype if isinstance(inputs, Tensor) else np.asarray(inputs).dtype
    values = float_input(inputs)
    coords = coordinates if isinstance(coordinates, Tensor) else Tensor(np.asarray(coordinates))
    if coords.dtype != values.dtype:
        coords = P.cast_p(coords, dtype=values.dtype)
    if len(shape_of(coords)) < 2 or shape_of(coords)[0] != len(shape_of(values)):
        raise ValueError(
            f"ops.image.map_coordinates: coordinates must have shape (rank, ...) with rank "
            f"{len(shape_of(values))} for inputs of shape {shape_of(values)}, got "
            f"{shape_of(coords)}"
        )
    per_axis = [_corners(coords[axis], order) for axis in range(shape_of(coords)[0])]
    out = _sample(values, per_axis, fill_mode, fill_value)
    if original.kind in "iub":
        return P.cast_p(_round_half_away(out), dtype=original)
    return out


def affine_transform(
    images: Any,
    transform: Any,
    interpolation: str = "bilinear",
    fill_mode: str = "constant",
    fill_value: float = 0,
    data_format: str | None = None,
) -> Any:
    """Apply affine transforms to images, as ``keras.ops.image.affine_transform``.

    ``transform = [a0, a1, a2, b0, b1, b2, c0, c1]`` maps each output pixel ``(x, y)`` to
    the input point ``(a0 x + a1 y + a2, b0 x + b1 y + b2)`` (``c0``, ``c1`` enter as in
    Keras's implementation: they are 0 for affine transforms).

    Args:
        images: An image ``(H, W, C)`` or a batch ``(N, H, W, C)`` (or channels-first).
        transform: 8 values, or ``(N, 8)`` one per image.
        interpolation: ``"bilinear"`` or ``"nearest"``.
        fill_mode: ``"constant"``, ``"nearest"``, ``"wrap"``, ``"mirror"`` or ``"reflect"``.
        fill_value: The value outside the image with ``"constant"``.
        data_format: ``"channels_last"`` (default) or ``"channels_first"``.

    Returns:
        The transformed images, differentiable with respect to images and transforms.

    Examples:
        >>> import tapegrad as tg
        >>> shift = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]  # read from x + 1
        >>> image = tg.tensor([[1.0, 2.0, 3.0]]).reshape(1, 3, 1)
        >>> tg.ops.image.affine_transform(image, shift).numpy().ravel()
        array([2., 3., 0.], dtype=float32)
    """
    orders = {"nearest": 0, "bilinear": 1}
    if interpolation not in orders:
        raise ValueError(
            "ops.image.affine_transform: interpolation must be 'nearest' or 'bilinear', "
            f"got {interpolation!r}"
        )
    if fill_mode not in FILL_MODES:
        raise ValueError(
            f"ops.image.affine_transform: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}"
        )
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            "ops.image.affine_transform: data_format must be 'channels_last' or "
            f"'channels_first', got {data_format!r}"
        )
    images = float_input(images)
    transform = float_input(transform)
    if transform.dtype != images.dtype:
        transform = P.cast_p(transform, dtype=images.dtype)
    rank = len(shape_of(images))
    if rank not in (3, 4) or len(shape_of(transform)) not in (1, 2) or shape_of(transform)[-1] != 8:
        raise ValueError(
            "ops.image.affine_transform: expected images of rank 3 or 4 and transforms of "
            f"shape (8,) or (N, 8), got {shape_of(images)} and {shape_of(transform)}"
        )
    if rank == 3:
        images = P.reshape_p(images, shape=(1, *shape_of(images)))
    if fmt == "channels_first":
        images = P.transpose_p(images, axes=(0, 2, 3, 1))
    n, h, w, c = shape_of(images)
    if len(shape_of(transform)) == 1:
        transform = P.reshape_p(transform, shape=(1, 8))
    if shape_of(transform)[0] not in (1, n):
        raise ValueError(
            f"ops.image.affine_transform: {shape_of(transform)[0]} transforms for {n} images"
        )
    # Per-image coefficients broadcast over (H, W, C).
    coefficient = [P.reshape_p(transform[:, k], shape=(-1, 1, 1, 1)) for k in range(8)]
    a0, a1, a2, b0, b1, b2, c0, c1 = coefficient
    y = np.arange(h, dtype=images.dtype).reshape(1, h, 1, 1)
    x = np.arange(w, dtype=images.dtype).reshape(1, 1, w, 1)
    ch = np.arange(c, dtype=images.dtype).reshape(1, 1, 1, c)
    full = (n, h, w, c)
    row = P.broadcast_to_p(b0 * x + b1 * y + b2 + c0 * ch, shape=full)
    column = P.broadcast_to_p(a0 * x + a1 * y + a2 + c1 * ch, shape=full)
    batch = np.broadcast_to(np.arange(n).reshape(n, 1, 1, 1), full)
    channel = np.broadcast_to(np.arange(c).reshape(1, 1, 1, c), full)
    order = orders[interpolation]
    per_axis = [[(batch, None)], _corners(row, order), _corners(column, order), [(channel, None)]]
    out = _sample(images, per_axis, fill_mode, fill_value)
    if fmt == "channels_first":
        out = P.transpose_p(out, axes=(0, 3, 1, 2))
    return P.reshape_p(out, shape=shape_of(out)[1:]) if rank == 3 else out


def _homographies(start: Any, end: Any) -> Any:
    """The 8 coefficients mapping ``end`` points to ``start`` points (Keras's system)."""
    sx, sy, ex, ey = start[..., 0], start[..., 1], end[..., 0], end[..., 1]
    zeros, ones = ex * 0, ex * 0 + 1
    x_rows = [ex, ey, ones, zeros, zeros, zeros, -sx * ex, -sx * ey]
    y_rows = [zeros, zeros, zeros, ex, ey, ones, -sy * ex, -sy * ey]

    def stack_last(parts: list[Any]) -> Any:
        shape = shape_of(parts[0])
        return P.concatenate_p(*[P.reshape_p(p, shape=(*shape, 1)) for p in parts], axis=-1)

    matrix = P.concatenate_p(stack_last(x_rows), stack_last(y_rows), axis=1)  # (B, 8, 8)
    target = P.reshape_p(P.concatenate_p(sx, sy, axis=-1), shape=(shape_of(sx)[0], 8, 1))
    return P.reshape_p(solve(matrix, target), shape=(shape_of(sx)[0], 8))


def perspective_transform(
    images: Any,
    start_points: Any,
    end_points: Any,
    interpolation: str = "bilinear",
    fill_value: float = 0,
    data_format: str | None = None,
) -> Any:
    """Warp images so the 4 ``start_points`` land on the 4 ``end_points`` (``(x, y)``
    pixel coordinates, ``(4, 2)`` or ``(N, 4, 2)``), as ``keras.ops.image``.

    Each output pixel samples the input at the homography of its position (constant
    ``fill_value`` outside). Differentiable with respect to the images and the points.

    Examples:
        >>> import tapegrad as tg
        >>> corners = [[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]]
        >>> image = tg.ops.arange(9.0).reshape(3, 3, 1)
        >>> out = tg.ops.image.perspective_transform(image, corners, corners)
        >>> bool((out.numpy() == image.numpy()).all())
        True
    """
    orders = {"nearest": 0, "bilinear": 1}
    if interpolation not in orders:
        raise ValueError(
            "ops.image.perspective_transform: interpolation must be 'nearest' or 'bilinear', "
            f"got {interpolation!r}"
        )
    fmt = "channels_last" if data_format is None else data_format
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(
            "ops.image.perspective_transform: data_format must be 'channels_last' or "
            f"'channels_first', got {data_format!r}"
        )
    images = float_input(images)
    start, end = float_input(start_points), float_input(end_points)
    for name, points in (("start_points", start), ("end_points", end)):
        if shape_of(points)[-2:] != (4, 2) or len(shape_of(points)) not in (2, 3):
            raise ValueError(
                f"ops.image.perspective_transform: {name} must have shape (4, 2) or "
                f"(N, 4, 2), got {shape_of(points)}"
            )
    if shape_of(start) != shape_of(end):
        raise ValueError(
            "ops.image.perspective_transform: start_points and end_points differ in shape: "
            f"{shape_of(start)} and {shape_of(end)}"
        )
    rank = len(shape_of(images))
    if rank not in (3, 4):
        raise ValueError(
            "ops.image.perspective_transform: expected images of rank 3 or 4, got shape "
            f"{shape_of(images)}"
        )
    if rank == 3:
        images = P.reshape_p(images, shape=(1, *shape_of(images)))
    if fmt == "channels_first":
        images = P.transpose_p(images, axes=(0, 2, 3, 1))
    if len(shape_of(start)) == 2:
        start, end = P.reshape_p(start, shape=(1, 4, 2)), P.reshape_p(end, shape=(1, 4, 2))
    n, h, w, c = shape_of(images)
    # Keras solves for the homography in float32.
    f32 = np.dtype(np.float32)
    t = _homographies(P.cast_p(start, dtype=f32), P.cast_p(end, dtype=f32))
    if t.dtype != images.dtype:
        t = P.cast_p(t, dtype=images.dtype)
    if shape_of(t)[0] not in (1, n):
        raise ValueError(
            f"ops.image.perspective_transform: {shape_of(t)[0]} point sets for {n} images"
        )
    coefficient = [P.reshape_p(t[:, k], shape=(-1, 1, 1, 1)) for k in range(8)]
    y = np.arange(h, dtype=images.dtype).reshape(1, h, 1, 1)
    x = np.arange(w, dtype=images.dtype).reshape(1, 1, w, 1)
    denominator = coefficient[6] * x + coefficient[7] * y + np.asarray(1, images.dtype)
    full = (n, h, w, c)
    column = P.broadcast_to_p(
        (coefficient[0] * x + coefficient[1] * y + coefficient[2]) / denominator, shape=full
    )
    row = P.broadcast_to_p(
        (coefficient[3] * x + coefficient[4] * y + coefficient[5]) / denominator, shape=full
    )
    batch = np.broadcast_to(np.arange(n).reshape(n, 1, 1, 1), full)
    channel = np.broadcast_to(np.arange(c).reshape(1, 1, 1, c), full)
    order = orders[interpolation]
    per_axis = [[(batch, None)], _corners(row, order), _corners(column, order), [(channel, None)]]
    out = _sample(images, per_axis, "constant", fill_value)
    if fmt == "channels_first":
        out = P.transpose_p(out, axes=(0, 3, 1, 2))
    return P.reshape_p(out, shape=shape_of(out)[1:]) if rank == 3 else out


def elastic_transform(
    images: Any,
    alpha: float = 20.0,
    sigma: float = 5.0,
    interpolation: str = "bilinear",
    fill_mode: str = "reflect",
    fill_value: float = 0.0,
    seed: Any = None,
    data_format: str | None = None,
) -> Any:
    """Elastic distortion: each pixel samples the input displaced by a random field,
    normal noise (``stddev=sigma``) smoothed by a Gaussian of ``sigma`` (kernel
    ``int(6 sigma) | 1``) and scaled by ``alpha``, as ``keras.ops.image``.

    The two displacement components are independent draws (Keras 3.15's JAX backend
    draws both from one seed, so its fields are equal). ``seed`` is an int, a
    `tapegrad.random.SeedGenerator` or None (the global generator), as in
    `tapegrad.random`.

    Examples:
        >>> import tapegrad as tg
        >>> image = tg.ops.ones((6, 6, 1))
        >>> out = tg.ops.image.elastic_transform(image, alpha=2.0, sigma=1.0, seed=1)
        >>> out.shape, bool((out.numpy() == 1.0).all())  # a constant image stays constant
        ((6, 6, 1), True)
    """
    orders = {"nearest": 0, "bilinear": 1}
    if interpolation not in orders:
        raise ValueError(
            "ops.image.elastic_transform: interpolation must be 'nearest' or 'bilinear', "
            f"got {interpolation!r}"
        )
    if fill_mode not in FILL_MODES:
        raise ValueError(
            f"ops.image.elastic_transform: fill_mode must be one of {FILL_MODES}, got {fill_mode!r}"
        )
    fmt = "channels_last" if data_format is None else data_format
    images = float_input(images)
    rank = len(shape_of(images))
    if rank not in (3, 4):
        raise ValueError(
            "ops.image.elastic_transform: expected images of rank 3 or 4, got shape "
            f"{shape_of(images)}"
        )
    if rank == 3:
        images = P.reshape_p(images, shape=(1, *shape_of(images)))
    if fmt == "channels_first":
        images = P.transpose_p(images, axes=(0, 2, 3, 1))
    n, h, w, c = shape_of(images)
    spread = float(concrete_value(sigma, "ops.image.elastic_transform's sigma"))
    size = int(6 * spread) | 1
    fields = []
    for _ in range(2):
        noise = normal((n, h, w, 1), stddev=spread, dtype=images.dtype, seed=seed)
        smooth = gaussian_blur(noise, kernel_size=(size, size), sigma=(spread, spread))
        fields.append(P.reshape_p(smooth, shape=(n, h, w, 1)) * np.asarray(alpha, images.dtype))
    y = np.arange(h, dtype=images.dtype).reshape(1, h, 1, 1)
    x = np.arange(w, dtype=images.dtype).reshape(1, 1, w, 1)
    full = (n, h, w, c)
    column = P.broadcast_to_p(x + fields[0], shape=full)
    row = P.broadcast_to_p(y + fields[1], shape=full)
    batch = np.broadcast_to(np.arange(n).reshape(n, 1, 1, 1), full)
    channel = np.broadcast_to(np.arange(c).reshape(1, 1, 1, c), full)
    order = orders[interpolation]
    per_axis = [[(batch, None)], _corners(row, order), _corners(column, order), [(channel, None)]]
    out = _sample(images, per_axis, fill_mode, fill_value)
    if fmt == "channels_first":
        out = P.transpose_p(out, axes=(0, 3, 1, 2))
    return P.reshape_p(out, shape=shape_of(out)[1:]) if rank == 3 else out
