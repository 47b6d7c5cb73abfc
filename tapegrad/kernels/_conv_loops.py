"""numba loops for 2-D convolutions, channels-last (the `jit` extra).

`tapegrad.kernels.numba_conv` runs them. `col2im` adds each output position's patch
cotangents (one row of ``cotangent @ kernel^T``) into the input's cotangent in one pass,
where the reference impl first copies the cotangent's windows (the im2col of ``g``, one
patch row per input position, with the output channels inside) and multiplies by the
flipped kernel. Geometry: window ``(kh, kw)``, strides ``(sh, sw)``, dilation
``(dh, dw)``, the padding before each spatial dim ``(ph, pw)``; patch elements that fall
in the padding are dropped, as in the impl. The ``parallel=True`` twin splits the images
over numba's threads (the windows of one image overlap, those of two images never do).
"""

from __future__ import annotations

from typing import Any

from numba import prange

from tapegrad.kernels._numba import njit, njit_parallel

_OPTIONS = {"error_model": "numpy", "nogil": True, "boundscheck": False}


def _col2im(
    cols: Any, kh: int, kw: int, sh: int, sw: int, ph: int, pw: int, dh: int, dw: int, dx: Any
) -> None:
    """``dx[n, h, w, c] += cols[n, i, j, (a * kw + b) * C + c]`` for every window offset
    ``(a, b)`` of output ``(i, j)`` that lands on input ``(h, w)`` (``dx`` starts at 0)."""
    n_images, out_h, out_w = cols.shape[0], cols.shape[1], cols.shape[2]
    height, width, channels = dx.shape[1], dx.shape[2], dx.shape[3]
    for n in prange(n_images):
        for i in range(out_h):
            for a in range(kh):
                h = i * sh - ph + a * dh
                if h < 0 or h >= height:
                    continue
                for b in range(kw):
                    # The outputs j whose input column j * sw + shift is inside the image:
                    # the loop over them has no test (and its channel loop vectorizes).
                    shift = b * dw - pw
                    j_first = max(0, (sw - 1 - shift) // sw)
                    j_end = min(out_w, (width - 1 - shift) // sw + 1)
                    base = (a * kw + b) * channels
                    for j in range(j_first, j_end):
                        w = j * sw + shift
                        for c in range(channels):
                            dx[n, h, w, c] += cols[n, i, j, base + c]


col2im = njit(**_OPTIONS)(_col2im)
col2im_parallel = njit_parallel(**_OPTIONS)(_col2im)

__all__ = ["col2im", "col2im_parallel"]
