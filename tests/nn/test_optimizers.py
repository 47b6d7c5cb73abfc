"""Optimizers and schedules against their published update equations.

Each optimizer runs a few steps on a closed-form quadratic, f(w) = 0.5 * sum(a * (w - b)**2)
whose gradient a * (w - b) is known, and is compared with the same steps written out in
NumPy float64 from the update equations of the Keras 3 documentation and the papers.
"""

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad.nn import optimizers
from tapegrad.nn.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop, schedules

A = np.array([1.0, 4.0, 0.25])
B = np.array([1.0, -2.0, 3.0])
W0 = np.array([0.5, 1.0, -1.0])
STEPS = 6


def quadratic_grad(w):
    return A * (w - B)


# -- reference steps in NumPy float64: step(w, g, state, t, lr) -> new w ------------------
def sgd_ref(momentum=0.0, nesterov=False):
    def step(w, g, state, t, lr):
        if momentum == 0:
            return w - lr * g
        v = momentum * state.get("v", np.zeros_like(w)) - lr * g
        state["v"] = v
        return w + momentum * v - lr * g if nesterov else w + v

    return step


def adam_ref(beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    def step(w, g, state, t, lr):
        m = beta_1 * state.get("m", 0.0) + (1 - beta_1) * g
        v = beta_2 * state.get("v", 0.0) + (1 - beta_2) * g * g
        state["m"], state["v"] = m, v
        if amsgrad:
            v = state["v_hat"] = np.maximum(state.get("v_hat", 0.0), v)
        # Kingma & Ba, the form just before section 2.1 ("epsilon hat").
        lr_t = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        return w - lr_t * m / (np.sqrt(v) + epsilon)

    return step


def rmsprop_ref(rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    def step(w, g, state, t, lr):
        v = state["v"] = rho * state.get("v", 0.0) + (1 - rho) * g * g
        if centered:
            a = state["a"] = rho * state.get("a", 0.0) + (1 - rho) * g
            increment = lr * g / np.sqrt(v - a * a + epsilon)
        else:
            increment = lr * g / np.sqrt(v + epsilon)
        if momentum > 0:
            state["mom"] = momentum * state.get("mom", 0.0) + increment
            return w - state["mom"]
        return w - increment

    return step


def adagrad_ref(initial_accumulator_value=0.1, epsilon=1e-7):
    def step(w, g, state, t, lr):
        acc = state["acc"] = state.get("acc", initial_accumulator_value) + g * g
        return w - lr * g / np.sqrt(acc + epsilon)

    return step


def reference_trajectory(step, lr=lambda t: 0.1, weight_decay=None, steps=STEPS):
    w, state, out = W0.copy(), {}, []
    for t in range(1, steps + 1):
        g = quadratic_grad(w)
        if weight_decay:
            w = w - w * weight_decay * lr(t)
        w = step(w, g, state, t, lr(t))
        out.append(w)
    return np.array(out)


def optimizer_trajectory(opt, dtype=np.float64, steps=STEPS):
    w = tg.Variable(W0.astype(dtype), name="w")
    out = []
    for _ in range(steps):
        opt.apply_gradients([(tg.tensor(quadratic_grad(w.numpy()).astype(dtype)), w)])
        assert w.dtype == dtype
        out.append(w.numpy().astype(np.float64))
    return np.array(out)


# (id, optimizer factory, reference step, weight decay the reference applies)
CASES = [
    ("sgd", lambda: SGD(0.1), sgd_ref(), None),
    ("sgd_momentum", lambda: SGD(0.1, momentum=0.9), sgd_ref(0.9), None),
    ("sgd_nesterov", lambda: SGD(0.1, momentum=0.9, nesterov=True), sgd_ref(0.9, True), None),
    ("sgd_weight_decay", lambda: SGD(0.1, weight_decay=0.3), sgd_ref(), 0.3),
    ("adam", lambda: Adam(0.1), adam_ref(), None),
    ("adam_betas", lambda: Adam(0.1, 0.5, 0.6, 1e-3), adam_ref(0.5, 0.6, 1e-3), None),
    (
        "adam_amsgrad",
        lambda: Adam(0.1, beta_2=0.5, amsgrad=True),
        adam_ref(beta_2=0.5, amsgrad=True),
        None,
    ),
    ("adamw", lambda: AdamW(0.1, weight_decay=0.2), adam_ref(), 0.2),
    ("adamw_amsgrad", lambda: AdamW(0.1, 0.2, amsgrad=True), adam_ref(amsgrad=True), 0.2),
    ("rmsprop", lambda: RMSprop(0.1), rmsprop_ref(), None),
    ("rmsprop_momentum", lambda: RMSprop(0.1, momentum=0.5), rmsprop_ref(momentum=0.5), None),
    ("rmsprop_centered", lambda: RMSprop(0.1, centered=True), rmsprop_ref(centered=True), None),
    (
        "rmsprop_centered_momentum",
        lambda: RMSprop(0.1, 0.8, 0.5, 1e-6, True),
        rmsprop_ref(0.8, 0.5, 1e-6, True),
        None,
    ),
    ("adagrad", lambda: Adagrad(0.1), adagrad_ref(), None),
    ("adagrad_options", lambda: Adagrad(0.1, 1.0, 1e-3), adagrad_ref(1.0, 1e-3), None),
]


@pytest.mark.parametrize("make, step, decay", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_matches_update_equations_float64(make, step, decay):
    expected = reference_trajectory(step, weight_decay=decay)
    np.testing.assert_allclose(optimizer_trajectory(make()), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make, step, decay", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_float32_variables_stay_float32(make, step, decay):
    opt = make()
    expected = reference_trajectory(step, weight_decay=decay)
    np.testing.assert_allclose(
        optimizer_trajectory(opt, np.float32), expected, rtol=2e-5, atol=2e-6
    )
    assert all(slot.dtype == np.float32 for slot in opt.variables[2:])


def test_amsgrad_case_is_not_plain_adam():
    # Guards the amsgrad cases above: with beta_2=0.5 the velocity shrinks, so the max matters.
    plain = reference_trajectory(adam_ref(beta_2=0.5))
    ams = reference_trajectory(adam_ref(beta_2=0.5, amsgrad=True))
    assert np.abs(plain - ams).max() > 1e-3


def test_float32_variable_with_float64_gradient_stays_float32():
    w = tg.Variable(np.ones(2, np.float32))
    Adam(0.1).apply_gradients([(np.array([1.0, -1.0]), w)])
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.numpy(), [0.9, 1.1], rtol=1e-5)


@given(
    shape=st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
    seed=st.integers(0, 2**16),
)
def test_updates_are_elementwise_for_any_shape(shape, seed):
    rng = np.random.default_rng(seed)
    w0, g = rng.normal(size=shape), rng.normal(size=shape)
    for opt, step in [
        (Adam(0.1), adam_ref()),
        (RMSprop(0.1, centered=True), rmsprop_ref(centered=True)),
    ]:
        w = tg.Variable(w0.copy())
        opt.apply_gradients([(tg.tensor(g), w)])
        np.testing.assert_allclose(w.numpy(), step(w0, g, {}, 1, 0.1), rtol=1e-10, atol=1e-12)
        assert w.shape == shape


# -- state --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, slots_per_variable",
    [
        (SGD, 0),
        (lambda: SGD(momentum=0.5), 1),
        (Adam, 2),
        (lambda: Adam(amsgrad=True), 3),
        (RMSprop, 1),
        (lambda: RMSprop(momentum=0.1, centered=True), 3),
        (Adagrad, 1),
    ],
    ids=["sgd", "sgd_momentum", "adam", "adam_amsgrad", "rmsprop", "rmsprop_all", "adagrad"],
)
def test_variables_hold_iterations_rate_and_slots(make, slots_per_variable):
    opt = make()
    ws = [tg.Variable(np.zeros((2, 3)), name="kernel"), tg.Variable(np.zeros(3), name="bias")]
    opt.apply_gradients((tg.tensor(np.ones(w.shape)), w) for w in ws)
    assert opt.variables[0] is opt.iterations and int(opt.iterations) == 1
    assert opt.variables[1] is opt.learning_rate
    slots = opt.variables[2:]
    assert len(slots) == 2 * slots_per_variable
    assert all(not s.trainable for s in opt.variables)
    assert sorted({s.shape for s in slots}) == sorted({(2, 3), (3,)} if slots else set())


def test_slots_are_named_after_their_variable():
    w = tg.Variable([1.0], name="dense_kernel")
    opt = Adam()
    opt.build([w])
    assert [v.name for v in opt.variables] == [
        "iteration",
        "learning_rate",
        "dense_kernel_momentum",
        "dense_kernel_velocity",
    ]


def test_adagrad_accumulator_starts_at_initial_value():
    w = tg.Variable(np.zeros(2, np.float32))
    opt = Adagrad(initial_accumulator_value=0.25)
    opt.build([w])
    np.testing.assert_array_equal(opt.variables[-1].numpy(), [0.25, 0.25])


def test_updates_are_in_place_on_the_same_variable():
    w = tg.Variable([1.0, 2.0])
    opt = SGD(0.5, momentum=0.5)
    opt.apply_gradients([(tg.tensor([1.0, 1.0]), w)])
    opt.apply_gradients([(tg.tensor([1.0, 1.0]), w)])
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.5 - 0.75, 2.0 - 0.5 - 0.75])
    assert opt._trainable_variables[0] is w


