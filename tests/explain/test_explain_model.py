"""`Model.explain` (the gradient of the compiled loss on one batch) and `synthetic_batch`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.cli import demo_model
from tapegrad.explain import synthetic_batch


def _tape_gradients(model: Any, x: Any, y: Any, sample_weight: Any = None) -> list[Any]:
    with tg.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)
    return list(tape.gradient(loss, model.trainable_weights))


def _assert_bits(got: list[Any], want: list[Any]) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.shape == w.shape, k
        assert g.dtype == w.dtype, k
        assert g.tobytes() == w._value.tobytes(), f"weight {k}: {g} vs the tape's {w}"


def test_demo_model_gradient_replays_bit_for_bit_and_groups_its_lambdas() -> None:
    model, temperature = demo_model(seed=0)
    images, labels = tg.datasets.load_digits()
    x, y = images[:8], labels[:8]
    e = model.explain(x, y)
    _assert_bits(e.gradients(), _tape_gradients(model, x, y))
    scopes = {s.scope for s in e.forward}
    assert ("digits", "sqrt_intensity") in scopes
    assert ("digits", "temperature") in scopes
    assert ("loss",) in scopes
    # The temperature Variable, read only inside a Lambda, gets its gradient too.
    names = [s.name for s in e.sources]
    assert names[-1] == (getattr(temperature, "path", None) or temperature.name)
    assert all(s.gradient is not None for s in e.sources)
    sqrt = [s for s in e.forward if s.node.primitive == "sqrt"][0]
    assert sqrt.scope == ("digits", "sqrt_intensity")
    rules = {s.rule.text for s in e.backward if s.rule is not None}
    assert "g * 0.5 / ans" not in rules  # sqrt's input is data: no gradient flows there


def test_demo_model_on_a_synthetic_batch() -> None:
    model, _ = demo_model(seed=1)
    x, y = synthetic_batch(model, batch_size=3, seed=5)
    assert x.shape == (3, 8, 8)
    assert x.dtype == np.float32
    assert float(x.min()) >= 0.0
    assert y.shape == (3,)
    assert y.dtype.kind == "i"
    assert int(y.max()) < 10
    e = model.explain(x, y)
    _assert_bits(e.gradients(), _tape_gradients(model, x, y))
    again_x, again_y = synthetic_batch(model, batch_size=3, seed=5)
    np.testing.assert_array_equal(again_x, x)
    np.testing.assert_array_equal(again_y, y)


def test_regularization_and_sample_weights_are_part_of_the_explained_loss() -> None:
    layers = tg.layers
    model = tg.Sequential(
        [
            tg.Input((3,)),
            layers.Dense(4, activation="tanh", kernel_regularizer=tg.regularizers.L2(0.1)),
            layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3)).astype("float32")
    y = rng.standard_normal((5, 1)).astype("float32")
    weights = rng.uniform(0.5, 1.5, 5).astype("float32")
    e = model.explain(x, y, sample_weight=weights)
    _assert_bits(e.gradients(), _tape_gradients(model, x, y, weights))
    # The L2 term reads the kernel a second time: two cotangents are added.
    kernel = e.graph.variable_inputs[0].id
    readers = [s for s in e.forward if kernel in s.node.inputs]
    assert len(readers) >= 2
    assert any(s.part == "accumulate" for s in e.backward)


@pytest.mark.parametrize(
    "loss, check",
    [
        ("categorical_crossentropy", lambda y: sorted(set(y.sum(axis=1).tolist())) == [1.0]),
        ("binary_crossentropy", lambda y: set(np.unique(y).tolist()) <= {0.0, 1.0}),
        ("mse", lambda y: y.shape == (4, 3) and y.dtype == np.float32),
        ("poisson", lambda y: float(y.min()) > 0.0),
    ],
)
def test_synthetic_targets_follow_the_compiled_loss(loss: str, check: Any) -> None:
    model = tg.Sequential([tg.Input((2,)), tg.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer="sgd", loss=loss)
    x, y = synthetic_batch(model, batch_size=4)
    assert x.shape == (4, 2)
    assert y.shape == (4, 3)
    assert check(y)
    _assert_bits(model.explain(x, y).gradients(), _tape_gradients(model, x, y))


def test_integer_inputs_and_errors() -> None:
    layers = tg.layers
    model = tg.Sequential(
        [tg.Input((3,), dtype="int32"), layers.Embedding(5, 2), layers.Flatten(), layers.Dense(1)]
    )
    x, y = synthetic_batch(model)
    assert x.dtype == np.int32
    assert y is None  # not compiled: no targets to build
    with pytest.raises(ValueError, match="not compiled"):
        model.explain(x, y)

    class Subclassed(tg.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="no input spec"):
        synthetic_batch(Subclassed())
    frozen = tg.Sequential([tg.Input((2,)), layers.Dense(1)])
    frozen.trainable = False
    frozen.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="no trainable weights"):
        frozen.explain(np.ones((2, 2), "float32"), np.ones((2, 1), "float32"))


def test_focus_on_one_lambda_layer() -> None:
    model, temperature = demo_model(seed=0)
    x, y = synthetic_batch(model, batch_size=2)
    e = model.explain(x, y)
    assert e.layers() == [
        "digits",
        "sqrt_intensity",
        "flatten",
        "hidden",
        "logits",
        "temperature",
        "loss",
    ]
    view = e.focus("temperature")
    assert [s.node.primitive for s in view.forward] == ["multiply"]
    assert [s.node.primitive for s in view.backward] == ["multiply", "multiply", "sum"]
    assert [s.part for s in view.backward] == ["vjp", "vjp", "unbroadcast"]
    assert [s.name for s in view.sources] == [getattr(temperature, "path", None) or "temperature"]
    listing = view.text(values=False, sources=False)
    assert "backward (3 ops): the ops differentiating those above" in listing
    dot = view.to_dot()
    outside = [line for line in dot.splitlines() if "outside this view" in line]
    assert len(outside) == 2  # the logits (t7) and the incoming cotangent
    assert "cluster_backward" in dot
    with pytest.raises(ValueError, match="focused view"):
        view.gradients()
    with pytest.raises(ValueError, match="the layers are"):
        e.focus("no_such_layer")


def test_dropout_masks_replay_as_drawn_and_equal_the_next_eager_step() -> None:
    layers = tg.layers
    tg.utils.set_random_seed(3)
    model = tg.Sequential([tg.Input((4,)), layers.Dense(8), layers.Dropout(0.5), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x, y = synthetic_batch(model, batch_size=3)
    e = model.explain(x, y)
    assert "dropout_mask" in [s.node.primitive for s in e.forward]
    first, second = e.gradients(), e.gradients()
    for a, b in zip(first, second, strict=True):
        assert a.tobytes() == b.tobytes()
    # Tracing drew the mask from a copy of the generator: the eager step draws it again.
    _assert_bits(first, _tape_gradients(model, x, y))


def test_explaining_changes_no_variable() -> None:
    layers = tg.layers
    model = tg.Sequential(
        [tg.Input((4,)), layers.Dense(3), layers.BatchNormalization(), layers.Dense(1)]
    )
    model.compile(optimizer="sgd", loss="mse")
    x, y = synthetic_batch(model, batch_size=5)
    before = [np.array(v.numpy()) for v in model.weights]
    e = model.explain(x, y)
    for old, new in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(old, new.numpy())
    _assert_bits(e.gradients(), _tape_gradients(model, x, y))
