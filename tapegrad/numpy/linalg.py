"""tapegrad.numpy.linalg: differentiable linear algebra."""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P


def _ndim(x: Any) -> int:
    return np.ndim(getattr(x, "_value", x))


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """Differentiable ``numpy.linalg.norm`` (vector norms and the Frobenius norm)."""
    if ord not in (None, 2, "fro") or (ord == 2 and axis is None and _ndim(x) == 2):
        raise NotImplementedError(f"norm: ord={ord!r} is not supported yet")
    if axis is not None:
        axis = (axis,) if isinstance(axis, int) else tuple(axis)
        axis = tuple(sorted(a % _ndim(x) for a in axis))
    return P.sqrt_p(P.sum_p(x * x, axis=axis, keepdims=keepdims))
