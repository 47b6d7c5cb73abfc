"""Live parity: numeric preprocessing layers against Keras 3 (JAX backend)."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tests.parity.harness import (
    LayerCase,
    assert_all_close,
    assert_close,
    check_config_keys,
    check_layer,
    keras,
    numpy_initial_values,
)

RNG = np.random.default_rng(4)
IMAGES = RNG.uniform(0, 255, (2, 6, 8, 3)).astype(np.float32)
FEATURES = RNG.normal(2.0, 3.0, (6, 4)).astype(np.float32)
TOKENS = np.array([[0, 2, 2, 5], [1, 1, 3, 0]], np.int32)

CASES = [
    LayerCase("Rescaling", {"scale": 1 / 255}, (IMAGES,)),
    LayerCase(
        "Rescaling",
        {"scale": [0.5, 1.0, 2.0], "offset": -1.0},
        (IMAGES,),
        id="Rescaling-per-channel",
    ),
    LayerCase("CenterCrop", {"height": 4, "width": 5}, (IMAGES,)),
    LayerCase("Resizing", {"height": 3, "width": 4}, (IMAGES,)),
    LayerCase(
        "Resizing",
        {"height": 9, "width": 5, "interpolation": "nearest"},
        (IMAGES,),
        id="Resizing-nearest",
    ),
    LayerCase(
        "Resizing",
        {"height": 4, "width": 4, "crop_to_aspect_ratio": True},
        (IMAGES,),
        id="Resizing-crop",
    ),
    LayerCase(
        "Resizing",
        {"height": 4, "width": 6, "pad_to_aspect_ratio": True, "fill_value": 1.0},
        (IMAGES,),
        id="Resizing-pad",
    ),
    LayerCase(
        "Resizing",
        {"height": 2, "width": 5, "pad_to_aspect_ratio": True, "fill_value": -2.0},
        (IMAGES,),
        id="Resizing-pad-odd-width",
    ),
    LayerCase(
        "Normalization",
        {"mean": [1.0, 2.0, 3.0, 4.0], "variance": [1.0, 4.0, 9.0, 2.0]},
        (FEATURES,),
    ),
    LayerCase(
        "Normalization",
        {"mean": 2.0, "variance": 4.0, "invert": True},
        (FEATURES,),
        id="Normalization-invert",
    ),
    LayerCase("Discretization", {"bin_boundaries": [-1.0, 0.0, 2.5]}, (FEATURES,), grads=False),
    LayerCase(
        "Discretization",
        {"bin_boundaries": [0.0, 2.0], "output_mode": "one_hot"},
        (FEATURES[:, :1],),
        grads=False,
        id="Discretization-one_hot",
    ),
    LayerCase(
        "CategoryEncoding", {"num_tokens": 6, "output_mode": "multi_hot"}, (TOKENS,), grads=False
    ),
    LayerCase(
        "CategoryEncoding",
        {"num_tokens": 6, "output_mode": "count"},
        (TOKENS,),
        grads=False,
        id="CategoryEncoding-count",
    ),
    LayerCase(
        "CategoryEncoding",
        {"num_tokens": 6, "output_mode": "one_hot"},
        (TOKENS[:, 0],),
        grads=False,
        id="CategoryEncoding-one_hot",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_layer(case: LayerCase) -> None:
    check_layer(case)


@pytest.mark.parametrize(
    ("name", "kwargs", "data"),
    [
        ("Normalization", {}, FEATURES),
        ("Normalization", {"axis": None}, FEATURES),
    ],
    # Keras' Discretization.adapt needs TensorFlow (not a test extra): not compared.
    ids=["Normalization", "Normalization-axis-None"],
)
def test_adapt(name: str, kwargs: dict, data: np.ndarray) -> None:
    """``adapt`` on the same data gives the same state, outputs and config keys."""
    with numpy_initial_values():
        k_layer = getattr(keras.layers, name)(**kwargs)
        t_layer = getattr(tg.layers, name)(**kwargs)
    k_layer.adapt(data)
    t_layer.adapt(data)
    probe = data[:3] + 0.25
    assert_close(t_layer(tg.tensor(probe)), k_layer(probe), f"{name}: outputs after adapt")
    # The whole state: mean, variance and count (which Keras 3.15 leaves at 0).
    assert [w.name.split("/")[-1] for w in t_layer.weights] == [w.name for w in k_layer.weights]
    assert_all_close(t_layer.get_weights(), k_layer.get_weights(), f"{name}: adapted state")
    check_config_keys(k_layer, t_layer)
