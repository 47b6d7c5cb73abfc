"""Models end to end: Sequential, functional (multi-input/output, shared layers),
subclassed; fit/evaluate/predict/train_on_batch; Lambda layers; errors."""

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers, losses, optimizers
from tapegrad.nn import models

RNG = np.random.default_rng(0)


def regression_data(n=128, features=4):
    x = RNG.standard_normal((n, features)).astype(np.float32)
    w = RNG.standard_normal((features, 1)).astype(np.float32)
    return x, (x @ w + 0.5).astype(np.float32)


def classification_data(n=200, features=5, classes=3):
    x = RNG.standard_normal((n, features)).astype(np.float32)
    y = np.argmax(x[:, :classes] + 0.1 * RNG.standard_normal((n, classes)), axis=1)
    return x, y.astype(np.int64)


def test_sequential_with_input_trains_and_loss_falls():
    x, y = regression_data()
    model = models.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(8, activation="tanh"), layers.Dense(1)]
    )
    model.compile(optimizer=optimizers.Adam(0.05), loss="mse")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < 0.25 * history.history["loss"][0]
    assert len(history.history["loss"]) == 15


def test_sequential_without_input_builds_on_first_call():
    x, y = classification_data()
    model = models.Sequential([layers.Dense(16, activation="relu"), layers.Dense(3)])
    model.compile(
        optimizers.Adam(0.03),
        losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=10, verbose=0, validation_split=0.2)
    assert set(history.history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert history.history["accuracy"][-1] > 0.8
    assert model.count_params() == 5 * 16 + 16 + 16 * 3 + 3


def test_functional_multi_input_multi_output():
    a_in = layers.Input(shape=(3,), name="a")
    b_in = layers.Input(shape=(3,), name="b")
    shared = layers.Dense(4, activation="tanh", name="shared")
    ha, hb = shared(a_in), shared(b_in)
    joined = layers.Lambda(lambda pair: tnp.concatenate(pair, axis=-1))([ha, hb])
    out1 = layers.Dense(1, name="sum_head")(joined)
    out2 = layers.Dense(1, name="diff_head")(joined)
    model = models.Model([a_in, b_in], [out1, out2])
    assert len(model.trainable_weights) == 2 + 2 + 2  # shared layer counted once
    a = RNG.standard_normal((64, 3)).astype(np.float32)
    b = RNG.standard_normal((64, 3)).astype(np.float32)
    y1, y2 = a.sum(1, keepdims=True) + b.sum(1, keepdims=True), a[:, :1] - b[:, :1]
    model.compile(optimizer=optimizers.Adam(0.05), loss=["mse", "mse"])
    # Keras 3: [loss, <output>_loss for each output] for a model with several losses.
    first = model.evaluate([a, b], [y1, y2], verbose=0)[0]
    model.fit([a, b], [y1, y2], epochs=20, batch_size=16, verbose=0)
    assert model.evaluate([a, b], [y1, y2], verbose=0)[0] < 0.3 * first
    p1, p2 = model.predict([a, b], verbose=0)
    assert p1.shape == (64, 1) and p2.shape == (64, 1)


class Residual(tg.Model):
    def __init__(self):
        super().__init__()
        self.blocks = [layers.Dense(6, activation="tanh") for _ in range(2)]
        self.head = layers.Dense(1)

    def call(self, x, training=None):
        h = self.blocks[0](x)
        h = h + self.blocks[1](h)
        return self.head(h)


def test_subclassed_model_tracks_lists_of_layers_and_trains():
    x, y = regression_data()
    model = Residual()
    model.compile(optimizer=optimizers.SGD(0.05), loss="mse")
    before = model.evaluate(x, y, verbose=0)
    assert len(model.trainable_weights) == 6
    for _ in range(30):
        model.train_on_batch(x, y)
    assert model.evaluate(x, y, verbose=0) < 0.5 * before


def test_lambda_infers_output_shape_with_symbolic_batch():
    inputs = layers.Input(shape=(4, 3))
    out = layers.Lambda(lambda t: tnp.sum(t, axis=-1) * 2)(inputs)
    assert out.shape == (None, 4)


def test_lambda_declared_output_shape_must_match():
    with pytest.raises(ValueError, match=r"declared output_shape \(5,\).*\(4,\)"):
        layers.Lambda(lambda t: t * 2, output_shape=(5,))(tg.tensor(np.ones((2, 4))))


def test_lambda_captured_variable_is_tracked_and_trained():
    scale = tg.Variable(0.1, name="scale")
    x, y = regression_data()
    model = models.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(1), layers.Lambda(lambda t: t * scale)]
    )
    assert any(w is scale for w in model.trainable_weights)
    model.compile(optimizer=optimizers.Adam(0.05), loss="mse")
    model.fit(x, y, epochs=3, verbose=0)
    assert float(scale.numpy()) != pytest.approx(0.1)


