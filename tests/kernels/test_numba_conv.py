"""The numba input gradient of 2-D convolutions (`numba_conv`) against the table's impl:
float32 and float64, odd shapes, strides, padding (cropping too), dilation, one input
channel, chunks of the batch, non-contiguous arrays, the serial and the parallel loop;
which calls it takes; and its gradients through a Conv2D training step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

pytest.importorskip("numba")

import tapegrad as tg  # noqa: E402
from tapegrad.core.prims import conv as conv_prims  # noqa: E402
from tapegrad.core.prims import conv_input_grad_p  # noqa: E402
from tapegrad.core.prims.windows import output_shape  # noqa: E402
from tapegrad.kernels import _numba, numba_conv  # noqa: E402
from tapegrad.kernels.registry import kernel_for  # noqa: E402

RNG = np.random.default_rng(6)

# (batch, input spatial, C_in, C_out, window, strides, padding, dilation)
GEOMETRIES: list[tuple[Any, ...]] = [
    (2, (7, 9), 3, 5, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # "same", odd sizes
    (3, (8, 7), 2, 4, (3, 2), (2, 3), ((0, 2), (1, 0)), (1, 1)),  # strides, uneven padding
    (2, (9, 9), 1, 3, (3, 3), (1, 1), ((2, 2), (2, 2)), (2, 2)),  # dilation, one channel
    (2, (9, 9), 4, 3, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)),  # windows that tile
    (1, (6, 6), 2, 2, (3, 3), (1, 1), ((-1, 1), (0, -1)), (1, 1)),  # cropping
    (4, (5, 5), 16, 32, (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),  # W4's second conv, small
]


def _tolerance(dtype: type) -> float:
    return 2e-5 if dtype == np.float32 else 1e-12


def _case(geometry: tuple[Any, ...], dtype: type) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    n, spatial, c_in, c_out, window, strides, padding, dilation = geometry
    out = output_shape("test", spatial, window, strides, padding, dilation)
    g = RNG.standard_normal((n, *out, c_out)).astype(dtype)
    kernel = RNG.standard_normal((*window, c_in, c_out)).astype(dtype)
    params = {"input_shape": spatial, "strides": strides, "padding": padding,
              "dilation": dilation}  # fmt: skip
    return g, kernel, params


@pytest.fixture(params=["serial", "parallel"])
def loops(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run col2im's serial loop, or its parallel twin whatever the size."""
    on = request.param == "parallel"
    monkeypatch.setattr(_numba, "parallel", lambda size, min_size: on)
    return str(request.param)


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_grad_matches_impl(geometry: tuple[Any, ...], dtype: type, loops: str) -> None:
    g, kernel, params = _case(geometry, dtype)
    got = numba_conv.conv_input_grad(g, kernel, **params)
    want = conv_input_grad_p.impl(g, kernel, **params)
    assert got.shape == want.shape
    assert got.dtype == want.dtype
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=0, atol=_tolerance(dtype) * scale)


def test_chunks_and_non_contiguous_arrays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conv_prims, "_CHUNK_BYTES", 1)  # one image a chunk
    g, kernel, params = _case(GEOMETRIES[0], np.float64)
    g = np.asfortranarray(g)
    kernel = kernel.transpose(1, 0, 2, 3).copy().transpose(1, 0, 2, 3)  # strided view
    assert not kernel.flags.c_contiguous
    want = conv_input_grad_p.impl(g, kernel, **params)
    got = numba_conv.conv_input_grad(g, kernel, **params)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12 * np.abs(want).max())


def test_wrong_cotangent_shape_raises_the_impls_error() -> None:
    g, kernel, params = _case(GEOMETRIES[0], np.float32)
    with pytest.raises(ValueError, match="conv_input_grad: cotangent shape"):
        numba_conv.conv_input_grad(g[:, :-1], kernel, **params)


def test_which_calls_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    g, kernel, params = _case(GEOMETRIES[0], np.float32)
    # At glibc's default allocator settings the impl runs (the module docstring says why).
    monkeypatch.setattr(numba_conv, "freed_memory_kept", lambda: False)
    assert kernel_for(conv_input_grad_p, g, kernel, **params) is conv_input_grad_p.impl
    monkeypatch.setattr(numba_conv, "freed_memory_kept", lambda: True)
    assert kernel_for(conv_input_grad_p, g, kernel, **params) is numba_conv.conv_input_grad
    takes = numba_conv.conv_input_grad_applies
    assert not takes(g, kernel.astype(np.float64), **params)  # mixed dtypes
    assert not takes(g.astype(np.int64), kernel.astype(np.int64), **params)
    assert not takes(g, kernel, **params, groups=2)
    assert not takes(g[0], kernel[0], input_shape=(9,))  # 1-D convolutions
    assert not takes(tg.constant(g), kernel, **params)


def test_conv2d_step_gradients_with_the_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    """A two-convolution model's gradients, the kernel against the impl (the first
    convolution's input gradient is the second's cotangent path)."""
    x = RNG.standard_normal((3, 10, 9, 2)).astype(np.float32)
    model = tg.Sequential(
        [
            tg.layers.Input(shape=(10, 9, 2)),
            tg.layers.Conv2D(4, 3, padding="same", activation="relu"),
            tg.layers.Conv2D(3, 3, strides=2, padding="valid"),
        ]
    )

    def grads() -> list[np.ndarray]:
        with tg.GradientTape() as tape:
            xt = tg.constant(x)
            tape.watch(xt)
            loss = tg.numpy.sum(model(xt) ** 2)
        return [np.asarray(d) for d in tape.gradient(loss, [xt, *model.trainable_weights])]

    monkeypatch.setattr(numba_conv, "freed_memory_kept", lambda: True)
    with_kernel = grads()
    monkeypatch.setattr(numba_conv, "freed_memory_kept", lambda: False)
    for got, want in zip(with_kernel, grads(), strict=True):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5 * np.abs(want).max())
