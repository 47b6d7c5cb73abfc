"""Weight constraints: every layer argument ``*_constraint`` reaches its Variable and is
enforced after each optimizer update, in eager and compiled training.

A constraint is a callable ``variable -> new value`` (Keras' ``Constraint.__call__``), applied
by the trainer after ``optimizer.apply_gradients``. The table lists each layer and each of its
constraint arguments with the Variables that argument governs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers as L
from tapegrad import optimizers


def non_neg(w: Any) -> Any:
    """Keras' NonNeg: negative entries become 0."""
    return w * tnp.asarray(w >= 0.0, dtype=w.dtype)


def max_norm_1(w: Any) -> Any:
    """Keras' MaxNorm(1.0, axis=0): every column of norm above 1 is scaled down to norm 1."""
    norms = tnp.sqrt(tnp.sum(tnp.square(w), axis=0, keepdims=True))
    return w * (tnp.clip(norms, 0.0, 1.0) / (1e-7 + norms))


@dataclass
class Row:
    """One layer constructor and the Variables each of its constraint arguments governs."""

    id: str
    make: Callable[..., Any]  # make(**constraint_kwargs) -> layer
    shape: tuple[int, ...]  # one sample's input shape
    weights: dict[str, Callable[[Any], list[Any]]]  # argument -> layer -> its Variables
    integer_inputs: int = 0  # > 0: integer inputs in [0, integer_inputs)
    apply: Callable[[Any, Any], Any] = field(default=lambda layer, x: layer(x))
    holder: Callable[[Any], Any] = field(default=lambda layer: layer)  # has the arguments


def _own(*names: str) -> Callable[[Any], list[Any]]:
    return lambda layer: [getattr(layer, name) for name in names]


def _cell(*names: str) -> Callable[[Any], list[Any]]:
    return lambda layer: [getattr(layer.cell, name) for name in names]


def _mha(name: str) -> Callable[[Any], list[Any]]:
    def variables(layer: Any) -> list[Any]:
        return [
            getattr(getattr(layer, f"{part}_dense"), name)
            for part in ("query", "key", "value", "output")
        ]

    return variables


_RNN_WEIGHTS = {
    "kernel_constraint": _cell("kernel"),
    "recurrent_constraint": _cell("recurrent_kernel"),
    "bias_constraint": _cell("bias"),
}
_DENSE_WEIGHTS = {"kernel_constraint": _own("kernel"), "bias_constraint": _own("bias")}
_NORM_WEIGHTS = {"beta_constraint": _own("beta"), "gamma_constraint": _own("gamma")}

ROWS = [
    Row("Dense", lambda **kw: L.Dense(3, **kw), (4,), _DENSE_WEIGHTS),
    Row("Conv1D", lambda **kw: L.Conv1D(2, 3, **kw), (6, 2), _DENSE_WEIGHTS),
    Row("Conv2D", lambda **kw: L.Conv2D(2, 3, **kw), (5, 5, 2), _DENSE_WEIGHTS),
    Row("Conv3D", lambda **kw: L.Conv3D(2, 2, **kw), (3, 3, 3, 1), _DENSE_WEIGHTS),
    Row(
        "Embedding",
        lambda **kw: L.Embedding(6, 3, **kw),
        (4,),
        {"embeddings_constraint": _own("embeddings")},
        integer_inputs=6,
    ),
    Row("BatchNormalization", lambda **kw: L.BatchNormalization(**kw), (4,), _NORM_WEIGHTS),
    Row("LayerNormalization", lambda **kw: L.LayerNormalization(**kw), (4,), _NORM_WEIGHTS),
    Row("SimpleRNN", lambda **kw: L.SimpleRNN(3, **kw), (5, 2), _RNN_WEIGHTS),
    Row("LSTM", lambda **kw: L.LSTM(3, **kw), (5, 2), _RNN_WEIGHTS),
    Row("GRU", lambda **kw: L.GRU(3, **kw), (5, 2), _RNN_WEIGHTS),
    Row(
        "RNN-SimpleRNNCell",
        lambda **kw: L.RNN(L.SimpleRNNCell(3, **kw)),
        (5, 2),
        _RNN_WEIGHTS,
        holder=lambda layer: layer.cell,
    ),
    Row(
        "RNN-LSTMCell",
        lambda **kw: L.RNN(L.LSTMCell(3, **kw)),
        (5, 2),
        _RNN_WEIGHTS,
        holder=lambda layer: layer.cell,
    ),
    Row(
        "RNN-GRUCell",
        lambda **kw: L.RNN(L.GRUCell(3, **kw)),
        (5, 2),
        _RNN_WEIGHTS,
        holder=lambda layer: layer.cell,
    ),
    Row(
        "MultiHeadAttention",
        lambda **kw: L.MultiHeadAttention(2, 3, **kw),
        (4, 5),
        {"kernel_constraint": _mha("kernel"), "bias_constraint": _mha("bias")},
        apply=lambda layer, x: layer(x, x),
    ),
]
CASES = [
    pytest.param(row, argument, id=f"{row.id}-{argument}")
    for row in ROWS
    for argument in row.weights
]