def test_iterations_count_updates_and_apply_gradients_returns_them():
    w = tg.Variable(1.0)
    opt = Adam()
    for i in range(3):
        assert int(opt.apply_gradients([(tg.tensor(1.0), w)])) == i + 1
    assert opt.iterations.dtype == np.int64


def test_learning_rate_is_settable():
    w = tg.Variable(1.0)
    opt = SGD(0.5)
    assert float(opt.learning_rate) == 0.5
    opt.learning_rate = 0.25
    opt.apply_gradients([(tg.tensor(1.0), w)])
    assert float(w) == 0.75 and float(opt.learning_rate) == 0.25
    assert opt.get_config()["learning_rate"] == 0.25


def test_learning_rate_can_become_a_schedule():
    w = tg.Variable(0.0)
    opt = SGD(1.0)
    opt.apply_gradients([(tg.tensor(1.0), w)])  # iterations == 1 == the old rate
    opt.learning_rate = schedules.ExponentialDecay(0.5, 1, 0.5)
    assert [v.name for v in opt.variables] == ["iteration"]
    opt.apply_gradients([(tg.tensor(1.0), w)])  # rate 0.5 * 0.5**1
    assert float(w) == -1.25


def test_callable_learning_rate():
    w = tg.Variable(1.0)
    rate = [0.5]
    opt = SGD(lambda: rate[0])
    opt.apply_gradients([(tg.tensor(1.0), w)])
    rate[0] = 0.25
    opt.apply_gradients([(tg.tensor(1.0), w)])
    assert float(w) == 0.25
    with pytest.raises(ValueError, match="plain callable"):
        opt.get_config()


