"""Live parity of whole models against Keras 3 (JAX backend): masks end to end through
functional models, and training with ``train_on_batch`` from the same initial weights."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tests.parity.harness import (
    assert_all_close,
    check_round_trips,
    check_weight_names,
    copy_weights,
    keras,
    keras_run,
    numpy_initial_values,
    tapegrad_run,
)

RNG = np.random.default_rng(8)
VOCAB, STEPS = 7, 6
# Padded sequences: 0 is padding (trailing, and one leading to check masks anywhere).
IDS = np.array([[3, 1, 4, 0, 0, 0], [2, 6, 5, 1, 3, 2], [0, 5, 2, 2, 0, 0]], dtype=np.int32)


def masked_rnn(lib: Any) -> Any:
    """Embedding(mask_zero) -> LSTM(seq) -> GRU -> Dense."""
    inputs = lib.Input((STEPS,), dtype="int32")
    x = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs)
    x = lib.layers.LSTM(3, return_sequences=True)(x)
    x = lib.layers.GRU(3)(x)
    return lib.Model(inputs, lib.layers.Dense(2)(x))


def masked_pooling(lib: Any) -> Any:
    """Embedding(mask_zero) -> SimpleRNN(seq) -> GlobalAveragePooling1D -> Concatenate."""
    inputs = lib.Input((STEPS,), dtype="int32")
    x = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs)
    x = lib.layers.SimpleRNN(3, return_sequences=True)(x)
    avg = lib.layers.GlobalAveragePooling1D()(x)
    return lib.Model(inputs, lib.layers.Concatenate()([avg, lib.layers.Dense(2)(avg)]))


def masked_attention(lib: Any) -> Any:
    """Embedding(mask_zero) -> MultiHeadAttention (self, causal) -> Attention -> pooling."""
    inputs = lib.Input((STEPS,), dtype="int32")
    x = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs)
    x = lib.layers.MultiHeadAttention(num_heads=2, key_dim=2)(x, x, use_causal_mask=True)
    x = lib.layers.Attention()([x, x])
    x = lib.layers.LayerNormalization()(x)
    return lib.Model(inputs, lib.layers.GlobalAveragePooling1D()(x))


def masked_bidirectional(lib: Any) -> Any:
    """Embedding(mask_zero) -> Bidirectional(LSTM, seq) -> TimeDistributed(Dense) -> Add."""
    inputs = lib.Input((STEPS,), dtype="int32")
    x = lib.layers.Embedding(VOCAB, 4, mask_zero=True)(inputs)
    x = lib.layers.Bidirectional(lib.layers.LSTM(2, return_sequences=True))(x)
    y = lib.layers.TimeDistributed(lib.layers.Dense(4))(x)
    x = lib.layers.Add()([x, y])
    return lib.Model(inputs, lib.layers.GRU(2)(x))


def masking_layer(lib: Any) -> Any:
    """Masking(0.0) on floats -> LSTM -> Dense (a Sequential)."""
    return lib.Sequential(
        [
            lib.Input((STEPS, 3)),
            lib.layers.Masking(0.0),
            lib.layers.LSTM(3),
            lib.layers.Dense(1),
        ]
    )


FLOATS = RNG.standard_normal((3, STEPS, 3)).astype(np.float32) * (IDS[..., None] > 0)
MODELS: list[tuple[str, Callable[[Any], Any], np.ndarray]] = [
    ("Embedding-LSTM-GRU", masked_rnn, IDS),
    ("Embedding-SimpleRNN-pooling", masked_pooling, IDS),
    ("Embedding-attention", masked_attention, IDS),
    ("Embedding-Bidirectional-TimeDistributed", masked_bidirectional, IDS),
    ("Masking-LSTM-Sequential", masking_layer, FLOATS),
]


def build_pair(builder: Callable[[Any], Any]) -> tuple[Any, Any]:
    """The Keras and the tapegrad model of one builder, tapegrad's weights from Keras."""
    with numpy_initial_values():
        k_model = builder(keras)
    t_model = builder(tg)
    copy_weights(k_model, t_model)
    return k_model, t_model


