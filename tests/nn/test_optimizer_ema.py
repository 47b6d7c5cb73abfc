"""Optimizers' moving average of the weights (``use_ema``) and the `SwapEMAWeights` callback.

The literals were recorded with Keras 3.15 (JAX backend): the same initial weights and
gradients given to ``keras.optimizers.SGD/Adam(use_ema=True, ema_momentum=0.8, ...)`` by
``apply_gradients`` four times.
"""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import optimizers
from tapegrad.callbacks import ModelCheckpoint, SwapEMAWeights
from tests.nn import archive_tools

W0 = np.array([1.0, -2.0, 0.5], np.float32)
B0 = np.array([0.25], np.float32)
GRADS_W = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, -0.5], [-0.3, 0.2, 0.1], [0.7, -0.7, 0.0]])
GRADS_B = np.array([[1.0], [-2.0], [0.5], [0.25]])

KERAS_RECORDED = {
    ("SGD", None): (
        [0.706250011920929, -1.9474998712539673, 0.19750000536441803],
        [0.3125000298023224],
        [0.8600500226020813, -1.9310998916625977, 0.25950002670288086],
        [0.2297000139951706],
    ),
    ("SGD", 3): (
        [0.8122499585151672, -1.879499912261963, 0.257500022649765],
        [0.1965000033378601],
        [0.8812500238418579, -1.9175000190734863, 0.27150002121925354],
        [0.20650000870227814],
    ),
    ("Adam", None): (
        [0.8395067453384399, -1.951094627380371, 0.39074015617370605],
        [0.22755031287670135],
        [0.9095641374588013, -1.9520156383514404, 0.42824050784111023],
        [0.2118757963180542],
    ),
    ("Adam", 3): (
        [0.8925889134407043, -1.944218397140503, 0.4215010702610016],
        [0.21036753058433533],
        [0.9201805591583252, -1.950640320777893, 0.43439269065856934],
        [0.20843924582004547],
    ),
}
HYPER = {"SGD": {"learning_rate": 0.1, "momentum": 0.5}, "Adam": {"learning_rate": 0.05}}


def run_steps(optimizer, steps=4, step_fn=None):
    w, b = tg.Variable(W0.copy()), tg.Variable(B0.copy())

    def step(gw, gb):
        optimizer.apply_gradients([(gw, w), (gb, b)])

    step_fn = step_fn(step) if step_fn else step
    for k in range(steps):
        step_fn(tg.tensor(GRADS_W[k].astype(np.float32)), tg.tensor(GRADS_B[k].astype(np.float32)))
    return w, b


