"""Covariance and correlation: ``cov``, ``corrcoef`` (differentiable in the data and in
``aweights``).

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.cov(np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]]))
    array([[ 1., -1.],
           [-1.,  1.]])
    >>> tg.grad(lambda x: tnp.cov(x))(tg.tensor([1.0, 2.0, 6.0])).numpy()
    array([-2., -1.,  3.], dtype=float32)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.core.tracing import is_traced
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._arguments import unwrap as _raw
from tapegrad.numpy._arguments import value_of as _value

__all__ = ["corrcoef", "cov"]


def _as_rows(x: Any, rowvar: bool, dtype: np.dtype, name: str) -> Any:
    if len(_shape(x)) > 2:
        raise ValueError(f"cov: {name} has more than 2 dimensions (shape {_shape(x)})")
    if _dtype(x) != dtype:
        x = P.cast_p(x, dtype=dtype)
    if len(_shape(x)) < 2:
        x = P.reshape_p(x, shape=(1,) * (2 - len(_shape(x))) + _shape(x))
        return x
    return x if rowvar else P.transpose_p(x, axes=(1, 0))


def _sample_weights(fweights: Any, aweights: Any, samples: int) -> Any:
    w = None
    for name, weights in (("fweights", fweights), ("aweights", aweights)):
        if weights is None:
            continue
        values = _value(weights).astype(float)
        # Traced weights have no values yet (those at hand are the trace-time ones).
        checked = not is_traced(weights)
        if checked and name == "fweights" and not np.all(values == np.around(values)):
            raise TypeError("cov: fweights must be integer")
        if values.ndim > 1:
            raise RuntimeError(f"cov: cannot handle multidimensional {name}")
        if values.shape[0] != samples:
            raise RuntimeError(f"cov: incompatible numbers of samples ({samples}) and {name}")
        if checked and np.any(values < 0):
            raise ValueError(f"cov: {name} cannot be negative")
        weights = weights if isinstance(weights, Tensor) else values
        w = weights if w is None else w * weights
    return w


def cov(
    m: Any,
    y: Any = None,
    rowvar: bool = True,
    bias: bool = False,
    ddof: Any = None,
    fweights: Any = None,
    aweights: Any = None,
    *,
    dtype: Any = None,
) -> Any:
    """Differentiable ``numpy.cov`` (in the data and in ``aweights``)."""
    if ddof is not None and ddof != int(ddof):
        raise ValueError("cov: ddof must be integer")
    if dtype is None:
        dtype = (
            np.result_type(_raw(m), np.float64)
            if y is None
            else np.result_type(_raw(m), _raw(y), np.float64)
        )
    dtype = np.dtype(dtype)
    x = _as_rows(m, rowvar or len(_shape(m)) == 1, dtype, "m")
    if _shape(x)[0] == 0:
        return np.array([]).reshape(0, 0)
    if y is not None:
        y_rows = _as_rows(y, rowvar or len(_shape(y)) < 2 or _shape(y)[0] == 1, dtype, "y")
        x = P.concatenate_p(x, y_rows, axis=0)
    if ddof is None:
        ddof = 0 if bias else 1
    samples = _shape(x)[1]
    w = _sample_weights(fweights, aweights, samples)
    if w is None:
        centered = x - P.sum_p(x, axis=(1,), keepdims=True) / samples
        fact: Any = samples - ddof
        weighted = centered
    else:
        w_sum = P.sum_p(w, axis=None, keepdims=False)
        centered = x - P.sum_p(x * w, axis=(1,), keepdims=True) / w_sum
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * P.sum_p(w * aweights, axis=None, keepdims=False) / w_sum
        weighted = centered * w
    if isinstance(fact, Tensor):
        fact = P.where_p(P.greater_p(fact, 0), fact, 0.0)  # NumPy's result: inf or NaN
    elif fact <= 0:
        fact = 0.0  # NumPy's result: inf or NaN entries
    with np.errstate(divide="ignore"):
        scale = P.reciprocal_p(fact) if isinstance(fact, Tensor) else np.true_divide(1, fact)
    c = P.matmul_p(centered, P.transpose_p(weighted, axes=(1, 0))) * scale
    rows = _shape(c)[0]
    return P.reshape_p(c, shape=()) if rows == 1 else c


def corrcoef(x: Any, y: Any = None, rowvar: bool = True, *, dtype: Any = None) -> Any:
    """Differentiable ``numpy.corrcoef`` (clipped to [-1, 1] like NumPy)."""
    c = cov(x, y, rowvar, dtype=dtype)
    if len(_shape(c)) == 0:
        return c / c
    n = _shape(c)[0]
    stddev = P.sqrt_p(P.getitem_p(c, index=(np.arange(n), np.arange(n))))
    c = c / P.reshape_p(stddev, shape=(n, 1)) / P.reshape_p(stddev, shape=(1, n))
    return P.clip_p(c, -1, 1)
