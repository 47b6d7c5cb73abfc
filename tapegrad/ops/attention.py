"""Keras 3's ``dot_product_attention``: ``softmax(q k^T * scale + bias, masked) v``.

Shapes follow Keras (and ``jax.nn.dot_product_attention``): query ``(B, T, N, H)``, key and
value ``(B, S, N, H)``, the result ``(B, T, N, H)``. Masked logits get a large negative
number (``-0.7 * float32 max``, as Keras), so a fully masked row gives a uniform average.

Examples:
    >>> import tapegrad as tg
    >>> q = k = v = tg.ops.ones((1, 2, 1, 4))
    >>> tg.ops.dot_product_attention(q, k, v).shape
    (1, 2, 1, 4)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import shape_of
from tapegrad.ops.activations import float_input

__all__ = ["dot_product_attention"]

# Keras's stand-in for -inf in masked logits: finite, so fully masked rows stay finite.
_LARGE_NEGATIVE = -0.7 * 3.38953e38


def dot_product_attention(
    query: Any,
    key: Any,
    value: Any,
    bias: Any = None,
    mask: Any = None,
    scale: float | None = None,
    is_causal: bool = False,
    flash_attention: bool | None = None,
    attn_logits_soft_cap: float | None = None,
) -> Any:
    """Scaled dot-product attention.

    Args:
        query: ``(B, T, N, H)``.
        key: ``(B, S, N, H)``.
        value: ``(B, S, N, H)``.
        bias: Optional, broadcastable to the logits ``(B, N, T, S)``.
        mask: Optional boolean, broadcastable to ``(B, N, T, S)``: False hides a key.
        scale: Logit scale (default ``1 / sqrt(H)``).
        is_causal: Hide keys after each query position (a lower-triangular mask).
        flash_attention: Only ``None``/``False`` (no fused kernel here).
        attn_logits_soft_cap: If given, logits become ``cap * tanh(logits / cap)``.

    Returns:
        ``(B, T, N, H)``.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> q = tg.tensor(np.eye(2, dtype=np.float32).reshape(1, 2, 1, 2) * 50)
        >>> v = tg.tensor(np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32).reshape(1, 2, 1, 2))
        >>> tg.ops.dot_product_attention(q, q, v).numpy().round(3).reshape(2, 2)
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    if flash_attention:
        raise ValueError("ops.dot_product_attention: flash_attention=True is not supported")
    query, key, value = float_input(query), float_input(key), float_input(value)
    for name, t in (("query", query), ("key", key), ("value", value)):
        if len(shape_of(t)) != 4:
            raise ValueError(
                f"ops.dot_product_attention: {name} must be 4-D (batch, length, heads, "
                f"head_dim), got shape {shape_of(t)}"
            )
    if shape_of(key) != shape_of(value)[:3] + shape_of(key)[3:] or (
        shape_of(query)[3] != shape_of(key)[3]
    ):
        raise ValueError(
            f"ops.dot_product_attention: incompatible shapes query {shape_of(query)}, "
            f"key {shape_of(key)}, value {shape_of(value)}"
        )
    head_dim = shape_of(key)[3]
    factor = np.asarray(1.0 / math.sqrt(head_dim) if scale is None else scale, query.dtype)
    logits = P.einsum_p(query, key, subscripts="BTNH,BSNH->BNTS") * factor
    if bias is not None:
        logits = logits + float_input(bias)
    if attn_logits_soft_cap is not None:
        cap = np.asarray(attn_logits_soft_cap, logits.dtype)
        logits = cap * P.tanh_p(logits / cap)
    keep = None
    if mask is not None:
        keep = np.asarray(mask, dtype=bool) if not hasattr(mask, "_value") else mask
    if is_causal:
        t, s = shape_of(logits)[2], shape_of(logits)[3]
        causal = np.tril(np.ones((t, s), dtype=bool))
        keep = causal if keep is None else P.logical_and_p(keep, causal)
    if keep is not None:
        logits = P.where_p(keep, logits, np.asarray(_LARGE_NEGATIVE, logits.dtype))
    # Softmax over the keys, shifted by the row max (stable for large logits).
    shift = P.stop_gradient_p(P.max_p(logits, axis=(3,), keepdims=True))
    weights = P.exp_p(logits - shift)
    probs = weights / P.sum_p(weights, axis=(3,), keepdims=True)
    return P.einsum_p(probs, value, subscripts="BNTS,BSNH->BTNH")
