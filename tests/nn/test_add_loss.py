"""`Layer.add_loss`, `losses`, `activity_regularizer=` and `ActivityRegularization`.

The expected numbers are what Keras 3.15 (JAX backend) gives for the same model and weights.
"""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers, ops


class KL(layers.Layer):
    """A VAE's KL term, added from inside `call`."""

    def call(self, inputs: list[tg.Tensor]) -> tg.Tensor:
        mean, log_var = inputs
        self.add_loss(-0.5 * ops.mean(1 + log_var - ops.square(mean) - ops.exp(log_var)))
        return mean


def _vae_like() -> tuple[tg.Model, np.ndarray, np.ndarray]:
    inputs = tg.Input(shape=(4,))
    h = layers.Dense(3, kernel_regularizer="l2", activity_regularizer="l1")(inputs)
    z = KL()([layers.Dense(2)(h), layers.Dense(2)(h)])
    z = layers.ActivityRegularization(l1=0.01, l2=0.02)(z)
    model = tg.Model(inputs, layers.Dense(1)(z))
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.5 for w in model.weights])
    x = rng.normal(size=(8, 4)).astype("float32")
    y = rng.normal(size=(8, 1)).astype("float32")
    return model, x, y


def test_losses_are_those_of_the_latest_call_as_keras() -> None:
    model, x, _ = _vae_like()
    model(x)
    # Keras 3.15: Dense's activity term, the KL term, ActivityRegularization's, the L2.
    np.testing.assert_allclose(
        [float(v) for v in model.losses], [0.021968, 0.382524, 0.034337, 0.01489], rtol=1e-4
    )
    model(x[:3])  # the next call replaces the add_loss terms (the weight penalty stays)
    np.testing.assert_allclose(
        [float(v) for v in model.losses], [0.026804, 0.673284, 0.060585, 0.01489], rtol=1e-4
    )
    kl_layer = model.layers[-3]
    assert isinstance(kl_layer, KL)
    np.testing.assert_allclose([float(v) for v in kl_layer.losses], [0.673284], rtol=1e-4)


@pytest.mark.parametrize("mode", [{"run_eagerly": True}, {"jit_compile": True}])
def test_add_loss_terms_enter_the_training_loss(mode: dict[str, bool]) -> None:
    model, x, y = _vae_like()
    model.compile(optimizer=tg.optimizers.SGD(0.01), loss="mse", **mode)
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0, batch_size=8), 1.85728, rtol=1e-5)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_allclose(history.history["loss"], [1.85728, 1.833562], rtol=1e-5)
    np.testing.assert_allclose(
        model.weights[0].numpy()[0], [0.0641477, -0.06516287, 0.31738678], rtol=1e-4
    )


def test_add_loss_alone_is_a_training_loss() -> None:
    class Penalty(layers.Layer):
        def call(self, inputs: tg.Tensor) -> tg.Tensor:
            self.add_loss(ops.mean(ops.square(inputs)))
            return inputs

    inputs = tg.Input(shape=(2,))
    model = tg.Model(inputs, Penalty()(layers.Dense(2, kernel_initializer="ones")(inputs)))
    model.compile(optimizer=tg.optimizers.SGD(0.1))  # no compiled loss: add_loss only
    x = np.ones((4, 2), dtype="float32")
    first = model.evaluate(x, verbose=0)
    np.testing.assert_allclose(first, 4.0, rtol=1e-6)
    history = model.fit(x, epochs=3, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < first


def test_terms_added_outside_a_call_last_until_the_next_call() -> None:
    layer = layers.Dense(1)
    layer.add_loss(tg.tensor(2.0))
    layer.add_loss([tg.tensor(1.0)])
    assert [float(v) for v in layer.losses] == [2.0, 1.0]
    layer(np.ones((1, 2), dtype="float32"))
    assert layer.losses == []


def test_add_loss_rejects_non_tensors() -> None:
    layer = layers.Dense(1, name="bad_loss")
    with pytest.raises(ValueError, match="bad_loss.*add_loss.*str"):
        layer.add_loss("oops")


def test_activity_regularization_layer_matches_keras_and_configs() -> None:
    layer = layers.ActivityRegularization(l1=0.1, l2=0.2)
    x = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]], dtype="float32")
    np.testing.assert_array_equal(layer(x).numpy(), x)
    # (0.1 * 7.5 + 0.2 * 15.25) / 3 (the batch size), as Keras 3 divides it.
    np.testing.assert_allclose([float(v) for v in layer.losses], [1.2666667], rtol=1e-6)
    config = layer.get_config()
    assert config["l1"] == 0.1 and config["l2"] == 0.2
    assert "activity_regularizer" not in config
    clone = layers.ActivityRegularization.from_config(config)
    clone(x)
    np.testing.assert_allclose([float(v) for v in clone.losses], [1.2666667], rtol=1e-6)
    with pytest.raises(ValueError, match="l1"):
        layers.ActivityRegularization(l1=-1.0)


def test_activity_regularizer_round_trips_through_config() -> None:
    layer = layers.Dense(2, activity_regularizer=tg.regularizers.L2(0.5))
    clone = layers.Dense.from_config(layer.get_config())
    assert isinstance(clone.activity_regularizer, tg.regularizers.L2)
    assert clone.activity_regularizer.l2 == pytest.approx(0.5)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_activity_regularizer_penalizes_outputs_and_states(name: str) -> None:
    x = np.random.default_rng(1).standard_normal((3, 4, 2)).astype("float32")
    layer = getattr(layers, name)(2, return_state=True, activity_regularizer="l1", seed=3)
    outputs = layer(x)
    # Keras 3 penalizes every output of the call (the returned states too), each / batch.
    expected = [0.01 * float(np.abs(t.numpy()).sum()) / 3 for t in outputs]
    np.testing.assert_allclose([float(v) for v in layer.losses], expected, rtol=1e-6)
    config = layer.get_config()
    # Keras 3.15 writes activity_regularizer always, and SimpleRNN's config has no seed.
    assert ("seed" in config) == (name != "SimpleRNN")
    clone = type(layer).from_config(config)
    assert isinstance(clone.activity_regularizer, tg.regularizers.L1)
    assert getattr(layers, name)(2).get_config()["activity_regularizer"] is None
