"""Keras 3's activation ops beyond `tapegrad.ops.nn`'s classics: ``selu``, ``celu``, ``glu``,
the hard and sparse activations, shrinkage functions and ``sparsemax``.

Each is a few primitives (so every order of derivative works); integer inputs are computed
in float32, as Keras computes them in floatx.

Examples:
    >>> import tapegrad as tg
    >>> tg.ops.hard_sigmoid(tg.tensor([-4.0, 0.0, 1.0])).numpy().round(4)
    array([0.    , 0.5   , 0.6667], dtype=float32)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.numpy import sort
from tapegrad.ops.core import floatx_dtype

__all__ = [
    "celu",
    "float_input",
    "glu",
    "hard_shrink",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "hard_tanh",
    "log_sigmoid",
    "selu",
    "soft_shrink",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "tanh_shrink",
    "threshold",
]

# SELU's constants (Klambauer et al. 2017), as Keras and JAX use them.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def float_input(x: Any) -> Any:
    """``x`` as a float tensor: float inputs keep their dtype, others become floatx.

    Examples:
        >>> float_input([1, 2]).dtype
        dtype('float32')
    """
    if not isinstance(x, Tensor):
        x = Tensor(x)
    if x.dtype.kind in "fc":
        return x
    return P.cast_p(x, dtype=floatx_dtype())


def _const(x: Any, value: float) -> np.ndarray:
    """A scalar in ``x``'s dtype, so float32 inputs stay float32."""
    return np.asarray(value, dtype=x.dtype)


def selu(x: Any) -> Any:
    """Scaled exponential linear unit: ``scale * elu(x, alpha)`` with SELU's constants.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.selu(tg.tensor([1.0])).numpy()
        array([1.050701], dtype=float32)
    """
    x = float_input(x)
    negative = _SELU_ALPHA * P.expm1_p(P.minimum_p(x, _const(x, 0.0)))
    return _SELU_SCALE * P.where_p(P.greater_p(x, 0), x, negative)


def celu(x: Any, alpha: float = 1.0) -> Any:
    """Continuously differentiable ELU: ``max(x, 0) + min(0, alpha * expm1(x / alpha))``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.celu(tg.tensor([-1.0, 2.0])).numpy().round(4)
        array([-0.6321,  2.    ], dtype=float32)
    """
    if alpha == 0:
        raise ValueError("ops.celu: alpha must be non-zero, got 0")
    x = float_input(x)
    negative = alpha * P.expm1_p(P.minimum_p(x, _const(x, 0.0)) / alpha)
    return P.where_p(P.greater_p(x, 0), x, negative)


def glu(x: Any, axis: int = -1) -> Any:
    """Gated linear unit: the first half of ``axis`` times the sigmoid of the second half.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.glu(tg.tensor([1.0, 2.0, 3.0, 4.0])).numpy().round(4)
        array([0.9526, 1.964 ], dtype=float32)
    """
    x = float_input(x)
    shape = shape_of(x)
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"ops.glu: axis {axis} is out of range for an input of shape {shape}")
    axis %= ndim
    if shape[axis] % 2:
        raise ValueError(f"ops.glu: the size of axis {axis} must be even, got shape {shape}")
    half = shape[axis] // 2
    before = (slice(None),) * axis
    a = x[before + (slice(0, half),)]
    b = x[before + (slice(half, None),)]
    return a * P.sigmoid_p(b)


def hard_sigmoid(x: Any) -> Any:
    """``relu6(x + 3) / 6``: a piecewise-linear sigmoid.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.hard_sigmoid(tg.tensor([3.0])).numpy()
        array([1.], dtype=float32)
    """
    x = float_input(x)
    return P.clip_p(x / _const(x, 6.0) + _const(x, 0.5), _const(x, 0.0), _const(x, 1.0))


def hard_silu(x: Any) -> Any:
    """``x * hard_sigmoid(x)`` (hard swish).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.hard_silu(tg.tensor([1.0])).numpy().round(4)
        array([0.6667], dtype=float32)
    """
    x = float_input(x)
    return x * hard_sigmoid(x)


hard_swish = hard_silu


def hard_tanh(x: Any) -> Any:
    """``clip(x, -1, 1)``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.hard_tanh(tg.tensor([-2.0, 0.5])).numpy()
        array([-1. ,  0.5], dtype=float32)
    """
    x = float_input(x)
    return P.clip_p(x, _const(x, -1.0), _const(x, 1.0))


