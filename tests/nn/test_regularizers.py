"""tapegrad.nn.regularizers: values, gradients, configs and lookups."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn import regularizers
from tests.nn.objective_data import W


def np_orthogonal(w, factor, mode):
    u = (
        w / np.linalg.norm(w, axis=1, keepdims=True)
        if mode == "rows"
        else (w / np.linalg.norm(w, axis=0, keepdims=True)).T
    )
    product = np.abs(u @ u.T - np.diag(np.diag(u @ u.T)))
    n = len(u)
    return factor * 0.5 * product.sum() / (n * (n - 1) / 2)


REGULARIZERS = {
    "l1": (regularizers.L1(0.3), lambda w: 0.3 * abs(w).sum()),
    "l2": (regularizers.L2(0.2), lambda w: 0.2 * (w**2).sum()),
    "l1_l2": (regularizers.L1L2(l1=0.1, l2=0.4), lambda w: 0.1 * abs(w).sum() + 0.4 * (w**2).sum()),
    "l1_l2_only_l2": (regularizers.L1L2(l2=0.4), lambda w: 0.4 * (w**2).sum()),
    "orthogonal_rows": (
        regularizers.OrthogonalRegularizer(0.5),
        lambda w: np_orthogonal(w, 0.5, "rows"),
    ),
    "orthogonal_columns": (
        regularizers.OrthogonalRegularizer(0.5, mode="columns"),
        lambda w: np_orthogonal(w, 0.5, "columns"),
    ),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(REGULARIZERS))
def test_regularizer_values(name, dtype):
    regularizer, ref = REGULARIZERS[name]
    value = regularizer(W.astype(dtype))
    assert value.shape == () and value.dtype == dtype
    assert float(value) == pytest.approx(ref(W), rel=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("name", list(REGULARIZERS))
def test_regularizer_gradients_and_config(name):
    regularizer, _ = REGULARIZERS[name]
    tg.check_grads(regularizer, (W,), order=1)
    config = regularizer.get_config()
    assert type(regularizer).from_config(config).get_config() == config
    restored = regularizers.deserialize(regularizers.serialize(regularizer))
    assert type(restored) is type(regularizer) and restored.get_config() == config


def test_regularizer_gradient_through_tape():
    w = tg.Variable(W.copy())
    with tg.GradientTape() as tape:
        penalty = regularizers.L2(0.1)(w)
    np.testing.assert_allclose(tape.gradient(penalty, w).numpy(), 0.2 * W, rtol=1e-6)


@pytest.mark.parametrize(
    "identifier, cls, config",
    [
        ("l1", regularizers.L1, {"l1": 0.01}),
        ("l2", regularizers.L2, {"l2": 0.01}),
        ("l1_l2", regularizers.L1L2, {"l1": 0.0, "l2": 0.0}),
        ("L2", regularizers.L2, {"l2": 0.01}),
        (
            "orthogonal_regularizer",
            regularizers.OrthogonalRegularizer,
            {"factor": 0.01, "mode": "rows"},
        ),
        ({"class_name": "L1L2", "config": {"l1": 0.5}}, regularizers.L1L2, {"l1": 0.5, "l2": 0.0}),
        (regularizers.L1, regularizers.L1, {"l1": 0.01}),
    ],
)
def test_regularizer_get(identifier, cls, config):
    regularizer = regularizers.get(identifier)
    assert type(regularizer) is cls and regularizer.get_config() == config


def test_regularizer_errors():
    assert regularizers.get(None) is None and regularizers.serialize(None) is None
    for bad in (-0.1, math.nan, math.inf, "0.1", True):
        with pytest.raises(ValueError, match="non-negative finite float"):
            regularizers.L2(bad)
    with pytest.raises(ValueError, match="mode must be 'rows' or 'columns'"):
        regularizers.OrthogonalRegularizer(mode="diagonal")
    with pytest.raises(ValueError, match=r"rank 2, got shape \(2, 2, 2\)"):
        regularizers.OrthogonalRegularizer()(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="Could not interpret regularizer identifier 'l3'"):
        regularizers.get("l3")

    def penalty(w):
        return 0.0

    assert regularizers.get(penalty) is penalty
    with pytest.raises(ValueError, match="never restores code"):
        regularizers.deserialize(regularizers.serialize(penalty))
