"""numba loops for the elementwise work of one LSTM step (float32; the `jit` extra).

`tapegrad.kernels.numba_lstm` runs them inside the loops of `tapegrad.core.prims.lstm` (they
have the signatures of its `forward_step` and `backward_step`). Per step the NumPy steps make
about a dozen passes over the gates, and NumPy's float32 ``exp`` and ``tanh`` have no fast
SIMD loop on the machines we measure; these make one pass, with a rational ``tanh`` the
compiler vectorizes.

- `forward_step`: gates and cell from the step's pre-activations, with ``tanh`` from `tanh32`
  (Eigen's rational approximation: within 2.7e-7 of tanh, 4.4 ulps) and ``sigmoid(z)`` as
  ``(1 + tanh(z / 2)) / 2``: a few 1e-7 from the NumPy step.
- `backward_step`: the gate cotangents of one step from the stored gates, the same float
  operations in the same order as `tapegrad.core.prims.lstm.cell_vjp`: bit for bit its
  results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.kernels._numba import njit

F32 = np.float32
# |x| beyond which the rational approximation is flat (tanh rounds to +-(1 - 2**-22) there).
_TANH_CLAMP = F32(7.90531110763549805)


@njit(inline="always", fastmath={"contract"}, error_model="numpy", nogil=True)
def tanh32(x: Any) -> Any:
    """float32 tanh as a 13/6 rational function of the clamped argument (no branches: the
    loops that call it vectorize). NaN stays NaN."""
    v = np.minimum(np.maximum(x, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = v * v
    p = F32(-2.76076847742355e-16)
    p = p * x2 + F32(2.00018790482477e-13)
    p = p * x2 + F32(-8.60467152213735e-11)
    p = p * x2 + F32(5.12229709037114e-08)
    p = p * x2 + F32(1.48572235717979e-05)
    p = p * x2 + F32(6.37261928875436e-04)
    p = p * x2 + F32(4.89352455891786e-03)
    q = F32(1.19825839466702e-06)
    q = q * x2 + F32(1.18534705686654e-04)
    q = q * x2 + F32(2.26843463243900e-03)
    q = q * x2 + F32(4.89352518554385e-03)
    return (p * v) / q


@njit(fastmath={"contract"}, error_model="numpy", nogil=True, boundscheck=False)
def forward_step(a: Any, recurrent: Any, c_prev: Any, c: Any, tanh_c: Any, h: Any) -> None:
    """One step: ``a`` (4H, B) holds the input projection (gate blocks i, f, g, o); adds
    ``recurrent``, then overwrites ``a`` with the gates and writes ``c``, ``tanh(c)`` and
    ``h``."""
    four_u, batch = a.shape
    u = four_u // 4
    half = F32(0.5)
    for k in range(four_u):
        if 2 * u <= k < 3 * u:
            for b in range(batch):
                a[k, b] = tanh32(a[k, b] + recurrent[k, b])
        else:
            for b in range(batch):
                a[k, b] = half + half * tanh32(half * (a[k, b] + recurrent[k, b]))
    for k in range(u):
        for b in range(batch):
            cell = a[u + k, b] * c_prev[k, b] + a[k, b] * a[2 * u + k, b]
            t = tanh32(cell)
            c[k, b] = cell
            tanh_c[k, b] = t
            h[k, b] = a[3 * u + k, b] * t


@njit(error_model="numpy", nogil=True, boundscheck=False)
def forward_steps(block: Any, w_rec: Any, recurrent: Any, bounds: Any) -> None:
    """`tapegrad.core.prims.lstm.forward_steps` with `forward_step`: every step's recurrent
    product as row blocks ``bounds[j]:bounds[j + 1]`` of ``w_rec`` (the BLAS, through
    numba's ``np.dot``), then its cell update, with no Python between steps."""
    u = w_rec.shape[1]
    for t in range(block.shape[0] - 1):
        h = block[t, :u]
        for j in range(len(bounds) - 1):
            np.dot(w_rec[bounds[j] : bounds[j + 1]], h, recurrent[bounds[j] : bounds[j + 1]])
        now = block[t + 1]
        forward_step(
            now[2 * u : 6 * u],
            recurrent,
            block[t, u : 2 * u],
            now[u : 2 * u],
            now[6 * u :],
            now[:u],
        )


@njit(error_model="numpy", nogil=True, boundscheck=False)
def backward_step(a: Any, tanh_c: Any, c_prev: Any, g_h: Any, dh: Any, dc: Any, d: Any) -> None:
    """One step of BPTT: from the gates ``a`` (4H, B), ``tanh(c)`` and ``c_prev``, with
    ``dh + g_h`` (the later steps' share and the output's) and ``dc`` the cotangents of this
    step's h and c, write the pre-activation cotangents into ``d`` (4H, B) and ``dc * f``
    into ``dc``."""
    u, batch = dh.shape
    one = F32(1.0)
    for k in range(u):
        for b in range(batch):
            i = a[k, b]
            f = a[u + k, b]
            g = a[2 * u + k, b]
            o = a[3 * u + k, b]
            tc = tanh_c[k, b]
            dhv = dh[k, b] + g_h[k, b]
            dcv = dc[k, b] + (one - tc * tc) * o * dhv
            d[k, b] = dcv * g * (i - i * i)
            d[u + k, b] = dcv * c_prev[k, b] * (f - f * f)
            d[2 * u + k, b] = dcv * i * (one - g * g)
            d[3 * u + k, b] = dhv * tc * (o - o * o)
            dc[k, b] = dcv * f


__all__ = ["backward_step", "forward_step", "forward_steps", "tanh32"]
