"""Live parity: core, activation and reshaping layers against Keras 3 (JAX backend)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.parity.harness import LayerCase, check_layer

RNG = np.random.default_rng(0)
X2 = RNG.standard_normal((3, 5)).astype(np.float32)
X3 = RNG.standard_normal((2, 4, 3)).astype(np.float32)

CASES = [
    LayerCase("Dense", {"units": 4, "name": "dense_p"}, (X2,)),
    LayerCase("Dense", {"units": 3, "activation": "tanh", "use_bias": False}, (X3,), id="dense3d"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_layer(case: LayerCase) -> None:
    check_layer(case)
