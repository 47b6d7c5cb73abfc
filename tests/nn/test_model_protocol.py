"""Keras 3's Model protocol: overridable steps, compute_loss/compute_metrics, metrics,
per-output losses and metrics, callback call sites, and fit's resume contract."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn import random_state

L = tg.layers
RNG = np.random.default_rng(0)
X = RNG.standard_normal((48, 4)).astype(np.float32)
Y = (X @ np.array([[1.0], [-2.0], [0.5], [0.0]], np.float32)).astype(np.float32)
LABELS = (X[:, 0] > 0).astype(np.int64)


def _dense_model(seed: int = 0) -> Any:
    tg.utils.set_random_seed(seed)
    return tg.Sequential([L.Input(shape=(4,)), L.Dense(8, activation="tanh"), L.Dense(1)])


class _CustomStep(tg.Model):
    """The Keras guide's "customizing fit" model: its own train_step and loss tracker."""

    def __init__(self, use_apply: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hidden = L.Dense(8, activation="tanh")
        self.out = L.Dense(1)
        self.loss_tracker = tg.metrics.Mean(name="loss")
        self.mae_metric = tg.metrics.MeanAbsoluteError(name="mae")
        self.use_apply = use_apply

    def call(self, inputs: Any) -> Any:
        return self.out(self.hidden(inputs))

    def train_step(self, data: Any) -> dict[str, Any]:
        x, y = data
        with tg.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        variables = self.trainable_variables
        grads = tape.gradient(loss, variables)
        if self.use_apply:
            self.optimizer.apply(grads, variables)
        else:
            self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self) -> list[Any]:
        return [self.loss_tracker, self.mae_metric]


def _fit_custom(run_eagerly: bool, use_apply: bool = True) -> tuple[Any, Any]:
    tg.utils.set_random_seed(1)
    model = _CustomStep(use_apply=use_apply)
    model.compile(tg.optimizers.SGD(0.05), "mse", run_eagerly=run_eagerly)
    history = model.fit(X, Y, epochs=3, batch_size=16, verbose=0)
    return model, history


@pytest.mark.parametrize("use_apply", [True, False])
def test_custom_train_step_runs_eagerly_and_compiled_alike(use_apply: bool) -> None:
    eager, eager_history = _fit_custom(True, use_apply)
    compiled, compiled_history = _fit_custom(False, use_apply)
    assert set(compiled_history.history) == {"loss", "mae"}
    assert compiled._compiled_steps["user_train"] is not None  # it really ran compiled
    assert "user_train" not in eager._compiled_steps
    np.testing.assert_allclose(
        compiled_history.history["loss"], eager_history.history["loss"], rtol=1e-5
    )
    for a, b in zip(compiled.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    losses = compiled_history.history["loss"]
    assert losses[-1] < losses[0]
    assert compiled.metrics_names == ["loss", "mae"]


class _SuperStep(tg.Sequential):
    def train_step(self, data: Any) -> dict[str, Any]:
        self.calls = getattr(self, "calls", 0) + 1
        return super().train_step(data)


def test_overridden_step_calling_super_matches_the_builtin_step() -> None:
    builtin = _dense_model()
    builtin.compile(tg.optimizers.SGD(0.05), "mse", metrics=["mae"])
    tg.utils.set_random_seed(0)
    wrapped = _SuperStep([L.Input(shape=(4,)), L.Dense(8, activation="tanh"), L.Dense(1)])
    wrapped.compile(tg.optimizers.SGD(0.05), "mse", metrics=["mae"])
    expected = builtin.fit(X, Y, batch_size=16, epochs=2, verbose=0, shuffle=False).history
    got = wrapped.fit(X, Y, batch_size=16, epochs=2, verbose=0, shuffle=False).history
    assert got.keys() == expected.keys() == {"loss", "mae"}
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5)
    assert wrapped.calls >= 1  # traced once (compiled) or per step (eager)


def test_test_step_and_predict_step_overrides_are_used() -> None:
    class Scaled(tg.Sequential):
        def test_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            return {"gap": tg.numpy.mean(tg.numpy.abs(self(x, training=False) - y))}

        def predict_step(self, data: Any) -> Any:
            assert not isinstance(data, tuple)  # Keras: x alone, not (x,)
            return self(data, training=False) * 10.0

    model = Scaled([L.Input(shape=(4,)), L.Dense(1)])
    model.compile("sgd", "mse")
    logs = model.evaluate(X, Y, batch_size=48, verbose=0, return_dict=True)
    plain = model(X).numpy()
    assert set(logs) == {"gap"}
    assert logs["gap"] == pytest.approx(float(np.mean(np.abs(plain - Y))), rel=1e-5)
    np.testing.assert_allclose(model.predict(X, verbose=0), plain * 10.0, rtol=1e-5)


