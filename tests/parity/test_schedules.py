"""Live parity of every learning-rate schedule of ``keras.optimizers.schedules`` (Keras 3,
JAX backend): values at many steps, configs, and configs loaded across the two."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tests.parity.harness import ATOL, RTOL, jax, jnp, keras

# Steps inside, at and past the boundaries, decays, warmups and restarts below.
STEPS = [0, 1, 2, 3, 5, 7, 10, 13, 20, 40, 99, 100, 101, 250, 1000]

CASES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "exponential",
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
    ),
    (
        "exponential-staircase",
        "ExponentialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.9, "staircase": True},
    ),
    (
        "piecewise",
        "PiecewiseConstantDecay",
        {"boundaries": [5, 20, 100], "values": [1.0, 0.5, 0.1, 0.01]},
    ),
    (
        "polynomial",
        "PolynomialDecay",
        {
            "initial_learning_rate": 0.1,
            "decay_steps": 100,
            "end_learning_rate": 0.001,
            "power": 2.0,
        },
    ),
    (
        "polynomial-cycle",
        "PolynomialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 13, "power": 0.5, "cycle": True},
    ),
    (
        "inverse-time",
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
    ),
    (
        "inverse-time-staircase",
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 2.0, "staircase": True},
    ),
    ("cosine", "CosineDecay", {"initial_learning_rate": 0.1, "decay_steps": 100}),
    (
        "cosine-alpha-warmup",
        "CosineDecay",
        {
            "initial_learning_rate": 0.05,
            "decay_steps": 100,
            "alpha": 0.1,
            "warmup_target": 0.2,
            "warmup_steps": 10,
        },
    ),
    (
        "cosine-restarts",
        "CosineDecayRestarts",
        {"initial_learning_rate": 0.1, "first_decay_steps": 10},
    ),
    (
        "cosine-restarts-options",
        "CosineDecayRestarts",
        {
            "initial_learning_rate": 0.1,
            "first_decay_steps": 7,
            "t_mul": 1.5,
            "m_mul": 0.8,
            "alpha": 0.05,
        },
    ),
]


def _pair(name: str, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    keras_schedule = getattr(keras.optimizers.schedules, name)(**kwargs)
    return keras_schedule, getattr(tg.optimizers.schedules, name)(**kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_schedule_values_match_keras(case: tuple[str, str, dict[str, Any]]) -> None:
    _, name, kwargs = case
    k_schedule, t_schedule = _pair(name, kwargs)
    # All steps in one batched call (vmap turns Keras' conds into selects): op-by-op JAX
    # dispatch per step is slow.
    expected = np.asarray(jax.vmap(k_schedule)(jnp.asarray(STEPS, dtype="int32")))
    # Steps as int Tensors (what the optimizer's counter gives) and as Python ints.
    from_tensors = np.array([float(t_schedule(tg.tensor(np.int64(s)))) for s in STEPS])
    from_ints = np.array([float(t_schedule(s)) for s in STEPS])
    np.testing.assert_allclose(from_tensors, expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(from_ints, expected, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_schedule_configs_match_keras_and_load_across(case: tuple[str, str, dict[str, Any]]):
    _, name, kwargs = case
    k_schedule, t_schedule = _pair(name, kwargs)
    k_config, t_config = k_schedule.get_config(), t_schedule.get_config()
    assert sorted(t_config) == sorted(k_config)
    for key, value in t_config.items():
        assert value == k_config[key], key
    # Keras' serialized schedule loads in tapegrad and the other way round.
    loaded = tg.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(k_schedule))
    back = keras.optimizers.schedules.deserialize(tg.optimizers.schedules.serialize(t_schedule))
    steps = [0, 10, 101]
    keras_values = np.asarray(jax.vmap(k_schedule)(jnp.asarray(steps, dtype="int32")))
    back_values = np.asarray(jax.vmap(back)(jnp.asarray(steps, dtype="int32")))
    loaded_values = [float(loaded(step)) for step in steps]
    own_values = [float(t_schedule(step)) for step in steps]
    np.testing.assert_allclose(loaded_values, keras_values, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(back_values, own_values, rtol=RTOL, atol=ATOL)