def log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x)) = -softplus(-x)``, stable for large ``|x|``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.log_sigmoid(tg.tensor([0.0, -100.0])).numpy().round(4)
        array([  -0.6931, -100.    ], dtype=float32)
    """
    x = float_input(x)
    return P.minimum_p(x, _const(x, 0.0)) - P.log1p_p(P.exp_p(-P.abs_p(x)))


def sparse_plus(x: Any) -> Any:
    """0 for ``x <= -1``, ``(x + 1)**2 / 4`` for ``|x| < 1``, ``x`` for ``x >= 1``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.sparse_plus(tg.tensor([-2.0, 0.0, 2.0])).numpy()
        array([0.  , 0.25, 2.  ], dtype=float32)
    """
    x = float_input(x)
    middle = P.square_p(x + _const(x, 1.0)) * _const(x, 0.25)
    inner = P.where_p(P.less_p(x, 1), middle, x)
    return P.where_p(P.less_equal_p(x, -1), _const(x, 0.0), inner)


def sparse_sigmoid(x: Any) -> Any:
    """0 for ``x <= -1``, ``(x + 1) / 2`` between, 1 for ``x >= 1``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.sparse_sigmoid(tg.tensor([-2.0, 0.0, 2.0])).numpy()
        array([0. , 0.5, 1. ], dtype=float32)
    """
    x = float_input(x)
    return P.clip_p((x + _const(x, 1.0)) * _const(x, 0.5), _const(x, 0.0), _const(x, 1.0))


def squareplus(x: Any, b: float = 4) -> Any:
    """``(x + sqrt(x**2 + b)) / 2``, a smooth softplus-like function.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.squareplus(tg.tensor([0.0])).numpy()
        array([1.], dtype=float32)
    """
    if b < 0:
        raise ValueError(f"ops.squareplus: b must be >= 0, got {b}")
    x = float_input(x)
    return (x + P.sqrt_p(P.square_p(x) + _const(x, b))) * _const(x, 0.5)


def soft_shrink(x: Any, threshold: float = 0.5) -> Any:
    """``x - threshold`` above ``threshold``, ``x + threshold`` below ``-threshold``, else 0.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.soft_shrink(tg.tensor([-1.0, 0.2, 1.0])).numpy()
        array([-0.5,  0. ,  0.5], dtype=float32)
    """
    x = float_input(x)
    t = _const(x, threshold)
    inner = P.where_p(P.less_p(x, -t), x + t, _const(x, 0.0))
    return P.where_p(P.greater_p(x, t), x - t, inner)


def hard_shrink(x: Any, threshold: float = 0.5) -> Any:
    """``x`` where ``|x| > threshold``, else 0.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.hard_shrink(tg.tensor([-1.0, 0.2, 1.0])).numpy()
        array([-1.,  0.,  1.], dtype=float32)
    """
    x = float_input(x)
    return P.where_p(P.greater_p(P.abs_p(x), _const(x, threshold)), x, _const(x, 0.0))


def tanh_shrink(x: Any) -> Any:
    """``x - tanh(x)``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.tanh_shrink(tg.tensor([0.0])).numpy()
        array([0.], dtype=float32)
    """
    x = float_input(x)
    return x - P.tanh_p(x)


def threshold(x: Any, threshold: float, default_value: float) -> Any:
    """``x`` where ``x > threshold``, else ``default_value``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.threshold(tg.tensor([-1.0, 2.0]), 0.0, -5.0).numpy()
        array([-5.,  2.], dtype=float32)
    """
    x = float_input(x)
    return P.where_p(P.greater_p(x, _const(x, threshold)), x, _const(x, default_value))


def sparsemax(x: Any, axis: int = -1) -> Any:
    """Euclidean projection of ``x`` onto the probability simplex along ``axis``.

    Like softmax but sparse: small logits get exactly 0 (Martins & Astudillo, 2016).

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.sparsemax(tg.tensor([1.0, 2.0, 0.5])).numpy()
        array([0., 1., 0.], dtype=float32)
    """
    x = float_input(x)
    shape = shape_of(x)
    ndim = len(shape)
    if not -ndim <= axis < ndim:
        raise ValueError(f"ops.sparsemax: axis {axis} is out of range for shape {shape}")
    axis %= ndim
    # The support and threshold tau come from the sorted values; tau is then recomputed from
    # x on the support, so the gradient is sparsemax's (the sort itself carries none).
    ordered = P.stop_gradient_p(-sort(-x, axis=axis))
    cumulative = P.cumsum_p(ordered, axis=axis)
    ranks_shape = [1] * ndim
    ranks_shape[axis] = shape[axis]
    ranks = np.arange(1, shape[axis] + 1, dtype=x.dtype).reshape(ranks_shape)
    in_support = P.greater_p(ordered - (cumulative - _const(x, 1.0)) / ranks, _const(x, 0.0))
    count = P.sum_p(P.cast_p(in_support, dtype=x.dtype), axis=(axis,), keepdims=True)
    kth_largest = P.min_p(P.where_p(in_support, ordered, math.inf), axis=(axis,), keepdims=True)
    support_mask = P.greater_equal_p(P.stop_gradient_p(x), kth_largest)
    total = P.sum_p(P.where_p(support_mask, x, _const(x, 0.0)), axis=(axis,), keepdims=True)
    tau = (total - _const(x, 1.0)) / count
    return P.maximum_p(x - tau, _const(x, 0.0))
