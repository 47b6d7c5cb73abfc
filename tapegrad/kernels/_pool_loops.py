"""numba loops for 2-D max pooling, channels-last (the `jit` extra).

`tapegrad.kernels.numba_pool` runs them for `max_pool`, `pool_argmax` and `pool_scatter`.
Each loop reads every window once where the NumPy impls make one strided pass per window
offset (and, for the argmax and the scatter, boolean temporaries per offset). Each loop
exists twice: serial, and a ``parallel=True`` twin (the ``_parallel`` names) that splits the
output rows over numba's threads. Geometry: window ``(kh, kw)``, strides ``(sh, sw)``, the
padding before each spatial dim ``(ph, pw)``; elements of the padding are ``lowest`` for
the maximum and receive nothing in the scatter, as in the impls.
"""

from __future__ import annotations

from typing import Any

from numba import prange

from tapegrad.kernels._numba import njit, njit_parallel

_OPTIONS = {"error_model": "numpy", "nogil": True, "boundscheck": False}


def _max_pool(
    x: Any, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, lowest: Any, out: Any
) -> None:
    """``out[n, i, j, c]``: the maximum of window ``(i, j)`` (a NaN wins, as np.maximum)."""
    n_images, height, width, channels = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for r in prange(n_images * out_h):
        n = r // out_h
        i = r - n * out_h
        for j in range(out_w):
            for c in range(channels):
                out[n, i, j, c] = lowest
            for a in range(kh):
                h = i * sh - ph + a
                if h < 0 or h >= height:
                    continue
                for b in range(kw):
                    w = j * sw - pw + b
                    if w < 0 or w >= width:
                        continue
                    for c in range(channels):
                        v = x[n, h, w, c]
                        m = out[n, i, j, c]
                        # A select, not a conditional store: the channel loop vectorizes.
                        out[n, i, j, c] = v if (v > m or v != v) else m


def _pool_argmax(
    x: Any,
    maxima: Any,
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    ph: int,
    pw: int,
    lowest: Any,
    index: Any,
) -> None:
    """``index[n, i, j, c]``: the first offset of window ``(i, j)`` whose element equals the
    window's maximum (the last offset where none does: a NaN maximum)."""
    n_images, height, width, channels = x.shape
    out_h, out_w = index.shape[1], index.shape[2]
    last = kh * kw - 1
    for r in prange(n_images * out_h):
        n = r // out_h
        i = r - n * out_h
        for j in range(out_w):
            for c in range(channels):
                index[n, i, j, c] = last
            # Offsets from the last but one back to the first: the first equal one is
            # written last, and the channel loop has no early exit (it vectorizes).
            for k in range(last - 1, -1, -1):
                a = k // kw
                h = i * sh - ph + a
                w = j * sw - pw + (k - a * kw)
                if 0 <= h < height and 0 <= w < width:
                    for c in range(channels):
                        if x[n, h, w, c] == maxima[n, i, j, c]:
                            index[n, i, j, c] = k
                else:
                    for c in range(channels):
                        if lowest == maxima[n, i, j, c]:
                            index[n, i, j, c] = k


def _pool_scatter(
    g: Any, index: Any, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, zero: Any, out: Any
) -> None:
    """For windows that do not overlap: each element of window ``(i, j)`` gets
    ``g[n, i, j, c]`` if ``index`` selects it, else ``zero`` (``out`` may start uninitialized where
    the windows cover it)."""
    n_images, height, width, channels = out.shape
    out_h, out_w = g.shape[1], g.shape[2]
    for r in prange(n_images * out_h):
        n = r // out_h
        i = r - n * out_h
        for j in range(out_w):
            for a in range(kh):
                h = i * sh - ph + a
                if h < 0 or h >= height:
                    continue
                for b in range(kw):
                    w = j * sw - pw + b
                    if w < 0 or w >= width:
                        continue
                    k = a * kw + b
                    for c in range(channels):
                        out[n, h, w, c] = g[n, i, j, c] if index[n, i, j, c] == k else zero


max_pool = njit(**_OPTIONS)(_max_pool)
max_pool_parallel = njit_parallel(**_OPTIONS)(_max_pool)
pool_argmax = njit(**_OPTIONS)(_pool_argmax)
pool_argmax_parallel = njit_parallel(**_OPTIONS)(_pool_argmax)
pool_scatter = njit(**_OPTIONS)(_pool_scatter)
pool_scatter_parallel = njit_parallel(**_OPTIONS)(_pool_scatter)

__all__ = [
    "max_pool",
    "max_pool_parallel",
    "pool_argmax",
    "pool_argmax_parallel",
    "pool_scatter",
    "pool_scatter_parallel",
]
