"""Attention's softmax as primitives: masked, scaled softmax over the keys of attention
scores (`attention_softmax`) and its Jacobian product (`attention_softmax_grad`).

Scaled dot-product attention is ``matmul -> attention_softmax -> matmul``: the two
products run on BLAS (forward and VJP), and everything between them -- scale, mask, causal
mask, the max shift, exp, normalization -- is one primitive that works in place on one
array the size of the scores. Its VJP is one more primitive, so a training step keeps
exactly one scores-sized array per attention (the probabilities) and computes the scores'
cotangent once, however many of ``q``, ``k`` need it.

The composite it equals (tested against it, values, gradients and second order)::

    keep = mask & tril(ones(T, S)) if causal else mask
    softmax(where(keep, scores * scale, 0.7 * finfo(dtype).min), axis=-1)

A row whose keys are all masked attends uniformly (the composite's and Keras's result),
and, like the composite's, its gradient with respect to the scores is zero.
Math only: a faster engine would register kernels for both in `tapegrad.kernels`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.elementwise import logical_and_p
from tapegrad.core.prims.reduction import max_p, sum_p
from tapegrad.core.tensor import Tensor, ndim_of, shape_of

__all__ = ["attention_softmax_grad_p", "attention_softmax_p", "causal_keep", "masked_value"]


def masked_value(dtype: Any) -> Any:
    """What a masked score becomes: finite (a fully masked row stays finite), far below
    any real score, and representable in float16 too.

    Args:
        dtype: The scores' float dtype.

    Returns:
        A 0-d array of that dtype.

    Examples:
        >>> masked_value(np.float16)
        array(-4.586e+04, dtype=float16)
    """
    return np.asarray(0.7 * np.finfo(dtype).min, dtype)


def causal_keep(rows: int, cols: int) -> np.ndarray:
    """The causal mask: query ``i`` sees keys ``j <= i``.

    Args:
        rows: Query positions.
        cols: Key positions.

    Returns:
        ``(rows, cols)`` booleans.

    Examples:
        >>> causal_keep(2, 3)
        array([[ True, False, False],
               [ True,  True, False]])
    """
    return np.tri(rows, cols, dtype=bool)


def _keep(mask: Any, causal: bool, shape: tuple[int, ...]) -> Any:
    """The positions that take part (None: all): the mask, and the causal band."""
    everything = isinstance(mask, np.ndarray | np.bool_ | bool) and np.ndim(mask) == 0 and mask
    keep = None if everything else mask
    if causal:
        band = causal_keep(shape[-2], shape[-1])
        keep = band if keep is None else np.logical_and(keep, band)
    return keep


def _attention_softmax_impl(scores: Any, mask: Any, *, scale: float, causal: bool) -> Any:
    scores = np.asarray(scores)
    # One fresh array, worked on in place from here: it becomes the probabilities.
    s = scores * scores.dtype.type(scale) if scale != 1 else scores.copy()
    keep = _keep(np.asarray(mask), causal, s.shape)
    if keep is not None:
        np.copyto(s, masked_value(s.dtype), where=np.logical_not(keep))
    s -= s.max(axis=-1, keepdims=True)
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return s


def _attention_softmax_grad_impl(g: Any, probs: Any, *, scale: float) -> Any:
    """``scale * p * (g - sum(g * p))`` along the last axis, in one fresh array."""
    g, probs = np.asarray(g), np.asarray(probs)
    t = g * probs
    total = t.sum(axis=-1, keepdims=True)
    np.subtract(g, total, out=t)
    t *= probs
    if scale != 1:
        t *= t.dtype.type(scale)
    return t


def _live_rows(v: Any, mask: Any, causal: bool, shape: tuple[int, ...]) -> Any:
    """``v`` with the rows whose keys are all masked set to zero (their probabilities are
    a constant, uniform row); ``v`` itself where no row is."""
    if isinstance(mask, Tensor):  # recorded (higher order) or traced: decided by ops
        keep = logical_and_p(mask, causal_keep(shape[-2], shape[-1])) if causal else mask
        if ndim_of(keep) == 0:
            return v * keep
        alive = max_p(keep, axis=(ndim_of(keep) - 1,), keepdims=True)
        return v * alive
    keep = _keep(np.asarray(mask), causal, shape)
    if keep is None:
        return v
    alive = np.any(keep, axis=-1, keepdims=True)
    return v if alive.all() else v * alive


def _attention_softmax_vjp(
    g: Any, ans: Any, scores: Any, mask: Any, *, scale: float, causal: bool
) -> Any:
    grad = attention_softmax_grad_p(g, ans, scale=scale)
    return _live_rows(grad, mask, causal, shape_of(ans))


# The Jacobian of a softmax is symmetric: the JVP is the same product.
_attention_softmax_jvp = _attention_softmax_vjp


def _grad_vjp_probs(c: Any, ans: Any, g: Any, probs: Any, *, scale: float) -> Any:
    # out_i = scale * (p_i g_i - p_i sum_j p_j g_j)
    last = (ndim_of(probs) - 1,)
    pg = sum_p(probs * g, axis=last, keepdims=True)
    cp = sum_p(c * probs, axis=last, keepdims=True)
    return (c * (g - pg) - g * cp) * scale


def _grad_jvp_probs(t: Any, ans: Any, g: Any, probs: Any, *, scale: float) -> Any:
    last = (ndim_of(probs) - 1,)
    pg = sum_p(probs * g, axis=last, keepdims=True)
    tg = sum_p(t * g, axis=last, keepdims=True)
    return (t * (g - pg) - probs * tg) * scale


attention_softmax_grad_p = Primitive(
    "attention_softmax_grad", _attention_softmax_grad_impl, returns="fresh_like_inputs"
)
# Linear in g with a symmetric Jacobian: its derivative in g is the op itself.
attention_softmax_grad_p.defvjp(
    lambda c, ans, g, probs, scale: attention_softmax_grad_p(c, probs, scale=scale),
    _grad_vjp_probs,
)
attention_softmax_grad_p.defjvp(
    lambda t, ans, g, probs, scale: attention_softmax_grad_p(t, probs, scale=scale),
    _grad_jvp_probs,
)

attention_softmax_p = Primitive(
    "attention_softmax", _attention_softmax_impl, returns="fresh_like_inputs"
)
attention_softmax_p.defvjp(_attention_softmax_vjp, None)
attention_softmax_p.defjvp(_attention_softmax_jvp, None)
