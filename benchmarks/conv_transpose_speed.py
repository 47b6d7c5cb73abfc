"""Transposed convolutions against the forward convolution of the same size.

``python -m benchmarks.conv_transpose_speed`` times forward + backward (gradients of the
input and the kernel under a `GradientTape`) of ``ConvNDTranspose(filters=C, kernel 3,
strides=2, "same")`` on ``(N, *S, C)`` inputs, and of the convolution it is the adjoint of:
``ConvND(filters=C, kernel 3, strides=2, "same")`` on the transposed convolution's output
size ``(N, *2S, C)`` (the same multiply-adds). Prints the medians (ms) and their ratio;
issue 12 asks for a ratio of at most 1.5.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np

import tapegrad as tg
from tapegrad import layers

# (rank, batch, spatial side, channels): sizes a U-Net decoder or a GAN generator meets.
CASES = [(1, 16, 256, 32), (2, 8, 32, 32), (3, 2, 12, 16)]


def _step(layer: tg.layers.Layer, x: tg.Tensor) -> Callable[[], object]:
    layer(x)  # built outside the timing

    def run() -> object:
        with tg.GradientTape() as tape:
            tape.watch(x)
            loss = tg.numpy.sum(layer(x))
        return tape.gradient(loss, [x, *layer.trainable_weights])

    return run


def _median_ms(func: Callable[[], object], seconds: float = 1.0) -> float:
    func()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def measure(rank: int, batch: int, side: int, channels: int) -> tuple[float, float]:
    """Median ms of the transposed convolution's and the forward convolution's step."""
    rng = np.random.default_rng(0)
    small = rng.standard_normal((batch, *(side,) * rank, channels)).astype(np.float32)
    large = rng.standard_normal((batch, *(2 * side,) * rank, channels)).astype(np.float32)
    transpose = getattr(layers, f"Conv{rank}DTranspose")(channels, 3, 2, padding="same")
    forward = getattr(layers, f"Conv{rank}D")(channels, 3, 2, padding="same")
    return (
        _median_ms(_step(transpose, tg.tensor(small))),
        _median_ms(_step(forward, tg.tensor(large))),
    )


def main() -> None:
    print("rank  input                 transpose ms  conv ms  ratio")
    for rank, batch, side, channels in CASES:
        transposed, forward = measure(rank, batch, side, channels)
        shape = (batch, *(side,) * rank, channels)
        print(
            f"{rank}D    {str(shape):20}  {transposed:12.2f}  {forward:7.2f}  "
            f"{transposed / forward:5.2f}"
        )


if __name__ == "__main__":
    main()
