"""tapegrad.numpy.fft: NumPy's values and dtypes, JAX's gradients, finite differences.

Every transform runs with its length argument (crop and zero-pad), its axes and the three
norms; VJPs (complex and real cotangents) and JVPs equal JAX's (skipped without JAX), and
`check_grads` checks both modes to second order in the real and imaginary directions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp

RNG = np.random.default_rng(0)


def _complex(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)


def _real(*shape: int) -> np.ndarray:
    return RNG.standard_normal(shape)


Make = Callable[[Any, Any], Callable[[Any], Any]]
# (name, maker(namespace, norm) -> function, argument)
TRANSFORMS: list[tuple[str, Make, np.ndarray]] = [
    ("fft", lambda xp, norm: lambda a: xp.fft.fft(a, norm=norm), _complex(2, 5)),
    ("fft_of_real", lambda xp, norm: lambda a: xp.fft.fft(a, norm=norm), _real(2, 5)),
    ("fft_pad", lambda xp, norm: lambda a: xp.fft.fft(a, n=7, axis=0, norm=norm), _complex(4, 3)),
    ("fft_crop", lambda xp, norm: lambda a: xp.fft.fft(a, n=3, norm=norm), _complex(4, 5)),
    ("ifft", lambda xp, norm: lambda a: xp.fft.ifft(a, n=6, norm=norm), _complex(3, 4)),
    ("rfft", lambda xp, norm: lambda a: xp.fft.rfft(a, norm=norm), _real(3, 6)),
    ("rfft_odd", lambda xp, norm: lambda a: xp.fft.rfft(a, n=7, axis=0, norm=norm), _real(5, 2)),
    ("irfft", lambda xp, norm: lambda a: xp.fft.irfft(a, norm=norm), _complex(3, 4)),
    ("irfft_odd", lambda xp, norm: lambda a: xp.fft.irfft(a, n=7, norm=norm), _complex(3, 4)),
    (
        "irfft_crop",
        lambda xp, norm: lambda a: xp.fft.irfft(a, n=4, axis=0, norm=norm),
        _complex(5, 2),
    ),
    ("hfft", lambda xp, norm: lambda a: xp.fft.hfft(a, norm=norm), _complex(3, 4)),
    ("hfft_odd", lambda xp, norm: lambda a: xp.fft.hfft(a, n=5, norm=norm), _complex(3, 4)),
    ("ihfft", lambda xp, norm: lambda a: xp.fft.ihfft(a, norm=norm), _real(3, 6)),
    ("fft2", lambda xp, norm: lambda a: xp.fft.fft2(a, norm=norm), _complex(2, 3, 4)),
    ("ifft2", lambda xp, norm: lambda a: xp.fft.ifft2(a, s=(4, 5), norm=norm), _complex(2, 3, 4)),
    ("rfft2", lambda xp, norm: lambda a: xp.fft.rfft2(a, norm=norm), _real(2, 3, 4)),
    ("irfft2", lambda xp, norm: lambda a: xp.fft.irfft2(a, norm=norm), _complex(2, 3, 4)),
    (
        "irfft2_s",
        lambda xp, norm: lambda a: xp.fft.irfft2(a, s=(3, 5), norm=norm),
        _complex(2, 3, 4),
    ),
    ("fftn", lambda xp, norm: lambda a: xp.fft.fftn(a, axes=(0, 2), norm=norm), _complex(2, 3, 4)),
    ("ifftn", lambda xp, norm: lambda a: xp.fft.ifftn(a, norm=norm), _complex(2, 3, 4)),
    (
        "rfftn",
        lambda xp, norm: lambda a: xp.fft.rfftn(a, s=(3, 5), axes=(2, 0), norm=norm),
        _real(2, 3, 4),
    ),
    (
        "irfftn",
        lambda xp, norm: lambda a: xp.fft.irfftn(a, axes=(0, 1), norm=norm),
        _complex(2, 3, 4),
    ),
    (
        "irfftn_s",
        lambda xp, norm: lambda a: xp.fft.irfftn(a, s=(2, 3, 7), axes=(0, 1, 2), norm=norm),
        _complex(2, 3, 4),
    ),
    ("fftshift", lambda xp, norm: lambda a: xp.fft.fftshift(a * a), _complex(3, 4)),
    ("ifftshift", lambda xp, norm: lambda a: xp.fft.ifftshift(a, axes=1), _complex(3, 5)),
]
NORMS = [None, "ortho", "forward"]
_IDS = [t[0] for t in TRANSFORMS]


def _numpy_reference(name: str, make: Make, norm: Any, a: np.ndarray) -> Any:
    return make(np, norm)(a)


@pytest.mark.parametrize("norm", NORMS, ids=["backward", "ortho", "forward"])
@pytest.mark.parametrize(("name", "make", "a"), TRANSFORMS, ids=_IDS)
def test_values_and_dtypes_equal_numpy(name: str, make: Make, a: np.ndarray, norm: Any) -> None:
    for dtype in (np.float32, np.float64) if a.dtype.kind == "f" else (np.complex64, np.complex128):
        x = a.astype(dtype)
        expected = make(np, norm)(x)
        got = make(tnp, norm)(tg.Tensor(x))
        assert got.dtype == expected.dtype
        tol = 1e-5 if dtype in (np.float32, np.complex64) else 1e-12
        np.testing.assert_allclose(got.numpy(), expected, rtol=tol, atol=tol)
        # Plain arrays in, plain arrays out.
        assert not isinstance(make(tnp, norm)(x), tg.Tensor)


@pytest.mark.parametrize(("name", "make", "a"), TRANSFORMS, ids=_IDS)
def test_derivatives_match_finite_differences(name: str, make: Make, a: np.ndarray) -> None:
    # (A norm only scales the transform: the JAX test covers all three.)
    tg.check_grads(make(tnp, "ortho"), (a,), order=2)


@pytest.mark.parametrize(("name", "make", "a"), TRANSFORMS, ids=_IDS)
def test_vjp_and_jvp_equal_jax(name: str, make: Make, a: np.ndarray) -> None:
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    # The inverse real transforms' VJPs scale by the dual norm: all three there.
    for norm in NORMS if "irfft" in name or "hfft" in name else [None]:
        f, jf = make(tnp, norm), make(jnp, norm)
        tangent = _complex(*a.shape) if a.dtype.kind == "c" else _real(*a.shape)
        with jax.enable_x64(True):
            out, back = jax.vjp(jf, jnp.asarray(a))
            cotangent = _complex(*out.shape) if out.dtype.kind == "c" else _real(*out.shape)
            expected = np.asarray(back(jnp.asarray(cotangent))[0])
            expected_t = np.asarray(jax.jvp(jf, (jnp.asarray(a),), (jnp.asarray(tangent),))[1])
        got = tg.vjp(f, tg.Tensor(a))[1](tg.Tensor(cotangent))[0].numpy()
        assert got.dtype == expected.dtype
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)
        got_t = np.asarray(tg.jvp(f, (tg.Tensor(a),), (tangent,))[1])
        np.testing.assert_allclose(got_t, expected_t, rtol=1e-10, atol=1e-10)


def test_real_input_gets_a_real_gradient_in_float32() -> None:
    x = _real(8).astype(np.float32)
    g = tg.grad(lambda x: tnp.sum(tnp.abs(tnp.fft.rfft(x)) ** 2))(x)
    assert g.dtype == np.float32
    # irfft counts bins 1..3 twice (their Hermitian twins), the half spectrum once.
    once = np.array([1.0, 0.5, 0.5, 0.5, 1.0])
    expected = 2 * 8 * np.fft.irfft(once * np.fft.rfft(x.astype(np.float64)), n=8)
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-4, atol=1e-4)


def test_fft_filter_gradient_matches_finite_differences() -> None:
    # A low-pass filter written for NumPy, run with tapegrad.numpy swapped in.
    def smoothness(signal: Any, np: Any) -> Any:
        spectrum = np.fft.rfft(signal)
        keep = np.arange(spectrum.shape[-1]) < 3
        filtered = np.fft.irfft(spectrum * keep, n=signal.shape[-1])
        return np.sum((filtered - signal) ** 2)

    signal = _real(10)
    value = smoothness(tg.Tensor(signal), tnp)
    np.testing.assert_allclose(float(value), smoothness(signal, np), rtol=1e-12)
    tg.check_grads(lambda s: smoothness(s, tnp), (signal,), order=2)


def test_frequencies_are_differentiable_in_the_spacing() -> None:
    d = np.float64(0.25)
    np.testing.assert_allclose(tnp.fft.fftfreq(6, d), np.fft.fftfreq(6, d))
    np.testing.assert_allclose(tnp.fft.rfftfreq(7, d), np.fft.rfftfreq(7, d))
    g = tg.grad(lambda d: tnp.sum(tnp.fft.fftfreq(6, d) ** 2))(d)
    expected = -2 * np.sum(np.fft.fftfreq(6) ** 2) / d**3
    np.testing.assert_allclose(float(g), expected, rtol=1e-12)


def test_integer_inputs_compute_in_float64_as_numpy() -> None:
    x = np.arange(6)
    assert tnp.fft.fft(x).dtype == np.fft.fft(x).dtype
    assert tnp.fft.rfft(x).dtype == np.fft.rfft(x).dtype
    np.testing.assert_allclose(tnp.fft.irfft(x), np.fft.irfft(x))


def test_bad_arguments_raise_clear_errors() -> None:
    x = tg.Tensor(_real(4))
    with pytest.raises(ValueError, match="invalid norm"):
        tnp.fft.fft(x, norm="both")
    with pytest.raises(TypeError, match="out= is not supported"):
        tnp.fft.fft(x, out=np.zeros(4, complex))
    with pytest.raises(ValueError, match="invalid number of data points"):
        tnp.fft.fft(x, n=0)
    with pytest.raises(ValueError, match="different lengths"):
        tnp.fft.fftn(tg.Tensor(_real(2, 2)), s=(2, 2), axes=(0,))
    with pytest.raises(TypeError, match="must be real"):
        tnp.fft.rfft(tg.Tensor(_complex(4)))
