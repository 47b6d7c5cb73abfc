"""Keras 3.15's optimizer additions in training: loss scaling, gradient accumulation,
LossScaleOptimizer, Muon, ScheduleFreeAdamW — through fit (eager and compiled), saving,
configs and argument checks. Their numbers against Keras itself: tests/parity."""

from __future__ import annotations

import numpy as np
import pytest

import tapegrad as keras
import tapegrad as tg
from tapegrad.nn import optimizers


def _fit(optimizer, run_eagerly: bool, epochs: int = 1):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.layers.Input((3,)), keras.layers.Dense(4, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=optimizer, loss="mse", run_eagerly=run_eagerly)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = rng.normal(size=(16, 1)).astype("float32")
    history = model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, shuffle=False)
    return model, history.history["loss"]


@pytest.mark.parametrize("run_eagerly", [True, False], ids=["eager", "compiled"])
def test_fit_scales_the_loss_and_unscales_the_gradients(run_eagerly):
    plain, plain_loss = _fit(optimizers.SGD(0.1), run_eagerly)
    # A power of two: scaling and unscaling are exact, so the weights are equal.
    scaled, scaled_loss = _fit(optimizers.SGD(0.1, loss_scale_factor=1024.0), run_eagerly)
    assert scaled_loss == plain_loss  # the logged loss is the unscaled one
    for a, b in zip(plain.weights, scaled.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


@pytest.mark.parametrize("run_eagerly", [True, False], ids=["eager", "compiled"])
def test_fit_with_loss_scale_optimizer_grows_the_scale(run_eagerly):
    plain, _ = _fit(optimizers.SGD(0.1), run_eagerly)
    opt = optimizers.LossScaleOptimizer(optimizers.SGD(0.1), dynamic_growth_steps=2)
    model, _ = _fit(opt, run_eagerly)
    for a, b in zip(plain.weights, model.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    # 4 finite steps, doubled after every second one.
    assert float(opt.dynamic_scale.numpy()) == 2.0**15 * 4
    assert int(opt.iterations) == 4
    assert int(opt.step_counter.numpy()) == 0


@pytest.mark.parametrize("run_eagerly", [True, False], ids=["eager", "compiled"])
def test_fit_with_gradient_accumulation_updates_every_second_batch(run_eagerly):
    opt = optimizers.SGD(0.1, gradient_accumulation_steps=2)
    model, _ = _fit(opt, run_eagerly)
    assert int(opt.iterations) == 2  # 4 batches, 2 updates
    assert int(opt.variables[0].numpy()) == 4  # the raw counter counts batches
    accumulators = [v for v in opt.variables if v.name.endswith("gradient_accumulator")]
    assert len(accumulators) == len(model.trainable_weights)
    assert all(not np.any(a.numpy()) for a in accumulators)  # reset after the update


def test_accumulation_equals_one_update_with_the_mean_gradient():
    w_acc, w_ref = tg.Variable([1.0, 2.0]), tg.Variable([1.0, 2.0])
    acc = optimizers.Adam(0.1, gradient_accumulation_steps=3)
    ref = optimizers.Adam(0.1)
    grads = [np.array([1.0, -2.0], "float32"), np.array([3.0, 0.5], "float32")]
    grads.append(np.array([-1.0, 1.0], "float32"))
    for g in grads:
        acc.apply([tg.tensor(g)], [w_acc])
    ref.apply([tg.tensor(np.mean(grads, axis=0))], [w_ref])
    np.testing.assert_allclose(w_acc.numpy(), w_ref.numpy(), rtol=1e-6)


def test_loss_scale_optimizer_skips_non_finite_steps_compiled():
    w = tg.Variable([1.0, 1.0])
    opt = optimizers.LossScaleOptimizer(optimizers.Adam(0.1), initial_scale=8.0)
    opt.build([w])
    step = tg.function(lambda g: opt.apply([g], [w]))
    step(tg.tensor([np.nan, 1.0]))
    np.testing.assert_array_equal(w.numpy(), [1.0, 1.0])  # skipped: nothing moved
    assert float(opt.dynamic_scale.numpy()) == 4.0
    assert int(opt.iterations) == 0
    step(tg.tensor([4.0, 4.0]))
    assert float(w.numpy()[0]) == pytest.approx(0.9, rel=1e-5)
    assert int(opt.iterations) == 1


@pytest.mark.parametrize(
    "optimizer",
    [
        lambda: optimizers.LossScaleOptimizer(optimizers.Adam(0.01), initial_scale=64.0),
        lambda: optimizers.Muon(exclude_layers=["dense_1"]),
        lambda: optimizers.ScheduleFreeAdamW(warmup_steps=2),
        lambda: optimizers.Adam(gradient_accumulation_steps=2, loss_scale_factor=4.0),
        lambda: optimizers.MultiOptimizer(
            optimizers.OptimizerMap(optimizers.SGD(0.1), {"(.*/)?kernel": optimizers.Adam()})
        ),
    ],
    ids=["loss-scale", "muon", "schedule-free", "accumulation", "multi"],
)
def test_new_optimizers_save_and_load_with_their_state(optimizer, tmp_path):
    model, _ = _fit(optimizer(), run_eagerly=False)
    path = tmp_path / "model.tapegrad"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded.optimizer) is type(model.optimizer)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    saved = [v.numpy() for v in model.optimizer.variables]
    restored = [v.numpy() for v in loaded.optimizer.variables]
    assert len(restored) == len(saved)
    if isinstance(model.optimizer, optimizers.MultiOptimizer):  # kernels: Adam, biases: SGD
        assert [len(o.variables) for o in loaded.optimizer.optimizers] == [6, 2]
    for a, b in zip(saved, restored, strict=True):
        np.testing.assert_array_equal(a, b)


def test_serialize_round_trips_the_inner_optimizer():
    opt = optimizers.LossScaleOptimizer(optimizers.SGD(0.5, momentum=0.9), dynamic_growth_steps=7)
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert isinstance(again.inner_optimizer, optimizers.SGD)
    assert again.inner_optimizer.momentum == 0.9
    assert again.dynamic_growth_steps == 7
    assert again.learning_rate.numpy() == pytest.approx(0.5)


def test_muon_sends_non_matrices_embeddings_and_excluded_layers_to_adamw():
    opt = optimizers.Muon(exclude_layers=["head"])
    names = ["dense/kernel", "dense/bias", "embedding/embeddings", "head/kernel", "conv/kernel"]
    shapes = [(3, 4), (4,), (5, 3), (4, 2), (3, 3, 2, 2)]
    chosen = [
        opt.should_use_adamw(tg.Variable(np.zeros(s, "float32"), name=n))
        for n, s in zip(names, shapes, strict=True)
    ]
    assert chosen == [False, True, True, True, True]


def test_argument_checks_name_the_argument():
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        optimizers.SGD(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="loss_scale_factor"):
        optimizers.SGD(loss_scale_factor=0.0)
    with pytest.raises(ValueError, match="clipnorm"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), clipnorm=1.0)
    with pytest.raises(ValueError, match="dynamic=False"):
        optimizers.LossScaleOptimizer(optimizers.SGD(), dynamic=False)
    with pytest.raises(TypeError, match="inner_optimizer"):
        optimizers.LossScaleOptimizer("sgd")
    with pytest.raises(ValueError, match="beta_1"):
        optimizers.ScheduleFreeAdamW(beta_1=0.0)
    with pytest.raises(ValueError, match="exclude_layers"):
        optimizers.Muon(exclude_layers="dense")