@pytest.mark.parametrize(("builder", "x"), [m[1:] for m in MODELS], ids=[m[0] for m in MODELS])
def test_masked_model(builder: Callable[[Any], Any], x: np.ndarray) -> None:
    """Outputs and the gradients of every weight (and float input) equal Keras's."""
    k_model, t_model = build_pair(builder)
    check_weight_names(k_model, t_model)
    k_run = keras_run(k_model, (x,))
    t_run = tapegrad_run(t_model, (x,))
    assert_all_close(t_run.outputs, k_run.outputs, "outputs")
    assert_all_close(t_run.input_grads, k_run.input_grads, "input gradients")
    assert_all_close(t_run.weight_grads, k_run.weight_grads, "weight gradients")
    check_round_trips(k_model, t_model)


def bn_model(lib: Any) -> Any:
    """Dense -> BatchNormalization -> ReLU -> Dense, functional."""
    inputs = lib.Input((5,))
    x = lib.layers.Dense(4)(inputs)
    x = lib.layers.BatchNormalization(momentum=0.8)(x)
    x = lib.layers.Activation("relu")(x)
    return lib.Model(inputs, lib.layers.Dense(3)(x))


X_TRAIN = RNG.standard_normal((8, 5)).astype(np.float32)
Y_TRAIN = RNG.integers(0, 3, 8).astype(np.int32)


@pytest.mark.parametrize(
    ("optimizer", "kwargs"),
    [("SGD", {"learning_rate": 0.1, "momentum": 0.9}), ("Adam", {"learning_rate": 0.01})],
    ids=["SGD-momentum", "Adam"],
)
def test_train_on_batch(optimizer: str, kwargs: dict[str, Any]) -> None:
    """Three train_on_batch steps from the same weights: losses and every weight equal."""
    k_model, t_model = build_pair(bn_model)
    for model, lib in ((k_model, keras), (t_model, tg)):
        model.compile(
            optimizer=getattr(lib.optimizers, optimizer)(**kwargs),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
    for step in range(3):
        batch = slice(step, step + 6)
        k_logs = k_model.train_on_batch(X_TRAIN[batch], Y_TRAIN[batch], return_dict=True)
        t_logs = t_model.train_on_batch(X_TRAIN[batch], Y_TRAIN[batch], return_dict=True)
        assert_all_close(
            [t_logs["loss"], t_logs["accuracy"]],
            [k_logs["loss"], k_logs["accuracy"]],
            f"step {step}: loss, accuracy",
        )
    # Moving statistics included (non-trainable weights, Keras 3 order).
    assert_all_close(
        [np.asarray(w) for w in t_model.get_weights()],
        [np.asarray(w) for w in k_model.get_weights()],
        "weights after 3 steps",
    )
    assert_all_close(
        [np.asarray(t_model.predict(X_TRAIN, verbose=0))],
        [np.asarray(k_model.predict(X_TRAIN, verbose=0))],
        "predictions after training",
    )


def named_models(lib: Any) -> dict[str, Any]:
    """Models whose layers are all named, so Keras's and tapegrad's paths can agree."""
    seq = lib.Sequential(
        [lib.Input((3,)), lib.layers.Dense(2, name="d"), lib.layers.BatchNormalization(name="bn")],
        name="seq",
    )
    inputs = lib.Input((4, 3), name="x")
    x = lib.layers.MultiHeadAttention(2, 2, name="mha")(inputs, inputs)
    x = lib.layers.Bidirectional(lib.layers.LSTM(2, name="lstm"), name="bi")(x)
    inner = lib.Sequential([lib.Input((4,)), lib.layers.Dense(2, name="inner_dense")], name="inner")
    functional = lib.Model(inputs, inner(x), name="func")
    return {"Sequential": seq, "functional-nested": functional}


def test_weight_paths_and_names() -> None:
    """Every weight's ``path`` and ``name`` as Keras 3 writes them (what moves weights by
    name between the two, and what checkpoints and optimizer slots are keyed by)."""
    with numpy_initial_values():
        k_models = named_models(keras)
    t_models = named_models(tg)
    for key, k_model in k_models.items():
        t_model = t_models[key]
        assert [w.path for w in t_model.weights] == [w.path for w in k_model.weights], key
        assert [w.name for w in t_model.weights] == [w.name for w in k_model.weights], key