def test_lambda_arguments():
    layer = layers.Lambda(lambda t, power: t**power, arguments={"power": 3})
    np.testing.assert_allclose(layer(tg.tensor([2.0])).numpy(), [8.0])


def test_wrong_input_shape_names_layer_and_shapes():
    model = models.Sequential([layers.Input(shape=(4,)), layers.Dense(2, name="first")])
    with pytest.raises(ValueError, match=r"expects shape \(None, 4\), got \(3, 5\)"):
        model.predict(np.ones((3, 5)), verbose=0)
    dense = layers.Dense(2, name="lonely")
    dense(tg.tensor(np.ones((1, 4))))
    with pytest.raises(ValueError, match=r"'lonely'.*\(1, 7\).*\(None, 4\)"):
        dense(tg.tensor(np.ones((1, 7))))
    # As in Keras, a Dense layer fixes only its last input axis: more leading axes map
    # every position (a sequence of vectors), the wrong feature size is still refused.
    assert dense(tg.tensor(np.ones((2, 3, 4)))).shape == (2, 3, 2)
    with pytest.raises(ValueError, match=r"'lonely'.*\(2, 3, 5\).*\(None, 4\)"):
        dense(tg.tensor(np.ones((2, 3, 5))))
    conv = layers.Conv2D(2, 3)
    conv(tg.tensor(np.ones((1, 5, 5, 1))))
    with pytest.raises(ValueError, match="Conv2D|conv"):
        conv(tg.tensor(np.ones((1, 2, 5, 5, 1))))


def test_freezing_layers():
    model = models.Sequential([layers.Input(shape=(4,)), layers.Dense(3), layers.Dense(1)])
    model.layers[0].trainable = False
    assert len(model.trainable_weights) == 2
    assert len(model.non_trainable_weights) == 2
    frozen = model.layers[0].get_weights()
    x, y = regression_data()
    model.compile("sgd", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    for before, after in zip(frozen, model.layers[0].get_weights(), strict=True):
        np.testing.assert_array_equal(before, after)


def test_get_set_weights_round_trip():
    model = models.Sequential([layers.Input(shape=(4,)), layers.Dense(3)])
    other = models.Sequential([layers.Input(shape=(4,)), layers.Dense(3)])
    other.set_weights(model.get_weights())
    x = np.ones((2, 4), np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), other.predict(x, verbose=0))


def test_summary_prints_keras_table(capsys):
    model = models.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(3, name="hidden"), layers.Dense(1, name="out")],
        name="tiny",
    )
    model.summary()
    text = capsys.readouterr().out
    assert 'Model: "tiny"' in text
    assert "hidden (Dense)" in text and "(None, 3)" in text
    assert "Total params: 19" in text and "Trainable params: 19" in text


def test_train_on_batch_and_test_on_batch_return_loss_and_metrics():
    x, y = classification_data(n=32)
    model = models.Sequential([layers.Input(shape=(5,)), layers.Dense(3)])
    model.compile(
        "adam", losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"]
    )
    loss, acc = model.train_on_batch(x, y)
    assert np.isfinite(loss) and 0 <= acc <= 1
    logs = model.test_on_batch(x, y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}