def test_a_keras_style_custom_optimizer_runs_unchanged():
    # update_step written for Keras 3: self.assign_* and add_optimizer_variables with a list.
    class MomentumSign(optimizers.Optimizer):
        def build(self, var_list):
            if self.built:
                return
            super().build(var_list)
            self.m, self.count = self.add_optimizer_variables(var_list, ["m", "count"])

        def update_step(self, gradient, variable, learning_rate):
            index = self._get_variable_index(variable)
            self.assign(self.m[index], 0.5 * self.m[index] + gradient)
            self.assign_add(self.count[index], tg.numpy.ones_like(gradient))
            self.assign_sub(variable, learning_rate * tg.numpy.sign(self.m[index]))

    w = tg.Variable([1.0, -1.0], name="w")
    opt = MomentumSign(learning_rate=0.25)
    opt.apply([tg.tensor([2.0, -4.0])], [w])
    opt.apply([tg.tensor([-1.0, 1.0])], [w])
    assert [v.name for v in opt.variables] == ["iteration", "learning_rate", "w_m", "w_count"]
    # w[0]: m = 2 (step 0.25), then m = 0.5 * 2 - 1 = 0 (no step); w[1]: two steps up.
    np.testing.assert_array_equal(w.numpy(), [0.75, -0.5])
    np.testing.assert_array_equal(opt.variables[3].numpy(), [2.0, 2.0])


def test_set_weights_and_own_variables_round_trip():
    w = tg.Variable(np.ones((2, 2), "float32"), name="w")
    opt = optimizers.Adam(0.1)
    opt.apply([tg.tensor(np.ones((2, 2), "float32"))], [w])
    store: dict = {}
    opt.save_own_variables(store)
    assert sorted(store) == ["0", "1", "2", "3"]
    other = optimizers.Adam(0.1)
    with pytest.warns(UserWarning, match="Skipping"):
        other.load_own_variables(store)  # not built: 2 variables, 4 stored
    other.build([tg.Variable(np.zeros((2, 2), "float32"), name="w")])
    other.load_own_variables(store)
    for a, b in zip(opt.variables, other.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    third = optimizers.Adam(0.1)
    third.build([tg.Variable(np.zeros((2, 2), "float32"), name="w")])
    third.set_weights([v.numpy() for v in opt.variables])
    assert int(third.iterations) == 1
    with pytest.raises(ValueError, match="shape"):
        third.set_weights([np.zeros(()), np.zeros(()), np.zeros(3), np.zeros(3)])


@pytest.mark.parametrize(
    "make",
    [
        lambda: optimizers.ScheduleFreeAdamW(0.01, warmup_steps=2),
        lambda: optimizers.Muon(learning_rate=0.01),
        lambda: optimizers.LossScaleOptimizer(optimizers.Adam(0.01), dynamic_growth_steps=2),
        lambda: optimizers.Nadam(0.01, gradient_accumulation_steps=2, use_ema=True),
        lambda: optimizers.MultiOptimizer(
            optimizers.OptimizerMap(optimizers.SGD(0.1), {"(.*/)?bias": optimizers.Lion(0.01)})
        ),
    ],
    ids=["schedule-free", "muon", "loss-scale", "nadam-accumulation-ema", "multi"],
)
def test_compiled_fit_equals_eager_fit(make):
    # The optimizer is built inside the first compiled step: what build does must not
    # become part of every step.
    eager, eager_loss = _fit(make(), run_eagerly=True, epochs=2)
    compiled, compiled_loss = _fit(make(), run_eagerly=False, epochs=2)
    np.testing.assert_allclose(compiled_loss, eager_loss, rtol=1e-6)
    for a, b in zip(eager.weights, compiled.weights, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