# -- clipping and weight decay ------------------------------------------------------------
def sgd_step(grads, values=None, **kwargs):
    values = values or [np.zeros(np.shape(g)) for g in grads]
    ws = [tg.Variable(np.array(v, dtype=np.float64)) for v in values]
    SGD(1.0, **kwargs).apply_gradients(
        zip([tg.tensor(np.array(g)) for g in grads], ws, strict=True)
    )
    return [-w.numpy() for w in ws]


def test_clipnorm_rescales_each_gradient_to_the_norm():
    big, small = sgd_step([[3.0, 4.0], [0.3, 0.4]], clipnorm=1.0)
    np.testing.assert_allclose(big, [0.6, 0.8])
    np.testing.assert_allclose(small, [0.3, 0.4])  # norm 0.5 < 1: untouched


def test_global_clipnorm_rescales_all_gradients_together():
    a, b = sgd_step([[3.0], [4.0]], global_clipnorm=1.0)
    np.testing.assert_allclose([a, b], [[0.6], [0.8]])
    a, b = sgd_step([[0.3], [0.4]], global_clipnorm=1.0)
    np.testing.assert_allclose([a, b], [[0.3], [0.4]])


def test_global_clipnorm_of_non_finite_gradients_is_nan():
    (a,) = sgd_step([[np.inf, 1.0]], global_clipnorm=1.0)
    assert np.isnan(a).all()


def test_clipvalue_clips_elementwise():
    (g,) = sgd_step([[-3.0, 0.2, 5.0]], clipvalue=0.5)
    np.testing.assert_allclose(g, [-0.5, 0.2, 0.5])


def test_clipping_happens_before_the_update_rule():
    w = tg.Variable(np.zeros(2))
    Adagrad(1.0, initial_accumulator_value=0.0, epsilon=0.0, clipnorm=1.0).apply_gradients(
        [(tg.tensor([3.0, 4.0]), w)]
    )
    np.testing.assert_allclose(w.numpy(), [-1.0, -1.0])  # clipped g / sqrt(g**2)