def test_step_logs_are_flattened_and_sorted_like_keras_pythonify_logs() -> None:
    # The Keras guide's evaluation step returns {m.name: m.result() for m in self.metrics},
    # where "compile_metrics" is itself a dict: Keras flattens it into the logs.
    class Guide(tg.Sequential):
        def test_step(self, data: Any) -> dict[str, Any]:
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    model = Guide([L.Input(shape=(4,)), L.Dense(1)])
    model.compile("sgd", "mse", metrics=["mse", "mae"])
    logs = model.evaluate(X, Y, batch_size=48, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mae", "mse"]
    assert logs["loss"] == pytest.approx(logs["mse"], rel=1e-5)


def test_train_step_returning_a_non_dict_is_a_clear_error() -> None:
    class Bad(tg.Sequential):
        def train_step(self, data: Any) -> Any:
            return 1.0

    model = Bad([L.Input(shape=(4,)), L.Dense(1)])
    model.compile("sgd", "mse", run_eagerly=True)
    with pytest.raises(TypeError, match=r"Bad.train_step must return a dict.*got float"):
        model.fit(X, Y, verbose=0)


def test_untraceable_user_step_falls_back_once_with_a_warning_or_raises() -> None:
    class Reads(tg.Sequential):
        def train_step(self, data: Any) -> dict[str, Any]:
            logs = super().train_step(data)
            self.seen = float(logs["loss"])  # a value read: cannot be traced
            return logs

    model = Reads([L.Input(shape=(4,)), L.Dense(1)])
    model.compile("sgd", "mse")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, Y, batch_size=16, epochs=2, verbose=0)
    fallbacks = [w for w in caught if "runs eagerly" in str(w.message)]
    assert len(fallbacks) == 1 and "Reads.train_step" in str(fallbacks[0].message)
    assert model._compiled_steps["user_train"] is None
    strict = Reads([L.Input(shape=(4,)), L.Dense(1)])
    strict.compile("sgd", "mse", jit_compile=True)
    with pytest.raises(tg.graph.TracerValueError):
        strict.fit(X, Y, verbose=0)


def test_compute_loss_override_with_keras_signature_is_used_by_fit() -> None:
    class Shrink(tg.Sequential):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            self.training_flags = getattr(self, "training_flags", set()) | {training}
            return tg.numpy.mean(tg.numpy.square(y_pred))

    model = Shrink([L.Input(shape=(4,)), L.Dense(1)])
    model.compile(tg.optimizers.SGD(0.1), run_eagerly=True)
    first = model.evaluate(X, None, verbose=0)
    model.fit(X, None, epochs=3, verbose=0)
    assert model.evaluate(X, None, verbose=0) < first
    assert model.training_flags == {True, False}


def test_compute_loss_adds_regularization_losses() -> None:
    tg.utils.set_random_seed(0)
    regularized = tg.Sequential(
        [L.Input(shape=(4,)), L.Dense(1, kernel_regularizer=tg.regularizers.L2(10.0))]
    )
    regularized.compile("sgd", "mse")
    y_pred = regularized(X)
    data_loss = float(tg.losses.mean_squared_error(Y, y_pred).numpy().mean())
    penalty = 10.0 * float(np.sum(np.square(regularized.layers[-1].kernel.numpy())))
    total = regularized.compute_loss(x=X, y=Y, y_pred=y_pred)
    assert float(total) == pytest.approx(data_loss + penalty, rel=1e-5)
    assert regularized.evaluate(X, Y, batch_size=48, verbose=0) == pytest.approx(
        data_loss + penalty, rel=1e-5
    )


def test_compute_loss_without_any_loss_is_a_clear_error() -> None:
    model = _dense_model()
    model.compile("sgd")
    with pytest.raises(ValueError, match="No loss to compute|no loss to compute"):
        model.compute_loss(x=X, y=Y, y_pred=model(X))


def test_metrics_list_as_keras_3_lists_it() -> None:
    class WithMetric(tg.Sequential):
        pass

    model = WithMetric([L.Input(shape=(4,)), L.Dense(1)])
    assert model.metrics == []
    model.extra = tg.metrics.Mean(name="extra")
    assert model.metrics_names == ["extra"]
    model.compile("sgd", "mse", metrics=["mae"])
    assert model.metrics_names == ["loss", "compile_metrics", "extra"]
    assert type(model.metrics[0]).__name__ == "Mean"
    logs = model.compute_metrics(X, Y, model(X))
    assert set(logs) == {"loss", "mae", "extra"}
    model.fit(X, Y, verbose=0)
    assert model.metrics[0].result() != 0
    model.reset_metrics()
    assert all(float(np.asarray(v)) == 0.0 for v in model.get_metrics_result().values())


