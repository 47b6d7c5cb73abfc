"""A train step that cannot be compiled falls back to eager steps without losing updates."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

import tapegrad as tg
from tapegrad import layers, ops

RNG = np.random.default_rng(0)
X = RNG.random((32, 3)).astype(np.float32)
Y = RNG.random((32, 1)).astype(np.float32)


class _ValueDependent(tg.Model):
    """A call that reads a value (``float``): untraceable, so fit runs it eagerly."""

    def __init__(self) -> None:
        super().__init__()
        self.dense = layers.Dense(1)

    def call(self, x: Any) -> Any:
        y = self.dense(x)
        return y * 2.0 if float(ops.mean(y)) > -100.0 else y


def test_fallback_on_an_unbuilt_model_updates_from_the_first_batch() -> None:
    model = _ValueDependent()
    model.compile(optimizer="sgd", loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        history = model.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2
    first, second = history.history["loss"]
    assert second < first


def test_fallback_matches_eager_training() -> None:
    tg.utils.set_random_seed(3)
    fallback = _ValueDependent()
    fallback.compile(optimizer="sgd", loss="mse")
    tg.utils.set_random_seed(3)
    eager = _ValueDependent()
    eager.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fallback.fit(X, Y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    b = eager.fit(X, Y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)
    for u, v in zip(fallback.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-6)
