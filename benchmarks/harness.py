"""Shared pieces of the benchmark harness: workloads, data, timing and checks.

Everything here follows ``workloads.md`` (kept in the shared folder): float32 data drawn
once with ``np.random.default_rng(seed)``, the timing protocol (first call, second call,
0.5 s warm-up, then single timed calls for 2.5 s, at least 5), and the correctness check of
the first two results against the hand-written NumPy version.

An implementation module (``benchmarks/impl_*.py``) provides::

    builders(variant: str | None = None) -> dict[str, Builder]
    to_numpy(result) -> np.ndarray
    info() -> dict[str, Any]

where a ``Builder`` takes the workload's data (a dict of NumPy arrays) and returns a
zero-argument callable that runs the workload once, synchronously, and returns its result.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

Builder = Callable[[Mapping[str, np.ndarray]], Callable[[], Any]]

# --- workloads -------------------------------------------------------------------------

W1_SEED = 1
W6_SEED = 6

W1_SIZE = 16
W1_ITERS = 100
W1_OPS_PER_ITER = 3  # mul, add, tanh; the sum and the backward are charged to these
W1_OPS = W1_ITERS * W1_OPS_PER_ITER
# float32 constants for the NumPy-based implementations: they keep the graph float32
# whatever a framework does with a bare Python float (MyGrad would upcast to float64).
# 0-d arrays rather than np.float32 scalars: NumPy's scalar path costs ~0.5 µs more per op
# on a 16-element array (x * 0-d array 0.83 µs, x * np.float32 1.33 µs, x * 1.01 1.63 µs).
W1_SCALE = np.array(1.01, dtype=np.float32)
W1_SHIFT = np.array(0.1, dtype=np.float32)

W6_SIZE = 512

# W2 / W3: MLP training steps (layer widths, input first), and the G0 GEMM.
W2_SEED = 2
W3_SEED = 3
G0_SEED = 7
MLP_SIZES: dict[str, tuple[int, ...]] = {"W2": (64, 128, 128, 10), "W3": (784, 1024, 1024, 10)}
MLP_BATCH: dict[str, int] = {"W2": 64, "W3": 256}
MLP_NUM_BATCHES = 4  # step i uses batch i % 4 (random labels keep the loss away from 0)
MLP_LEARNING_RATE = 0.1
# Keys of an MLP workload's parameters in make_data, in Keras' get_weights order.
MLP_PARAM_NAMES = ("w1", "b1", "w2", "b2", "w3", "b3")
G0_SIZE = 2048

# W5: LSTM training step on time-major sequences, last hidden state -> dense -> softmax CE.
W5_SEED = 5
LSTM_STEPS, LSTM_BATCH, LSTM_INPUTS, LSTM_HIDDEN, LSTM_CLASSES = 50, 32, 32, 128, 10
LSTM_NUM_BATCHES = 4  # step i uses batch i % 4, as for the MLPs
LSTM_LEARNING_RATE = 0.1
# Keys of W5's parameters in make_data, in Keras' get_weights order (LSTM, then Dense).
LSTM_PARAM_NAMES = ("wx", "wh", "b", "wd", "bd")

# W4: small CNN training step, NCHW semantics (workloads.md): conv3x3(16)+ReLU, maxpool 2,
# conv3x3(32)+ReLU, maxpool 2, flatten in (C, H, W) order, dense 10, softmax CE.
W4_SEED = 4
CNN_BATCH, CNN_IMAGE, CNN_CHANNELS, CNN_FILTERS, CNN_CLASSES = 32, 28, 1, (16, 32), 10
CNN_NUM_BATCHES = 4  # step i uses batch i % 4, as for the MLPs
CNN_LEARNING_RATE = 0.1
# Keys of W4's parameters in make_data, in Keras' get_weights order.
CNN_PARAM_NAMES = ("k1", "b1", "k2", "b2", "w3", "b3")

# W7: Transformer encoder training step (benchmarks/README.md, "W7"): 2 post-norm blocks
# of MultiHeadAttention + LayerNormalization + GELU MLP + residuals, mean-pool, dense 10.
W7_SEED = 8
W7_BATCH, W7_STEPS, W7_WIDTH, W7_HEADS, W7_MLP, W7_BLOCKS, W7_CLASSES = 32, 128, 128, 4, 512, 2, 10
W7_NUM_BATCHES = 4  # step i uses batch i % 4, as for the MLPs
W7_LEARNING_RATE = 1e-3  # Adam (beta 0.9, 0.999, epsilon 1e-7: Keras' defaults)
W7_EPSILON = 1e-5  # LayerNormalization's (torch's default, set in every framework)
# Keys of one block's parameters in make_transformer_data, in Keras' get_weights order
# (MultiHeadAttention, LayerNormalization, Dense 512, Dense 128, LayerNormalization).
W7_BLOCK_PARAMS = (
    "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo", "g1", "be1", "w1", "b1", "w2", "b2", "g2", "be2"
)  # fmt: skip

WORKLOAD_GROUPS: dict[str, tuple[str, ...]] = {
    "W1": ("W1", "W1-fwd", "W1-tape"),
    "W6": ("W6-revrev", "W6-fwdrev"),
    "W2": ("W2", "W2-tob", "W2-ops"),
    "W3": ("W3", "W3-tob", "W3-ops"),
    "W4": ("W4", "W4-nchw", "W4-ops"),
    "G0": ("G0",),
    "W5": ("W5-unrolled", "W5-layer"),
    "W7": ("W7",),
}
ALL_WORKLOADS: tuple[str, ...] = tuple(w for ws in WORKLOAD_GROUPS.values() for w in ws)

# A workload whose reference result is that of another workload.
REFERENCE_WORKLOAD: dict[str, str] = {
    "W4-nchw": "W4",
    "W1-tape": "W1",
    "W2-tob": "W2",
    "W3-tob": "W3",
    "W2-ops": "W2",
    "W3-ops": "W3",
    "W4-ops": "W4",
    "W5-layer": "W5-unrolled",
}

WORKLOAD_DESCRIPTIONS: dict[str, str] = {
    "W1": "grad of 100 x (tanh(x*1.01+0.1)) + sum, 16 floats",
    "W1-fwd": "same forward only, no gradient tracking",
    "W1-tape": "W1 through a GradientTape (tapegrad only)",
    "W6-revrev": "Hessian-vector product, reverse over reverse, 512x512",
    "W6-fwdrev": "Hessian-vector product, forward over reverse, 512x512",
    "W2": "MLP step 64-128-128-10, batch 64, softmax CE, SGD 0.1",
    "W2-tob": "W2 through model.train_on_batch (tapegrad only)",
    "W3": "MLP step 784-1024-1024-10, batch 256, softmax CE, SGD 0.1",
    "W3-tob": "W3 through model.train_on_batch (tapegrad only)",
    "W2-ops": "W2 written with ops (x @ W + b, ops.relu, GradientTape, optimizer.apply)",
    "W3-ops": "W3 written with ops (x @ W + b, ops.relu, GradientTape, optimizer.apply)",
    "W4-ops": "W4 written with ops (ops.conv, ops.max_pool, GradientTape, optimizer.apply)",
    "W4": "CNN step conv16-pool-conv32-pool-dense10, batch 32, 28x28, SGD 0.1",
    "W4-nchw": "W4 with channels_first layers fed NCHW as is (tapegrad only)",
    "G0": "GEMM peak: 2048x2048 @ 2048x2048, float32",
    "W5-unrolled": "LSTM step, T=50 B=32 I=32 H=128, gate math in a Python loop, SGD 0.1",
    "W5-layer": "W5 with the framework's LSTM layer (tapegrad LSTM, torch nn.LSTM)",
    "W7": "Transformer encoder step, B=32 T=128 D=128, 4 heads, GELU MLP 512, 2 blocks, Adam",
}


def _mlp_flops(workload: str) -> float:
    """6 * B * P: forward and backward GEMMs (P = weight entries), as workloads.md counts."""
    sizes = MLP_SIZES[workload]
    return 6.0 * MLP_BATCH[workload] * sum(a * b for a, b in itertools.pairwise(sizes))


# FLOPs per call of the rows that report GFLOP/s.
WORKLOAD_FLOPS: dict[str, float] = {
    "W2": _mlp_flops("W2"),
    "W2-tob": _mlp_flops("W2"),
    "W3": _mlp_flops("W3"),
    "W3-tob": _mlp_flops("W3"),
    "W2-ops": _mlp_flops("W2"),
    "W3-ops": _mlp_flops("W3"),
    "G0": 2.0 * G0_SIZE**3,
}

# --- frameworks ------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameworkSpec:
    """Where a framework's implementations live.

    Attributes:
        module: the ``benchmarks.impl_*`` module with ``builders``, ``to_numpy``, ``info``.
        variant: passed to ``builders`` (JAX: ``"eager"`` or ``"jit"``).
        requires: top-level packages that must be importable, else the framework is skipped.
    """

    module: str
    variant: str | None
    requires: tuple[str, ...]


# Column order of the table: tapegrad first, since every ratio is taken against it.
FRAMEWORKS: dict[str, FrameworkSpec] = {
    "tapegrad": FrameworkSpec("benchmarks.impl_tapegrad", None, ("tapegrad",)),
    "tapegrad-compiled": FrameworkSpec("benchmarks.impl_tapegrad_compiled", None, ("tapegrad",)),
    "numpy-hand": FrameworkSpec("benchmarks.impl_numpy_hand", None, ("numpy",)),
    "torch": FrameworkSpec("benchmarks.impl_torch", None, ("torch",)),
    "jax-eager": FrameworkSpec("benchmarks.impl_jax", "eager", ("jax", "jaxlib")),
    "jax-jit": FrameworkSpec("benchmarks.impl_jax", "jit", ("jax", "jaxlib")),
    "autograd": FrameworkSpec("benchmarks.impl_autograd", None, ("autograd",)),
}
BASELINE = "tapegrad"
REFERENCE = "numpy-hand"

# --- timing and checks -----------------------------------------------------------------

WARMUP_S = 0.5
MEASURE_S = 2.5
MIN_CALLS = 5
MAX_REL_ERR = 2e-3
# Floor of the check's divisor, as a fraction of the largest reference entry (default 1e-6).
# A GEMM's rounding error scales with sum_k |a_ik b_kj| (~1300 here), not with the entry,
# and cancellation makes some of the 4M entries near 0: torch's MKL and XLA differ from
# OpenBLAS by up to ~6e-4 absolute (max entry ~244), a relative 0.2 on such entries.
CHECK_FLOOR: dict[str, float] = {"G0": 1e-2}


def expand_workloads(spec: str) -> list[str]:
    """Turn a comma-separated list of workloads or groups into workload names.

    Args:
        spec: e.g. ``"W1,W6"`` (groups) or ``"W1-fwd,W6-revrev"`` (single workloads).

    Returns:
        Workload names in the order of :data:`ALL_WORKLOADS`, without duplicates.

    Raises:
        ValueError: for a name that is neither a group nor a workload.

    Examples:
        >>> expand_workloads("W6,W1-fwd")
        ['W1-fwd', 'W6-revrev', 'W6-fwdrev']
    """
    wanted: set[str] = set()
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        if item in WORKLOAD_GROUPS:
            wanted.update(WORKLOAD_GROUPS[item])
        elif item in ALL_WORKLOADS:
            wanted.add(item)
        else:
            known = ", ".join(dict.fromkeys([*WORKLOAD_GROUPS, *ALL_WORKLOADS]))
            raise ValueError(f"unknown workload {item!r}; known: {known}")
    return [w for w in ALL_WORKLOADS if w in wanted]


def workload_unit(workload: str) -> tuple[str, float]:
    """Return the display unit of a workload and the factor from seconds to that unit.

    W1 rows are reported per primitive op (time / 300) in microseconds, W6 in milliseconds.

    Examples:
        >>> workload_unit("W6-revrev")
        ('ms', 1000.0)
    """
    if workload.startswith("W1"):
        return "µs/op", 1e6 / W1_OPS
    return "ms", 1e3


def make_data(workload: str) -> dict[str, np.ndarray]:
    """Draw the float32 inputs of a workload from its seed, identically for every framework.

    Args:
        workload: a name from :data:`ALL_WORKLOADS`.

    Returns:
        ``{"x"}`` for the W1 rows; ``{"A", "w", "v"}`` for the W6 rows (drawn in that order);
        see :func:`make_mlp_data` for W2/W3, :func:`make_gemm_data` for G0 and
        :func:`make_lstm_data` for W5.

    Examples:
        >>> d = make_data("W6-fwdrev")
        >>> d["A"].shape, d["A"].dtype, d["v"].shape
        ((512, 512), dtype('float32'), (512,))
    """
    if workload.startswith("W1"):
        rng = np.random.default_rng(W1_SEED)
        return {"x": rng.standard_normal(W1_SIZE, dtype=np.float32)}
    if workload.startswith("W6"):
        rng = np.random.default_rng(W6_SEED)
        scale = np.float32(1.0 / np.sqrt(W6_SIZE))
        a = rng.standard_normal((W6_SIZE, W6_SIZE), dtype=np.float32) * scale
        w = rng.standard_normal(W6_SIZE, dtype=np.float32)
        v = rng.standard_normal(W6_SIZE, dtype=np.float32)
        return {"A": a, "w": w, "v": v}
    if workload[:2] in MLP_SIZES:
        return make_mlp_data(workload[:2])
    if workload == "G0":
        return make_gemm_data()
    if workload.startswith("W5"):
        return make_lstm_data()
    if workload.startswith("W4"):
        return make_cnn_data()
    if workload.startswith("W7"):
        return make_transformer_data()
    raise ValueError(f"make_data: unknown workload {workload!r}")


def make_mlp_data(name: str) -> dict[str, np.ndarray]:
    """Draw an MLP workload's initial parameters and its bank of fixed batches.

    Drawn in this order from ``default_rng(seed)``: the kernels ``w1, w2, w3`` (shaped
    ``(fan_in, fan_out)``, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``), then ``x`` (``N(0,1)``,
    shaped ``(4, batch, inputs)``), then ``y`` (random labels, int64, ``(4, batch)``). The
    biases ``b1, b2, b3`` are zeros.

    Args:
        name: ``"W2"`` or ``"W3"``.

    Returns:
        ``{"w1", "b1", "w2", "b2", "w3", "b3", "x", "y"}``, float32 except ``y``.

    Examples:
        >>> d = make_mlp_data("W2")
        >>> d["w1"].shape, d["b3"].shape, d["x"].shape, d["y"].dtype
        ((64, 128), (10,), (4, 64, 64), dtype('int64'))
    """
    seed = {"W2": W2_SEED, "W3": W3_SEED}[name]
    sizes, batch = MLP_SIZES[name], MLP_BATCH[name]
    rng = np.random.default_rng(seed)
    data: dict[str, np.ndarray] = {}
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        limit = 1.0 / np.sqrt(fan_in)
        data[f"w{i}"] = rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32)
        data[f"b{i}"] = np.zeros(fan_out, dtype=np.float32)
    data["x"] = rng.standard_normal((MLP_NUM_BATCHES, batch, sizes[0]), dtype=np.float32)
    data["y"] = rng.integers(0, sizes[-1], (MLP_NUM_BATCHES, batch), dtype=np.int64)
    return data


def make_gemm_data() -> dict[str, np.ndarray]:
    """Draw G0's two 2048x2048 float32 ``N(0,1)`` matrices ``a`` then ``b`` (seed 7)."""
    rng = np.random.default_rng(G0_SEED)
    a = rng.standard_normal((G0_SIZE, G0_SIZE), dtype=np.float32)
    b = rng.standard_normal((G0_SIZE, G0_SIZE), dtype=np.float32)
    return {"a": a, "b": b}


