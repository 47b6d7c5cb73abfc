"""Keras 3's Fourier ops: ``fft``, ``fft2``, ``ifft2``, ``rfft``, ``irfft``, ``stft``, ``istft``.

As Keras, complex values travel as ``(real, imaginary)`` pairs of float tensors. Each
transform is a discrete Fourier transform written as products with constant cosine and
sine matrices (``O(n^2)`` per axis instead of an FFT's ``O(n log n)``: exact, simple,
differentiable with the matmul's rules, and fine for the lengths models use). ``stft``
and ``istft`` frame, window and overlap-add as Keras's (SciPy-based) definitions do.

Examples:
    >>> import tapegrad as tg
    >>> real, imag = tg.ops.rfft(tg.tensor([1.0, 2.0, 3.0, 4.0]))
    >>> real.numpy(), imag.numpy()
    (array([10., -2., -2.], dtype=float32), array([0., 2., 0.], dtype=float32))
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tapegrad.core import prims as P
from tapegrad.core.tensor import Tensor, shape_of
from tapegrad.ops.activations import float_input

__all__ = ["fft", "fft2", "ifft2", "irfft", "istft", "rfft", "stft"]


def _pair(op: str, x: Any) -> tuple[Any, Any]:
    if not isinstance(x, tuple | list) or len(x) != 2:
        raise ValueError(
            f"ops.{op}: x must be a tuple (real, imaginary) of float tensors, "
            f"got {type(x).__name__}"
        )
    real, imag = float_input(x[0]), float_input(x[1])
    if shape_of(real) != shape_of(imag):
        raise ValueError(
            f"ops.{op}: real and imaginary parts must have the same shape, got "
            f"{shape_of(real)} and {shape_of(imag)}"
        )
    if not shape_of(real):
        raise ValueError(f"ops.{op}: x must have at least one axis")
    if imag.dtype != real.dtype:
        imag = P.cast_p(imag, dtype=real.dtype)
    return real, imag


def _cos_sin(n_in: int, n_out: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``cos`` and ``sin`` of ``2 pi j k / length`` for j < n_in, k < n_out, exact at
    multiples of a quarter turn (so a real signal's DC term has no rounding noise)."""
    jk = (np.arange(n_in)[:, None] * np.arange(n_out)[None, :]) % length
    angles = 2 * np.pi * jk / length
    cos, sin = np.cos(angles), np.sin(angles)
    quarter = (4 * jk) % length == 0
    cos[quarter], sin[quarter] = np.round(cos[quarter]), np.round(sin[quarter])
    return cos, sin


def _dft_last(real: Any, imag: Any, inverse: bool) -> tuple[Any, Any]:
    """The (inverse) DFT of ``real + i imag`` along the last axis."""
    n = shape_of(real)[-1]
    cos, sin = (m.astype(real.dtype) for m in _cos_sin(n, n, n))
    if inverse:
        scale = np.asarray(1 / n, real.dtype)
        return (real @ cos - imag @ sin) * scale, (imag @ cos + real @ sin) * scale
    return real @ cos + imag @ sin, imag @ cos - real @ sin


def _swap_last_two(x: Any) -> Any:
    ndim = len(shape_of(x))
    return P.transpose_p(x, axes=(*range(ndim - 2), ndim - 1, ndim - 2))


def _dft_2d(real: Any, imag: Any, inverse: bool) -> tuple[Any, Any]:
    real, imag = _dft_last(real, imag, inverse)
    real, imag = _dft_last(_swap_last_two(real), _swap_last_two(imag), inverse)
    return _swap_last_two(real), _swap_last_two(imag)


def fft(x: tuple[Any, Any]) -> tuple[Any, Any]:
    """The discrete Fourier transform along the last axis.

    Args:
        x: ``(real, imaginary)``.

    Returns:
        ``(real, imaginary)`` of the transform.

    Examples:
        >>> import tapegrad as tg
        >>> real, imag = tg.ops.fft((tg.tensor([1.0, 0.0]), tg.tensor([0.0, 1.0])))
        >>> real.numpy(), imag.numpy()
        (array([1., 1.], dtype=float32), array([ 1., -1.], dtype=float32))
    """
    return _dft_last(*_pair("fft", x), inverse=False)


def fft2(x: tuple[Any, Any]) -> tuple[Any, Any]:
    """The 2-D discrete Fourier transform over the last two axes.

    Examples:
        >>> import tapegrad as tg
        >>> real, _ = tg.ops.fft2((tg.ops.ones((2, 2)), tg.ops.zeros((2, 2))))
        >>> real.numpy()
        array([[4., 0.],
               [0., 0.]], dtype=float32)
    """
    real, imag = _pair("fft2", x)
    if len(shape_of(real)) < 2:
        raise ValueError(f"ops.fft2: x must have at least 2 axes, got shape {shape_of(real)}")
    return _dft_2d(real, imag, inverse=False)


