"""foreach_assign_sub: many Variables updated in one call, bit for bit as assign_sub."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.core import foreach_assign_sub

SHAPES = [(3, 4), (4,), ()]


def _pairs(dtype: type = np.float32) -> tuple[list[tg.Variable], list[tg.Tensor]]:
    rng = np.random.default_rng(0)
    variables = [tg.Variable(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    deltas = [tg.tensor(rng.standard_normal(s).astype(dtype)) for s in SHAPES]
    return variables, deltas


def _by_ops(variables: list[tg.Variable], deltas: list[tg.Tensor], scale: object) -> list:
    for variable, delta in zip(variables, deltas, strict=True):
        variable.assign_sub(delta if scale is None else delta * scale)
    return [v.numpy() for v in variables]


@pytest.mark.parametrize(
    "scale", [None, 0.1, 3, np.float32(0.25), np.array(0.1, np.float64), "tensor"]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_as_assign_sub_one_by_one(scale: object, dtype: type) -> None:
    if isinstance(scale, str):
        scale = tg.tensor(np.array(0.3, dtype))
    variables, deltas = _pairs(dtype)
    expected = _by_ops(*_pairs(dtype), scale)
    foreach_assign_sub(variables, deltas, scale)
    for variable, want in zip(variables, expected, strict=True):
        assert variable.dtype == want.dtype
        np.testing.assert_array_equal(variable.numpy(), want)


def test_updates_in_place_when_the_variable_owns_its_array() -> None:
    variables, deltas = _pairs()
    arrays = [v._value for v in variables]
    foreach_assign_sub(variables, deltas, 0.5)
    assert all(v._value is a for v, a in zip(variables, arrays, strict=True))


def test_an_escaped_array_is_left_as_it_was() -> None:
    variables, deltas = _pairs()
    seen = variables[0].numpy()
    before = seen.copy()
    foreach_assign_sub(variables, deltas, 1.0)
    np.testing.assert_array_equal(seen, before)
    np.testing.assert_array_equal(variables[0].numpy(), before - deltas[0].numpy())


def test_a_recording_tape_keeps_what_it_recorded() -> None:
    variables, deltas = _pairs()
    with tg.GradientTape(persistent=True) as tape:
        y = tg.numpy.sum(variables[0] * variables[0])
        foreach_assign_sub(variables, deltas, 1.0)
    before = _pairs()[0][0].numpy()
    grad = tape.gradient(y, variables[0])
    np.testing.assert_allclose(grad.numpy(), 2 * before, rtol=1e-6)


def test_inside_a_traced_function_the_update_is_part_of_the_graph() -> None:
    variables, deltas = _pairs()
    expected = _by_ops(*_pairs(), 0.5)
    step = tg.function(lambda ds: foreach_assign_sub(variables, ds, 0.5))
    step(deltas)
    for variable, want in zip(variables, expected, strict=True):
        np.testing.assert_allclose(variable.numpy(), want, rtol=1e-6)


def test_lengths_must_match() -> None:
    variables, deltas = _pairs()
    with pytest.raises(ValueError, match="3 variables but 2 deltas"):
        foreach_assign_sub(variables, deltas[:2])


def test_plain_sgd_matches_its_update_rule() -> None:
    variables, deltas = _pairs()
    expected = [v.numpy() - np.float32(0.1) * d.numpy() for v, d in zip(*_pairs(), strict=True)]
    tg.optimizers.SGD(0.1).apply(deltas, variables)
    for variable, want in zip(variables, expected, strict=True):
        np.testing.assert_array_equal(variable.numpy(), want)


def test_sgd_subclass_with_its_own_update_step_is_called() -> None:
    calls = []

    class Counting(tg.optimizers.SGD):
        def update_step(self, gradient, variable, learning_rate):  # type: ignore[no-untyped-def]
            calls.append(variable.name)
            super().update_step(gradient, variable, learning_rate)

    variables, deltas = _pairs()
    Counting(0.1).apply(deltas, variables)
    assert len(calls) == len(variables)
