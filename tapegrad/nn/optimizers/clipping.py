"""Helpers of the update loop: casting the learning rate, clipping gradients by norm."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import tapegrad.numpy as tnp

__all__ = ["cast_to", "clip_by_global_norm", "clip_by_norm"]


def cast_to(value: Any, dtype: Any) -> Any:
    """``value`` as ``dtype``: ``value`` itself when it already has that dtype (no op).

    Examples:
        >>> import tapegrad as tg
        >>> rate = cast_to(tg.Variable(0.1, dtype="float64"), "float32")
        >>> rate.dtype, cast_to(rate, "float32") is rate
        (dtype('float32'), True)
    """
    current = getattr(value, "dtype", None)
    if current is not None and (current is dtype or current == np.dtype(dtype)):
        return value
    return tnp.astype(value, dtype)


def clip_by_norm(gradient: Any, clipnorm: float) -> Any:
    """Scale ``gradient`` so that its L2 norm is at most ``clipnorm``.

    Args:
        gradient: A gradient Tensor.
        clipnorm: The largest allowed norm (> 0).

    Returns:
        ``gradient * clipnorm / max(norm(gradient), clipnorm)``, same shape and dtype.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers.base import clip_by_norm
        >>> clip_by_norm(tg.tensor([3.0, 4.0]), 1.0).numpy()
        array([0.6, 0.8], dtype=float32)
    """
    norm = tnp.sqrt(tnp.sum(tnp.square(gradient)))
    return tnp.multiply(gradient, clipnorm) / tnp.maximum(norm, clipnorm)


def clip_by_global_norm(gradients: Sequence[Any], clipnorm: float) -> list[Any]:
    """Scale all gradients together so that their joint L2 norm is at most ``clipnorm``.

    Args:
        gradients: Gradient Tensors (None entries pass through).
        clipnorm: The largest allowed global norm (> 0).

    Returns:
        The scaled gradients, in order; NaN everywhere if the global norm is not finite.

    Examples:
        >>> import tapegrad as tg
        >>> from tapegrad.nn.optimizers.base import clip_by_global_norm
        >>> a, b = clip_by_global_norm([tg.tensor([3.0]), tg.tensor([4.0])], 1.0)
        >>> a.numpy(), b.numpy()
        (array([0.6], dtype=float32), array([0.8], dtype=float32))
    """
    present = [g for g in gradients if g is not None]
    squares = [tnp.astype(tnp.sum(tnp.square(g)), tnp.float64) for g in present]
    norm = tnp.sqrt(tnp.sum(tnp.stack(squares)))
    scale = clipnorm * tnp.minimum(1.0 / norm, 1.0 / clipnorm)
    # A no-op for a finite norm; makes the scale NaN for an inf/NaN norm (as Keras does).
    scale = scale + (norm - norm)
    return [g if g is None else g * tnp.astype(scale, g.dtype) for g in gradients]