def ifft2(x: tuple[Any, Any]) -> tuple[Any, Any]:
    """The inverse 2-D discrete Fourier transform over the last two axes.

    Examples:
        >>> import tapegrad as tg
        >>> real, _ = tg.ops.ifft2(tg.ops.fft2((tg.tensor([[1.0, 2.0]]), tg.ops.zeros((1, 2)))))
        >>> real.numpy()
        array([[1., 2.]], dtype=float32)
    """
    real, imag = _pair("ifft2", x)
    if len(shape_of(real)) < 2:
        raise ValueError(f"ops.ifft2: x must have at least 2 axes, got shape {shape_of(real)}")
    return _dft_2d(real, imag, inverse=True)


def _fit_last(x: Any, length: int) -> Any:
    """``x`` cropped or zero-padded to ``length`` along its last axis."""
    n = shape_of(x)[-1]
    if n > length:
        return x[..., :length]
    if n < length:
        widths = ((0, 0),) * (len(shape_of(x)) - 1) + ((0, length - n),)
        return P.pad_p(x, pad_width=widths, constant_values=0)
    return x


def rfft(x: Any, fft_length: int | None = None) -> tuple[Any, Any]:
    """The DFT of a real signal along the last axis: ``fft_length // 2 + 1`` frequencies.

    Args:
        x: A real tensor.
        fft_length: The transform length (the signal is cropped or zero-padded to it);
            default the signal's length.

    Returns:
        ``(real, imaginary)``.

    Examples:
        >>> import tapegrad as tg
        >>> real, imag = tg.ops.rfft(tg.tensor([1.0, 0.0, 0.0]), fft_length=4)
        >>> real.numpy()
        array([1., 1., 1.], dtype=float32)
    """
    x = float_input(x)
    if not shape_of(x):
        raise ValueError("ops.rfft: x must have at least one axis")
    n = shape_of(x)[-1] if fft_length is None else int(fft_length)
    if n < 1:
        raise ValueError(f"ops.rfft: fft_length must be positive, got {fft_length}")
    x = _fit_last(x, n)
    cos, sin = _cos_sin(n, n // 2 + 1, n)
    # 0 - sin, not -(x @ sin): exact zeros stay +0 (as numpy.fft's).
    return x @ cos.astype(x.dtype), x @ (0.0 - sin).astype(x.dtype)


def irfft(x: tuple[Any, Any], fft_length: int | None = None) -> Any:
    """The inverse of `rfft`: a real signal of ``fft_length`` samples (default
    ``2 * (n - 1)`` for ``n`` frequencies), as ``numpy.fft.irfft``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.ops.irfft(tg.ops.rfft(tg.tensor([1.0, 2.0, 3.0, 4.0]))).numpy()
        array([1., 2., 3., 4.], dtype=float32)
    """
    real, imag = _pair("irfft", x)
    n = 2 * (shape_of(real)[-1] - 1) if fft_length is None else int(fft_length)
    if n < 1:
        raise ValueError(f"ops.irfft: the output length must be positive, got {n}")
    bins = n // 2 + 1
    real, imag = _fit_last(real, bins), _fit_last(imag, bins)
    # Hermitian symmetry: every frequency but 0 (and n / 2 for even n) counts twice.
    weights = np.full(bins, 2.0)
    weights[0] = 1.0
    if n % 2 == 0:
        weights[-1] = 1.0
    cos, sin = _cos_sin(bins, n, n)
    cos = (weights[:, None] * cos / n).astype(real.dtype)
    sin = (weights[:, None] * sin / n).astype(real.dtype)
    return real @ cos - imag @ sin


def _window(op: str, window: Any, sequence_length: int, fft_length: int, dtype: Any) -> np.ndarray:
    """The analysis window, centred in ``fft_length`` samples (ones for ``window=None``)."""
    if window is None:
        return np.ones(fft_length, dtype=dtype)
    if isinstance(window, str):
        if window not in ("hann", "hamming"):
            raise ValueError(
                f"ops.{op}: window must be 'hann', 'hamming', a tensor or None, got {window!r}"
            )
        # SciPy's get_window: the periodic (DFT-even) window.
        k = np.arange(sequence_length)
        a = 0.5 if window == "hann" else 0.54
        values = a - (1 - a) * np.cos(2 * np.pi * k / sequence_length)
    else:
        values = np.asarray(window.numpy() if isinstance(window, Tensor) else window, dtype=float)
        if values.shape != (sequence_length,):
            raise ValueError(
                f"ops.{op}: window must have shape ({sequence_length},), got {values.shape}"
            )
    left = (fft_length - sequence_length) // 2
    return np.pad(values, (left, fft_length - sequence_length - left)).astype(dtype)


def _check_lengths(op: str, sequence_length: int, sequence_stride: int, fft_length: int) -> None:
    if min(sequence_length, sequence_stride, fft_length) < 1 or fft_length < sequence_length:
        raise ValueError(
            f"ops.{op}: need positive lengths and fft_length >= sequence_length, got "
            f"sequence_length={sequence_length}, sequence_stride={sequence_stride}, "
            f"fft_length={fft_length}"
        )


def stft(
    x: Any,
    sequence_length: int,
    sequence_stride: int,
    fft_length: int,
    window: Any = "hann",
    center: bool = True,
) -> tuple[Any, Any]:
    """Short-time Fourier transform along the last axis: ``(..., frames, fft_length//2+1)``.

    With ``center``, the signal is reflect-padded by ``fft_length // 2`` on both sides; each
    frame of ``fft_length`` samples (every ``sequence_stride``) is multiplied by the window
    (``sequence_length`` samples, centred) and transformed by `rfft`.

    Examples:
        >>> import tapegrad as tg
        >>> real, imag = tg.ops.stft(tg.ops.ones((16,)), 8, 4, 8)
        >>> real.shape
        (5, 5)
    """
    x = x if isinstance(x, Tensor) else Tensor(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"ops.stft: x must be float32 or float64, got {x.dtype}")
    _check_lengths("stft", sequence_length, sequence_stride, fft_length)
    if center:
        half = fft_length // 2
        x = _reflect_pad(x, half)
    n = shape_of(x)[-1]
    frames = (n - fft_length) // sequence_stride + 1
    if frames < 1:
        raise ValueError(f"ops.stft: the signal ({n} samples) is shorter than fft_length")
    positions = np.arange(frames)[:, None] * sequence_stride + np.arange(fft_length)[None, :]
    framed = P.take_p(x, positions, axis=len(shape_of(x)) - 1)
    win = _window("stft", window, sequence_length, fft_length, x.dtype)
    return rfft(framed * win, fft_length)


def _reflect_pad(x: Any, width: int) -> Any:
    """NumPy's ``mode="reflect"`` padding of the last axis (the edge sample not repeated)."""
    n = shape_of(x)[-1]
    if width >= n:
        raise ValueError(f"ops.stft: centering needs more than {width} samples, got {n}")
    index = np.concatenate([np.arange(width, 0, -1), np.arange(n), n - 2 - np.arange(width)])
    return P.take_p(x, index, axis=len(shape_of(x)) - 1)


def istft(
    x: tuple[Any, Any],
    sequence_length: int,
    sequence_stride: int,
    fft_length: int,
    length: int | None = None,
    window: Any = "hann",
    center: bool = True,
) -> Any:
    """The inverse of `stft`: inverse transforms of the frames, windowed, overlap-added and
    divided by the overlap-added squared window (as SciPy's ``istft``, which Keras uses).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> signal = tg.tensor(np.sin(np.arange(32.0)))
        >>> back = tg.ops.istft(tg.ops.stft(signal, 8, 4, 8), 8, 4, 8, length=32)
        >>> bool(np.allclose(back.numpy(), signal.numpy()))
        True
    """
    real, imag = _pair("istft", x)
    _check_lengths("istft", sequence_length, sequence_stride, fft_length)
    frames = shape_of(real)[-2]
    segments = irfft((real, imag), fft_length)  # (..., frames, fft_length)
    win = _window("istft", window, sequence_length, fft_length, np.float64)
    total = fft_length + sequence_stride * (frames - 1)
    positions = np.arange(frames)[:, None] * sequence_stride + np.arange(fft_length)[None, :]
    lead = shape_of(segments)[:-2]
    windowed = P.reshape_p(segments * win.astype(real.dtype), shape=(*lead, frames * fft_length))
    added = P.take_add_p(windowed, positions.reshape(-1), axis=len(lead), shape=(*lead, total))
    norm = np.zeros(total)
    np.add.at(norm, positions.reshape(-1), np.tile(win**2, frames))
    scale = np.where(norm > 1e-10, 1 / np.where(norm > 1e-10, norm, 1.0), 1.0)
    if window is None:  # Keras divides by the stride instead of the window's sum
        scale = scale * fft_length / sequence_stride
    out = added * scale.astype(real.dtype)
    start = fft_length // 2 if center else 0
    if length is not None:
        end = start + int(length)
    elif center:
        end = total - fft_length // 2
    else:
        end = total
    return out[..., start:end]
