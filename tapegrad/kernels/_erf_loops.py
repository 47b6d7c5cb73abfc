"""numba loop of the `numba_erf` kernel (imported on its first call, where numba is installed)."""

from __future__ import annotations

import math

import numpy as np

from tapegrad.kernels._numba import njit


@njit()
def erf_into(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = erf(x[i])`` on flat arrays, in float64 whatever their dtype (as the impl)."""
    for i in range(x.size):
        out[i] = math.erf(np.float64(x[i]))