@pytest.mark.parametrize(
    "kwargs", [{"clipnorm": 1.0, "clipvalue": 1.0}, {"clipnorm": 1.0, "global_clipnorm": 2.0}]
)
def test_only_one_clipping_argument(kwargs):
    with pytest.raises(ValueError, match="only one of"):
        SGD(**kwargs)


def test_negative_clip_or_decay_is_rejected():
    with pytest.raises(ValueError, match="clipnorm"):
        SGD(clipnorm=-1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        Adam(weight_decay=-0.1)


def test_weight_decay_is_decoupled_and_uses_the_learning_rate():
    w = tg.Variable([2.0, -4.0])
    RMSprop(0.1, weight_decay=0.5).apply_gradients([(tg.tensor([0.0, 0.0]), w)])
    np.testing.assert_allclose(w.numpy(), [1.9, -3.8], rtol=1e-6)


def test_exclude_from_weight_decay():
    kernel, bias, other = (
        tg.Variable([1.0]),
        tg.Variable([1.0], name="dense_bias"),
        tg.Variable([1.0]),
    )
    opt = SGD(1.0, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_list=[other], var_names=["bias"])
    opt.apply_gradients([(tg.tensor([0.0]), v) for v in (kernel, bias, other)])
    assert [float(v[0]) for v in (kernel, bias, other)] == [0.5, 1.0, 1.0]
    with pytest.raises(ValueError, match="before"):
        opt.exclude_from_weight_decay(var_names=["x"])


def test_adamw_requires_weight_decay_and_defaults_to_keras_value():
    assert AdamW().weight_decay == 0.004
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=None)


# -- schedules ----------------------------------------------------------------------------
@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay_values(staircase):
    schedule = schedules.ExponentialDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=staircase)
    for step in [0, 1, 3, 4, 6, 10]:
        p = step // 4 if staircase else step / 4
        assert float(schedule(step)) == pytest.approx(0.1 * 0.5**p, rel=1e-12)


def test_cosine_decay_values_without_warmup():
    schedule = schedules.CosineDecay(0.2, decay_steps=100, alpha=0.1)
    for step in [0, 25, 50, 99, 100, 150]:
        cosine = 0.5 * (1 + math.cos(math.pi * min(step, 100) / 100))
        expected = 0.2 * ((1 - 0.1) * cosine + 0.1)
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("warmup_steps", [0, 10])
def test_cosine_decay_values_with_warmup(warmup_steps):
    schedule = schedules.CosineDecay(
        0.0, decay_steps=20, alpha=0.5, warmup_target=1.0, warmup_steps=warmup_steps
    )
    for step in [0, 3, 9, 10, 15, 29, 30, 31, 100]:
        if step < warmup_steps:
            expected = 1.0 * step / warmup_steps
        else:
            s = min(step - warmup_steps, 20)
            expected = 1.0 * (0.5 * 0.5 * (1 + math.cos(math.pi * s / 20)) + 0.5)
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_piecewise_constant_values():
    schedule = schedules.PiecewiseConstantDecay([3, 7], [1.0, 0.5, 0.25])
    got = [float(schedule(step)) for step in range(10)]
    assert got == [1.0] * 4 + [0.5] * 4 + [0.25] * 2


def test_schedules_accept_a_step_variable():
    step = tg.Variable(5, trainable=False, dtype=np.int64)
    value = schedules.ExponentialDecay(1.0, 5, 0.5)(step)
    assert isinstance(value, tg.Tensor) and float(value) == 0.5


@pytest.mark.parametrize(
    "make",
    [
        lambda: schedules.ExponentialDecay(0.1, 0, 0.5),
        lambda: schedules.CosineDecay(0.1, -1),
        lambda: schedules.CosineDecay(0.1, 10, warmup_steps=-1),
        lambda: schedules.PiecewiseConstantDecay([1, 2], [1.0, 0.5]),
        lambda: schedules.PiecewiseConstantDecay([2, 2], [1.0, 0.5, 0.1]),
    ],
)
def test_schedule_argument_errors(make):
    with pytest.raises(ValueError):
        make()