def make_cnn_data() -> dict[str, np.ndarray]:
    """Draw W4's initial parameters (PyTorch's NCHW layouts) and its fixed batches (seed 4).

    Drawn in this order from ``default_rng(4)``: the conv kernels ``k1 (16, 1, 3, 3)`` and
    ``k2 (32, 16, 3, 3)`` (``(out, in, kh, kw)``, ``U(±1/sqrt(in * 9))``), the dense kernel
    ``w3 (1568, 10)`` (rows in (C, H, W) flatten order, ``U(±1/sqrt(1568))``), then ``x``
    (``N(0,1)``, NCHW, ``(4, 32, 1, 28, 28)``) and ``y`` (random labels, int64, ``(4, 32)``).
    The biases ``b1, b2, b3`` are zeros. Channels-last frameworks convert these once with
    :func:`cnn_channels_last`.

    Returns:
        ``{"k1", "b1", "k2", "b2", "w3", "b3", "x", "y"}``, float32 except ``y``.

    Examples:
        >>> d = make_cnn_data()
        >>> d["k2"].shape, d["w3"].shape, d["x"].shape, d["y"].shape
        ((32, 16, 3, 3), (1568, 10), (4, 32, 1, 28, 28), (4, 32))
    """
    rng = np.random.default_rng(W4_SEED)
    data: dict[str, np.ndarray] = {}
    c_in = CNN_CHANNELS
    for i, c_out in enumerate(CNN_FILTERS, start=1):
        limit = 1.0 / np.sqrt(c_in * 9)
        data[f"k{i}"] = rng.uniform(-limit, limit, (c_out, c_in, 3, 3)).astype(np.float32)
        data[f"b{i}"] = np.zeros(c_out, dtype=np.float32)
        c_in = c_out
    features = CNN_FILTERS[-1] * (CNN_IMAGE // 4) ** 2
    limit = 1.0 / np.sqrt(features)
    data["w3"] = rng.uniform(-limit, limit, (features, CNN_CLASSES)).astype(np.float32)
    data["b3"] = np.zeros(CNN_CLASSES, dtype=np.float32)
    data["x"] = rng.standard_normal(
        (CNN_NUM_BATCHES, CNN_BATCH, CNN_CHANNELS, CNN_IMAGE, CNN_IMAGE), dtype=np.float32
    )
    data["y"] = rng.integers(0, CNN_CLASSES, (CNN_NUM_BATCHES, CNN_BATCH), dtype=np.int64)
    return data


def cnn_channels_last(data: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """W4's data for a channels-last (NHWC) network computing the same function as NCHW.

    Conv kernels become ``(kh, kw, in, out)`` (Keras' layout); the images ``(4, 32, 28, 28,
    1)``; the dense kernel's rows are permuted from (C, H, W) to (H, W, C) order, so that a
    plain NHWC flatten feeds each weight the activation the NCHW flatten would (what
    Keras' ``convert_dense_weights_data_format`` does). All arrays are contiguous copies.

    Examples:
        >>> d = cnn_channels_last(make_cnn_data())
        >>> d["k1"].shape, d["k2"].shape, d["x"].shape
        ((3, 3, 1, 16), (3, 3, 16, 32), (4, 32, 28, 28, 1))
    """
    side = CNN_IMAGE // 4
    w3 = data["w3"].reshape(CNN_FILTERS[-1], side, side, -1).transpose(1, 2, 0, 3)
    return {
        "k1": np.ascontiguousarray(data["k1"].transpose(2, 3, 1, 0)),
        "b1": data["b1"].copy(),
        "k2": np.ascontiguousarray(data["k2"].transpose(2, 3, 1, 0)),
        "b2": data["b2"].copy(),
        "w3": np.ascontiguousarray(w3.reshape(data["w3"].shape)),
        "b3": data["b3"].copy(),
        "x": np.ascontiguousarray(data["x"].transpose(0, 1, 3, 4, 2)),
        "y": data["y"].copy(),
    }


def make_transformer_data() -> dict[str, np.ndarray]:
    """Draw W7's initial parameters and its bank of fixed batches (seed 8).

    Parameters are named ``"{block}/{key}"`` for the keys of :data:`W7_BLOCK_PARAMS`, then
    ``"wd"``, ``"bd"``; kernels are uniform Glorot draws in Keras' layouts (attention
    kernels ``(width, heads, head_dim)``, output ``(heads, head_dim, width)``), biases and
    betas zeros, gammas ones. Inputs ``"x"`` are ``(4, batch, steps, width)``, labels
    ``"y"`` ``(4, batch)`` int32.

    Examples:
        >>> d = make_transformer_data()
        >>> d["x"].shape, d["0/wq"].shape, d["1/wo"].shape, d["wd"].shape
        ((4, 32, 128, 128), (128, 4, 32), (4, 32, 128), (128, 10))
    """
    rng = np.random.default_rng(W7_SEED)
    width, heads, head = W7_WIDTH, W7_HEADS, W7_WIDTH // W7_HEADS

    def glorot(shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)

    data: dict[str, np.ndarray] = {}
    for block in range(W7_BLOCKS):
        shapes = {
            "wq": (width, heads, head), "bq": (heads, head),
            "wk": (width, heads, head), "bk": (heads, head),
            "wv": (width, heads, head), "bv": (heads, head),
            "wo": (heads, head, width), "bo": (width,),
            "g1": (width,), "be1": (width,),
            "w1": (width, W7_MLP), "b1": (W7_MLP,), "w2": (W7_MLP, width), "b2": (width,),
            "g2": (width,), "be2": (width,),
        }  # fmt: skip
        for key in W7_BLOCK_PARAMS:
            shape = shapes[key]
            if key.startswith("w"):
                fan_in = width if key != "w2" else W7_MLP
                fan_out = int(np.prod(shape)) // fan_in if key != "wo" else width
                value = glorot(shape, fan_in, fan_out)
            else:
                value = np.full(shape, 1.0 if key.startswith("g") else 0.0, np.float32)
            data[f"{block}/{key}"] = value
    data["wd"] = glorot((width, W7_CLASSES), width, W7_CLASSES)
    data["bd"] = np.zeros(W7_CLASSES, np.float32)
    shape = (W7_NUM_BATCHES, W7_BATCH, W7_STEPS, width)
    data["x"] = rng.standard_normal(shape, dtype=np.float32)
    data["y"] = rng.integers(0, W7_CLASSES, (W7_NUM_BATCHES, W7_BATCH)).astype(np.int32)
    return data


def make_lstm_data() -> dict[str, np.ndarray]:
    """Draw W5's initial parameters and its bank of fixed batches (seed 5).

    Drawn in this order from ``default_rng(5)``, all ``U(-1/sqrt(128), 1/sqrt(128))``:
    ``wx (32, 512)``, ``wh (128, 512)``, ``b (512,)`` (the LSTM, gates ``i, f, g, o``
    side by side: Keras' and torch's order), ``wd (128, 10)`` (the dense layer; its bias
    ``bd`` is zeros); then ``x`` (``N(0,1)``, time-major ``(4, 50, 32, 32)``: batch, step,
    example, input) and ``y`` (random labels, int64, ``(4, 32)``).

    Returns:
        ``{"wx", "wh", "b", "wd", "bd", "x", "y"}``, float32 except ``y``.

    Examples:
        >>> d = make_lstm_data()
        >>> d["wx"].shape, d["b"].shape, d["x"].shape, d["y"].shape
        ((32, 512), (512,), (4, 50, 32, 32), (4, 32))
    """
    rng = np.random.default_rng(W5_SEED)
    gates = 4 * LSTM_HIDDEN
    limit = 1.0 / np.sqrt(LSTM_HIDDEN)
    data: dict[str, np.ndarray] = {}
    for name, shape in (
        ("wx", (LSTM_INPUTS, gates)),
        ("wh", (LSTM_HIDDEN, gates)),
        ("b", (gates,)),
        ("wd", (LSTM_HIDDEN, LSTM_CLASSES)),
    ):
        data[name] = rng.uniform(-limit, limit, shape).astype(np.float32)
    data["bd"] = np.zeros(LSTM_CLASSES, dtype=np.float32)
    data["x"] = rng.standard_normal(
        (LSTM_NUM_BATCHES, LSTM_STEPS, LSTM_BATCH, LSTM_INPUTS), dtype=np.float32
    )
    data["y"] = rng.integers(0, LSTM_CLASSES, (LSTM_NUM_BATCHES, LSTM_BATCH), dtype=np.int64)
    return data


@dataclass
class Timing:
    """Timings of one workload in seconds (``cpu_wall``: average cores busy while timed)."""

    first_call_s: float
    second_call_s: float
    n_calls: int
    median_s: float
    min_s: float
    p25_s: float
    p75_s: float
    cpu_wall: float

    def as_dict(self) -> dict[str, float | int]:
        """Return the fields as a JSON-ready dict."""
        return asdict(self)


def time_callable(
    fn: Callable[[], Any],
    warmup_s: float = WARMUP_S,
    measure_s: float = MEASURE_S,
    min_calls: int = MIN_CALLS,
) -> tuple[Timing, tuple[Any, Any]]:
    """Time ``fn`` by the workloads.md protocol.

    First call and second call are timed on their own (the first includes any tracing or
    compilation), then ``fn`` runs untimed for ``warmup_s``, then single calls are timed
    with :func:`time.perf_counter` until ``measure_s`` has passed and at least
    ``min_calls`` calls were made. CPU time (:func:`time.process_time`, all threads) over
    wall time of the measured window gives the average number of busy cores.

    Args:
        fn: runs the workload once, synchronously, and returns its result.
        warmup_s: untimed warm-up, seconds.
        measure_s: length of the measured window, seconds.
        min_calls: least number of measured calls.

    Returns:
        The :class:`Timing` and the results of the first two calls.

    Examples:
        >>> t, (r1, r2) = time_callable(lambda: 3, warmup_s=0.0, measure_s=0.0)
        >>> t.n_calls, r1, r2
        (5, 3, 3)
    """
    clock = time.perf_counter
    t0 = clock()
    first = fn()
    first_s = clock() - t0
    t0 = clock()
    second = fn()
    second_s = clock() - t0

    end = clock() + warmup_s
    while clock() < end:
        fn()

    times: list[float] = []
    cpu0 = time.process_time()
    wall0 = clock()
    deadline = wall0 + measure_s
    while len(times) < min_calls or clock() < deadline:
        t0 = clock()
        fn()
        times.append(clock() - t0)
    wall = clock() - wall0
    cpu = time.process_time() - cpu0

    p25, p75 = np.percentile(times, [25, 75])
    timing = Timing(
        first_call_s=first_s,
        second_call_s=second_s,
        n_calls=len(times),
        median_s=statistics.median(times),
        min_s=min(times),
        p25_s=float(p25),
        p75_s=float(p75),
        cpu_wall=cpu / wall if wall > 0 else float("nan"),
    )
    return timing, (first, second)


def max_rel_err(result: np.ndarray, reference: np.ndarray, floor: float = 1e-6) -> float:
    """Largest elementwise relative error of ``result`` against ``reference``.

    Each difference is divided by ``max(|ref_i|, floor * max|ref|)``, so an entry of the
    reference that happens to be near zero cannot blow the error up. A shape mismatch or a
    non-finite entry gives ``inf``.

    Examples:
        >>> round(max_rel_err(np.array([1.0, 2.002]), np.array([1.0, 2.0])), 6)
        0.001
    """
    res = np.asarray(result, dtype=np.float64)
    ref = np.asarray(reference, dtype=np.float64)
    if res.shape != ref.shape or not np.all(np.isfinite(res)):
        return float("inf")
    if ref.size == 0:
        return 0.0
    denom = np.maximum(np.abs(ref), floor * np.max(np.abs(ref)))
    denom = np.where(denom == 0, 1.0, denom)
    return float(np.max(np.abs(res - ref) / denom))


def threadpool_summary() -> list[dict[str, Any]]:
    """Describe the native thread pools loaded in this process (via threadpoolctl).

    Returns:
        One dict per pool (``prefix``, ``user_api``, ``internal_api``, ``num_threads``,
        ``version``), or a single ``{"error": ...}`` when threadpoolctl is not installed.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl is not installed"}]
    keys = ("prefix", "user_api", "internal_api", "num_threads", "version", "architecture")
    return [{k: pool.get(k) for k in keys if k in pool} for pool in threadpool_info()]
