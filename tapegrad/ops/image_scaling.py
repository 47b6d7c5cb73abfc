"""Kernel resampling as ``jax.image.scale_and_translate`` (and so ``jax.image.resize``)
computes it: ``scale_and_translate`` and the ``bicubic``/``lanczos3``/``lanczos5`` and
antialiased modes of ``resize`` (``keras.ops.image``).

Along each resampled axis the output is the input contracted with a constant weight
matrix: output sample ``i`` sits at input position ``(i + 0.5 - translation) / scale -
0.5``, weighted by the kernel (stretched by ``1 / scale`` when downsampling with
``antialias``), normalized, and zero when the position falls outside the input. The
contraction is a matrix product, so results are differentiable in the images.

Examples:
    >>> import tapegrad as tg
    >>> x = tg.tensor([0.0, 1.0, 2.0, 3.0]).reshape(1, 4, 1)
    >>> half = tg.ops.image.scale_and_translate(x, (1, 2, 1), [0.5], [0.0], (1,), "linear",
    ...                                         antialias=False)
    >>> half.numpy().ravel()
    array([0.5, 2.5], dtype=float32)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import shape_of
from tapegrad.ops.activations import float_input
from tapegrad.ops.core import concrete_value

__all__ = ["resample_axis", "scale_and_translate"]


def _triangle(x: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.abs(x))


def _keys_cubic(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    out = ((1.5 * x - 2.5) * x) * x + 1.0
    out = np.where(x >= 1.0, ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0, out)
    return np.where(x >= 2.0, 0.0, out)


def _lanczos(radius: int) -> Callable[[np.ndarray], np.ndarray]:
    def kernel(x: np.ndarray) -> np.ndarray:
        y = radius * np.sin(np.pi * x) * np.sin(np.pi * x / radius)
        safe = np.where(x != 0, np.pi**2 * x**2, 1.0)
        out = np.where(x > 1e-3, y / safe, 1.0)
        return np.where(x > radius, 0.0, out)

    return kernel


KERNELS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": _triangle,
    "bilinear": _triangle,
    "trilinear": _triangle,
    "triangle": _triangle,
    "cubic": _keys_cubic,
    "bicubic": _keys_cubic,
    "tricubic": _keys_cubic,
    "lanczos3": _lanczos(3),
    "lanczos5": _lanczos(5),
}


def _weights(
    in_size: int, out_size: int, scale: float, translation: float, method: str, antialias: bool
) -> np.ndarray:
    """The ``(in_size, out_size)`` weight matrix of one axis (JAX's ``compute_weight_mat``)."""
    inv_scale = 1.0 / scale
    kernel_scale = max(inv_scale, 1.0) if antialias else 1.0
    sample = (np.arange(out_size) + 0.5) * inv_scale - translation * inv_scale - 0.5
    distance = np.abs(sample[None, :] - np.arange(in_size)[:, None]) / kernel_scale
    weights = KERNELS[method](distance)
    total = weights.sum(axis=0, keepdims=True)
    weights = np.where(
        np.abs(total) > 1000.0 * float(np.finfo(np.float32).eps),
        weights / np.where(total != 0, total, 1),
        0.0,
    )
    inside = (sample >= -0.5) & (sample <= in_size - 0.5)
    return np.where(inside[None, :], weights, 0.0)


def resample_axis(
    x: Any,
    axis: int,
    out_size: int,
    scale: float,
    translation: float,
    method: str,
    antialias: bool,
) -> Any:
    """``x`` resampled along ``axis`` to ``out_size`` samples with ``method``'s kernel.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor([[0.0, 3.0]])
        >>> resample_axis(x, 1, 4, 2.0, 0.0, "linear", False).numpy()
        array([[0.  , 0.75, 2.25, 3.  ]], dtype=float32)
    """
    if method not in KERNELS:
        raise ValueError(
            f"ops.image.scale_and_translate: method must be one of {sorted(KERNELS)}, "
            f"got {method!r}"
        )
    in_size = shape_of(x)[axis]
    matrix = _weights(in_size, out_size, scale, translation, method, antialias).astype(x.dtype)
    ndim = len(shape_of(x))
    moved = P.transpose_p(x, axes=(*[a for a in range(ndim) if a != axis], axis))
    out = moved @ matrix
    order = list(range(ndim - 1))
    order.insert(axis, ndim - 1)
    return P.transpose_p(out, axes=tuple(order))


def scale_and_translate(
    images: Any,
    output_shape: Sequence[int],
    scale: Any,
    translation: Any,
    spatial_dims: Sequence[int],
    method: str,
    antialias: bool = True,
) -> Any:
    """Resample ``images`` along ``spatial_dims`` to ``output_shape``: output sample ``i``
    of an axis reads input position ``(i + 0.5 - translation) / scale - 0.5``, with the
    ``method``'s kernel (``"linear"``, ``"cubic"``, ``"lanczos3"``, ``"lanczos5"``; the
    ``bi``/``tri`` names too) as ``jax.image.scale_and_translate``.

    Args:
        images: The array.
        output_shape: The full output shape (non-spatial dims unchanged).
        scale: One factor per spatial dim (concrete values).
        translation: One offset per spatial dim (concrete values).
        spatial_dims: The resampled axes.
        method: The kernel.
        antialias: Stretch the kernel when downsampling (a low-pass filter).

    Returns:
        The resampled images, differentiable with respect to ``images``.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.ops.ones((1, 4, 4, 1))
        >>> tg.ops.image.scale_and_translate(x, (1, 2, 2, 1), [0.5, 0.5], [0.0, 0.0], (1, 2),
        ...                                  "cubic").numpy().ravel()
        array([1., 1., 1., 1.], dtype=float32)
    """
    images = float_input(images)
    shape = shape_of(images)
    dims = [int(d) % len(shape) for d in spatial_dims]
    scales = np.asarray(concrete_value(scale, "ops.image.scale_and_translate's scale"), float)
    shifts = np.asarray(
        concrete_value(translation, "ops.image.scale_and_translate's translation"), float
    )
    if (
        len(output_shape) != len(shape)
        or scales.shape != (len(dims),)
        or (shifts.shape != (len(dims),))
    ):
        raise ValueError(
            "ops.image.scale_and_translate: output_shape needs one size per input dim and "
            "scale/translation one value per spatial dim, got output_shape "
            f"{tuple(output_shape)} for shape {shape}, scale {scales.tolist()}, translation "
            f"{shifts.tolist()}, spatial_dims {tuple(spatial_dims)}"
        )
    for axis in range(len(shape)):
        if axis not in dims and int(output_shape[axis]) != shape[axis]:
            raise ValueError(
                f"ops.image.scale_and_translate: axis {axis} is not spatial, its size "
                f"{shape[axis]} cannot become {output_shape[axis]}"
            )
    if np.any(scales <= 0) or not all(math.isfinite(v) for v in scales.tolist()):
        raise ValueError(f"ops.image.scale_and_translate: scales must be positive, got {scales}")
    out = images
    for k, axis in enumerate(dims):
        out = resample_axis(
            out,
            axis,
            int(output_shape[axis]),
            float(scales[k]),
            float(shifts[k]),
            method,
            antialias,
        )
    return out
