"""The keras.io timeseries-classification Transformer, one `train_on_batch` per step.

The program text is the keras.io example's (``timeseries_classification_transformer``):
4 encoder blocks of ``MultiHeadAttention(key_dim=256, num_heads=4, dropout=0.25)``,
``LayerNormalization``, two 1x1 ``Conv1D``s, residuals; global average pooling, an MLP
head, softmax; Adam 1e-4, sparse categorical cross-entropy. Batch 64, one feature per
time step. It runs with ``import tapegrad as keras`` and, where installed, with Keras 3
itself (``--keras``; set ``KERAS_BACKEND=jax``), so both run the same text.

Usage::

    python -m benchmarks.timeseries_transformer --steps 200 [--eager] [--keras]
    python -m benchmarks.timeseries_transformer --steps 200 --compare 2

``--keep-freed-memory`` runs tapegrad with `tapegrad.kernels.keep_freed_memory` on (freed
arrays' memory reused without page faults). ``--compare ROUNDS`` runs Keras on JAX (where
installed), tapegrad compiled and eager, with and without that setting, each in its own
process, alternating for ROUNDS rounds, and prints the best of each as a Markdown table.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import platform
import resource
import subprocess
import sys
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
    parser.add_argument(
        "--keep-freed-memory", action="store_true", help="tapegrad.kernels.keep_freed_memory()"
    )
    parser.add_argument(
        "--compare", type=int, default=0, metavar="ROUNDS", help="peers, alternating"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    if args.compare:
        compare(args.steps, args.batches, args.compare)
        return
    keras = importlib.import_module("keras" if args.keras else "tapegrad")
    if args.keep_freed_memory and not args.keras:
        keras.kernels.keep_freed_memory()
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
    if args.keep_freed_memory and not args.keras:
        name += ", keep_freed_memory"
    if args.json:
        record = {"name": name, "first": first, "wall": min(times), "cpu": min(cpu_times)}
        print(json.dumps({**record, "peak_gib": peak}))
        return
    # CPU time (all threads of the process) is the steadier figure on a shared machine.
    print(
        f"{name}: T={args.steps} first call {first:.2f} s, then median "
        f"{float(np.median(times)):.2f} s per batch (best {min(times):.2f} s, CPU best "
        f"{min(cpu_times):.2f} s), peak RSS {peak:.2f} GiB"
    )


def compare(steps: int, batches: int, rounds: int) -> None:
    """Run every peer in its own process, alternating, and print the best of each."""
    peers = [["--eager"], [], ["--eager", "--keep-freed-memory"], ["--keep-freed-memory"]]
    if importlib.util.find_spec("keras") is not None:
        peers.insert(0, ["--keras"])
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "jax")}
    best: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for flags in peers:
            command = [sys.executable, "-m", "benchmarks.timeseries_transformer", "--json"]
            command += ["--steps", str(steps), "--batches", str(batches), *flags]
            done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
            record = json.loads(done.stdout.strip().splitlines()[-1])
            old = best.setdefault(record.pop("name"), record)
            for key, value in record.items():
                old[key] = min(old[key], value)
    print(f"T = {steps}, batch 64, {rounds} rounds x {batches} batches, {_cpu_name()}")
    print("| run | CPU s / batch (best) | wall s (best) | first call s | peak RSS GiB |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in best.items():
        print(
            f"| {name} | {r['cpu']:.2f} | {r['wall']:.2f} | {r['first']:.1f} | "
            f"{r['peak_gib']:.2f} |"
        )


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    main()