def test_optimizer_calls_schedule_with_iterations_before_the_update():
    schedule = schedules.PiecewiseConstantDecay([0, 2], [1.0, 0.5, 0.25])
    w = tg.Variable(np.zeros(1))
    opt = SGD(schedule)
    rates = []
    for _ in range(4):
        rates.append(float(opt.learning_rate))
        opt.apply_gradients([(tg.tensor([1.0]), w)])
    assert rates == [1.0, 0.5, 0.5, 0.25]
    assert float(w[0]) == -(1.0 + 0.5 + 0.5 + 0.25)
    assert [v.name for v in opt.variables] == ["iteration"]  # no rate Variable
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.1


def test_adam_with_a_schedule_matches_reference():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5)
    expected = reference_trajectory(adam_ref(), lr=lambda t: 0.1 * 0.5 ** ((t - 1) / 2))
    np.testing.assert_allclose(optimizer_trajectory(Adam(schedule)), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "schedule",
    [
        schedules.ExponentialDecay(0.1, 10, 0.9, staircase=True),
        schedules.CosineDecay(0.1, 100, alpha=0.1, warmup_target=0.5, warmup_steps=5),
        schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]),
    ],
    ids=lambda s: type(s).__name__,
)
def test_schedule_config_round_trip(schedule):
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    rebuilt = schedules.deserialize(config)
    assert type(rebuilt) is type(schedule) and rebuilt.get_config() == schedule.get_config()
    for step in [0, 7, 15, 200]:
        assert float(rebuilt(step)) == float(schedule(step))


# -- minimize and get_gradients -----------------------------------------------------------
def quadratic_loss(w):
    return 0.5 * tnp.sum(A * (w - B) ** 2)


def test_minimize_with_a_callable():
    w = tg.Variable(W0.copy())
    opt = SGD(0.1, momentum=0.9)
    for _ in range(STEPS):
        assert opt.minimize(lambda: quadratic_loss(w), [w]) is None
    expected = reference_trajectory(sgd_ref(0.9))[-1]
    np.testing.assert_allclose(w.numpy(), expected, rtol=1e-10)


def test_minimize_with_a_tensor_loss_and_its_tape():
    w = tg.Variable(W0.copy())
    opt = Adam(0.1)
    for _ in range(STEPS):
        with tg.GradientTape() as tape:
            loss = quadratic_loss(w)
        opt.minimize(loss, [w], tape=tape)
    np.testing.assert_allclose(w.numpy(), reference_trajectory(adam_ref())[-1], rtol=1e-10)


def test_minimize_with_a_callable_var_list_and_non_trainable_variable():
    w = tg.Variable(W0.copy(), trainable=False)  # watched explicitly by minimize
    SGD(0.1).minimize(lambda: quadratic_loss(w), [w])
    np.testing.assert_allclose(w.numpy(), W0 - 0.1 * quadratic_grad(W0))
    v = tg.Variable(W0.copy())
    SGD(0.1).minimize(lambda: quadratic_loss(v), lambda: [v])
    np.testing.assert_allclose(v.numpy(), W0 - 0.1 * quadratic_grad(W0))
    u = tg.Variable(W0.copy())
    SGD(0.1).minimize(lambda: quadratic_loss(u), (x for x in [u]))  # a one-shot iterable
    np.testing.assert_allclose(u.numpy(), W0 - 0.1 * quadratic_grad(W0))


def test_minimize_tensor_loss_without_tape_is_an_error():
    w = tg.Variable(1.0)
    with pytest.raises(ValueError, match="tape"):
        SGD().minimize(w * w, [w])


def test_get_gradients_returns_clipped_gradients():
    w = tg.Variable(W0.copy(), name="w")
    (g,) = SGD().get_gradients(lambda: quadratic_loss(w), [w])
    np.testing.assert_allclose(g.numpy(), quadratic_grad(W0))
    (g,) = SGD(clipvalue=0.5).get_gradients(lambda: quadratic_loss(w), [w])
    np.testing.assert_allclose(g.numpy(), np.clip(quadratic_grad(W0), -0.5, 0.5))


def test_get_gradients_errors():
    w, unused = tg.Variable(1.0, name="w"), tg.Variable(1.0, name="unused")
    with pytest.raises(ValueError, match="unused"):
        SGD().get_gradients(lambda: w * w, [w, unused])
    with pytest.raises(TypeError, match="callable"):
        SGD().get_gradients(w * w, [w])


