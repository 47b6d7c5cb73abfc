"""Keras-style training with compiled steps (compile(jit_compile=...))."""

import logging

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers, losses, optimizers
from tapegrad.graph.function import TracerValueError
from tapegrad.nn import models


def _data(n: int = 96) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return x, (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)


def _model(jit: object, extra: object = None) -> models.Model:
    init = tg.initializers.GlorotUniform(seed=1)
    stack = [layers.Input(shape=(5,)), layers.Dense(16, activation="relu", kernel_initializer=init)]
    if extra is not None:
        stack.append(extra)
    stack.append(layers.Dense(3, kernel_initializer=tg.initializers.GlorotUniform(seed=2)))
    model = models.Sequential(stack)
    model.compile(
        optimizers.Adam(0.01),
        losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=jit,
    )
    return model


def test_compiled_fit_evaluate_predict_match_eager() -> None:
    x, y = _data()
    eager, compiled = _model(False), _model(True)
    h_eager = eager.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    h_compiled = compiled.fit(x, y, epochs=3, batch_size=32, shuffle=False, verbose=0)
    np.testing.assert_allclose(h_compiled.history["loss"], h_eager.history["loss"], rtol=1e-5)
    for a, b in zip(eager.get_weights(), compiled.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        compiled.predict(x, verbose=0), eager.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    assert compiled.evaluate(x, y, verbose=0) == pytest.approx(
        eager.evaluate(x, y, verbose=0), rel=1e-5
    )
    assert compiled._compiled_steps["train"].tracing_count == 1  # 3 batches of 32: one trace


def test_auto_falls_back_to_eager_with_a_logged_reason(caplog: pytest.LogCaptureFixture) -> None:
    x, y = _data()
    # A Lambda that reads a value: traceable only eagerly.
    reads_value = layers.Lambda(lambda t: t * float(tnp.max(t)))
    model = _model("auto", reads_value)
    with caplog.at_level(logging.WARNING):
        history = model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    messages = [r.getMessage() for r in caplog.records]
    assert any("train step cannot be compiled" in m and "float()" in m for m in messages)
    with pytest.raises(TracerValueError, match="float"):
        _model(True, layers.Lambda(lambda t: t * float(tnp.max(t)))).fit(x, y, verbose=0)


def test_compiled_steps_check_labels_at_run_time() -> None:
    x, y = _data()
    model = _model(True)
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)  # traced with valid labels
    bad = y.copy()
    bad[3] = 7
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        model.fit(x, bad, epochs=1, batch_size=32, shuffle=False, verbose=0)


def test_compile_rejects_unknown_jit_compile() -> None:
    with pytest.raises(ValueError, match="jit_compile"):
        _model("always")


def test_compiled_steps_draw_new_dropout_masks_in_every_layer() -> None:
    # Recurrent and attention dropout must use the stateful dropout_mask op: a NumPy draw
    # would be frozen into the trace (the same mask on every compiled step).
    x = np.ones((4, 5, 3), np.float32)
    layers = [
        tg.layers.LSTM(6, dropout=0.5, recurrent_dropout=0.3),
        tg.layers.GRU(6, dropout=0.5, recurrent_dropout=0.3),
        tg.layers.SimpleRNN(6, dropout=0.5, recurrent_dropout=0.5),
        tg.layers.Dropout(0.5),
    ]
    attention = tg.layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.5)
    for layer in layers:
        layer(x)
        step = tg.function(lambda v, layer=layer: layer(v, training=True))
        assert not np.array_equal(step(x).numpy(), step(x).numpy()), type(layer).__name__
    attention(x, x)
    step = tg.function(lambda v: attention(v, v, training=True))
    assert not np.array_equal(step(x).numpy(), step(x).numpy())


def test_tracing_leaves_seeded_dropout_draws_as_eager() -> None:
    # The trace runs the dropout op once on the traced values; it draws from a copy of the
    # generator, so a compiled step draws exactly the masks an eager one would.
    x = np.ones((4, 6), np.float32)
    eager, compiled = tg.layers.Dropout(0.5, seed=3), tg.layers.Dropout(0.5, seed=3)
    step = tg.function(lambda v: compiled(v, training=True))
    for _ in range(3):
        np.testing.assert_array_equal(step(x).numpy(), eager(x, training=True).numpy())
