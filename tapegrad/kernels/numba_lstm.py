"""The LSTM's step loops in numba (engine ``"numba"``, float32).

Registered for `lstm` and `lstm_grad` on float32 NumPy arrays: the loops of
`tapegrad.core.prims.lstm` (`lstm_sequence`, `lstm_sequence_grad`: GEMMs, layout, chunks)
with each step's elementwise work done by the compiled steps of `_lstm_loops` (numba is
imported on the first call, where it is installed). The backward step gives the NumPy step's
results bit for bit; the forward step's ``tanh`` is within a few 1e-7 of NumPy's.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from typing import Any

import numpy as np

from tapegrad.core.prims.lstm import (
    lstm_grad_p,
    lstm_p,
    lstm_sequence,
    lstm_sequence_grad,
)
from tapegrad.kernels.registry import register_kernel

_F32 = np.dtype(np.float32)


@functools.cache
def _loops() -> Any:
    """The compiled steps, or None where numba cannot be imported."""
    try:
        return importlib.import_module("tapegrad.kernels._lstm_loops")
    except ImportError:
        return None


def _all_f32(arrays: tuple[Any, ...]) -> bool:
    return all(type(a) is np.ndarray and a.dtype == _F32 for a in arrays)


def applies(*arrays: Any, **params: Any) -> bool:
    """Whether the kernels take these arguments: float32 NumPy arrays, numba importable."""
    return _all_f32(arrays) and _loops() is not None


def lstm(x: np.ndarray, weights: np.ndarray, state0: np.ndarray) -> tuple[np.ndarray, ...]:
    """`lstm` with numba's forward step."""
    return lstm_sequence(x, weights, state0, _loops().forward_step)


def lstm_grad(
    g_hs: np.ndarray,
    g_cs: np.ndarray,
    x: np.ndarray,
    weights: np.ndarray,
    state0: np.ndarray,
    hs: np.ndarray,
    cs: np.ndarray,
    residual: np.ndarray,
    argnum: int,
) -> np.ndarray:
    """`lstm_grad` with numba's backward step."""
    return lstm_sequence_grad(
        g_hs, g_cs, x, weights, state0, hs, cs, residual, argnum, _loops().backward_step
    )


if importlib.util.find_spec("numba") is not None:  # (the `jit` extra)
    register_kernel(lstm_p, "numba", lstm, applies=applies)
    register_kernel(lstm_grad_p, "numba", lstm_grad, applies=applies)

__all__ = ["applies", "lstm", "lstm_grad"]