@pytest.mark.parametrize("name, frequency", sorted(KERAS_RECORDED, key=str))
def test_ema_matches_keras(name, frequency):
    optimizer = getattr(optimizers, name)(
        use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=frequency, **HYPER[name]
    )
    w, b = run_steps(optimizer)
    want_w, want_b, want_avg_w, want_avg_b = KERAS_RECORDED[(name, frequency)]
    np.testing.assert_allclose(w.numpy(), want_w, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(b.numpy(), want_b, rtol=2e-6, atol=1e-7)
    avg_w, avg_b = optimizer._model_variables_moving_average
    np.testing.assert_allclose(avg_w.numpy(), want_avg_w, rtol=2e-6, atol=1e-7)
    np.testing.assert_allclose(avg_b.numpy(), want_avg_b, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_every_optimizer_keeps_keras_average_of_its_trajectory(name):
    """Keras' rule, re-implemented: a = m*a + (1-m)*w with m = 0 at the first step."""
    plain = getattr(optimizers, name)(learning_rate=0.05)
    averaged = getattr(optimizers, name)(learning_rate=0.05, use_ema=True, ema_momentum=0.7)
    w_plain = tg.Variable(W0.astype(np.float64))
    w_ema = tg.Variable(W0.astype(np.float64))
    expected = None
    for k in range(4):
        grad = tg.tensor(GRADS_W[k])
        plain.apply([grad], [w_plain])
        averaged.apply([grad], [w_ema])
        momentum = 0.0 if k == 0 else 0.7
        current = w_plain.numpy()
        expected = current.copy() if expected is None else expected
        expected = momentum * expected + (1 - momentum) * current
    # EMA never changes the raw trajectory (no overwrite frequency).
    np.testing.assert_array_equal(w_ema.numpy(), w_plain.numpy())
    np.testing.assert_allclose(averaged._model_variables_moving_average[0].numpy(), expected)


def test_ema_variables_order_names_and_finalize():
    optimizer = optimizers.SGD(0.1, momentum=0.5, use_ema=True)
    w, b = run_steps(optimizer, steps=2)
    names = [v.name for v in optimizer.variables]
    assert names[:2] == ["iteration", "learning_rate"]
    assert [n.endswith("_average") for n in names[2:]] == [True, True, False, False]
    averages = [a.numpy().copy() for a in optimizer._model_variables_moving_average]
    optimizer.finalize_variable_values([w, b])
    np.testing.assert_array_equal(w.numpy(), averages[0])
    np.testing.assert_array_equal(b.numpy(), averages[1])
    with pytest.raises(ValueError, match="cannot overwrite 1 model variables with the 2"):
        optimizer.finalize_variable_values([w])
    # Without EMA finalize changes nothing.
    plain = optimizers.SGD(0.1)
    v = tg.Variable([1.0])
    plain.apply([tg.tensor([1.0])], [v])
    plain.finalize_variable_values([v])
    np.testing.assert_allclose(v.numpy(), [0.9])


def test_ema_in_a_compiled_step_equals_eager():
    """The first-step and overwrite conditions are tensors: a traced step keeps deciding."""
    eager = optimizers.Adam(0.05, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=3)
    compiled = optimizers.Adam(0.05, use_ema=True, ema_momentum=0.8, ema_overwrite_frequency=3)
    w_eager, b_eager = run_steps(eager)
    w_compiled, b_compiled = run_steps(compiled, step_fn=tg.function)
    np.testing.assert_allclose(w_compiled.numpy(), w_eager.numpy(), rtol=1e-6)
    np.testing.assert_allclose(b_compiled.numpy(), b_eager.numpy(), rtol=1e-6)
    for a, b in zip(
        compiled._model_variables_moving_average, eager._model_variables_moving_average, strict=True
    ):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"use_ema": "yes"}, "`use_ema` must be True or False, got 'yes'"),
        ({"use_ema": True, "ema_momentum": 1.5}, "ema_momentum"),
        ({"use_ema": True, "ema_overwrite_frequency": 0}, "int >= 1 or None, got 0"),
        ({"use_ema": True, "ema_overwrite_frequency": 2.5}, "int >= 1 or None, got 2.5"),
    ],
)
def test_ema_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optimizers.SGD(0.1, **kwargs)


def ema_model(**ema):
    model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(2), tg.layers.Dense(1)])
    model.compile(
        optimizer=optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9, **ema), loss="mse"
    )
    return model


X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
Y = X.sum(axis=1, keepdims=True) ** 2


def test_ema_config_and_averages_survive_save_and_load(tmp_path):
    model = ema_model(ema_overwrite_frequency=5)
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    path = tmp_path / "ema.keras"
    model.save(path)
    loaded = tg.models.load_model(path)
    config = loaded.optimizer.get_config()
    assert (config["use_ema"], config["ema_momentum"], config["ema_overwrite_frequency"]) == (
        True,
        0.9,
        5,
    )
    for saved, live in zip(
        loaded.optimizer._model_variables_moving_average,
        model.optimizer._model_variables_moving_average,
        strict=True,
    ):
        np.testing.assert_array_equal(saved.numpy(), live.numpy())


# -- SwapEMAWeights -------------------------------------------------------------------------


def test_swap_ema_weights_needs_an_ema_optimizer():
    model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    swap = SwapEMAWeights()
    swap.set_model(model)
    with pytest.raises(ValueError, match="use_ema=True.*Received: use_ema=False"):
        swap.on_test_begin()
    unbuilt = ema_model()
    swap.set_model(unbuilt)
    with pytest.raises(ValueError, match="has not been built yet"):
        swap.on_predict_begin()
    with pytest.raises(ValueError, match="swap_on_epoch must be True or False"):
        SwapEMAWeights(swap_on_epoch=1)


def test_swap_ema_weights_around_test_and_predict_restores_raw_weights():
    model = ema_model()
    model.fit(X, Y, epochs=1, batch_size=4, verbose=0)
    model.train_on_batch(X, Y)  # fit ended on the averages: one more step moves off them
    swap = SwapEMAWeights()
    swap.set_model(model)
    raw = model.get_weights()
    assert not np.array_equal(raw[0], model.optimizer._model_variables_moving_average[0].numpy())
    averages = [a.numpy().copy() for a in model.optimizer._model_variables_moving_average]
    for begin, end in [
        (swap.on_test_begin, swap.on_test_end),
        (swap.on_predict_begin, swap.on_predict_end),
    ]:
        begin()
        begin()  # idempotent, as in Keras
        for got, want in zip(model.get_weights(), averages, strict=True):
            np.testing.assert_array_equal(got, want)
        end()
        for got, want in zip(model.get_weights(), raw, strict=True):
            np.testing.assert_array_equal(got, want)


