"""Keras 3's normalization ops: ``moments``, ``batch_normalization``, ``layer_normalization``,
``rms_normalization``, ``normalize`` and the image metric ``psnr``.

Written with primitives as Keras writes them (``x * inv + (offset - mean * inv)``), so the
numbers follow Keras's and every order of derivative works.

Examples:
    >>> import tapegrad as tg
    >>> mean, var = tg.ops.moments(tg.tensor([[1.0, 2.0], [3.0, 5.0]]), axes=[0])
    >>> mean.numpy(), var.numpy()
    (array([2. , 3.5], dtype=float32), array([1.  , 2.25], dtype=float32))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import shape_of
from tapegrad.ops.activations import float_input
from tapegrad.ops.core import default_epsilon

__all__ = [
    "batch_normalization",
    "layer_normalization",
    "moments",
    "normalize",
    "psnr",
    "rms_normalization",
]


def _axes(op: str, axes: Any, ndim: int) -> tuple[int, ...]:
    items = (axes,) if isinstance(axes, int | np.integer) else tuple(axes)
    for a in items:
        if not -ndim <= int(a) < ndim:
            raise ValueError(f"ops.{op}: axis {a} is out of range for an input of rank {ndim}")
    return tuple(sorted({int(a) % ndim for a in items}))


def moments(
    x: Any, axes: int | Sequence[int], keepdims: bool = False, synchronized: bool = False
) -> tuple[Any, Any]:
    """Mean and variance of ``x`` over ``axes``.

    Args:
        x: A tensor.
        axes: The axes to reduce.
        keepdims: Keep the reduced axes with size 1.
        synchronized: Accepted for compatibility: with one process there is nothing to
            synchronize (`tapegrad.distribution` averages gradients, not statistics).

    Returns:
        ``(mean, variance)``.

    Examples:
        >>> import tapegrad as tg
        >>> [m.shape for m in tg.ops.moments(tg.ops.ones((2, 3)), axes=1, keepdims=True)]
        [(2, 1), (2, 1)]
    """
    x = float_input(x)
    reduce = _axes("moments", axes, len(shape_of(x)))
    mean = P.sum_p(x, axis=reduce, keepdims=True) / _count(x, reduce)
    # The variance about the mean (not E[x^2] - E[x]^2): no cancellation for large means.
    variance = P.sum_p(P.square_p(x - mean), axis=reduce, keepdims=True) / _count(x, reduce)
    if not keepdims:
        kept = tuple(n for i, n in enumerate(shape_of(x)) if i not in reduce)
        mean = P.reshape_p(mean, shape=kept)
        variance = P.reshape_p(variance, shape=kept)
    return mean, variance


def _count(x: Any, axes: tuple[int, ...]) -> np.ndarray:
    shape = shape_of(x)
    return np.asarray(math.prod(shape[a] for a in axes), dtype=x.dtype)


def _along(v: Any, axis: int, ndim: int, x_dtype: np.dtype) -> Any:
    """A 1-D vector of per-channel values reshaped to broadcast along ``axis``."""
    v = float_input(v)
    if len(shape_of(v)) == 1 and ndim > 1:
        shape = [1] * ndim
        shape[axis] = shape_of(v)[0]
        v = P.reshape_p(v, shape=tuple(shape))
    return v if v.dtype == x_dtype else P.cast_p(v, dtype=x_dtype)


def batch_normalization(
    x: Any,
    mean: Any,
    variance: Any,
    axis: int,
    offset: Any = None,
    scale: Any = None,
    epsilon: float = 1e-3,
) -> Any:
    """``(x - mean) / sqrt(variance + epsilon) * scale + offset``, statistics along ``axis``.

    Args:
        x: A tensor.
        mean: Per-channel means (a vector of ``x.shape[axis]`` values).
        variance: Per-channel variances.
        axis: The channel axis.
        offset: Optional per-channel shift (beta).
        scale: Optional per-channel scale (gamma).
        epsilon: Added to the variance.

    Returns:
        The normalized tensor.

    Examples:
        >>> import tapegrad as tg
        >>> x = tg.tensor([[1.0, 2.0], [3.0, 4.0]])
        >>> tg.ops.batch_normalization(x, [2.0, 3.0], [1.0, 1.0], axis=1, epsilon=0.0).numpy()
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
    """
    x = float_input(x)
    ndim = len(shape_of(x))
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"ops.batch_normalization: axis {axis} is out of range for shape {shape_of(x)}"
        )
    axis %= ndim
    mean = _along(mean, axis, ndim, x.dtype)
    variance = _along(variance, axis, ndim, x.dtype)
    inv = P.reciprocal_p(P.sqrt_p(variance + np.asarray(epsilon, x.dtype)))
    if scale is not None:
        inv = inv * _along(scale, axis, ndim, x.dtype)
    shift = -mean * inv
    if offset is not None:
        shift = shift + _along(offset, axis, ndim, x.dtype)
    return x * inv + shift


def layer_normalization(
    x: Any,
    gamma: Any = None,
    beta: Any = None,
    axis: int | Sequence[int] = -1,
    epsilon: float | None = None,
    **kwargs: Any,
) -> Any:
    """Normalize over ``axis`` to zero mean and unit variance, then scale and shift.

    Args:
        x: A tensor.
        gamma: Optional scale, shaped as the normalized axes.
        beta: Optional shift, shaped as the normalized axes.
        axis: The axis or axes to normalize over.
        epsilon: Added to the variance (default: the backend's epsilon, 1e-7).
        **kwargs: ``rms_scaling=True`` divides by the standard deviation only (no centering,
            no beta), as Keras.

    Returns:
        The normalized tensor.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.layer_normalization(tg.tensor([[1.0, 3.0]])).numpy().round(4)
        array([[-1.,  1.]], dtype=float32)
    """
    rms_scaling = kwargs.pop("rms_scaling", False)
    if kwargs:
        raise TypeError(f"ops.layer_normalization: unexpected arguments {sorted(kwargs)}")
    x = float_input(x)
    ndim = len(shape_of(x))
    reduce = _axes("layer_normalization", axis, ndim)
    eps_value = float(default_epsilon() if epsilon is None else epsilon)
    trailing = len(reduce)
    if (
        not rms_scaling
        and x.dtype in _FUSED_DTYPES
        and reduce == tuple(range(ndim - trailing, ndim))
    ):
        # Trailing axes: one fused primitive forward and one backward.
        features = shape_of(x)[ndim - trailing :]
        scale = _trailing_weight(gamma, features, x.dtype, 1.0)
        shift = _trailing_weight(beta, features, x.dtype, 0.0)
        if scale is not None and shift is not None:
            return P.layer_norm_p(x, scale, shift, trailing=trailing, epsilon=eps_value)[0]
    eps = np.asarray(eps_value, x.dtype)
    mean, variance = moments(x, reduce, keepdims=True)
    inv = P.reciprocal_p(P.sqrt_p(variance + eps))
    if gamma is not None:
        inv = inv * _broadcast(gamma, reduce, shape_of(x), x.dtype)
    if rms_scaling:
        return x * inv
    shift = -mean * inv
    if beta is not None:
        shift = shift + _broadcast(beta, reduce, shape_of(x), x.dtype)
    return x * inv + shift


_FUSED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _trailing_weight(v: Any, features: tuple[int, ...], dtype: np.dtype, absent: float) -> Any:
    """A scale/shift for `layer_norm`: broadcasting against the normalized (trailing) axes,
    in ``x``'s dtype (a 0-d ``absent`` where there is none); None where it cannot, which
    leaves the op to the composed path (and its error messages)."""
    if v is None:
        return np.asarray(absent, dtype)
    v = float_input(v)
    if v.dtype != dtype:
        v = P.cast_p(v, dtype=dtype)
    shape = shape_of(v)
    extra = len(shape) - len(features)
    if extra > 0:
        if any(n != 1 for n in shape[:extra]):
            return None
        v = P.reshape_p(v, shape=shape[extra:])
        shape = shape[extra:]
    try:
        fits = np.broadcast_shapes(shape, features) == features
    except ValueError:
        return None
    return v if fits else None


def _broadcast(v: Any, axes: tuple[int, ...], shape: tuple[int, ...], dtype: np.dtype) -> Any:
    """Reshape a scale/shift of the normalized axes' shape to broadcast against ``x``."""
    v = float_input(v)
    if v.dtype != dtype:
        v = P.cast_p(v, dtype=dtype)
    if len(shape_of(v)) != len(shape) and axes != (len(shape) - 1,):
        target = tuple(shape[i] if i in axes else 1 for i in range(len(shape)))
        v = P.reshape_p(v, shape=target)
    return v


def rms_normalization(
    x: Any, scale: Any = None, axis: int | Sequence[int] = -1, epsilon: float | None = None
) -> Any:
    """``x / sqrt(mean(x**2) + epsilon) * scale`` over ``axis`` (root-mean-square norm).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.rms_normalization(tg.tensor([3.0, 4.0]), epsilon=0.0).numpy().round(4)
        array([0.8485, 1.1314], dtype=float32)
    """
    x = float_input(x)
    if not shape_of(x):
        x = P.reshape_p(x, shape=(1,))
    reduce = _axes("rms_normalization", axis, len(shape_of(x)))
    eps = np.asarray(default_epsilon() if epsilon is None else epsilon, x.dtype)
    mean_square = P.sum_p(P.square_p(x), axis=reduce, keepdims=True) / _count(x, reduce)
    out = x * P.reciprocal_p(P.sqrt_p(mean_square + eps))
    if scale is not None:
        scale = float_input(scale)
        out = out * (scale if scale.dtype == x.dtype else P.cast_p(scale, dtype=x.dtype))
    return out


def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> Any:
    """``x`` divided by its ``order``-norm along ``axis`` (at least ``epsilon``).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.normalize(tg.tensor([3.0, 4.0])).numpy()
        array([0.6, 0.8], dtype=float32)
    """
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"ops.normalize: order must be an int >= 1, got {order!r}")
    x = float_input(x)
    if not shape_of(x):
        x = P.reshape_p(x, shape=(1,))
    reduce = _axes("normalize", axis, len(shape_of(x)))
    eps = np.asarray(default_epsilon() if epsilon is None else epsilon, x.dtype)
    if order == 2:
        # Keras: x * min(rsqrt(sum(x^2)), 1 / epsilon).
        inv_norm = P.reciprocal_p(P.sqrt_p(P.sum_p(P.square_p(x), axis=reduce, keepdims=True)))
        return x * P.minimum_p(inv_norm, np.asarray(1.0, x.dtype) / eps)
    powered = P.power_p(P.abs_p(x), np.asarray(order, x.dtype))
    norm = P.power_p(P.sum_p(powered, axis=reduce, keepdims=True), np.asarray(1 / order, x.dtype))
    return x / P.maximum_p(norm, eps)


def psnr(x1: Any, x2: Any, max_val: float) -> Any:
    """Peak signal-to-noise ratio in dB: ``20 log10(max_val) - 10 log10(mean((x1 - x2)**2))``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.psnr(tg.tensor([0.0, 1.0]), tg.tensor([0.1, 0.8]), 1.0).numpy().round(4)
        np.float32(16.0206)
    """
    x1, x2 = float_input(x1), float_input(x2)
    if shape_of(x1) != shape_of(x2):
        raise ValueError(
            f"ops.psnr: x1 and x2 must have the same shape, got {shape_of(x1)} and {shape_of(x2)}"
        )
    all_axes = tuple(range(len(shape_of(x1))))
    mse = P.sum_p(P.square_p(x1 - x2), axis=all_axes, keepdims=False) / _count(x1, all_axes)
    ten = np.asarray(10.0 / math.log(10.0), x1.dtype)
    return 2 * ten * np.log(np.asarray(max_val, x1.dtype)) - ten * P.log_p(mse)
