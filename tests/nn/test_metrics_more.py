"""Keras 3 metrics added for issue 11: the loss-function forms of ``keras.metrics`` and the
F-score, R2, IoU, at-threshold and correlation metrics (numbers recorded with Keras 3.15)."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import losses, metrics

FUNCTION_NAMES = [
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "categorical_hinge",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "sparse_categorical_crossentropy",
    "squared_hinge",
]


@pytest.mark.parametrize("name", FUNCTION_NAMES)
def test_metric_functions_are_the_loss_functions(name):
    # As in Keras: keras.metrics.mean_squared_error is keras.losses.mean_squared_error.
    fn = getattr(metrics, name)
    assert fn is getattr(losses, name)
    assert metrics.deserialize(metrics.serialize(fn)) is fn


X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
Y = np.eye(3, dtype=np.float32)[np.argmax(X, axis=1)]


def fit_with_metrics(metric_list, jit_compile):
    tg.utils.set_random_seed(0)
    model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="mse", metrics=metric_list, jit_compile=jit_compile)
    return model, model.fit(X, Y, epochs=2, batch_size=4, verbose=0).history


def test_compile_metrics_by_function_and_by_name_log_keras_names():
    functions = [metrics.mean_squared_error, metrics.categorical_focal_crossentropy]
    names = ["huber", "kl_divergence", "log_cosh", "categorical_crossentropy"]
    model, compiled = fit_with_metrics([*functions, *names], jit_compile=True)
    _, eager = fit_with_metrics([*functions, *names], jit_compile=False)
    expected = {"loss", "mean_squared_error", "categorical_focal_crossentropy", *names}
    assert set(compiled) == expected
    for key in expected:
        np.testing.assert_allclose(compiled[key], eager[key], rtol=1e-5)
    # The metric of a function is the mean of its per-sample values.
    pred = model.predict(X, verbose=0)
    result = model.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
    for name in ("huber", "log_cosh"):
        expected_value = float(np.mean(getattr(metrics, name)(Y, pred).numpy()))
        assert result[name] == pytest.approx(expected_value, rel=1e-5)
