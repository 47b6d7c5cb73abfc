"""`STFT`: the Conv kernel of a short-time Fourier transform (Keras 3's ``STFTInitializer``).

Keras computes its windows with SciPy; tapegrad computes the common ones (``hann``,
``hamming``, ``blackman``, ``bartlett``, ``boxcar``) with NumPy, with SciPy's formulas, and
takes any other window as an array.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.nn.initializers.initializer import Initializer, _dtype

# Generalized cosine windows: w[n] = sum_k (-1)^k a_k cos(2 pi k n / (M - 1)).
_COSINE_WINDOWS = {
    "hann": (0.5, 0.5),
    "hanning": (0.5, 0.5),
    "hamming": (0.54, 0.46),
    "blackman": (0.42, 0.5, 0.08),
    "boxcar": (1.0,),
    "rectangular": (1.0,),
    "ones": (1.0,),
}
_WINDOWS = (*_COSINE_WINDOWS, "bartlett", "triangle")


def _window(name: str, length: int, periodic: bool) -> np.ndarray:
    """SciPy's ``get_window(name, length, fftbins=periodic)`` for the windows tapegrad knows."""
    if length == 1:
        return np.ones(1)
    if periodic:  # SciPy: the symmetric window one longer, without its last sample
        return _window(name, length + 1, False)[:-1]
    n = np.arange(length)
    if name in ("bartlett", "triangle"):
        if name == "bartlett":
            return 1.0 - np.abs(2.0 * n / (length - 1) - 1.0)
        # SciPy's triangle never reaches 0 at the ends.
        half = np.arange(1, (length + 1) // 2 + 1)
        w = 2.0 * half / (length + 1) if length % 2 else (2.0 * half - 1.0) / length
        return np.concatenate([w, w[-2::-1] if length % 2 else w[::-1]])
    coefficients = _COSINE_WINDOWS[name]
    phase = 2.0 * np.pi * n / (length - 1)
    return sum((-1) ** k * a * np.cos(k * phase) for k, a in enumerate(coefficients))


class STFT(Initializer):
    """Initializer of Conv kernels computing a short-time Fourier transform.

    The kernel has shape ``(frame_length, 1, fft_length // 2 + 1)``: column ``f`` holds
    ``cos`` (side ``"real"``) or ``sin`` (side ``"imag"``) of ``-2 pi t f / fft_length``
    over the frame, times the window, divided by the window's scaling.

    Args:
        side: ``"real"`` or ``"imag"``: which part of the transform.
        window: A window name (``"hann"``, ``"hamming"``, ``"blackman"``, ``"bartlett"``,
            ``"triangle"``, ``"boxcar"``), an array of ``frame_length`` values, or None.
        scaling: ``"density"`` (divide by the window's L2 norm), ``"spectrum"`` (by its
            L1 norm) or None.
        periodic: Use the periodic window (for spectral analysis) instead of the symmetric
            one.

    Examples:
        >>> kernel = STFT("real", "hann", None)((4, 1, 3))
        >>> kernel.shape, kernel.dtype
        ((4, 1, 3), dtype('float32'))
        >>> STFT("real", None, None)((2, 1, 2))[:, 0, :]
        array([[ 1.,  1.],
               [ 1., -1.]], dtype=float32)
    """

    def __init__(
        self,
        side: str = "real",
        window: Any = "hann",
        scaling: str | None = "density",
        periodic: bool = False,
    ) -> None:
        if side not in ("real", "imag"):
            raise ValueError(f"STFT: side should be 'real' or 'imag', not {side!r}")
        if isinstance(window, str) and window not in _WINDOWS:
            raise ValueError(
                f"STFT: unknown window {window!r}; tapegrad knows {', '.join(_WINDOWS)} "
                "(pass any other window as an array of frame_length values)"
            )
        if scaling is not None and scaling not in ("density", "spectrum"):
            raise ValueError(
                "STFT: scaling is invalid, it must be `None`, 'density' or 'spectrum'. "
                f"Received scaling={scaling!r}"
            )
        self.side = side
        self.window = window
        self.scaling = scaling
        self.periodic = periodic

    def __call__(self, shape: Sequence[int], dtype: Any = None) -> np.ndarray:
        """The kernel.

        Args:
            shape: ``(frame_length, 1, fft_length // 2 + 1)``.
            dtype: Float dtype (default floatx).

        Returns:
            The kernel, a NumPy array.
        """
        dtype = _dtype(dtype)
        if len(shape) != 3:
            raise ValueError(
                "STFT: expected a shape (frame_length, input_channels, fft_bins), "
                f"got shape={tuple(shape)}"
            )
        frame_length, _, bins = (int(d) for d in shape)
        fft_length = (bins - 1) * 2
        freq = np.arange(bins, dtype=np.float64).reshape(1, 1, bins) / fft_length
        time = np.arange(frame_length, dtype=np.float64).reshape(frame_length, 1, 1)
        args = -2.0 * time * freq * np.pi
        kernel = np.cos(args) if self.side == "real" else np.sin(args)
        if self.window is not None:
            if isinstance(self.window, str):
                win = _window(self.window, frame_length, bool(self.periodic))
            else:
                win = np.asarray(self.window, dtype=np.float64)
            if win.shape != (frame_length,):
                raise ValueError(
                    "STFT: the shape of `window` must be equal to [frame_length]. "
                    f"Received: window shape={win.shape}"
                )
            win = win.reshape(frame_length, 1, 1)
            scale = 1.0
            if self.scaling == "density":
                scale = np.sqrt(np.sum(np.square(win)))
            elif self.scaling == "spectrum":
                scale = np.sum(np.abs(win))
            kernel = kernel * win / scale
        return kernel.astype(dtype)

    def get_config(self) -> dict[str, Any]:
        window = self.window.tolist() if isinstance(self.window, np.ndarray) else self.window
        return {
            "side": self.side,
            "window": window,
            "periodic": self.periodic,
            "scaling": self.scaling,
        }


__all__ = ["STFT"]
