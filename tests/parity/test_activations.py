"""Live parity: every function of ``keras.activations`` against Keras 3 (JAX backend).

Keras's values and input gradients of all cases come from one compiled program (one
compile instead of one per activation); each case is then its own test.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tests.parity.harness import assert_close, jax, keras

NOT_ACTIVATIONS = {"get", "serialize", "deserialize"}
NAMES = sorted(
    name
    for name in dir(keras.activations)
    if not name.startswith("_") and name not in NOT_ACTIVATIONS
)
# Argument combinations beyond the defaults: (id, name, kwargs).
VARIANTS = [
    ("gelu-approximate", "gelu", {"approximate": True}),
    ("gelu-exact", "gelu", {"approximate": False}),
    ("relu-args", "relu", {"negative_slope": 0.1, "max_value": 1.5, "threshold": 0.3}),
    ("leaky_relu-slope", "leaky_relu", {"negative_slope": 0.3}),
    ("elu-alpha", "elu", {"alpha": 0.5}),
    ("celu-alpha", "celu", {"alpha": 2.0}),
    ("softmax-axis0", "softmax", {"axis": 0}),
    ("log_softmax-axis0", "log_softmax", {"axis": 0}),
    ("hard_shrink-threshold", "hard_shrink", {"threshold": 1.0}),
    ("soft_shrink-threshold", "soft_shrink", {"threshold": 1.0}),
    ("squareplus-b", "squareplus", {"b": 2.0}),
    ("glu-axis0", "glu", {"axis": 0}),
]
# Arguments without defaults in Keras.
REQUIRED = {"threshold": {"threshold": 0.5, "default_value": -1.0}}
CASES = [(name, name, REQUIRED.get(name, {})) for name in NAMES] + VARIANTS
# Where Keras is wrong, not tapegrad: strict, so a Keras that agrees shows up.
KERAS_WRONG = {
    "sparsemax": "Keras 3.15's sparsemax (JAX backend) returns all zeros for rows whose "
    "support has more than one entry (rows must sum to 1: Martins & Astudillo 2016); "
    "tapegrad's rows sum to 1",
}
PARAMS = [
    pytest.param(
        *case,
        id=case[0],
        marks=[pytest.mark.xfail(strict=True, reason=KERAS_WRONG[case[0]])]
        if case[0] in KERAS_WRONG
        else [],
    )
    for case in CASES
]

RNG = np.random.default_rng(5)
# Away from the kinks at 0 and +-1 (where one-sided derivatives may differ by convention).
X = (RNG.uniform(0.1, 2.9, (4, 6)) * RNG.choice([-1.0, 1.0], (4, 6))).astype(np.float32)
X[np.abs(np.abs(X) - 1.0) < 0.05] += 0.1
X[np.abs(np.abs(X) - 0.5) < 0.05] += 0.1
COTANGENT = RNG.standard_normal(X.shape).astype(np.float32)


def cotangent(shape: tuple[int, ...]) -> np.ndarray:
    """COTANGENT cut to an output's shape (glu halves an axis)."""
    return COTANGENT[tuple(slice(0, n) for n in shape)]


@pytest.fixture(scope="module")
def keras_results() -> dict[str, Any]:
    """{case id: (values, input gradient)} from Keras, all in one compiled program."""

    def run_all(x: Any) -> dict[str, Any]:
        results = {}
        for case_id, name, kwargs in CASES:
            fn = getattr(keras.activations, name)
            out, vjp = jax.vjp(lambda v, fn=fn, kwargs=kwargs: fn(v, **kwargs), x)
            results[case_id] = (out, vjp(jax.numpy.asarray(cotangent(out.shape)))[0])
        return results

    return jax.tree_util.tree_map(np.asarray, jax.jit(run_all)(X))


@pytest.mark.parametrize(("case_id", "name", "kwargs"), PARAMS)
def test_activation(
    case_id: str, name: str, kwargs: dict[str, Any], keras_results: dict[str, Any]
) -> None:
    expected, expected_grad = keras_results[case_id]
    x = tg.tensor(X)
    with tg.GradientTape() as tape:
        tape.watch(x)
        out = getattr(tg.activations, name)(x, **kwargs)
        objective = tg.numpy.sum(out * tg.tensor(cotangent(expected.shape)))
    assert_close(out, expected, f"{case_id}: values")
    assert_close(tape.gradient(objective, x), expected_grad, f"{case_id}: gradient")
    # The same function by name, as Keras' activations.get serves it.
    assert tg.activations.get(name) is getattr(tg.activations, name)
