"""numba loops that copy the patches of a 2-D convolution (im2col), channels-last (the `jit`
extra).

`tapegrad.kernels.numba_conv` runs them in place of the strided-view copy of
`tapegrad.core.prims.conv`; the GEMM stays NumPy's. Both write exactly the matrix the impl
copies, so the products are the impl's bit for bit:

- `patches_rows`: ``(rows, kh * kw * C)``, one row per output pixel (many channels);
- `patches_columns`: its transpose ``(kh * kw * C, rows)``, for few channels, where a row
  of the output image is one contiguous run of each column;
- `col2im`: the transpose of `patches_rows` (the input cotangent from the patches'
  cotangents), summing the patches that share an input element in one pass.

Geometry: window ``(kh, kw)``, strides ``(sh, sw)``, dilation ``(dh, dw)``, the padding
before each spatial dim ``(ph, pw)``; patch elements in the padding are 0. Each loop exists
twice: serial, and a ``parallel=True`` twin (the ``_parallel`` names) that splits the output
rows over numba's threads.
"""

from __future__ import annotations

from typing import Any

from numba import prange

from tapegrad.kernels._numba import njit, njit_parallel

_OPTIONS = {"error_model": "numpy", "nogil": True, "boundscheck": False}


def _valid(out_w: int, width: int, sw: int, start: int) -> tuple[int, int]:
    """The output columns ``[lo, hi)`` whose input column ``j * sw + start`` is inside."""
    lo = 0 if start >= 0 else (-start + sw - 1) // sw
    hi = 0 if start >= width else (width - 1 - start) // sw + 1
    return min(lo, out_w), max(min(hi, out_w), min(lo, out_w))


def _patches_rows(
    x: Any,
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    dh: int,
    dw: int,
    ph: int,
    pw: int,
    out_h: int,
    out_w: int,
    cols: Any,
) -> None:
    """``cols[(n * out_h + i) * out_w + j, (a * kw + b) * C + c]`` =
    ``x[n, i * sh - ph + a * dh, j * sw - pw + b * dw, c]`` (0 in the padding)."""
    n_images, height, width, channels = x.shape
    for r in prange(n_images * out_h):
        n = r // out_h
        i = r - n * out_h
        base = r * out_w
        for a in range(kh):
            h = i * sh - ph + a * dh
            for b in range(kw):
                col = (a * kw + b) * channels
                start = b * dw - pw
                if h < 0 or h >= height:
                    lo, hi = out_w, out_w
                else:
                    lo, hi = _valid_inline(out_w, width, sw, start)
                for j in range(lo):
                    for c in range(channels):
                        cols[base + j, col + c] = 0
                for j in range(lo, hi):
                    w = j * sw + start
                    for c in range(channels):
                        cols[base + j, col + c] = x[n, h, w, c]
                for j in range(hi, out_w):
                    for c in range(channels):
                        cols[base + j, col + c] = 0


def _patches_columns(
    x: Any,
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    dh: int,
    dw: int,
    ph: int,
    pw: int,
    out_h: int,
    out_w: int,
    cols: Any,
) -> None:
    """The transpose of `patches_rows`: ``cols[(a * kw + b) * C + c, pixel]``."""
    n_images, height, width, channels = x.shape
    for r in prange(n_images * out_h):
        n = r // out_h
        i = r - n * out_h
        base = r * out_w
        for a in range(kh):
            h = i * sh - ph + a * dh
            for b in range(kw):
                start = b * dw - pw
                if h < 0 or h >= height:
                    lo, hi = out_w, out_w
                else:
                    lo, hi = _valid_inline(out_w, width, sw, start)
                for c in range(channels):
                    row = (a * kw + b) * channels + c
                    for j in range(lo):
                        cols[row, base + j] = 0
                    for j in range(lo, hi):
                        cols[row, base + j] = x[n, h, j * sw + start, c]
                    for j in range(hi, out_w):
                        cols[row, base + j] = 0


def _col2im(
    cols: Any,
    kh: int,
    kw: int,
    sh: int,
    sw: int,
    dh: int,
    dw: int,
    ph: int,
    pw: int,
    out_h: int,
    out_w: int,
    dx: Any,
) -> None:
    """The transpose of `patches_rows`: ``dx[n, h, w, c]`` = the sum of the patch elements
    ``cols[pixel, (a * kw + b) * C + c]`` that copy ``x[n, h, w, c]`` (offsets in row-major
    order), every element of ``dx`` written once."""
    n_images, height, width, channels = dx.shape
    for r in prange(n_images * height):
        n = r // height
        h = r - n * height
        for w in range(width):
            for c in range(channels):
                dx[n, h, w, c] = 0
            for a in range(kh):
                ti = h + ph - a * dh
                i = ti // sh
                if ti < 0 or i * sh != ti or i >= out_h:
                    continue
                for b in range(kw):
                    tj = w + pw - b * dw
                    j = tj // sw
                    if tj < 0 or j * sw != tj or j >= out_w:
                        continue
                    row = (n * out_h + i) * out_w + j
                    col = (a * kw + b) * channels
                    for c in range(channels):
                        dx[n, h, w, c] += cols[row, col + c]


_valid_inline = njit(inline="always", **_OPTIONS)(_valid)
patches_rows = njit(**_OPTIONS)(_patches_rows)
patches_rows_parallel = njit_parallel(**_OPTIONS)(_patches_rows)
patches_columns = njit(**_OPTIONS)(_patches_columns)
patches_columns_parallel = njit_parallel(**_OPTIONS)(_patches_columns)
col2im = njit(**_OPTIONS)(_col2im)
col2im_parallel = njit_parallel(**_OPTIONS)(_col2im)

__all__ = [
    "col2im",
    "col2im_parallel",
    "patches_columns",
    "patches_columns_parallel",
    "patches_rows",
    "patches_rows_parallel",
]
