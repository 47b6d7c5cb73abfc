"""The LSTM over a whole sequence as one op, next to the composite it must equal.

`lstm` records one primitive (`lstm`, `tapegrad.core.prims.lstm`) eagerly and when traced;
`lstm_reference` is the same computation written with ordinary ops (``matmul``,
``sigmoid``, ``tanh``, one step at a time): values and derivatives of both agree
(tests/ops/test_lstm.py).

The gate blocks of the weights' columns are in the canonical order
`tapegrad.core.prims.lstm.GATES`: input, forget, cell candidate, output (``i, f, g, o``;
Keras' and PyTorch's order).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.prims.lstm import GATES, lstm_p
from tapegrad.core.tensor import dtype_of, shape_of


def _state0(batch: int, units: int, dtype: np.dtype, initial_state: Any) -> Any:
    if initial_state is None:
        return np.zeros((batch, 2 * units), dtype)
    h0, c0 = initial_state
    return P.concatenate_p(h0, c0, axis=-1)


def lstm(
    inputs: Any, kernel: Any, recurrent_kernel: Any, bias: Any = None, initial_state: Any = None
) -> tuple[Any, Any]:
    """An LSTM over a whole sequence as one op (the `LSTM` layer's computation).

    ``z = x_t @ kernel + h @ recurrent_kernel + bias`` split into the gates ``i, f, g, o``
    (`GATES`); ``c' = f * c + i * tanh(z_g)``, ``h' = o * tanh(c')`` with
    ``i, f, o = sigmoid(z_i, z_f, z_o)``. One primitive (`lstm`) runs every step, with
    analytic derivatives of any order.

    Args:
        inputs: ``(batch, time, features)``.
        kernel: ``(features, 4 * units)``.
        recurrent_kernel: ``(units, 4 * units)``.
        bias: ``(4 * units,)``, or None for no bias.
        initial_state: ``[h0, c0]``, each ``(batch, units)``; None: zeros.

    Returns:
        ``(hs, cs)``: ``h`` and ``c`` after every step, each ``(batch, time, units)``.

    Examples:
        >>> import numpy as np
        >>> x = np.ones((2, 5, 3), np.float32)
        >>> hs, cs = lstm(x, np.zeros((3, 8), np.float32), np.zeros((2, 8), np.float32))
        >>> hs.shape, float(cs[0, -1, 0])  # gates 0.5, cell input 0: c stays 0
        ((2, 5, 2), 0.0)
    """
    batch = shape_of(inputs)[0]
    units = shape_of(recurrent_kernel)[0]
    dtype = np.result_type(*(dtype_of(a) for a in (inputs, kernel, recurrent_kernel)))
    row = np.zeros((1, 4 * units), dtype) if bias is None else P.reshape_p(bias, shape=(1, -1))
    # Data, weights and states as three arguments: one backward pass serves all weights.
    weights = P.concatenate_p(kernel, recurrent_kernel, row, axis=0)
    state0 = _state0(batch, units, dtype, initial_state)
    hs, cs, _ = lstm_p(inputs, weights, state0)  # (the residual is the backward pass's)
    return hs, cs


def lstm_reference(
    inputs: Any, kernel: Any, recurrent_kernel: Any, bias: Any = None, initial_state: Any = None
) -> tuple[Any, Any]:
    """`lstm` written with ordinary ops, one step at a time: the definition it must equal.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> x, k, r = rng.normal(size=(2, 4, 3)), rng.normal(size=(3, 8)), rng.normal(size=(2, 8))
        >>> fast, slow = lstm(x, k, r), lstm_reference(x, k, r)
        >>> bool(np.allclose(fast[0], slow[0]) and np.allclose(fast[1], slow[1]))
        True
    """
    batch, steps = shape_of(inputs)[:2]
    units = shape_of(recurrent_kernel)[0]
    if initial_state is None:
        dtype = np.result_type(*(dtype_of(a) for a in (inputs, kernel, recurrent_kernel)))
        h: Any = np.zeros((batch, units), dtype)
        c: Any = np.zeros((batch, units), dtype)
    else:
        h, c = initial_state
    hs, cs = [], []
    for t in range(steps):
        z = P.matmul_p(inputs[:, t], kernel) + P.matmul_p(h, recurrent_kernel)
        if bias is not None:
            z = z + bias
        blocks = dict(
            zip(GATES, (z[:, k * units : (k + 1) * units] for k in range(4)), strict=True)
        )
        i, f, o = (P.sigmoid_p(blocks[name]) for name in ("i", "f", "o"))
        c = f * c + i * P.tanh_p(blocks["g"])
        h = o * P.tanh_p(c)
        hs.append(P.reshape_p(h, shape=(batch, 1, units)))
        cs.append(P.reshape_p(c, shape=(batch, 1, units)))
    return P.concatenate_p(*hs, axis=1), P.concatenate_p(*cs, axis=1)


__all__ = ["lstm", "lstm_reference"]