def test_fit_requires_compile():
    model = models.Sequential([layers.Dense(1)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(np.ones((2, 2)), np.ones((2, 1)), verbose=0)


def test_dropout_only_in_training():
    layer = layers.Dropout(0.5, seed=1)
    x = tg.tensor(np.ones((4, 100)))
    np.testing.assert_array_equal(layer(x).numpy(), np.ones((4, 100)))
    dropped = layer(x, training=True).numpy()
    assert set(np.unique(dropped)) <= {0.0, 2.0} and 0.3 < (dropped == 0).mean() < 0.7


def test_terminate_on_nan_stops_fit_end_to_end(capsys):
    x, y = regression_data(n=64)
    x[40:] = np.nan  # batches from the third on produce a NaN loss
    model = models.Sequential([layers.Input(shape=(4,)), layers.Dense(1)])
    model.compile("sgd", "mse")
    history = model.fit(
        x,
        y,
        epochs=5,
        batch_size=16,
        shuffle=False,
        verbose=0,
        callbacks=[tg.callbacks.TerminateOnNaN()],
    )
    assert len(history.history["loss"]) == 1  # stopped during the first epoch
    assert "NaN" in capsys.readouterr().out or np.isnan(history.history["loss"][0])


def test_bad_labels_get_clear_errors_through_fit():
    x, _ = classification_data(n=16)
    model = models.Sequential([layers.Input(shape=(5,)), layers.Dense(3)])
    model.compile("adam", losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="3"):
        model.fit(x, np.full(16, 7), epochs=1, verbose=0)
    with pytest.raises((TypeError, ValueError), match="(?i)integer|int"):
        model.fit(x, np.full(16, 0.5), epochs=1, verbose=0)


def test_fit_with_validation_data_and_sample_weight():
    x, y = regression_data(n=64)
    model = models.Sequential([layers.Input(shape=(4,)), layers.Dense(1)])
    model.compile(optimizers.SGD(0.05), "mse")
    weights = np.ones(64, np.float32)
    history = model.fit(
        x, y, epochs=3, verbose=0, sample_weight=weights, validation_data=(x[:16], y[:16])
    )
    assert len(history.history["val_loss"]) == 3
    zero = model.evaluate(x, y, sample_weight=np.zeros(64, np.float32), verbose=0)
    assert zero == 0.0


def test_symbolic_tensors_in_other_arguments_are_graph_inputs():
    """Keras 3: a layer may take symbolic tensors in any argument (``Decoder()(x, enc)``)."""

    class Blend(tg.layers.Layer):
        def call(self, inputs, other, scale=None):
            return inputs + other * scale

    a, b, c = (layers.Input(shape=(3,)) for _ in range(3))
    model = models.Model([a, b, c], Blend()(a, b, scale=c))
    ones = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(model([ones, 2 * ones, 3 * ones]).numpy(), 7 * ones)
    with pytest.raises(TypeError):  # Dense.call takes one tensor, as in Keras
        layers.Dense(2)(a, b)
    with pytest.raises(ValueError, match="cannot be saved in a config yet"):
        model.get_config()


def test_sequential_add_calls_only_the_new_layer():
    """Adding n layers one by one (as loading does) calls each layer once, not n times."""
    calls: list[str] = []

    class Counting(tg.layers.Layer):
        def call(self, inputs):
            calls.append(self.name)
            return inputs

    model = tg.Sequential([tg.layers.Input(shape=(3,))])
    for k in range(20):
        model.add(Counting(name=f"c{k}"))
    assert sorted(calls) == sorted(f"c{k}" for k in range(20))
    calls.clear()
    built = tg.Sequential([tg.layers.Input(shape=(3,)), *(Counting() for _ in range(20))])
    assert len(calls) == 20 and len(built.layers) == 20
    built.pop()
    built.pop()
    built.add(Counting(name="last"))
    assert [layer.name for layer in built.layers][-1] == "last" and len(built.layers) == 19
    np.testing.assert_array_equal(built(np.ones((2, 3), np.float32)), np.ones((2, 3)))
