"""Keras 3's ``dot_product_attention``: ``softmax(q k^T * scale + bias, masked) v``.

Shapes follow Keras (and ``jax.nn.dot_product_attention``): query ``(B, T, N, H)``, key and
value ``(B, S, N, H)``, the result ``(B, T, N, H)``. Masked logits get a large negative
number (``0.7 * finfo(dtype).min``, Keras's stand-in for -inf), so a fully masked row gives
a uniform average. The scores' softmax is one fused primitive (`attention_softmax`) between
two products on BLAS.

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
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.ops.activations import float_input

__all__ = ["attention_softmax", "dot_product_attention"]


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
    factor = 1.0 / math.sqrt(head_dim) if scale is None else float(scale)
    logits = P.einsum_p(query, key, subscripts="BTNH,BSNH->BNTS")
    if bias is not None or attn_logits_soft_cap is not None:
        # The scale goes before the bias and the cap: the fused softmax then scales by 1.
        logits = logits * np.asarray(factor, logits.dtype)
        factor = 1.0
    if bias is not None:
        logits = logits + float_input(bias)
    if attn_logits_soft_cap is not None:
        cap = np.asarray(attn_logits_soft_cap, logits.dtype)
        logits = cap * P.tanh_p(logits / cap)
    probs = attention_softmax(logits, mask, scale=factor, is_causal=is_causal)
    return P.einsum_p(probs, value, subscripts="BNTS,BSNH->BTNH")


def attention_softmax(
    scores: Any, mask: Any = None, scale: float = 1.0, is_causal: bool = False
) -> Any:
    """Attention probabilities: ``softmax(where(mask, scores * scale, -big))`` over the last
    (key) axis, as one fused op (one scores-sized array forward and backward).

    Args:
        scores: ``(..., T, S)`` float attention scores (``q k^T``).
        mask: Optional, broadcastable to ``scores``: False (or 0) hides a key. A query
            whose keys are all hidden attends uniformly (as Keras).
        scale: Multiplies the scores before masking.
        is_causal: Also hide the keys after each query position (``j > i``).

    Returns:
        Probabilities of ``scores``' shape and dtype, rows summing to one.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> s = np.array([[0.0, 0.0, 5.0]], np.float32)
        >>> tg.ops.attention_softmax(s, mask=np.array([True, True, False])).numpy()
        array([[0.5, 0.5, 0. ]], dtype=float32)
        >>> tg.ops.attention_softmax(np.zeros((2, 2)), is_causal=True).numpy()
        array([[1. , 0. ],
               [0.5, 0.5]])
    """
    scores = float_input(scores)
    if mask is None:
        keep: Any = np.True_
    elif isinstance(mask, Tensor):
        keep = mask
    else:
        keep = np.asarray(mask, dtype=bool)
    return P.attention_softmax_p(scores, keep, scale=float(scale), causal=bool(is_causal))