def test_metric_names_follow_the_identifier_and_ignore_sample_weight() -> None:
    # Keras 3: plain metrics ignore sample_weight, weighted_metrics use it.
    model = _dense_model()
    model.compile("sgd", "mse", metrics=["mae"], weighted_metrics=["mae"])
    weights = np.zeros(len(X), np.float32)
    weights[:8] = 1.0
    logs = model.evaluate(X, Y, sample_weight=weights, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae", "weighted_mae"}
    errors = np.abs(model.predict(X, verbose=0) - Y)[:, 0]
    assert logs["mae"] == pytest.approx(float(errors.mean()), rel=1e-5)
    assert logs["weighted_mae"] == pytest.approx(float(errors[:8].mean()), rel=1e-5)


def test_trainable_toggled_after_compile_takes_effect_at_the_next_fit() -> None:
    model = _dense_model()
    model.compile(tg.optimizers.SGD(0.1), "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    first = model.layers[0]
    first.trainable = False
    frozen = [w.copy() for w in first.get_weights()]
    other = model.layers[1].get_weights()[0].copy()
    model.fit(X, Y, epochs=1, verbose=0)
    for a, b in zip(first.get_weights(), frozen, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(model.layers[1].get_weights()[0], other)
    first.trainable = True
    model.fit(X, Y, epochs=1, verbose=0)
    assert not np.array_equal(first.get_weights()[0], frozen[0])


# -- several outputs ----------------------------------------------------------------------
def _two_outputs(as_dict: bool) -> Any:
    tg.utils.set_random_seed(3)
    inputs = L.Input(shape=(4,))
    hidden = L.Dense(8, activation="tanh")(inputs)
    label = L.Dense(2, name="label")(hidden)
    value = L.Dense(1, name="value")(hidden)
    outputs = {"label": label, "value": value} if as_dict else [label, value]
    return tg.Model(inputs, outputs)


@pytest.mark.parametrize("as_dict", [True, False])
def test_losses_metrics_and_weights_per_output(as_dict: bool) -> None:
    model = _two_outputs(as_dict)
    losses = {"label": tg.losses.SparseCategoricalCrossentropy(from_logits=True), "value": "mse"}
    model.compile(
        tg.optimizers.SGD(0.05),
        loss=losses,
        loss_weights={"label": 1.0, "value": 0.5},
        metrics={"label": ["accuracy"], "value": ["mae"]},
    )
    targets = {"label": LABELS, "value": Y}
    history = model.fit(
        X, targets, epochs=2, batch_size=16, verbose=0, validation_data=(X, targets)
    )
    expected = {"loss", "label_loss", "value_loss", "label_accuracy", "value_mae"}
    assert set(history.history) == expected | {f"val_{k}" for k in expected}
    logs = model.evaluate(X, targets, batch_size=48, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["label_loss"] + 0.5 * logs["value_loss"], rel=1e-5)
    outputs = model.predict(X, verbose=0)
    value = outputs["value"] if as_dict else outputs[1]
    assert logs["value_loss"] == pytest.approx(float(np.mean((value - Y) ** 2)), rel=1e-4)
    # Keras' list order: loss, the loss trackers, then the prefixed metric names sorted.
    assert model.evaluate(X, targets, batch_size=48, verbose=0) == pytest.approx(
        [logs[k] for k in ("loss", "label_loss", "value_loss", "label_accuracy", "value_mae")]
    )


def test_losses_as_a_list_per_output() -> None:
    model = _two_outputs(as_dict=False)
    model.compile(
        "sgd",
        [tg.losses.SparseCategoricalCrossentropy(from_logits=True), "mse"],
        loss_weights=[0.0, 2.0],
        metrics=[None, ["mse"]],
    )
    logs = model.evaluate(X, [LABELS, Y], verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(2.0 * logs["value_loss"], rel=1e-5)
    assert logs["value_mse"] == pytest.approx(logs["value_loss"], rel=1e-5)


def test_per_output_specs_naming_unknown_outputs_are_clear_errors() -> None:
    model = _two_outputs(as_dict=True)
    model.compile("sgd", loss={"label": "mse", "price": "mse"})
    with pytest.raises(ValueError, match=r"'price'.*output names"):
        model.fit(X, {"label": np.zeros((48, 2)), "value": Y}, verbose=0)
    model.compile("sgd", loss="mse", metrics=["mae"])  # one list for two outputs
    with pytest.raises(ValueError, match="Invalid `metrics`"):
        model.fit(X, {"label": np.zeros((48, 2)), "value": Y}, verbose=0)


# -- callbacks ----------------------------------------------------------------------------
class _Recorder(tg.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, Any]] = []

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("on_"):
            events = object.__getattribute__(self, "events")
            return lambda *args, **kwargs: events.append((name, args, kwargs.get("logs")))
        return object.__getattribute__(self, name)


def _names(recorder: _Recorder) -> list[str]:
    return [event[0] for event in recorder.events]


def _logs(event: tuple[str, Any, Any]) -> Any:
    """The logs a hook received (by keyword, or as its last positional argument)."""
    return event[2] if event[2] is not None else event[1][-1]


def test_evaluate_and_predict_fire_their_hooks() -> None:
    model = _dense_model()
    model.compile("sgd", "mse")
    recorder = _Recorder()
    model.evaluate(X, Y, batch_size=16, verbose=0, callbacks=[recorder])
    assert _names(recorder) == ["on_test_begin"] + [
        hook for _ in range(3) for hook in ("on_test_batch_begin", "on_test_batch_end")
    ] + ["on_test_end"]
    assert set(_logs(recorder.events[-1])) == {"loss"}
    recorder.events.clear()
    model.predict(X, batch_size=32, verbose=0, callbacks=[recorder])
    assert _names(recorder) == ["on_predict_begin"] + [
        hook for _ in range(2) for hook in ("on_predict_batch_begin", "on_predict_batch_end")
    ] + ["on_predict_end"]
    assert _logs(recorder.events[2])["outputs"].shape == (32, 1)


def test_fit_fires_test_hooks_for_validation_and_passes_logs_to_on_train_end() -> None:
    model = _dense_model()
    model.compile("sgd", "mse")
    recorder = _Recorder()
    model.fit(X, Y, epochs=2, batch_size=24, verbose=0, validation_split=0.5, callbacks=[recorder])
    names = _names(recorder)
    assert names.count("on_test_begin") == 2 and names.count("on_test_batch_end") == 2
    assert names.index("on_test_end") < names.index("on_epoch_end")
    last = recorder.events[-1]
    assert last[0] == "on_train_end"
    assert set(_logs(last)) == {"loss", "val_loss"}


def test_stop_training_is_honoured_after_the_batch() -> None:
    class StopAt(tg.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            self.batches = batch
            if batch == 1:
                self.model.stop_training = True

    model = _dense_model()
    model.compile("sgd", "mse")
    stopper = StopAt()
    history = model.fit(X, Y, epochs=5, batch_size=8, verbose=0, callbacks=[stopper])
    assert stopper.batches == 1 and len(history.history["loss"]) == 1
    assert random_state.capture(model)["step"] == 2


# -- the resume contract: model._initial_epoch / model._initial_step ----------------------
class _Snapshot(tg.callbacks.Callback):
    """Records weights, optimizer variables and random state after one chosen batch."""

    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.at = (epoch, batch)
        self.epoch = 0
        self.state: Any = None

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        if (self.epoch, batch) == self.at:
            self.state = (
                self.model.get_weights(),
                [v.numpy().copy() for v in self.model.optimizer.variables],
                random_state.capture(self.model),
            )


class _Resume(tg.callbacks.Callback):
    """Puts a snapshot back at on_train_begin and tells fit where to continue."""

    def __init__(self, state: Any, epoch: int, step: int) -> None:
        super().__init__()
        self.state, self.epoch, self.step = state, epoch, step
        self.first_batches: list[int] = []

    def on_train_begin(self, logs: Any = None) -> None:
        weights, optimizer_values, randomness = self.state
        self.model.set_weights(weights)
        self.model.optimizer.build(self.model.trainable_variables)
        for variable, value in zip(self.model.optimizer.variables, optimizer_values, strict=True):
            variable.assign(value)
        random_state.restore(self.model, randomness)
        self.model._initial_epoch, self.model._initial_step = self.epoch, self.step

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        self.first_batches.append(batch)


@pytest.mark.parametrize("run_eagerly", [False, True])
def test_fit_resumes_mid_epoch_from_initial_epoch_and_initial_step(run_eagerly: bool) -> None:
    def fresh() -> Any:
        model = tg.Sequential(
            [L.Input(shape=(4,)), L.Dense(8, activation="tanh"), L.Dropout(0.3, seed=5), L.Dense(1)]
        )
        model.compile(tg.optimizers.SGD(0.05, momentum=0.9), "mse", run_eagerly=run_eagerly)
        return model

    tg.utils.set_random_seed(7)
    reference = fresh()
    snapshot = _Snapshot(epoch=1, batch=2)
    reference.fit(X, Y, epochs=3, batch_size=8, verbose=0, callbacks=[snapshot])
    assert snapshot.state is not None
    tg.utils.set_random_seed(99)  # a different start: everything comes from the snapshot
    resumed = fresh()
    resume = _Resume(snapshot.state, epoch=1, step=3)
    resumed.fit(X, Y, epochs=3, batch_size=8, verbose=0, callbacks=[resume])
    assert resume.first_batches[:2] == [3, 4]  # the rest of epoch 1, then epoch 2
    assert len(resume.first_batches) == 3 + 6
    for a, b in zip(resumed.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed._initial_epoch is None and resumed._initial_step is None
