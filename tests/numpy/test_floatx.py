"""float64 for NumPy users: `set_floatx`, `floatx_scope` and ``TAPEGRAD_FLOATX`` make every
default float the chosen one (creation, Python floats, random draws, layers, initializers,
optimizer state, losses, a whole ``fit``), and float32 comes back afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import backend

# Every way a NumPy or Keras user gets a float without naming a dtype.
CREATIONS: dict[str, Callable[[], Any]] = {
    "tnp.array": lambda: tnp.array([1.0, 2.0]),
    "tnp.array nested": lambda: tnp.array([[1.0], [2.5]]),
    "tnp.asarray": lambda: tnp.asarray([1.0, 2.0]),
    "tg.Tensor": lambda: tg.Tensor(1.0),
    "tg.tensor": lambda: tg.tensor([1.0, 2.0]),
    "tg.constant": lambda: tg.constant(0.5),
    "tg.Variable": lambda: tg.Variable(1.0),
    "tnp.zeros": lambda: tnp.zeros(3),
    "tnp.ones": lambda: tnp.ones((2, 2)),
    "tnp.empty": lambda: tnp.empty(3),
    "tnp.full": lambda: tnp.full(3, 1.5),
    "tnp.eye": lambda: tnp.eye(3),
    "tnp.identity": lambda: tnp.identity(2),
    "tnp.tri": lambda: tnp.tri(3),
    "tnp.linspace": lambda: tnp.linspace(0, 1, 5),
    "tnp.logspace": lambda: tnp.logspace(0, 1, 5),
    "tnp.arange floats": lambda: tnp.arange(0.0, 1.0, 0.25),
    "tensor arithmetic": lambda: tg.tensor([1.0]) * 2.0 + 1.0,
    "ops.zeros": lambda: tg.ops.zeros(3),
    "ops.convert_to_tensor": lambda: tg.ops.convert_to_tensor([1.0]),
    "ops.linspace": lambda: tg.ops.linspace(0.0, 1.0, 4),
    "random.normal": lambda: tg.random.normal((3,), seed=1),
    "random.uniform": lambda: tg.random.uniform((3,), seed=1),
    "random.truncated_normal": lambda: tg.random.truncated_normal((3,), seed=1),
    "random.gamma": lambda: tg.random.gamma((3,), 2.0, seed=1),
    "keras.Input": lambda: tg.Input((3,)),
    "initializers.GlorotUniform": lambda: tg.initializers.GlorotUniform(seed=1)((3, 3)),
    "initializers.HeNormal": lambda: tg.initializers.HeNormal(seed=1)((3, 3)),
    "initializers.Orthogonal": lambda: tg.initializers.Orthogonal(seed=1)((3, 3)),
    "initializers.Zeros": lambda: tg.initializers.Zeros()((3,)),
    "losses.MeanSquaredError": lambda: tg.losses.MeanSquaredError()([[1.0]], [[0.0]]),
    "losses.categorical_crossentropy": lambda: tg.losses.categorical_crossentropy(
        [[0.0, 1.0]], [[0.3, 0.7]]
    ),
}


def _layer_cases() -> dict[str, tuple[Callable[[], Any], tuple[int, ...]]]:
    return {
        "Dense": (lambda: tg.layers.Dense(3), (2, 4)),
        "Conv2D": (lambda: tg.layers.Conv2D(2, 3), (1, 5, 5, 2)),
        "LSTM": (lambda: tg.layers.LSTM(3), (2, 4, 2)),
        "BatchNormalization": (lambda: tg.layers.BatchNormalization(), (4, 3)),
        "LayerNormalization": (lambda: tg.layers.LayerNormalization(), (4, 3)),
        "Embedding": (lambda: tg.layers.Embedding(5, 2), (2, 3)),
        "MultiHeadAttention": (lambda: tg.layers.MultiHeadAttention(2, 2), (1, 3, 4)),
    }


@pytest.fixture
def float64_default() -> Any:
    backend.set_floatx("float64")
    try:
        yield
    finally:
        backend.set_floatx("float32")


def _dtype(value: Any) -> np.dtype:
    return np.dtype(value.dtype)


@pytest.mark.parametrize("name", sorted(CREATIONS))
def test_creation_follows_floatx(name: str, float64_default: Any) -> None:
    assert _dtype(CREATIONS[name]()) == np.float64


@pytest.mark.parametrize("name", ["tnp.array", "tg.Tensor", "tnp.zeros", "tnp.linspace"])
def test_float32_comes_back(name: str) -> None:
    with backend.floatx_scope("float64"):
        assert _dtype(CREATIONS[name]()) == np.float64
    assert _dtype(CREATIONS[name]()) == np.float32
    backend.set_floatx("float64")
    backend.set_floatx("float32")
    assert _dtype(CREATIONS[name]()) == np.float32


def test_float16_and_complex_follow() -> None:
    with backend.floatx_scope("float16"):
        assert tnp.array([1.0]).dtype == np.float16
        assert tnp.zeros(2).dtype == np.float16
    with backend.floatx_scope("float64"):
        assert tnp.array([1.0 + 2.0j]).dtype == np.complex128
    assert tnp.array([1.0 + 2.0j]).dtype == np.complex64


def test_explicit_dtypes_and_arrays_win() -> None:
    with backend.floatx_scope("float64"):
        assert tnp.zeros(2, dtype="float32").dtype == np.float32
        assert tnp.array(np.ones(2, np.float32)).dtype == np.float32
        assert tnp.array([1, 2]).dtype == np.int64
    assert tnp.array(np.ones(2)).dtype == np.float64


@pytest.mark.parametrize("name", sorted(_layer_cases()))
def test_layer_weights_and_outputs(name: str) -> None:
    make, shape = _layer_cases()[name]
    with backend.floatx_scope("float64"):
        layer = make()
        if name == "Embedding":
            x: Any = np.arange(6).reshape(shape) % 5
        else:
            x = np.random.default_rng(0).normal(size=shape)
        out = layer(x, x) if name == "MultiHeadAttention" else layer(x)
        assert {np.dtype(w.dtype) for w in layer.weights} == {np.dtype(np.float64)}
        assert _dtype(out) == np.float64
    # Built under the scope, the layer keeps its float64 weights afterwards.
    assert {np.dtype(w.dtype) for w in layer.weights} == {np.dtype(np.float64)}


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_optimizer_state(optimizer: str, float64_default: Any) -> None:
    var = tg.Variable([1.0, 2.0])
    opt = tg.optimizers.get(optimizer)
    if optimizer == "sgd":
        opt = tg.optimizers.SGD(0.1, momentum=0.9)
    opt.apply_gradients([(tg.tensor([0.5, -0.5]), var)])
    float_state = {np.dtype(v.dtype) for v in opt.variables if np.dtype(v.dtype).kind == "f"}
    assert float_state == {np.dtype(np.float64)}
    assert var.dtype == np.float64


def test_fit_is_float64_everywhere(float64_default: Any) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.normal(size=(16, 1))
    model = tg.Sequential(
        [tg.Input((3,)), tg.layers.Dense(4, activation="tanh"), tg.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    before = [np.array(w) for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert {w.dtype for w in model.get_weights()} == {np.dtype(np.float64)}
    assert model.predict(x, verbose=0).dtype == np.float64
    assert np.isfinite(history.history["loss"][-1])
    # The steps trained the float64 weights (an update that was cast away would not move them).
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_gradients_are_float64(float64_default: Any) -> None:
    g = tg.grad(lambda x: tnp.sum(tnp.sin(x) * 0.5))(tnp.array([0.1, 0.2]))
    assert g.dtype == np.float64
    np.testing.assert_allclose(g.numpy(), 0.5 * np.cos([0.1, 0.2]), rtol=1e-14)


def test_scope_is_per_thread() -> None:
    seen: dict[str, np.dtype] = {}
    entered, release = threading.Event(), threading.Event()

    def inside() -> None:
        with backend.floatx_scope("float64"):
            entered.set()
            release.wait(5)
            seen["inside"] = tnp.array([1.0]).dtype

    worker = threading.Thread(target=inside)
    worker.start()
    entered.wait(5)
    seen["other thread"] = tnp.array([1.0]).dtype
    release.set()
    worker.join()
    assert seen == {"inside": np.dtype(np.float64), "other thread": np.dtype(np.float32)}


def test_scope_restores_after_error_and_set_floatx_inside() -> None:
    with pytest.raises(RuntimeError), backend.floatx_scope("float64"):
        raise RuntimeError("boom")
    assert backend.floatx() == "float32"
    with backend.floatx_scope("float16"):
        backend.set_floatx("float64")  # takes effect at once, and stays after the block
        assert backend.floatx() == "float64"
    try:
        assert backend.floatx() == "float64"
    finally:
        backend.set_floatx("float32")


@pytest.mark.parametrize("bad", ["bfloat16", "int32", "float128x"])
def test_bad_values_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="floatx"):
        backend.set_floatx(bad)
    with pytest.raises(ValueError, match="floatx_scope"), backend.floatx_scope(bad):
        pass  # pragma: no cover
    assert backend.floatx() == "float32"


def test_config_names_are_the_backend_ones() -> None:
    assert tg.config.set_floatx is backend.set_floatx
    assert tg.config.floatx_scope is backend.floatx_scope


def test_environment_variable_at_import() -> None:
    code = (
        "import tapegrad as tg, tapegrad.numpy as tnp;"
        "print(tg.backend.floatx(), tnp.array([1.0]).dtype, tg.layers.Dense(1).dtype)"
    )
    env = dict(os.environ, TAPEGRAD_FLOATX="float64")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["float64", "float64", "float64"]
