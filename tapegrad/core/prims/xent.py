"""Softmax cross-entropy with integer labels as primitives: the loss
(`sparse_softmax_cross_entropy`), its derivative (`sparse_softmax_cross_entropy_delta`) and
both in one pass (`sparse_softmax_cross_entropy_with_delta`, for generated code). Math only:
faster engines register kernels for them in `tapegrad.kernels` (`numba_xent`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.elementwise import exp_p
from tapegrad.core.prims.reduction import max_p, sum_p
from tapegrad.core.prims.shape import stop_gradient_p
from tapegrad.core.tensor import shape_of


# A primitive for speed (the composite is ~16 primitives forward and ~12 backward, the
# hottest part of a small classifier's step) and stability (log-sum-exp with the max shift).
def _softmax_last(logits: Any) -> Any:
    axis = (len(shape_of(logits)) - 1,)
    e = exp_p(logits - stop_gradient_p(max_p(logits, axis=axis, keepdims=True)))
    return e / sum_p(e, axis=axis, keepdims=True)


def _sparse_softmax_xent_impl(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    # Labels are checked by the callers (`ops.sparse_categorical_crossentropy` through the
    # `class_indices` primitive, so compiled steps check them too); out-of-range ones
    # raise IndexError here at worst.
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_total = np.log(np.exp(shifted).sum(axis=-1))
    return log_total - _picked(shifted, labels)


def _picked(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``values[..., labels]`` row by row (flat fancy indexing: 3x take_along_axis' speed)."""
    rows = values.reshape(-1, values.shape[-1])
    flat = np.asarray(labels).reshape(-1)
    return rows[np.arange(rows.shape[0]), flat].reshape(np.shape(labels))


def sparse_softmax_cross_entropy_with_delta(
    logits: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, Any]:
    """The cross-entropy and its `delta` in one pass, bit for bit the two impls' results.

    Generated code calls it (as `sparse_softmax_cross_entropy_with_delta_p`, the loss
    primitive's ``paired_with``) when a graph computes both (a training step's loss and its
    gradient), sharing the max, exp and sum.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=-1, keepdims=True)
    loss = np.log(total[..., 0]) - _picked(shifted, labels)
    e /= total
    rows = e.reshape(-1, e.shape[-1])
    rows[np.arange(rows.shape[0]), np.asarray(labels).reshape(-1)] -= 1
    return loss, e


def _xent_delta_impl(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """softmax(logits) - one_hot(labels), along the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    delta = np.exp(shifted, out=shifted)
    delta /= delta.sum(axis=-1, keepdims=True)
    rows = delta.reshape(-1, delta.shape[-1])  # a view: `delta` is a fresh C-ordered array
    rows[np.arange(rows.shape[0]), np.asarray(labels).reshape(-1)] -= 1
    return delta


def _softmax_jacobian_product(h: Any, logits: Any) -> Any:
    """J h for J = d softmax / d logits (symmetric): s * h - s * sum(s * h)."""
    s = _softmax_last(logits)
    sh = s * h
    return sh - s * sum_p(sh, axis=(len(shape_of(logits)) - 1,), keepdims=True)


# The cross-entropy's derivative as one primitive: one NumPy pass instead of ~10 ops per
# backward (a classifier's hottest rule); its own derivative is the softmax Jacobian.
sparse_softmax_cross_entropy_delta_p = Primitive(
    "sparse_softmax_cross_entropy_delta", _xent_delta_impl, returns="unknown"
)
sparse_softmax_cross_entropy_delta_p.defvjp(
    lambda g, ans, logits, labels: _softmax_jacobian_product(g, logits), None
)
sparse_softmax_cross_entropy_delta_p.defjvp(
    lambda t, ans, logits, labels: _softmax_jacobian_product(t, logits), None
)


def _sparse_softmax_xent_vjp(g: Any, ans: Any, logits: Any, labels: Any) -> Any:
    delta = sparse_softmax_cross_entropy_delta_p(logits, labels)
    return g.reshape(tuple(shape_of(g)) + (1,)) * delta


def _sparse_softmax_xent_jvp(t: Any, ans: Any, logits: Any, labels: Any) -> Any:
    delta = sparse_softmax_cross_entropy_delta_p(logits, labels)
    return sum_p(t * delta, axis=(len(shape_of(logits)) - 1,), keepdims=False)


sparse_softmax_cross_entropy_p = Primitive(
    "sparse_softmax_cross_entropy", _sparse_softmax_xent_impl, returns="fresh_like_inputs"
)
sparse_softmax_cross_entropy_p.defvjp(_sparse_softmax_xent_vjp, None)
sparse_softmax_cross_entropy_p.defjvp(_sparse_softmax_xent_jvp, None)
# Both results in one call: not in the table (graphs never record it); a record only so
# kernels can register for it.
sparse_softmax_cross_entropy_with_delta_p = Primitive(
    "sparse_softmax_cross_entropy_with_delta",
    sparse_softmax_cross_entropy_with_delta,
    multiple_results=True,
    differentiable=False,
    register=False,
)
sparse_softmax_cross_entropy_p.paired_with = (
    sparse_softmax_cross_entropy_delta_p,
    sparse_softmax_cross_entropy_with_delta_p,
)
