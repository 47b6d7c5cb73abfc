"""One trace per phase: compiled steps are polymorphic in the batch size (issue 17).

Batch polymorphism is opt-in (`tapegrad.config.enable_batch_polymorphism`): these tests
turn it on, and check that without it a number written in the program that equals the
batch size keeps its value. Each model trains with compiled steps (traced once at batch
32, then re-specialized to 7, 1 and 33) next to a twin that runs eagerly; losses,
gradients' effect (weights after every step) and predictions must agree, and the compiled
step must have traced once.
"""

from collections.abc import Callable

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers, losses, optimizers
from tapegrad.nn import models

SIZES = (32, 7, 1, 33)


@pytest.fixture(autouse=True)
def _polymorphic(request: pytest.FixtureRequest) -> object:
    if "default_off" in request.node.name:
        yield
        return
    tg.config.enable_batch_polymorphism()
    try:
        yield
    finally:
        tg.config.disable_batch_polymorphism()


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


def test_default_off_keeps_a_hard_coded_batch_size_in_a_loss() -> None:
    # A loss divided by the user's global batch size (32): traced at batch 32, the last
    # batch of 4 must still divide by 32, as eagerly (a re-specialized trace would not).
    def loss(y_true: object, y_pred: object) -> object:
        return tg.ops.sum(tg.ops.square(y_true - y_pred)) / 32.0

    rng = np.random.default_rng(3)
    x = rng.standard_normal((100, 4)).astype(np.float32)
    y = rng.standard_normal((100, 1)).astype(np.float32)
    histories = []
    for jit in (False, True):
        tg.utils.set_random_seed(0)
        model = models.Sequential([layers.Input((4,)), layers.Dense(1)])
        model.compile(optimizers.SGD(0.01), loss, jit_compile=jit)
        fit = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        histories.append(fit.history["loss"])
    assert not tg.config.is_batch_polymorphism_enabled()
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5, atol=1e-6)
