"""The discrete Fourier transform as one primitive: ``fft`` (kinds fft, ifft, rfft, irfft).

``fft_p(x, kind=..., axes=..., s=..., norm=...)`` is NumPy's ``fftn``/``ifftn``/``rfftn``/
``irfftn`` over ``axes`` with output lengths ``s``; callers crop or zero-pad the input
first (`tapegrad.numpy.fft`), so the op never resizes its input except that ``irfft``
builds its ``s[-1]`` real outputs from ``s[-1] // 2 + 1`` complex ones.

Every kind is linear, so its JVP is the op itself on the tangent. The VJPs are the
transposes in JAX's pairing ``Re(sum(g * t))`` (no conjugate), as JAX's ``fft`` rules:

* ``fft``, ``ifft``: the DFT matrix is symmetric, so the transpose is the same transform;
* ``rfft``: the full transform of the cotangent zero-padded to the input's length, real
  part (the input is real);
* ``irfft``: ``conj(c * mask * rfft(g))``, where ``mask`` counts each kept frequency's
  Hermitian twins (1 for the zero and Nyquist bins, 2 for the others) and ``c`` is the
  inverse's scale (1/N for ``norm="backward"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core.primitive import Primitive
from tapegrad.core.prims.elementwise import conj_p, real_part
from tapegrad.core.prims.shape import pad_p
from tapegrad.core.tensor import dtype_of, shape_of

_IMPLS: dict[str, Any] = {
    "fft": np.fft.fftn,
    "ifft": np.fft.ifftn,
    "rfft": np.fft.rfftn,
    "irfft": np.fft.irfftn,
}
# The scale that turns a norm of the inverse into the forward transform's same-scale norm.
_DUAL = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


def _fft_impl(x: Any, kind: str, axes: tuple[int, ...], s: tuple[int, ...], norm: str) -> Any:
    return _IMPLS[kind](x, s=s, axes=axes, norm=norm)


def _fft_jvp(t: Any, ans: Any, x: Any, kind: str, axes: Any, s: Any, norm: str) -> Any:
    return fft_p(t, kind=kind, axes=axes, s=s, norm=norm)


def _fft_vjp(g: Any, ans: Any, x: Any, kind: str, axes: Any, s: Any, norm: str) -> Any:
    if kind in ("fft", "ifft"):
        grad = fft_p(g, kind=kind, axes=axes, s=s, norm=norm)
        return real_part(grad) if dtype_of(x).kind != "c" else grad
    if kind == "rfft":
        # The half spectrum of a length-n axis is the first n // 2 + 1 bins of the full one.
        n, kept = s[-1], shape_of(g)[axes[-1]]
        width = [(0, 0)] * len(shape_of(g))
        width[axes[-1]] = (0, n - kept)
        full = pad_p(g, pad_width=tuple(width))
        return real_part(fft_p(full, kind="fft", axes=axes, s=s, norm=norm))
    # irfft
    half = s[-1] // 2 + 1
    spectrum = fft_p(g, kind="rfft", axes=axes, s=s, norm=_DUAL[norm])
    twins = np.full(half, 2.0)
    twins[0] = 1.0
    if s[-1] % 2 == 0:
        twins[-1] = 1.0
    shape = [1] * len(shape_of(g))
    shape[axes[-1]] = half
    weights = twins.reshape(shape).astype(dtype_of(g))
    return conj_p(spectrum * weights)


fft_p = Primitive("fft", _fft_impl, returns="fresh")
fft_p.defvjp(_fft_vjp)
fft_p.defjvp(_fft_jvp)
