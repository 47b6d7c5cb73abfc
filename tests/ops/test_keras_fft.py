"""Keras's Fourier ops against numpy.fft and scipy.signal (the definitions Keras's NumPy
backend uses); they also matched Keras 3.15 (JAX backend) in the side venv. Complex values
are (real, imaginary) pairs, as in Keras."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

import tapegrad as tg
from tapegrad import ops

RNG = np.random.default_rng(9)
RE = RNG.normal(size=(2, 3, 8))
IM = RNG.normal(size=(2, 3, 8))
SIGNAL = RNG.normal(size=(2, 50))


def _split(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return z.real, z.imag


def test_complex_transforms_match_numpy() -> None:
    z = RE + 1j * IM
    cases = [
        (ops.fft((RE, IM)), np.fft.fft(z)),
        (ops.fft2((RE, IM)), np.fft.fft2(z)),
        (ops.ifft2((RE, IM)), np.fft.ifft2(z)),
    ]
    for (real, imag), expected in cases:
        np.testing.assert_allclose(real.numpy(), expected.real, atol=1e-12)
        np.testing.assert_allclose(imag.numpy(), expected.imag, atol=1e-12)
    real, imag = ops.fft((RE.astype(np.float32), IM.astype(np.float32)))
    assert real.dtype == imag.dtype == np.float32
    tg.check_grads(lambda a, b: ops.fft2((a, b))[1], (tg.tensor(RE[0]), tg.tensor(IM[0])), order=2)
    with pytest.raises(ValueError, match="fft: x must be a tuple"):
        ops.fft(RE)
    with pytest.raises(ValueError, match="fft2: real and imaginary parts must have the same shape"):
        ops.fft2((RE, IM[..., :4]))


@pytest.mark.parametrize("n", [None, 6, 64])
def test_rfft_and_irfft_match_numpy(n: int | None) -> None:
    real, imag = ops.rfft(SIGNAL, fft_length=n)
    expected = np.fft.rfft(SIGNAL, n=n)
    np.testing.assert_allclose(real.numpy(), expected.real, atol=1e-12)
    np.testing.assert_allclose(imag.numpy(), expected.imag, atol=1e-12)
    for length in (None, 7, 20):
        np.testing.assert_allclose(
            ops.irfft((RE, IM), fft_length=length).numpy(),
            np.fft.irfft(RE + 1j * IM, n=length),
            atol=1e-12,
        )
    tg.check_grads(lambda x: ops.rfft(x, fft_length=n)[0], (tg.tensor(SIGNAL[0, :10]),), order=1)
    tg.check_grads(
        lambda a, b: ops.irfft((a, b), fft_length=9), (tg.tensor(RE[0]), tg.tensor(IM[0])), order=1
    )


def _scipy_stft(x, sequence_length, sequence_stride, fft_length, window, center):
    """Keras's NumPy-backend definition."""
    if center:
        x = np.pad(x, [(0, 0), (fft_length // 2, fft_length // 2)], mode="reflect")
    left = (fft_length - sequence_length) // 2
    win = (
        np.ones(fft_length)
        if window is None
        else np.pad(
            signal.get_window(window, sequence_length), (left, fft_length - sequence_length - left)
        )
    )
    z = signal.stft(
        x,
        fs=1.0,
        window=win,
        nperseg=fft_length,
        noverlap=fft_length - sequence_stride,
        nfft=fft_length,
        boundary=None,
        padded=False,
    )[-1]
    return np.swapaxes(z * win.sum(), -2, -1), win


@pytest.mark.filterwarnings("ignore:NOLA condition failed")  # SciPy, on the zero-padded window
@pytest.mark.parametrize(
    "args", [(10, 4, 16, "hann", True), (8, 3, 8, "hamming", False), (8, 3, 12, None, True)]
)
def test_stft_and_istft(args: tuple) -> None:
    sequence_length, stride, fft_length, window, center = args
    real, imag = ops.stft(SIGNAL, sequence_length, stride, fft_length, window=window, center=center)
    expected, win = _scipy_stft(SIGNAL, *args)
    np.testing.assert_allclose(real.numpy(), expected.real, atol=1e-10)
    np.testing.assert_allclose(imag.numpy(), expected.imag, atol=1e-10)
    back = ops.istft(
        (real, imag), sequence_length, stride, fft_length, window=window, center=center
    ).numpy()
    recon = signal.istft(
        expected,
        fs=1.0,
        window=win,
        nperseg=fft_length,
        noverlap=fft_length - stride,
        nfft=fft_length,
        boundary=False,
        time_axis=-2,
        freq_axis=-1,
    )[-1]
    recon = recon / win.sum() if window is not None else recon / stride
    start = fft_length // 2 if center else 0
    end = -(fft_length // 2) if center else None
    np.testing.assert_allclose(back, recon[..., start:end], atol=1e-10)
    if window == "hann":  # a perfect-reconstruction setting
        np.testing.assert_allclose(back[..., :40], SIGNAL[..., :40], atol=1e-10)
        tg.check_grads(lambda s: ops.stft(s, 10, 4, 16)[1], (tg.tensor(SIGNAL[:1, :24]),), order=1)
    with pytest.raises(
        ValueError, match="stft: need positive lengths and fft_length >= sequence_length"
    ):
        ops.stft(SIGNAL, 16, 4, 8)
    with pytest.raises(TypeError, match="stft: x must be float32 or float64"):
        ops.stft(np.ones(20, np.int32), 8, 4, 8)
