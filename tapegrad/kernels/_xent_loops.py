"""numba loop for the softmax cross-entropy and its derivative (the `jit` extra).

`tapegrad.kernels.numba_xent` registers it for the `sparse_softmax_cross_entropy` and
`sparse_softmax_cross_entropy_delta` primitives, for float32/float64 logits. The NumPy
impls make about eight passes over the logits (max, subtract, exp, sum, log, gather, ...),
each a NumPy call with its own overhead on the small logits of a classifier's batch; one
pass per row here computes both. Results are within a few ulps of the NumPy path (the sum
of exponentials adds in another order).

The kernel takes rows ``(n, c)`` and labels ``(n,)`` (int64, NumPy's negative indexing) and
return -1, or the first row whose label is out of range (nothing written from that row on):
the caller raises the IndexError NumPy's indexing would.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.kernels._numba import njit


@njit(error_model="numpy", nogil=True, boundscheck=False)
def _row_max(logits: Any, r: int) -> Any:
    """``max(logits[r])`` as np.max computes it (a NaN wins)."""
    m = logits[r, 0]
    for j in range(1, logits.shape[1]):
        v = logits[r, j]
        if v > m or v != v:
            m = v
            if m != m:
                break
    return m


@njit(error_model="numpy", nogil=True, boundscheck=False)
def _row(logits: Any, labels: Any, r: int) -> tuple[int, Any]:
    """Row ``r``'s label (NumPy's negative indexing; -1 when out of range) and maximum."""
    c = logits.shape[1]
    label = labels[r]
    if label < 0:
        label += c
    if label < 0 or label >= c:
        return -1, logits[r, 0]
    return label, _row_max(logits, r)


@njit(error_model="numpy", nogil=True, boundscheck=False)
def xent_loss_and_delta(logits: Any, labels: Any, loss: Any, delta: Any) -> int:
    """``loss[r] = logsumexp(logits[r]) - logits[r, labels[r]]`` and
    ``delta[r] = softmax(logits[r]) - one_hot(labels[r])`` for each row, in one pass."""
    n, c = logits.shape
    for r in range(n):
        label, m = _row(logits, labels, r)
        if label < 0:
            return r
        total = np.exp(logits[r, 0] - m)
        delta[r, 0] = total
        for j in range(1, c):
            e = np.exp(logits[r, j] - m)
            delta[r, j] = e
            total += e
        loss[r] = np.log(total) - (logits[r, label] - m)
        for j in range(c):
            delta[r, j] /= total
        delta[r, label] -= 1
    return -1


__all__ = ["xent_loss_and_delta"]
