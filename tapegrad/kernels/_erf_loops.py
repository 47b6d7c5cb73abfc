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


@njit()
def gelu_into(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = x / 2 * (1 + erf(x / sqrt 2))``, computed in float64."""
    for i in range(x.size):
        v = np.float64(x[i])
        out[i] = 0.5 * v * (1.0 + math.erf(v * 0.7071067811865476))


@njit()
def gelu_grad_into(x: np.ndarray, out: np.ndarray) -> None:  # pragma: no cover (compiled)
    """``out[i] = Phi(x) + x phi(x)``, computed in float64."""
    for i in range(x.size):
        v = np.float64(x[i])
        cdf = 0.5 * (1.0 + math.erf(v * 0.7071067811865476))
        out[i] = cdf + v * (math.exp(-0.5 * (v * v)) * 0.3989422804014327)
