"""NumPy's window functions: ``bartlett``, ``blackman``, ``hamming``, ``hanning``
(constants of the length: pass-through) and ``kaiser``, whose ``beta`` is differentiable.

Examples:
    >>> hanning(5)
    array([0. , 0.5, 1. , 0.5, 0. ])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._calculus import i0

__all__ = ["bartlett", "blackman", "hamming", "hanning", "kaiser"]


def bartlett(M: int) -> np.ndarray:  # noqa: N803 - NumPy's name
    """``numpy.bartlett``: the triangular window (a constant array)."""
    return np.bartlett(M)


def blackman(M: int) -> np.ndarray:  # noqa: N803
    """``numpy.blackman``: the Blackman window (a constant array)."""
    return np.blackman(M)


def hamming(M: int) -> np.ndarray:  # noqa: N803
    """``numpy.hamming``: the Hamming window (a constant array)."""
    return np.hamming(M)


def hanning(M: int) -> np.ndarray:  # noqa: N803
    """``numpy.hanning``: the Hann window (a constant array)."""
    return np.hanning(M)


def kaiser(M: int, beta: Any) -> Any:  # noqa: N803
    """``numpy.kaiser``: the Kaiser window, differentiable in ``beta``.

    Examples:
        >>> import tapegrad as tg
        >>> kaiser(4, 2.0).round(4)
        array([0.4387, 0.9243, 0.9243, 0.4387])
        >>> w = tg.grad(lambda b: kaiser(4, b)[0])(tg.tensor(2.0, dtype="float64"))
        >>> print(f"{float(w):.4f}")
        -0.3061
    """
    if not isinstance(beta, Tensor):
        return np.kaiser(M, beta)
    # NumPy computes in at least float64 (its 0.0 in the values array).
    dtype = np.result_type(np.float64, beta.dtype)
    beta = P.cast_p(beta, dtype=dtype) if beta.dtype != dtype else beta
    if M == 1:
        return P.where_p(np.ones(1, bool), np.ones(1, dtype), beta)
    n = np.arange(0, M, dtype=dtype)
    alpha = (M - 1) / 2.0
    return i0(beta * np.sqrt(1 - ((n - alpha) / alpha) ** 2.0)) / i0(beta)
