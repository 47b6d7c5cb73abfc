"""Layer normalization in one pass per row (engine ``"numba"``), on one core or several.

Registered for `layer_norm`, `layer_norm_grad` and `layer_norm_scale_grad` on float32/float64
NumPy arrays (``gamma``/``beta`` of the same dtype, broadcasting against the normalized
axes). The loops are `_layer_norm_loops`; numba is imported on the first call, where it is
installed. Where the impls make about seven NumPy passes forward, nine for ``dx`` and four
for ``dgamma`` over ``x``, each loop reads a row from cache. Sums accumulate in float64
and the outputs round once: within rounding of the impls for float64; for float32 closer
to the exact value than the impls (whose sums round to float32).

Once `tapegrad.kernels.set_parallel_kernels` switches them on, large arrays run the
``parallel=True`` loops of the first two (rows split over numba's threads) where more
than one thread is allowed; a one-thread process runs the serial loops.
"""

from __future__ import annotations

import functools
import importlib.util
import math
from typing import Any

import numpy as np

from tapegrad.core.prims.layer_norm import (
    layer_norm_grad_p,
    layer_norm_p,
    layer_norm_scale_grad_p,
)
from tapegrad.kernels._numba import import_loops, run
from tapegrad.kernels.registry import register_kernel

#: From this many elements of ``x`` on, the loops run on several threads.
PARALLEL_MIN_SIZE = 1 << 16
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


@functools.cache
def _loops() -> Any:
    """The compiled loops, or None where numba cannot be imported."""
    return import_loops("_layer_norm_loops") or None


def _takes(x: Any, *others: Any) -> bool:
    """A float array and same-dtype NumPy arrays beside it, numba importable."""
    if type(x) is not np.ndarray or x.dtype not in _FLOATS:
        return False
    if any(type(o) is not np.ndarray or o.dtype != x.dtype for o in others):
        return False
    return _loops() is not None


def _row_vector(v: np.ndarray, features: tuple[int, ...]) -> np.ndarray:
    """A weight broadcast to the normalized axes, flattened (contiguous)."""
    return np.ascontiguousarray(np.broadcast_to(v, features)).reshape(-1)


def _split(x: np.ndarray, trailing: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    return x.shape[: x.ndim - trailing], x.shape[x.ndim - trailing :]


def applies(x: Any, gamma: Any, beta: Any, *, trailing: int, epsilon: float) -> bool:
    """Whether the kernel takes these `layer_norm` arguments (weights of at most the
    normalized axes' rank, as `ops.layer_normalization` passes them)."""
    if not _takes(x, gamma, beta) or x.size == 0:
        return False
    return gamma.ndim <= trailing and beta.ndim <= trailing


def layer_norm(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, *, trailing: int, epsilon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`layer_norm`'s results: the output, the mean and the inverse std (see above).

    Examples:
        >>> y, mean, rstd = layer_norm(
        ...     np.array([[1.0, 3.0]]), np.ones(2), np.zeros(2), trailing=1, epsilon=0.0
        ... )
        >>> y, mean, rstd
        (array([[-1.,  1.]]), array([[2.]]), array([[1.]]))
    """
    lead, features = _split(x, trailing)
    rows, n = math.prod(lead), math.prod(features)
    y = np.empty(x.shape, x.dtype)  # C order: the loop writes through its 2-D view
    mean = np.empty(lead + (1,) * trailing, x.dtype)
    rstd = np.empty_like(mean)
    loops = _loops()
    run(
        loops.layer_norm,
        loops.layer_norm_parallel,
        x.size,
        PARALLEL_MIN_SIZE,
        x.reshape(rows, n),
        _row_vector(gamma, features),
        _row_vector(beta, features),
        float(epsilon),
        y.reshape(rows, n),
        mean.reshape(-1),
        rstd.reshape(-1),
    )
    return y, mean, rstd


def applies_grad(g: Any, x: Any, gamma: Any, mean: Any, rstd: Any, *, trailing: int) -> bool:
    """Whether the kernel takes these `layer_norm_grad` arguments (statistics as
    `layer_norm` returns them: one per row)."""
    if not _takes(x, g, gamma, mean, rstd) or g.shape != x.shape or x.size == 0:
        return False
    if gamma.ndim > trailing:
        return False
    stats = x.shape[: x.ndim - trailing] + (1,) * trailing
    return mean.shape == stats and rstd.shape == stats


def layer_norm_grad(
    g: np.ndarray,
    x: np.ndarray,
    gamma: np.ndarray,
    mean: np.ndarray,
    rstd: np.ndarray,
    *,
    trailing: int,
) -> np.ndarray:
    """`layer_norm_grad`'s result, ``dx`` (see above).

    Examples:
        >>> layer_norm_grad(np.array([[1.0, 0.0]]), np.array([[1.0, 3.0]]), np.ones(2),
        ...                 np.array([[2.0]]), np.array([[1.0]]), trailing=1)
        array([[0., 0.]])
    """
    lead, features = _split(x, trailing)
    rows, n = math.prod(lead), math.prod(features)
    dx = np.empty(x.shape, x.dtype)
    loops = _loops()
    run(
        loops.layer_norm_grad,
        loops.layer_norm_grad_parallel,
        x.size,
        PARALLEL_MIN_SIZE,
        g.reshape(rows, n),
        x.reshape(rows, n),
        _row_vector(gamma, features),
        mean.reshape(-1),
        rstd.reshape(-1),
        dx.reshape(rows, n),
    )
    return dx


def applies_scale_grad(g: Any, x: Any, mean: Any, rstd: Any, *, trailing: int) -> bool:
    """Whether the kernel takes these `layer_norm_scale_grad` arguments."""
    if not _takes(x, g, mean, rstd) or g.shape != x.shape or x.size == 0:
        return False
    stats = x.shape[: x.ndim - trailing] + (1,) * trailing
    return mean.shape == stats and rstd.shape == stats


def layer_norm_scale_grad(
    g: np.ndarray, x: np.ndarray, mean: np.ndarray, rstd: np.ndarray, *, trailing: int
) -> np.ndarray:
    """`layer_norm_scale_grad`'s result: ``g * xhat`` summed over the leading axes.

    Examples:
        >>> layer_norm_scale_grad(np.array([[1.0, 2.0]]), np.array([[1.0, 3.0]]),
        ...                       np.array([[2.0]]), np.array([[1.0]]), trailing=1)
        array([-1.,  2.])
    """
    lead, features = _split(x, trailing)
    rows, n = math.prod(lead), math.prod(features)
    total = np.zeros(n, np.float64)
    _loops().layer_norm_scale_grad(
        g.reshape(rows, n), x.reshape(rows, n), mean.reshape(-1), rstd.reshape(-1), total
    )
    return total.astype(x.dtype).reshape(features)


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(layer_norm_p, "numba", layer_norm, applies=applies)
    register_kernel(layer_norm_grad_p, "numba", layer_norm_grad, applies=applies_grad)
    register_kernel(
        layer_norm_scale_grad_p, "numba", layer_norm_scale_grad, applies=applies_scale_grad
    )

__all__ = [
    "PARALLEL_MIN_SIZE",
    "applies",
    "applies_grad",
    "applies_scale_grad",
    "layer_norm",
    "layer_norm_grad",
    "layer_norm_scale_grad",
]
