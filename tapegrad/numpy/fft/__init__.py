"""tapegrad.numpy.fft: NumPy's discrete Fourier transforms, differentiable to any order.

Every transform is the one ``fft`` primitive (``tapegrad/core/prims/fft.py``) after
cropping or zero-padding the input to the requested lengths (``n``, ``s``), as NumPy does.
Gradients follow JAX's convention for complex numbers (see ``docs/numpy.md``): ``rfft``
and ``irfft`` account for the Hermitian halving, and a real input gets a real gradient.
``hfft``/``ihfft`` are ``irfft``/``rfft`` of the conjugate (as NumPy defines them), and
``fftfreq``/``rfftfreq`` are differentiable in the sample spacing ``d``.

Examples:
    >>> import numpy as np
    >>> import tapegrad as tg
    >>> import tapegrad.numpy as tnp
    >>> tnp.fft.rfft(np.array([1.0, 2.0, 3.0, 4.0]))
    array([10.+0.j, -2.+2.j, -2.+0.j])
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> tg.grad(lambda x: tnp.sum(tnp.abs(tnp.fft.fft(x)) ** 2))(x).numpy()  # Parseval
    array([ 8., 16., 24., 32.])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor
from tapegrad.numpy._arguments import argument_preparer as _argument_preparer
from tapegrad.numpy._arguments import as_array as _array
from tapegrad.numpy._arguments import dtype_of as _dtype
from tapegrad.numpy._arguments import ndim_of as _ndim
from tapegrad.numpy._arguments import shape_of as _shape
from tapegrad.numpy._axes import axis_index
from tapegrad.numpy._manipulation import roll
from tapegrad.symbolic import wrap_namespace as _wrap_namespace

__all__ = [
    "fft",
    "fft2",
    "fftfreq",
    "fftn",
    "fftshift",
    "hfft",
    "ifft",
    "ifft2",
    "ifftn",
    "ifftshift",
    "ihfft",
    "irfft",
    "irfft2",
    "irfftn",
    "rfft",
    "rfft2",
    "rfftfreq",
    "rfftn",
]

_NORMS = ("backward", "ortho", "forward")
# hfft/ihfft scale as the transforms they invert (NumPy's _swap_direction).
_SWAPPED = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


# -- helpers ---------------------------------------------------------------------------------
def _norm(norm: str | None, name: str) -> str:
    if norm is None:
        return "backward"
    if norm not in _NORMS:
        raise ValueError(
            f'tapegrad.numpy.fft.{name}: invalid norm {norm!r}; use None, "backward", '
            '"ortho" or "forward"'
        )
    return norm


def _no_out(out: Any, name: str) -> None:
    if out is not None:
        raise TypeError(
            f"tapegrad.numpy.fft.{name}: out= is not supported (tapegrad arrays are not "
            "written in place); use the returned array"
        )


def _inexact(a: Any, complex_input: bool) -> Any:
    """``a`` as a float or complex array (integers become float64 or complex128, as
    NumPy computes)."""
    a = _array(a)
    kind = _dtype(a).kind
    if kind in "biu":
        return P.cast_p(a, dtype=np.complex128 if complex_input else np.float64)
    return a


def _fit(a: Any, axis: int, length: int, name: str) -> Any:
    """``a`` cropped or zero-padded to ``length`` along ``axis`` (NumPy's ``n``)."""
    if length < 1:
        raise ValueError(f"tapegrad.numpy.fft.{name}: invalid number of data points ({length})")
    size = _shape(a)[axis]
    if size == length:
        return a
    if size > length:
        index = (slice(None),) * axis + (slice(0, length),)
        return P.getitem_p(a, index=index)
    width = [(0, 0)] * _ndim(a)
    width[axis] = (0, length - size)
    return P.pad_p(a, pad_width=tuple(width))


def _axes_and_lengths(
    a: Any, s: Sequence[int] | None, axes: Sequence[int] | None, name: str
) -> tuple[tuple[int, ...], list[int | None]]:
    """NumPy's rules: ``axes`` default to the last ``len(s)`` axes (or all)."""
    nd = _ndim(a)
    if axes is None:
        axes = tuple(range(nd - len(s), nd)) if s is not None else tuple(range(nd))
    axes = tuple(axis_index(ax, nd, f"fft.{name}") for ax in axes)
    if s is not None and len(s) != len(axes):
        raise ValueError(f"tapegrad.numpy.fft.{name}: s and axes have different lengths")
    lengths: list[int | None] = list(s) if s is not None else [None] * len(axes)
    return axes, lengths


def _transform(kind: str, a: Any, s: Any, axes: Any, norm: Any, name: str) -> Any:
    """One n-dimensional transform: crop/pad the input, then the primitive."""
    norm = _norm(norm, name)
    a = _inexact(a, complex_input=kind in ("fft", "ifft", "irfft"))
    if kind == "rfft" and _dtype(a).kind == "c":
        raise TypeError(f"tapegrad.numpy.fft.{name}: the input must be real, got {_dtype(a)}")
    axes, lengths = _axes_and_lengths(a, s, axes, name)
    if not axes:
        return a
    out_lengths = []
    for i, (axis, length) in enumerate(zip(axes, lengths, strict=True)):
        last = i == len(axes) - 1
        if kind == "irfft" and last:
            n = 2 * (_shape(a)[axis] - 1) if length is None else length
            a = _fit(a, axis, n // 2 + 1, name)
            out_lengths.append(n)
        else:
            if length is not None:
                a = _fit(a, axis, length, name)
            out_lengths.append(_shape(a)[axis])
    if kind == "irfft" and out_lengths[-1] < 1:
        raise ValueError(f"tapegrad.numpy.fft.{name}: invalid number of data points (0)")
    return P.fft_p(a, kind=kind, axes=axes, s=tuple(out_lengths), norm=norm)


def _one_axis(kind: str, a: Any, n: int | None, axis: int, norm: Any, name: str) -> Any:
    return _transform(kind, a, None if n is None else (n,), (axis,), norm, name)


# -- one axis --------------------------------------------------------------------------------
def fft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Any:
    """Differentiable ``numpy.fft.fft``: the 1-D discrete Fourier transform.

    Args:
        a: Input (real or complex; integers become float64).
        n: Length of the transformed axis (the input is cropped or zero-padded).
        axis: The axis to transform.
        norm: ``"backward"`` (default, no scale), ``"ortho"`` or ``"forward"`` (1/n).
        out: Not supported (raises TypeError when given).

    Returns:
        The complex transform.

    Examples:
        >>> import numpy as np
        >>> fft(np.array([1.0, 0.0, 0.0, 0.0]))
        array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    _no_out(out, "fft")
    return _one_axis("fft", a, n, axis, norm, "fft")


def ifft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Any:
    """Differentiable ``numpy.fft.ifft`` (arguments as `fft`).

    Examples:
        >>> import numpy as np
        >>> ifft(np.array([4.0, 0.0, 0.0, 0.0]))
        array([1.+0.j, 1.+0.j, 1.+0.j, 1.+0.j])
    """
    _no_out(out, "ifft")
    return _one_axis("ifft", a, n, axis, norm, "ifft")


def rfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Any:
    """Differentiable ``numpy.fft.rfft``: the ``n // 2 + 1`` non-negative frequencies of
    a real input's transform (arguments as `fft`).

    Examples:
        >>> import numpy as np
        >>> rfft(np.array([1.0, 1.0, 1.0, 1.0]))
        array([4.+0.j, 0.+0.j, 0.+0.j])
    """
    _no_out(out, "rfft")
    return _one_axis("rfft", a, n, axis, norm, "rfft")


def irfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Any:
    """Differentiable ``numpy.fft.irfft``: the real signal of length ``n`` (default
    ``2 * (m - 1)``) whose `rfft` is ``a`` (arguments as `fft`).

    Examples:
        >>> import numpy as np
        >>> irfft(np.array([4.0, 0.0, 0.0]))
        array([1., 1., 1., 1.])
    """
    _no_out(out, "irfft")
    return _one_axis("irfft", a, n, axis, norm, "irfft")


def hfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Any:
    """Differentiable ``numpy.fft.hfft``: the real transform of a Hermitian-symmetric
    signal given by its first half, ``irfft(conj(a))`` scaled as a forward transform.

    Examples:
        >>> import numpy as np
        >>> hfft(np.array([1.0, 0.0, 0.0]))
        array([1., 1., 1., 1.])
    """
    _no_out(out, "hfft")
    a = _inexact(a, complex_input=True)
    return _one_axis("irfft", P.conj_p(a), n, axis, _SWAPPED[_norm(norm, "hfft")], "hfft")


def ihfft(
    a: Any, n: int | None = None, axis: int = -1, norm: str | None = None, out: Any = None
) -> Any:
    """Differentiable ``numpy.fft.ihfft``: the inverse of `hfft`, ``conj(rfft(a))`` scaled
    as an inverse transform.

    Examples:
        >>> import numpy as np
        >>> ihfft(np.array([1.0, 1.0, 1.0, 1.0]))
        array([1.-0.j, 0.-0.j, 0.-0.j])
    """
    _no_out(out, "ihfft")
    return P.conj_p(_one_axis("rfft", a, n, axis, _SWAPPED[_norm(norm, "ihfft")], "ihfft"))


# -- several axes ----------------------------------------------------------------------------
def fftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str | None = None,
    out: Any = None,
) -> Any:
    """Differentiable ``numpy.fft.fftn``: the transform over several axes.

    Args:
        a: Input (real or complex).
        s: Lengths of the transformed axes (crop or zero-pad each).
        axes: The axes (default: the last ``len(s)``, or all).
        norm: ``"backward"``, ``"ortho"`` or ``"forward"``.
        out: Not supported (raises TypeError when given).

    Returns:
        The complex transform.

    Examples:
        >>> import numpy as np
        >>> fftn(np.ones((2, 2)))
        array([[4.+0.j, 0.+0.j],
               [0.+0.j, 0.+0.j]])
    """
    _no_out(out, "fftn")
    return _transform("fft", a, s, axes, norm, "fftn")


def ifftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str | None = None,
    out: Any = None,
) -> Any:
    """Differentiable ``numpy.fft.ifftn`` (arguments as `fftn`).

    Examples:
        >>> import numpy as np
        >>> ifftn(np.array([[4.0, 0.0], [0.0, 0.0]])).real
        array([[1., 1.],
               [1., 1.]])
    """
    _no_out(out, "ifftn")
    return _transform("ifft", a, s, axes, norm, "ifftn")


def rfftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str | None = None,
    out: Any = None,
) -> Any:
    """Differentiable ``numpy.fft.rfftn``: the last axis is halved (arguments as `fftn`).

    Examples:
        >>> import numpy as np
        >>> rfftn(np.ones((2, 4))).shape
        (2, 3)
    """
    _no_out(out, "rfftn")
    return _transform("rfft", a, s, axes, norm, "rfftn")


def irfftn(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] | None = None,
    norm: str | None = None,
    out: Any = None,
) -> Any:
    """Differentiable ``numpy.fft.irfftn``: the inverse of `rfftn` (arguments as `fftn`).

    Examples:
        >>> import numpy as np
        >>> irfftn(np.array([[8.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
        array([[1., 1., 1., 1.],
               [1., 1., 1., 1.]])
    """
    _no_out(out, "irfftn")
    return _transform("irfft", a, s, axes, norm, "irfftn")


def fft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] = (-2, -1),
    norm: str | None = None,
    out: Any = None,
) -> Any:
    """Differentiable ``numpy.fft.fft2``: `fftn` over the last two axes.

    Examples:
        >>> import numpy as np
        >>> fft2(np.ones((2, 2)))[0, 0]
        np.complex128(4+0j)
    """
    _no_out(out, "fft2")
    return _transform("fft", a, s, axes, norm, "fft2")


def ifft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] = (-2, -1),
    norm: str | None = None,
    out: Any = None,
) -> Any:
    """Differentiable ``numpy.fft.ifft2``: `ifftn` over the last two axes.

    Examples:
        >>> import numpy as np
        >>> ifft2(np.ones((2, 2)))[0, 0]
        np.complex128(1+0j)
    """
    _no_out(out, "ifft2")
    return _transform("ifft", a, s, axes, norm, "ifft2")


def rfft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] = (-2, -1),
    norm: str | None = None,
    out: Any = None,
) -> Any:
    """Differentiable ``numpy.fft.rfft2``: `rfftn` over the last two axes.

    Examples:
        >>> import numpy as np
        >>> rfft2(np.ones((2, 4))).shape
        (2, 3)
    """
    _no_out(out, "rfft2")
    return _transform("rfft", a, s, axes, norm, "rfft2")


def irfft2(
    a: Any,
    s: Sequence[int] | None = None,
    axes: Sequence[int] = (-2, -1),
    norm: str | None = None,
    out: Any = None,
) -> Any:
    """Differentiable ``numpy.fft.irfft2``: `irfftn` over the last two axes.

    Examples:
        >>> import numpy as np
        >>> irfft2(np.ones((2, 3))).shape
        (2, 4)
    """
    _no_out(out, "irfft2")
    return _transform("irfft", a, s, axes, norm, "irfft2")


# -- frequencies and shifts ------------------------------------------------------------------
def fftfreq(n: int, d: Any = 1.0, device: Any = None) -> Any:
    """``numpy.fft.fftfreq``: the sample frequencies, differentiable in the spacing ``d``.

    Examples:
        >>> fftfreq(4, 0.5)
        array([ 0. ,  0.5, -1. , -0.5])
    """
    _no_device(device, "fftfreq")
    return _per_spacing(np.fft.fftfreq(n), d)


def rfftfreq(n: int, d: Any = 1.0, device: Any = None) -> Any:
    """``numpy.fft.rfftfreq``: the non-negative sample frequencies (see `fftfreq`).

    Examples:
        >>> rfftfreq(4, 0.5)
        array([0. , 0.5, 1. ])
    """
    _no_device(device, "rfftfreq")
    return _per_spacing(np.fft.rfftfreq(n), d)


def _no_device(device: Any, name: str) -> None:
    if device not in (None, "cpu"):
        raise ValueError(f"tapegrad.numpy.fft.{name}: device must be None or 'cpu'")


def _per_spacing(unit: np.ndarray, d: Any) -> Any:
    if isinstance(d, Tensor):
        return unit.astype(_dtype(d) if _dtype(d).kind == "f" else np.float64) / d
    return unit / d


def fftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """Differentiable ``numpy.fft.fftshift``: the zero frequency moved to the center.

    Examples:
        >>> import numpy as np
        >>> fftshift(np.arange(5.0))
        array([3., 4., 0., 1., 2.])
    """
    return _shift(x, axes, lambda n: n // 2)


def ifftshift(x: Any, axes: int | Sequence[int] | None = None) -> Any:
    """Differentiable ``numpy.fft.ifftshift``: the inverse of `fftshift`.

    Examples:
        >>> import numpy as np
        >>> ifftshift(np.array([3.0, 4.0, 0.0, 1.0, 2.0]))
        array([0., 1., 2., 3., 4.])
    """
    return _shift(x, axes, lambda n: -(n // 2))


def _shift(x: Any, axes: Any, amount: Any) -> Any:
    x = _array(x)
    nd = _ndim(x)
    if axes is None:
        axes = tuple(range(nd))
    elif isinstance(axes, int | np.integer):
        axes = (int(axes),)
    axes = tuple(axis_index(ax, nd, "fft.fftshift") for ax in axes)
    if not axes:
        return x
    return roll(x, tuple(amount(_shape(x)[ax]) for ax in axes), axes)


# Calls on symbolic tensors record graph nodes (see tapegrad.symbolic).
_wrap_namespace(globals(), "tapegrad.numpy.fft", _argument_preparer)
