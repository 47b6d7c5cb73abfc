"""The keras.io timeseries-classification Transformer, one `train_on_batch` per step.

The program text is the keras.io example's (``timeseries_classification_transformer``):
4 encoder blocks of ``MultiHeadAttention(key_dim=256, num_heads=4, dropout=0.25)``,
``LayerNormalization``, two 1x1 ``Conv1D``s, residuals; global average pooling, an MLP
head, softmax; Adam 1e-4, sparse categorical cross-entropy. Batch 64, one feature per
time step. It runs with ``import tapegrad as keras`` and, where installed, with Keras 3
itself (``--keras``; set ``KERAS_BACKEND=jax``), so both run the same text.

Usage::

    python -m benchmarks.timeseries_transformer --steps 200 [--eager] [--keras]
"""

from __future__ import annotations

import argparse
import importlib
import resource
import time
from typing import Any

import numpy as np


def build_model(keras: Any, input_shape: tuple[int, int], n_classes: int) -> Any:
    """The example's ``build_model(head_size=256, num_heads=4, ff_dim=4, blocks=4, ...)``."""
    layers = keras.layers

    def transformer_encoder(
        inputs: Any, head_size: int, num_heads: int, ff_dim: int, dropout: float = 0.0
    ) -> Any:
        x = layers.MultiHeadAttention(key_dim=head_size, num_heads=num_heads, dropout=dropout)(
            inputs, inputs
        )
        x = layers.Dropout(dropout)(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        res = layers.Add()([x, inputs])  # (the example's `x + inputs`: issue 11)
        x = layers.Conv1D(filters=ff_dim, kernel_size=1, activation="relu")(res)
        x = layers.Dropout(dropout)(x)
        x = layers.Conv1D(filters=inputs.shape[-1], kernel_size=1)(x)
        x = layers.LayerNormalization(epsilon=1e-6)(x)
        return layers.Add()([x, res])

    inputs = layers.Input(shape=input_shape)  # (keras.Input: issue 11)
    x = inputs
    for _ in range(4):
        x = transformer_encoder(x, 256, 4, 4, 0.25)
    x = layers.GlobalAveragePooling1D(data_format="channels_last")(x)
    for dim in [128]:
        x = layers.Dense(dim, activation="relu")(x)
        x = layers.Dropout(0.4)(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="time steps per series")
    parser.add_argument("--batches", type=int, default=3, help="timed train_on_batch calls")
    parser.add_argument("--eager", action="store_true", help="tapegrad: jit_compile=False")
    parser.add_argument("--keras", action="store_true", help="run Keras 3 instead")
    args = parser.parse_args()
    keras = importlib.import_module("keras" if args.keras else "tapegrad")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, args.steps, 1)).astype(np.float32)
    y = rng.integers(0, 2, 64)
    model = build_model(keras, (args.steps, 1), 2)
    jit: Any = "auto" if args.keras or not args.eager else False
    model.compile(
        loss="sparse_categorical_crossentropy",
        optimizer=keras.optimizers.Adam(learning_rate=1e-4),
        metrics=["sparse_categorical_accuracy"],
        jit_compile=jit,
    )
    start = time.perf_counter()
    model.train_on_batch(x, y)
    first = time.perf_counter() - start
    times, cpu_times = [], []
    for _ in range(args.batches):
        start, cpu = time.perf_counter(), time.process_time()
        model.train_on_batch(x, y)
        cpu_times.append(time.process_time() - cpu)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    name = "keras" if args.keras else ("tapegrad eager" if args.eager else "tapegrad compiled")
    # CPU time (all threads of the process) is the steadier figure on a shared machine.
    print(
        f"{name}: T={args.steps} first call {first:.2f} s, then median "
        f"{float(np.median(times)):.2f} s per batch (best {min(times):.2f} s, CPU best "
        f"{min(cpu_times):.2f} s), peak RSS {peak:.2f} GiB"
    )


if __name__ == "__main__":
    main()