def test_swap_on_epoch_shows_checkpoints_the_averages(tmp_path):
    model = ema_model()
    seen = []

    class Record(tg.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(
                (
                    model.get_weights(),
                    [a.numpy().copy() for a in model.optimizer._model_variables_moving_average],
                )
            )

    path = tmp_path / "e{epoch}.weights.h5"
    model.fit(
        X,
        Y,
        epochs=3,
        batch_size=4,
        verbose=0,
        callbacks=[
            SwapEMAWeights(swap_on_epoch=True),
            Record(),
            ModelCheckpoint(path, save_weights_only=True),
        ],
    )
    assert len(seen) == 3
    for epoch, (weights, stored) in enumerate(seen):
        check = ema_model()
        check.load_weights(str(path).format(epoch=epoch + 1))
        for a, b in zip(check.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(a, b)
        if epoch < 2:
            # Swapped: the model holds what the optimizer's average slots held before.
            assert not all(np.array_equal(a, b) for a, b in zip(weights, stored, strict=True))
    # After the last epoch the averages stay in the model and in the optimizer.
    for a, b in zip(model.get_weights(), seen[-1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_swap_ema_weights_in_evaluate_predict_and_validation():
    model = ema_model()
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    model.train_on_batch(X, Y)  # off the averages fit ended on
    raw = model.get_weights()
    averaged = ema_model()
    averaged.set_weights([a.numpy() for a in model.optimizer._model_variables_moving_average])
    want_loss = averaged.evaluate(X, Y, verbose=0)
    want_pred = averaged.predict(X, verbose=0)
    assert model.evaluate(X, Y, verbose=0, callbacks=[SwapEMAWeights()]) == pytest.approx(
        want_loss, rel=1e-6
    )
    np.testing.assert_allclose(
        model.predict(X, verbose=0, callbacks=[SwapEMAWeights()]), want_pred, rtol=1e-6
    )
    for got, want in zip(model.get_weights(), raw, strict=True):
        np.testing.assert_array_equal(got, want)  # swapped back after each

    # Inside fit, the validation pass runs on the averages of that epoch's end.
    model = ema_model()
    seen = []

    class AveragesAtEpochEnd(tg.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            averages = [a.numpy() for a in model.optimizer._model_variables_moving_average]
            check = ema_model()
            check.set_weights(averages)
            seen.append((check.evaluate(X, Y, verbose=0), logs["val_loss"]))

    model.fit(
        X,
        Y,
        epochs=2,
        batch_size=4,
        verbose=0,
        validation_data=(X, Y),
        callbacks=[SwapEMAWeights(), AveragesAtEpochEnd()],
    )
    for expected, logged in seen:
        assert logged == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("use_ema", "yes", "use_ema.*expected true or false"),
        ("ema_momentum", 1.5, r"ema_momentum.*outside \[0.0, 1.0\]"),
        ("ema_overwrite_frequency", 0, "ema_overwrite_frequency.*outside"),
        ("ema_overwrite_frequency", 2.5, "ema_overwrite_frequency.*int >= 1 or None"),
    ],
)
def test_archive_with_bad_ema_settings_is_refused(tmp_path, field, value, message):
    model = ema_model()
    model.fit(X, Y, epochs=1, batch_size=4, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)

    def edit(document):
        document["optimizer"]["config"][field] = value

    path.write_bytes(archive_tools.edit_json(path.read_bytes(), "optimizer.json", edit))
    with pytest.raises(ValueError, match=message):  # ArchiveError, a ValueError
        tg.models.load_model(path)


def test_fit_ends_with_the_moving_averages_as_keras():
    model = ema_model()
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    for weight, average in zip(
        model.trainable_weights, model.optimizer._model_variables_moving_average, strict=True
    ):
        np.testing.assert_array_equal(weight.numpy(), average.numpy())
    # Without EMA, fit leaves the last step's weights.
    plain = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(1)])
    plain.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    plain.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    assert not hasattr(plain.optimizer, "_model_variables_moving_average")


def test_ema_fit_compiled_equals_eager_bit_for_bit():
    def run(jit_compile):
        tg.utils.set_random_seed(0)
        model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(2), tg.layers.Dense(1)])
        optimizer = optimizers.Adam(0.05, use_ema=True, ema_momentum=0.9, ema_overwrite_frequency=3)
        model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
        model.fit(X, Y, epochs=3, batch_size=4, verbose=0)
        return [*model.get_weights(), *(v.numpy() for v in optimizer.variables)]

    for compiled, eager in zip(run(True), run(False), strict=True):
        np.testing.assert_array_equal(compiled, eager)