# -- missing gradients and errors ---------------------------------------------------------
def test_none_gradients_are_skipped_with_a_warning():
    w, frozen = tg.Variable([1.0], name="w"), tg.Variable([5.0], name="frozen")
    opt = Adam(0.1)
    with pytest.warns(UserWarning, match="frozen"):
        opt.apply_gradients([(tg.tensor([1.0]), w), (None, frozen)])
    assert float(frozen[0]) == 5.0 and float(w[0]) == pytest.approx(0.9, rel=1e-5)
    assert int(opt.iterations) == 1
    slots_of_frozen = opt.variables[4:]  # Keras 3's order: w_m, w_v, frozen_m, frozen_v
    assert all(np.all(s.numpy() == 0) for s in slots_of_frozen)


def test_none_gradients_from_minimize_are_skipped():
    w, unused = tg.Variable(1.0), tg.Variable(2.0, name="unused")
    with pytest.warns(UserWarning, match="unused"):
        SGD(0.5).minimize(lambda: w * w, [w, unused])
    assert float(w) == 0.0 and float(unused) == 2.0


def test_all_gradients_none_is_an_error():
    w = tg.Variable(1.0, name="w")
    opt = SGD()
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply_gradients([(None, w)])
    assert int(opt.iterations) == 0


def test_gradient_shape_mismatch_names_variable_and_shapes():
    w = tg.Variable(np.zeros((2, 3)), name="dense/kernel")
    for grad in [np.ones(3), np.ones((1, 3)), np.ones((3, 2))]:
        with pytest.raises(ValueError) as info:
            Adam().apply_gradients([(tg.tensor(grad), w)])
        message = str(info.value)
        assert "'dense/kernel'" in message and str(grad.shape) in message
        assert "(2, 3)" in message
    assert np.all(w.numpy() == 0)


def test_unknown_variable_after_build_is_an_error():
    w, v = tg.Variable(1.0, name="w"), tg.Variable(1.0, name="late")
    opt = SGD()
    opt.apply_gradients([(tg.tensor(1.0), w)])
    with pytest.raises(ValueError, match="late"):
        opt.apply_gradients([(tg.tensor(1.0), v)])


def test_apply_without_variables_uses_the_built_order():
    a, b = tg.Variable(0.0), tg.Variable(0.0)
    opt = SGD(1.0)
    with pytest.raises(ValueError, match="build"):
        opt.apply([tg.tensor(1.0), tg.tensor(1.0)])
    opt.build([a, b])
    opt.apply([tg.tensor(1.0), tg.tensor(2.0)])
    assert (float(a), float(b)) == (-1.0, -2.0)
    with pytest.raises(ValueError, match="1 gradients for 2 variables"):
        opt.apply([tg.tensor(1.0)])
    opt.apply([])  # nothing to do: no step counted
    assert int(opt.iterations) == 1


def test_build_rejects_non_variables_and_duplicates():
    w = tg.Variable(1.0, name="w")
    with pytest.raises(TypeError, match="Tensor"):
        SGD().build([tg.tensor(1.0)])
    with pytest.raises(ValueError, match="twice"):
        SGD().build([w, w])


def test_invalid_hyperparameters():
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="learning_rate"):
        Adam(learning_rate="fast")
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        Adagrad(initial_accumulator_value=-1.0)


def test_keras_only_arguments():
    Adam(use_ema=False, ema_momentum=0.99, loss_scale_factor=None)  # Keras defaults load
    with pytest.raises(ValueError, match="loss_scale_factor"):
        Adam(loss_scale_factor=-2.0)
    with pytest.raises(ValueError, match="gradient_accumulation_steps"):
        Adam(gradient_accumulation_steps=1)
    with pytest.raises(ValueError, match="not recognized"):
        Adam(beta_3=0.5)
    with pytest.warns(UserWarning, match="decay"):
        SGD(decay=0.1)


def test_update_step_must_be_implemented():
    class Incomplete(Optimizer):
        pass

    with pytest.raises(NotImplementedError, match="Incomplete"):
        Incomplete(0.1).apply_gradients([(tg.tensor(1.0), tg.Variable(1.0))])


