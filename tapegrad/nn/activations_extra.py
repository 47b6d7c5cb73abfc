"""The less common Keras 3 activations (``keras.activations.celu``, ``sparsemax``, ...).

Thin composites of `tapegrad.ops`; `tapegrad.nn.activations` exports them with the others
and knows them by name.

Examples:
    >>> import tapegrad as tg
    >>> hard_tanh(tg.tensor([-2.0, 0.5])).numpy()
    array([-1. ,  0.5], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import tapegrad.numpy as tnp
from tapegrad import ops


def _tensor(x: Any) -> Any:
    return tnp.asarray(x)


def celu(x: Any, alpha: float = 1.0) -> Any:
    """Continuously differentiable ELU: ``x`` if ``x >= 0`` else ``alpha * (exp(x / alpha) - 1)``.

    Args:
        x: Input tensor.
        alpha: Scale of the negative part.

    Returns:
        The activated tensor.

    Examples:
        >>> import tapegrad as tg
        >>> celu(tg.tensor([-1.0, 2.0])).numpy().round(4)
        array([-0.6321,  2.    ], dtype=float32)
    """
    return ops.celu(_tensor(x), alpha=alpha)


def glu(x: Any, axis: int = -1) -> Any:
    """Gated linear unit: ``a * sigmoid(b)`` for the two halves ``a, b`` of ``x`` on ``axis``.

    Args:
        x: Input tensor (even size along ``axis``).
        axis: The axis that is split.

    Returns:
        The gated tensor (half the size along ``axis``).

    Examples:
        >>> import tapegrad as tg
        >>> glu(tg.tensor([[1.0, 0.0]])).numpy()
        array([[0.5]], dtype=float32)
    """
    return ops.glu(_tensor(x), axis=axis)


def hard_shrink(x: Any, threshold: float = 0.5) -> Any:
    """``x`` where ``|x| > threshold``, else 0.

    Args:
        x: Input tensor.
        threshold: The half-width of the zeroed band.

    Returns:
        The shrunk tensor.

    Examples:
        >>> import tapegrad as tg
        >>> hard_shrink(tg.tensor([-1.0, 0.2, 0.7])).numpy()
        array([-1. ,  0. ,  0.7], dtype=float32)
    """
    return ops.hard_shrink(_tensor(x), threshold=threshold)


def hard_tanh(x: Any) -> Any:
    """``x`` clipped to ``[-1, 1]``.

    Args:
        x: Input tensor.

    Returns:
        The clipped tensor.

    Examples:
        >>> import tapegrad as tg
        >>> hard_tanh(tg.tensor([-3.0, 0.5, 2.0])).numpy()
        array([-1. ,  0.5,  1. ], dtype=float32)
    """
    return ops.hard_tanh(_tensor(x))


def log_sigmoid(x: Any) -> Any:
    """``log(sigmoid(x))``, computed stably (``-softplus(-x)``).

    Args:
        x: Input tensor.

    Returns:
        The activated tensor.

    Examples:
        >>> import tapegrad as tg
        >>> log_sigmoid(tg.tensor([0.0])).numpy().round(4)
        array([-0.6931], dtype=float32)
    """
    return ops.log_sigmoid(_tensor(x))


def soft_shrink(x: Any, threshold: float = 0.5) -> Any:
    """``x`` moved ``threshold`` towards 0 (0 inside ``[-threshold, threshold]``).

    Args:
        x: Input tensor.
        threshold: The shrink amount.

    Returns:
        The shrunk tensor.

    Examples:
        >>> import tapegrad as tg
        >>> soft_shrink(tg.tensor([-1.0, 0.2, 2.0])).numpy()
        array([-0.5,  0. ,  1.5], dtype=float32)
    """
    return ops.soft_shrink(_tensor(x), threshold=threshold)


def sparse_plus(x: Any) -> Any:
    """0 for ``x <= -1``, ``(x + 1)**2 / 4`` on ``(-1, 1)``, ``x`` for ``x >= 1``.

    Args:
        x: Input tensor.

    Returns:
        The activated tensor.

    Examples:
        >>> import tapegrad as tg
        >>> sparse_plus(tg.tensor([-2.0, 0.0, 2.0])).numpy()
        array([0.  , 0.25, 2.  ], dtype=float32)
    """
    return ops.sparse_plus(_tensor(x))


def sparse_sigmoid(x: Any) -> Any:
    """0 for ``x <= -1``, ``(x + 1) / 2`` on ``(-1, 1)``, 1 for ``x >= 1``.

    Args:
        x: Input tensor.

    Returns:
        The activated tensor.

    Examples:
        >>> import tapegrad as tg
        >>> sparse_sigmoid(tg.tensor([-2.0, 0.0, 2.0])).numpy()
        array([0. , 0.5, 1. ], dtype=float32)
    """
    return ops.sparse_sigmoid(_tensor(x))


def sparsemax(x: Any, axis: int = -1) -> Any:
    """Sparsemax: the Euclidean projection of ``x`` onto the simplex along ``axis``.

    Like softmax the outputs are non-negative and sum to 1, but small entries become
    exactly 0.

    Args:
        x: Input tensor.
        axis: The axis normalized.

    Returns:
        The probabilities.

    Examples:
        >>> import tapegrad as tg
        >>> sparsemax(tg.tensor([[0.5, 0.3, -1.0]])).numpy().round(4)
        array([[0.6, 0.4, 0. ]], dtype=float32)
    """
    return ops.sparsemax(_tensor(x), axis=axis)


def squareplus(x: Any, b: float = 4) -> Any:
    """``(x + sqrt(x**2 + b)) / 2``, a smooth softplus-like curve.

    Args:
        x: Input tensor.
        b: Smoothness near 0 (non-negative).

    Returns:
        The activated tensor.

    Examples:
        >>> import tapegrad as tg
        >>> squareplus(tg.tensor([0.0])).numpy()
        array([1.], dtype=float32)
    """
    return ops.squareplus(_tensor(x), b=b)


def tanh_shrink(x: Any) -> Any:
    """``x - tanh(x)``.

    Args:
        x: Input tensor.

    Returns:
        The activated tensor.

    Examples:
        >>> import tapegrad as tg
        >>> tanh_shrink(tg.tensor([0.0, 1.0])).numpy().round(4)
        array([0.    , 0.2384], dtype=float32)
    """
    return ops.tanh_shrink(_tensor(x))


def threshold(x: Any, threshold: float, default_value: float) -> Any:
    """``x`` where ``x > threshold``, else ``default_value``.

    Args:
        x: Input tensor.
        threshold: Values at or below it are replaced.
        default_value: The replacement.

    Returns:
        The thresholded tensor.

    Examples:
        >>> import tapegrad as tg
        >>> threshold(tg.tensor([0.2, 1.0]), 0.5, -1.0).numpy()
        array([-1.,  1.], dtype=float32)
    """
    return ops.threshold(_tensor(x), threshold, default_value)


__all__ = [
    "celu",
    "glu",
    "hard_shrink",
    "hard_tanh",
    "log_sigmoid",
    "soft_shrink",
    "sparse_plus",
    "sparse_sigmoid",
    "sparsemax",
    "squareplus",
    "tanh_shrink",
    "threshold",
]
