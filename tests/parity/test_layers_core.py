"""Live parity: core, activation, reshaping and merging layers against Keras 3 (JAX)."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tests.parity.harness import LayerCase, assert_close, build_layers, check_layer

RNG = np.random.default_rng(0)


def arr(*shape: int) -> np.ndarray:
    """A float32 standard-normal array of ``shape`` (deterministic per module)."""
    return RNG.standard_normal(shape).astype(np.float32)


X2, X3, X4, X5 = arr(3, 5), arr(2, 4, 3), arr(2, 4, 5, 3), arr(2, 3, 4, 5, 2)
IDS = np.array([[1, 2, 0, 4], [3, 0, 0, 1]], dtype=np.int32)

CORE = [
    LayerCase("Dense", {"units": 4}, (X2,)),
    LayerCase("Dense", {"units": 3, "activation": "tanh", "use_bias": False}, (X3,), id="D3"),
    LayerCase("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 4, "bias_axes": "c"}, (X2,)),
    LayerCase(
        "EinsumDense",
        {"equation": "abc,cd->abd", "output_shape": (4, 2), "bias_axes": "d", "activation": "relu"},
        (X3,),
        id="ED3",
    ),
    LayerCase("Embedding", {"input_dim": 5, "output_dim": 3}, (IDS,)),
    LayerCase(
        "Embedding",
        {"input_dim": 5, "output_dim": 3, "mask_zero": True},
        (IDS,),
        id="Embedding-mask_zero",
    ),
    LayerCase("Identity", {}, (X3,)),
    LayerCase("Masking", {"mask_value": 0.0}, (np.where(X3 > 0.5, 0.0, X3),)),
    LayerCase("Activation", {"activation": "swish"}, (X3,)),
]
ACTIVATIONS = [
    LayerCase("ReLU", {}, (X3,)),
    LayerCase(
        "ReLU", {"max_value": 0.8, "negative_slope": 0.1, "threshold": 0.2}, (X3,), id="ReLU-args"
    ),
    LayerCase("LeakyReLU", {"negative_slope": 0.2}, (X3,)),
    LayerCase("PReLU", {"alpha_initializer": "ones"}, (X3,)),
    LayerCase("PReLU", {"shared_axes": [1]}, (X3,), id="PReLU-shared"),
    LayerCase("ELU", {"alpha": 0.7}, (X3,)),
    LayerCase("Softmax", {"axis": -1}, (X3,)),
    LayerCase("Softmax", {"axis": 1}, (X3,), id="Softmax-axis1"),
]
RESHAPING = [
    LayerCase("Flatten", {}, (X4,)),
    LayerCase("Reshape", {"target_shape": (3, -1)}, (X3,)),
    LayerCase("Permute", {"dims": (2, 1)}, (X3,)),
    LayerCase("RepeatVector", {"n": 3}, (X2,)),
    LayerCase("ZeroPadding1D", {"padding": (1, 2)}, (X3,)),
    LayerCase("ZeroPadding2D", {"padding": ((1, 0), (2, 1))}, (X4,)),
    LayerCase("ZeroPadding3D", {"padding": 1}, (X5,)),
    LayerCase("Cropping1D", {"cropping": (1, 2)}, (X3,)),
    LayerCase("Cropping2D", {"cropping": ((1, 0), (2, 1))}, (X4,)),
    LayerCase("Cropping3D", {"cropping": ((1, 0), (1, 1), (0, 1))}, (X5,)),
    LayerCase("UpSampling1D", {"size": 2}, (X3,)),
    LayerCase("UpSampling2D", {"size": (2, 3)}, (X4,)),
    LayerCase(
        "UpSampling2D", {"size": 2, "interpolation": "bilinear"}, (X4,), id="UpSampling2D-bilinear"
    ),
    LayerCase("UpSampling3D", {"size": 2}, (X5,)),
]
A, B, C = arr(2, 4, 3), arr(2, 4, 3), arr(2, 4, 3)
MERGING = [
    LayerCase("Add", {}, ([A, B, C],)),
    LayerCase("Subtract", {}, ([A, B],)),
    LayerCase("Multiply", {}, ([A, B],)),
    LayerCase("Average", {}, ([A, B, C],)),
    LayerCase("Maximum", {}, ([A, B],)),
    LayerCase("Minimum", {}, ([A, B],)),
    LayerCase("Concatenate", {"axis": -1}, ([A, arr(2, 4, 2)],)),
    LayerCase("Concatenate", {"axis": 1}, ([A, arr(2, 1, 3)],), id="Concatenate-axis1"),
    LayerCase("Dot", {"axes": 1}, ([X2, arr(3, 5)],)),
    LayerCase("Dot", {"axes": (2, 2)}, ([A, B],), id="Dot-3d"),
    LayerCase("Dot", {"axes": -1, "normalize": True}, ([A, B],), id="Dot-normalize"),
]


@pytest.mark.parametrize("case", CORE + ACTIVATIONS + RESHAPING + MERGING, ids=str)
def test_layer(case: LayerCase) -> None:
    check_layer(case)


@pytest.mark.parametrize(
    ("name", "kwargs", "x"),
    [
        ("EinsumDense", {"equation": "ab,bc->ac", "output_shape": 4}, X2),
        ("Embedding", {"input_dim": 5, "output_dim": 3}, IDS),
        ("Dense", {"units": 2}, X2),
        ("Conv1D", {"filters": 2, "kernel_size": 2}, X3),
        ("SeparableConv1D", {"filters": 2, "kernel_size": 2}, X3),
        ("Conv1DTranspose", {"filters": 2, "kernel_size": 2}, X3),
    ],
    ids=["EinsumDense", "Embedding", "Dense", "Conv1D", "SeparableConv1D", "Conv1DTranspose"],
)
def test_activity_regularizer_loss(name: str, kwargs: dict, x: np.ndarray) -> None:
    case = LayerCase(name, {**kwargs, "activity_regularizer": "l2"}, (x,))
    k_layer, t_layer = build_layers(case)
    k_layer(x)
    t_layer(tg.tensor(x))
    assert len(t_layer.losses) == len(k_layer.losses)
    assert_close(t_layer.losses[-1], k_layer.losses[-1], f"{name}: activity loss")