def _data(row: Row, n: int = 8) -> np.ndarray:
    rng = np.random.default_rng(0)
    if row.integer_inputs:
        return rng.integers(0, row.integer_inputs, size=(n, *row.shape))
    return rng.normal(size=(n, *row.shape)).astype("float32")


def _model(row: Row, **constraints: Any) -> tuple[Any, Any]:
    layer = row.make(**constraints)
    inputs = L.Input(shape=row.shape, dtype="int64" if row.integer_inputs else "float32")
    return tg.Model(inputs, row.apply(layer, inputs)), layer


def _make_negative(model: Any) -> None:
    """Every trainable weight strictly negative, so that a non-negativity constraint shows."""
    for variable in model.trainable_weights:
        variable.assign(-np.abs(variable.numpy()) - 0.5)


def _train_one_step(model: Any, row: Row, jit_compile: bool) -> None:
    model.compile(optimizers.SGD(learning_rate=1e-3), "mse", jit_compile=jit_compile)
    x = _data(row)
    y = np.zeros(model.predict(x, verbose=0).shape, dtype="float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


@pytest.mark.parametrize(("row", "argument"), CASES)
def test_constraint_is_stored_on_the_layer_and_its_variables(row: Row, argument: str) -> None:
    model, layer = _model(row, **{argument: non_neg})
    assert getattr(row.holder(layer), argument) is non_neg
    variables = row.weights[argument](layer)
    assert variables and all(v.constraint is non_neg for v in variables)
    others = [v for v in model.trainable_weights if all(v is not c for c in variables)]
    assert all(getattr(v, "constraint", None) is None for v in others)


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize(("row", "argument"), CASES)
def test_constraint_is_enforced_after_each_update(
    row: Row, argument: str, jit_compile: bool
) -> None:
    model, layer = _model(row, **{argument: non_neg})
    _make_negative(model)
    _train_one_step(model, row, jit_compile)
    constrained = row.weights[argument](layer)
    for variable in constrained:
        assert variable.numpy().min() >= 0.0, variable.name
    # The other weights took a small step from below -0.5: still negative, so the constraint
    # acted on its own Variables only.
    for variable in model.trainable_weights:
        if all(variable is not c for c in constrained):
            assert variable.numpy().max() < 0.0, variable.name


@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "compiled"])
@pytest.mark.parametrize(
    "row", [r for r in ROWS if r.id in ("Dense", "Conv1D")], ids=lambda r: r.id
)
def test_max_norm_constraint_bounds_the_kernel_columns(row: Row, jit_compile: bool) -> None:
    model, layer = _model(row, kernel_constraint=max_norm_1)
    layer.kernel.assign(np.full(layer.kernel.shape, 3.0, dtype="float32"))
    _train_one_step(model, row, jit_compile)
    kernel = layer.kernel.numpy()
    norms = np.sqrt(np.sum(np.square(kernel), axis=0))
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    assert layer.bias.numpy().max() < 0.5  # unconstrained: zeros plus one small step


def test_constraint_applies_at_every_step_of_train_on_batch() -> None:
    model, layer = _model(ROWS[0], kernel_constraint=non_neg, bias_constraint=non_neg)
    model.compile(optimizers.SGD(learning_rate=0.5), "mse")
    x = _data(ROWS[0])
    y = np.full((8, 3), -10.0, dtype="float32")  # pulls every weight down
    for _ in range(3):
        _make_negative(model)
        model.train_on_batch(x, y)
        assert layer.kernel.numpy().min() >= 0.0 and layer.bias.numpy().min() >= 0.0


def test_a_constraint_that_returns_a_new_value_replaces_the_weight() -> None:
    # The constraint's result is assigned, whatever it computes (here: a constant).
    row = ROWS[0]
    model, layer = _model(row, bias_constraint=lambda w: tnp.full_like(w, 0.25))
    _train_one_step(model, row, jit_compile=True)
    np.testing.assert_array_equal(layer.bias.numpy(), np.full((3,), 0.25, dtype="float32"))


def test_layers_without_constraint_arguments_take_none() -> None:
    # A weight created without a constraint has none: fit skips it.
    model, layer = _model(ROWS[0])
    assert layer.kernel_constraint is None and layer.bias_constraint is None
    assert getattr(layer.kernel, "constraint", None) is None


def test_a_custom_training_loop_applies_constraints_through_the_optimizer():
    """Keras 3's optimizers apply constraints themselves: GradientTape loops get them too."""
    layer = tg.layers.Dense(3, kernel_constraint=lambda w: tg.ops.abs(w))
    x = np.ones((4, 2), np.float32)
    layer(x)
    layer.kernel.assign(-np.ones((2, 3), np.float32))
    optimizer = tg.optimizers.SGD(0.01)
    with tg.GradientTape() as tape:
        loss = tg.ops.sum(layer(x))
    grads = tape.gradient(loss, layer.trainable_weights)
    optimizer.apply_gradients(zip(grads, layer.trainable_weights, strict=True))
    assert np.all(layer.kernel.numpy() > 0)
    assert layer.bias.constraint is None and tg.Variable(1.0).constraint is None
