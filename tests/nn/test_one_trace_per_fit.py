"""One trace per phase: compiled steps are polymorphic in the batch size (issue 17).

On by default (`tapegrad.config.disable_batch_polymorphism` turns it off). Each model
trains with compiled steps (traced once at batch 32, then re-specialized to 7, 1 and 33,
proven by a probe trace at batch 3) next to a twin that runs eagerly; losses, gradients'
effect (weights after every step) and predictions must agree, and the compiled step must
have traced once. Numbers the program derives from the batch size in other forms, or
writes itself, keep their eager values.
"""

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers, losses, optimizers
from tapegrad.nn import models

SIZES = (32, 7, 1, 33)


def _mlp() -> models.Model:
    return models.Sequential(
        [layers.Input((6,)), layers.Dense(16, activation="relu"), layers.Dense(3)]
    )


def _cnn() -> models.Model:
    return models.Sequential(
        [
            layers.Input((8, 8, 2)),
            layers.Conv2D(4, 3, activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(3),
        ]
    )


def _lstm() -> models.Model:
    return models.Sequential([layers.Input((5, 6)), layers.LSTM(6), layers.Dense(3)])


def _bn_dropout_mha() -> models.Model:
    inputs = layers.Input((5, 6))
    h = layers.Dense(8)(inputs)
    h = layers.BatchNormalization()(h)
    h = layers.Dropout(0.25, seed=3)(h)
    h = h + layers.MultiHeadAttention(num_heads=2, key_dim=3, seed=4)(h, h)
    h = layers.GlobalAveragePooling1D()(h)
    return models.Model(inputs, layers.Dense(3)(h))


def _twins(build: Callable[[], models.Model]) -> tuple[models.Model, models.Model]:
    twins = []
    for jit in (False, True):
        tg.utils.set_random_seed(0)
        model = build()
        # SGD: weights after a step are a direct image of the gradients (Adam's first
        # steps turn a gradient of rounding noise, such as a bias before a
        # BatchNormalization, into a full step of either sign).
        model.compile(
            optimizers.SGD(0.05, momentum=0.9),
            losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
            jit_compile=jit,
        )
        twins.append(model)
    twins[1].set_weights(twins[0].get_weights())
    return twins[0], twins[1]


@pytest.mark.parametrize("build", [_mlp, _cnn, _lstm, _bn_dropout_mha], ids=lambda f: f.__name__)
def test_compiled_steps_equal_eager_steps_at_every_batch_size(
    build: Callable[[], models.Model],
) -> None:
    eager, compiled = _twins(build)
    rng = np.random.default_rng(1)
    shape = eager.inputs[0].shape[1:]
    for size in SIZES:
        x = rng.standard_normal((size, *shape)).astype(np.float32)
        y = rng.integers(0, 3, size)
        loss_eager = eager.train_on_batch(x, y, return_dict=True)["loss"]
        loss_compiled = compiled.train_on_batch(x, y, return_dict=True)["loss"]
        np.testing.assert_allclose(loss_compiled, loss_eager, rtol=1e-5, atol=1e-6)
        # The weights after the step carry the gradients: equal weights, equal gradients.
        for a, b in zip(compiled.get_weights(), eager.get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(
            compiled.predict_on_batch(x), eager.predict_on_batch(x), rtol=1e-4, atol=1e-5
        )
    assert compiled._compiled_steps["train"].tracing_count == 1
    assert compiled._compiled_steps["predict"].tracing_count == 1


def test_fit_traces_each_phase_once() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((100, 6)).astype(np.float32)
    y = rng.integers(0, 3, 100)
    eager, compiled = _twins(_mlp)
    kwargs = {"batch_size": 32, "epochs": 2, "shuffle": False, "verbose": 0}
    kwargs["validation_data"] = (x[:10], y[:10])
    history = compiled.fit(x, y, **kwargs).history  # batches 32, 32, 32, 4
    expected = eager.fit(x, y, **kwargs).history
    for name, values in expected.items():
        np.testing.assert_allclose(history[name], values, rtol=1e-5, atol=1e-6)
    compiled.evaluate(x[:17], y[:17], batch_size=5, verbose=0)  # 5, 5, 5, 2
    compiled.predict(x[:9], batch_size=4, verbose=0)  # 4, 4, 1
    steps = compiled._compiled_steps
    assert steps["train"].tracing_count == 1
    assert steps["test"].tracing_count == 1
    assert steps["predict"].tracing_count == 1
    assert steps["train"].specialization_count == 1


def _fit_twins(
    build: Callable[[], models.Model], loss: Any, x: np.ndarray, y: np.ndarray
) -> tuple[list[float], models.Model]:
    """Fit histories eagerly and compiled (batches 32, 32, 32, 4), and the compiled model."""
    histories, model = [], None
    for jit in (False, True):
        tg.utils.set_random_seed(0)
        model = build()
        model.compile(optimizers.SGD(0.01), loss, jit_compile=jit)
        fit = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        histories.append(fit.history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5, atol=1e-6)
    assert model is not None
    return histories[1], model


def _linear() -> models.Model:
    return models.Sequential([layers.Input((4,)), layers.Dense(1)])


def _regression_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((100, 4)).astype(np.float32)
    return x, rng.standard_normal((100, 1)).astype(np.float32)


def test_a_hard_coded_batch_size_in_a_loss_stays_as_written() -> None:
    # A loss divided by the user's global batch size (32): traced at batch 32, the last
    # batch of 4 still divides by 32, as eagerly. The probe trace (batch 3) divides by
    # 32.0 too: the number is fixed, so the trace is reused, and rightly.
    def loss(y_true: object, y_pred: object) -> object:
        return tg.ops.sum(tg.ops.square(y_true - y_pred)) / 32.0

    assert tg.config.is_batch_polymorphism_enabled()
    _, model = _fit_twins(_linear, loss, *_regression_data())
    step = model._compiled_steps["train"]
    assert step.tracing_count == 1
    assert step.specialization_count == 1


def test_a_sqrt_of_the_batch_size_traces_per_size() -> None:
    # sqrt(B) is 5.66 at 32 and 1.73 at the probe's 3: neither k * B nor c / (k * B).
    def loss(y_true: Any, y_pred: Any) -> Any:
        return tg.ops.sum(tg.ops.square(y_true - y_pred)) / math.sqrt(y_true.shape[0])

    _, model = _fit_twins(_linear, loss, *_regression_data())
    step = model._compiled_steps["train"]
    assert step.tracing_count == 2
    assert step.specialization_count == 0


def _scaled_by_batch(x: Any) -> Any:
    return x * (1.0 / x.shape[0])  # 1 / B: re-specialized


def _scaled_by_root_of_batch(x: Any) -> Any:
    return x / math.sqrt(x.shape[0])  # sqrt(B): traced per size


@pytest.mark.parametrize(
    ("body", "traces"), [(_scaled_by_batch, 1), (_scaled_by_root_of_batch, 2)], ids=["1/B", "sqrt"]
)
def test_a_lambda_layer_reading_the_batch_size(body: Callable[[Any], Any], traces: int) -> None:
    def build() -> models.Model:
        return models.Sequential([layers.Input((4,)), layers.Lambda(body), layers.Dense(1)])

    _, model = _fit_twins(build, "mse", *_regression_data())
    assert model._compiled_steps["train"].tracing_count == traces


def test_off_traces_per_size() -> None:
    tg.config.disable_batch_polymorphism()
    try:
        _, model = _fit_twins(_linear, "mse", *_regression_data())
    finally:
        tg.config.enable_batch_polymorphism()
    assert model._compiled_steps["train"].tracing_count == 2
    assert not model._compiled_steps["train"].batch_polymorphic


def test_the_log_shows_one_trace_per_phase(caplog: pytest.LogCaptureFixture) -> None:
    x, y = _regression_data()
    model = _linear()
    model.compile(optimizers.SGD(0.01), "mse", jit_compile=True)
    with caplog.at_level(logging.DEBUG, logger="tapegrad.function"):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # 32, 32, 32, 4
        model.evaluate(x[:10], y[:10], batch_size=4, verbose=0)  # 4, 4, 2
    messages = [r.getMessage() for r in caplog.records]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert sum("trace #" in m for m in infos) == 2  # train and test
    assert sum("specialized to batch" in m for m in infos) == 2  # train 4, test 2
    assert sum("probe trace at batch 3" in m for m in messages) == 2
    assert all("probe" not in m for m in infos)
