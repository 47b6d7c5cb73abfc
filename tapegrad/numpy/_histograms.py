"""Counting and histograms: ``bincount``, ``digitize``, ``histogram``,
``histogram_bin_edges``, ``histogram2d``, ``histogramdd`` (no gradient, except
``bincount``'s weights).

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tg.grad(lambda w: tnp.bincount(np.array([0, 2, 2]), weights=w)[2])(
    ...     tg.tensor([1.0, 2.0, 3.0])).numpy()
    array([0., 1., 1.], dtype=float32)
    >>> tnp.digitize(np.array([0.5, 1.5, 2.5]), np.array([1.0, 2.0]))
    array([0, 1, 2])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.reduction import searchsorted_p
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import read_tree as _read_tree
from tapegrad.numpy._arguments import shape_of as _shape

__all__ = [
    "bincount",
    "digitize",
    "histogram",
    "histogram2d",
    "histogram_bin_edges",
    "histogramdd",
]


def _read(x: Any) -> np.ndarray:
    """``x``'s values, for results whose shape (or binning) depends on them: a traced
    tensor has none yet, so this raises `TracerValueError` naming the user's line."""
    return np.asarray(x)


def bincount(x: Any, /, weights: Any = None, minlength: int = 0) -> Any:
    """``numpy.bincount``; with ``weights`` it is a scatter-add, differentiable in them.

    The length of the result is the largest value of ``x``: a traced ``x`` is refused.
    """
    indices = _read(x)
    counts = np.bincount(indices, minlength=minlength)  # validates with NumPy's messages
    if weights is None:
        return counts
    if _shape(weights) != indices.shape:
        raise ValueError(
            f"bincount: weights shape {_shape(weights)} differs from x shape {indices.shape}"
        )
    if _dtype(weights) != np.float64:
        weights = P.cast_p(weights, dtype=np.float64)
    return P.index_add_p(weights, index=(indices.astype(np.intp),), shape=counts.shape)


def _monotonicity(bins: np.ndarray) -> int:
    """1 for non-decreasing bins, -1 for non-increasing ones (NumPy's rule), else 0."""
    if bins.ndim != 1:
        raise ValueError("digitize: bins must be 1-dimensional")
    steps = np.diff(bins)
    if np.all(steps >= 0):
        return 1
    return -1 if np.all(steps <= 0) else 0


def digitize(x: Any, bins: Any, right: bool = False) -> Any:
    """``numpy.digitize`` (indices, no gradient): a `searchsorted` of ``x``.

    The direction of the bins is read from their values: traced ``bins`` are refused.
    """
    edges = _read(bins)
    if _dtype(x).kind == "c":
        raise TypeError("digitize: x may not be complex")
    monotonic = _monotonicity(edges)
    if monotonic == 0:
        raise ValueError("digitize: bins must be monotonically increasing or decreasing")
    side = "left" if right else "right"  # the arguments of searchsorted are swapped
    bins = bins if isinstance(bins, Tensor) else edges
    if monotonic == -1:
        # Reverse the bins, and count from the other end.
        reverse = P.getitem_p(bins, index=(slice(None, None, -1),))
        return len(edges) - searchsorted_p(reverse, x, side=side)
    return searchsorted_p(bins, x, side=side)


def histogram(
    a: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.histogram`` of the values (no gradient; traced tensors are refused)."""
    weights = None if weights is None else _read(weights)
    bins = bins if isinstance(bins, str) else _read(bins)
    return np.histogram(_read(a), bins, range, density, weights)


def histogram_bin_edges(
    a: Any, bins: Any = 10, range: Any = None, weights: Any = None
) -> np.ndarray:
    """``numpy.histogram_bin_edges`` of the values (no gradient; traced tensors are
    refused)."""
    weights = None if weights is None else _read(weights)
    bins = bins if isinstance(bins, str) else _read(bins)
    return np.histogram_bin_edges(_read(a), bins, range, weights)


def histogram2d(
    x: Any, y: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``numpy.histogram2d`` of the values (no gradient; traced tensors are refused)."""
    weights = None if weights is None else _read(weights)
    bins = bins if isinstance(bins, str | int) else _read_tree(bins)
    return np.histogram2d(_read(x), _read(y), bins, range, density, weights)


def histogramdd(
    sample: Any, bins: Any = 10, range: Any = None, density: Any = None, weights: Any = None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """``numpy.histogramdd`` of the values (no gradient; traced tensors are refused)."""
    weights = None if weights is None else _read(weights)
    bins = bins if isinstance(bins, str | int) else _read_tree(bins)
    return np.histogramdd(_read(sample), bins, range, density, weights)
