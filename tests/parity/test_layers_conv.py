"""Live parity: convolution and pooling layers against Keras 3 (JAX backend)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.parity.harness import LayerCase, check_layer

RNG = np.random.default_rng(1)


def arr(*shape: int) -> np.ndarray:
    """A float32 standard-normal array of ``shape`` (deterministic per module)."""
    return RNG.standard_normal(shape).astype(np.float32)


X1, X2, X3 = arr(2, 9, 4), arr(2, 7, 6, 4), arr(1, 5, 6, 4, 2)

CONV = [
    LayerCase("Conv1D", {"filters": 3, "kernel_size": 3}, (X1,)),
    LayerCase(
        "Conv1D",
        {"filters": 4, "kernel_size": 2, "strides": 2, "padding": "same"},
        (X1,),
        id="Conv1D-strides-same",
    ),
    LayerCase(
        "Conv1D",
        {"filters": 3, "kernel_size": 3, "padding": "causal", "dilation_rate": 2},
        (X1,),
        id="Conv1D-causal-dilated",
    ),
    LayerCase(
        "Conv1D",
        {"filters": 4, "kernel_size": 3, "groups": 2, "activation": "relu"},
        (X1,),
        id="Conv1D-groups",
    ),
    LayerCase("Conv2D", {"filters": 3, "kernel_size": 3}, (X2,)),
    LayerCase(
        "Conv2D",
        {
            "filters": 2,
            "kernel_size": (2, 3),
            "strides": (2, 1),
            "padding": "same",
            "use_bias": False,
        },
        (X2,),
        id="Conv2D-strides-same",
    ),
    LayerCase(
        "Conv2D",
        {"filters": 2, "kernel_size": 2, "dilation_rate": (2, 1)},
        (X2,),
        id="Conv2D-dilated",
    ),
    LayerCase(
        "Conv2D",
        {"filters": 6, "kernel_size": 3, "groups": 2, "padding": "same"},
        (X2,),
        id="Conv2D-groups",
    ),
    LayerCase(
        "Conv2D",
        {"filters": 2, "kernel_size": 3, "data_format": "channels_first"},
        (X2,),
        id="Conv2D-channels_first",
    ),
    LayerCase("Conv3D", {"filters": 2, "kernel_size": 2}, (X3,)),
    LayerCase(
        "Conv3D",
        {"filters": 2, "kernel_size": (1, 2, 3), "strides": 2, "padding": "same"},
        (X3,),
        id="Conv3D-strides-same",
    ),
    LayerCase("Conv1DTranspose", {"filters": 3, "kernel_size": 3}, (X1,)),
    LayerCase(
        "Conv1DTranspose",
        {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same"},
        (X1,),
        id="Conv1DTranspose-strides",
    ),
    LayerCase("Conv2DTranspose", {"filters": 3, "kernel_size": 3}, (X2,)),
    LayerCase(
        "Conv2DTranspose",
        {"filters": 2, "kernel_size": (3, 2), "strides": (2, 3), "padding": "same"},
        (X2,),
        id="Conv2DTranspose-strides",
    ),
    LayerCase(
        "Conv2DTranspose",
        {"filters": 2, "kernel_size": 3, "strides": 2, "output_padding": 1},
        (X2,),
        id="Conv2DTranspose-outpad",
    ),
    LayerCase(
        "Conv2DTranspose",
        {"filters": 2, "kernel_size": 2, "dilation_rate": 2},
        (X2,),
        id="Conv2DTranspose-dilated",
    ),
    LayerCase("Conv3DTranspose", {"filters": 2, "kernel_size": 2, "strides": 2}, (X3,)),
    LayerCase("DepthwiseConv1D", {"kernel_size": 3, "depth_multiplier": 2}, (X1,)),
    LayerCase("DepthwiseConv2D", {"kernel_size": 3}, (X2,)),
    LayerCase(
        "DepthwiseConv2D",
        {"kernel_size": 2, "depth_multiplier": 2, "strides": 2, "padding": "same"},
        (X2,),
        id="DepthwiseConv2D-args",
    ),
    LayerCase("SeparableConv1D", {"filters": 3, "kernel_size": 3}, (X1,)),
    LayerCase("SeparableConv2D", {"filters": 3, "kernel_size": 3, "depth_multiplier": 2}, (X2,)),
    LayerCase(
        "SeparableConv2D",
        {"filters": 2, "kernel_size": 2, "dilation_rate": 2, "padding": "same"},
        (X2,),
        id="SeparableConv2D-dilated",
    ),
]
POOL = [
    LayerCase("MaxPooling1D", {"pool_size": 2}, (X1,)),
    LayerCase(
        "MaxPooling1D",
        {"pool_size": 3, "strides": 2, "padding": "same"},
        (X1,),
        id="MaxPooling1D-same",
    ),
    LayerCase("MaxPooling2D", {"pool_size": 2}, (X2,)),
    LayerCase(
        "MaxPooling2D",
        {"pool_size": (3, 2), "strides": 1, "padding": "same"},
        (X2,),
        id="MaxPooling2D-same",
    ),
    LayerCase("MaxPooling3D", {"pool_size": 2}, (X3,)),
    LayerCase("AveragePooling1D", {"pool_size": 2}, (X1,)),
    LayerCase("AveragePooling2D", {"pool_size": 2}, (X2,)),
    LayerCase(
        "AveragePooling2D",
        {"pool_size": 3, "strides": 2, "padding": "same"},
        (X2,),
        id="AveragePooling2D-same",
    ),
    LayerCase("AveragePooling3D", {"pool_size": 2, "padding": "same"}, (X3,)),
    LayerCase("GlobalAveragePooling1D", {}, (X1,)),
    LayerCase("GlobalAveragePooling2D", {"keepdims": True}, (X2,)),
    LayerCase("GlobalAveragePooling3D", {}, (X3,)),
    LayerCase("GlobalMaxPooling1D", {}, (X1,)),
    LayerCase("GlobalMaxPooling2D", {}, (X2,)),
    LayerCase("GlobalMaxPooling3D", {"keepdims": True}, (X3,)),
    LayerCase(
        "GlobalAveragePooling1D",
        {},
        (X1,),
        call_kwargs={},
        mask=np.array([[1] * 6 + [0] * 3, [1] * 9], bool),
        id="GAP1D-mask",
    ),
]


@pytest.mark.parametrize("case", CONV + POOL, ids=str)
def test_layer(case: LayerCase) -> None:
    check_layer(case)