# -- lookup and configs -------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, cls",
    [
        ("adam", Adam),
        ("Adam", Adam),
        ("sgd", SGD),
        ("SGD", SGD),
        ("rmsprop", RMSprop),
        ("adagrad", Adagrad),
        ("adamw", AdamW),
        ("AdamW", AdamW),
    ],
)
def test_get_by_name(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls and not opt.built
    default = cls()
    assert opt.get_config() == default.get_config()


def test_get_passes_instances_and_configs_and_rejects_the_rest():
    opt = SGD(0.3)
    assert optimizers.get(opt) is opt
    assert optimizers.get(optimizers.serialize(opt)).get_config() == opt.get_config()
    with pytest.raises(ValueError, match="unknown optimizer 'nadamax'"):
        optimizers.get("nadamax")
    with pytest.raises(ValueError, match="could not interpret"):
        optimizers.get(42)


CONFIG_CASES = [
    SGD(0.05, momentum=0.8, nesterov=True, clipnorm=2.0, name="my_sgd"),
    Adam(0.002, beta_1=0.8, beta_2=0.99, epsilon=1e-6, amsgrad=True, clipvalue=0.5),
    AdamW(0.003, weight_decay=0.01, global_clipnorm=1.0),
    RMSprop(0.01, rho=0.8, momentum=0.3, epsilon=1e-5, centered=True, weight_decay=0.1),
    Adagrad(0.2, initial_accumulator_value=0.5, epsilon=1e-6),
    Adam(schedules.CosineDecay(0.1, 50, warmup_target=0.2, warmup_steps=5)),
]


@pytest.mark.parametrize("opt", CONFIG_CASES, ids=lambda o: type(o).__name__)
def test_config_round_trip(opt):
    config = json.loads(json.dumps(optimizers.serialize(opt)))
    rebuilt = optimizers.deserialize(config)
    assert type(rebuilt) is type(opt)
    assert rebuilt.get_config() == opt.get_config()
    again = type(opt).from_config(opt.get_config())
    assert again.get_config() == opt.get_config()
    # Same hyperparameters, same trajectory.
    np.testing.assert_allclose(optimizer_trajectory(rebuilt), optimizer_trajectory(opt))


def test_config_carries_keras_keys():
    config = Adam(0.01).get_config()
    assert config == {
        "name": "adam",
        "learning_rate": 0.01,
        "weight_decay": None,
        "clipnorm": None,
        "global_clipnorm": None,
        "clipvalue": None,
        "use_ema": False,
        "ema_momentum": 0.99,
        "ema_overwrite_frequency": None,
        "loss_scale_factor": None,
        "gradient_accumulation_steps": None,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
        "amsgrad": False,
    }


def test_deserialize_accepts_keras_style_config_and_custom_objects():
    keras_config = {
        "module": "keras.optimizers",
        "class_name": "Adam",
        "registered_name": None,
        "config": {
            "name": "adam",
            "learning_rate": 0.01,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
        },
    }
    assert optimizers.deserialize(keras_config).get_config()["learning_rate"] == 0.01

    class Halving(schedules.LearningRateSchedule):
        def __call__(self, step):
            return 0.5 ** (tnp.astype(step, tnp.float64) + 1)

        def get_config(self):
            return {}

    config = optimizers.serialize(SGD(Halving()))
    rebuilt = optimizers.deserialize(config, custom_objects={"Halving": Halving})
    assert isinstance(rebuilt._learning_rate, Halving)
    with pytest.raises(ValueError, match="Halving"):
        optimizers.deserialize(config)


# -- convergence --------------------------------------------------------------------------
CONVERGENCE = {
    "sgd": (lambda: SGD(0.1), 300),
    "sgd_nesterov": (lambda: SGD(0.05, momentum=0.9, nesterov=True), 150),
    "adam": (lambda: Adam(0.1), 300),
    "adamw": (lambda: AdamW(0.1, weight_decay=1e-4), 300),
    "rmsprop_centered": (lambda: RMSprop(0.02, centered=True), 300),
    "adagrad": (lambda: Adagrad(1.0), 300),
}


@pytest.mark.parametrize("make, steps", CONVERGENCE.values(), ids=CONVERGENCE.keys())
def test_least_squares_converges(make, steps):
    opt = make()
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.normal(size=(32, 3)).astype(np.float32))
    w_true = np.array([1.5, -2.0, 0.5], np.float32)
    y = x @ tg.tensor(w_true)
    w = tg.Variable(np.zeros(3, np.float32), name="w")
    b = tg.Variable(np.float32(0.0), name="b")

    def loss():
        return tnp.mean((x @ w + b - y) ** 2)

    start = float(loss())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(steps):
            opt.minimize(loss, [w, b])
    assert float(loss()) < 1e-3 * start
    np.testing.assert_allclose(w.numpy(), w_true, atol=0.02)
    assert w.dtype == np.float32 and b.dtype == np.float32
