"""Nadam, Adamax, Adadelta, Lion, Ftrl, Lamb, Adafactor: Keras 3.15 numbers, compiled = eager,
configs and state through save/load."""

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn import optimizers

W0 = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7]], np.float32)
B0 = np.array([0.1, -0.2, 0.3], np.float32)


def grads(step):
    gw = np.array([[0.3, -0.2, 0.5], [-0.4, 0.1, 0.25]], np.float32) * (step + 1) - 0.1 * step
    gb = np.array([0.2, -0.5, 0.05], np.float32) / (step + 1)
    return gw.astype(np.float32), gb.astype(np.float32)


# Weights after three `apply` steps of the gradients above, recorded with Keras 3.15 (JAX):
# keras.optimizers.<name>(**kwargs).apply([gw, gb], [w, b]) from W0, B0.
KERAS = {
    "Nadam": (
        "Nadam",
        {"learning_rate": 0.1},
        [
            [0.21302145719528198, -0.7014724016189575, 1.7101314067840576],
            [1.7963004112243652, 0.045228905975818634, -0.9852795004844666],
        ],
        [-0.09928899258375168, -0.0007109455764293671, 0.10071136057376862],
    ),
    "Adamax": (
        "Adamax",
        {"learning_rate": 0.1},
        [
            [0.24551573395729065, -0.7632920742034912, 1.7496647834777832],
            [1.740473747253418, 3.7997961044311523e-07, -0.9568760395050049],
        ],
        [-0.13267013430595398, 0.03267021104693413, 0.06733020395040512],
    ),
    "Adadelta": (
        "Adadelta",
        {"learning_rate": 1.0},
        [
            [0.4948175549507141, -0.9944499731063843, 1.9947291612625122],
            [1.5054757595062256, 0.2957095801830292, -0.7051312923431396],
        ],
        [0.09702464938163757, -0.19702458381652832, 0.29702597856521606],
    ),
    "Lion": (
        "Lion",
        {"learning_rate": 0.1},
        [
            [0.20000001788139343, -0.6999999284744263, 1.6999999284744263],
            [1.8000000715255737, 1.4901161193847656e-08, -1.0],
        ],
        [-0.20000000298023224, 0.10000000149011612, 1.4901161193847656e-08],
    ),
    "Ftrl": (
        "Ftrl",
        {"learning_rate": 0.1},
        [
            [-0.07952728867530823, 0.05749690160155296, 0.685871422290802],
            [0.8156201839447021, -0.07279244065284729, -0.35289838910102844],
        ],
        [-0.08075133711099625, 0.05546288564801216, -0.02490425482392311],
    ),
    "Ftrl_reg": (
        "Ftrl",
        {
            "learning_rate": 0.1,
            "l1_regularization_strength": 0.01,
            "l2_regularization_strength": 0.02,
            "l2_shrinkage_regularization_strength": 0.03,
            "beta": 0.5,
            "learning_rate_power": -0.6,
        },
        [
            [-0.062409017235040665, 0.06151379644870758, 0.36835989356040955],
            [0.4518590271472931, -0.033328358083963394, -0.17641878128051758],
        ],
        [-0.037056345492601395, 0.031991634517908096, -0.011519614607095718],
    ),
    "Lamb": (
        "Lamb",
        {"learning_rate": 0.1},
        [
            [0.15486514568328857, -0.664753794670105, 1.6566054821014404],
            [1.837904691696167, -0.049832358956336975, -1.0460013151168823],
        ],
        [0.04092385992407799, -0.1409238576889038, 0.24092398583889008],
    ),
    "Adafactor": (
        "Adafactor",
        {"learning_rate": 0.1},
        [
            [0.2687549591064453, -0.561697244644165, 1.5945779085159302],
            [1.9630883932113647, 0.15818026661872864, -0.9211992025375366],
        ],
        [0.05540843307971954, -0.15540844202041626, 0.2554084360599518],
    ),
    "Adafactor_big": (
        "Adafactor",
        {"learning_rate": 0.9, "relative_step": False},
        [
            [-1.6503937244415283, 3.1080973148345947, -1.7939503192901611],
            [5.829946041107178, -0.9924331903457642, -2.757387161254883],
        ],
        [-0.160276398062706, 0.060276396572589874, 0.03972361236810684],
    ),
    "Nadam_default": (
        "Nadam",
        {},
        [
            [0.49713021516799927, -0.9970147013664246, 1.9971014261245728],
            [1.5029629468917847, 0.29745230078697205, -0.7028527855873108],
        ],
        [0.09800711274147034, -0.19800710678100586, 0.29800713062286377],
    ),
}


def run(optimizer, steps=3, step_fn=None):
    w, b = tg.Variable(W0), tg.Variable(B0)

    def step(gw, gb):
        optimizer.apply([gw, gb], [w, b])

    if step_fn is not None:
        step = step_fn(step)
    for s in range(steps):
        gw, gb = grads(s)
        step(tg.tensor(gw), tg.tensor(gb))
    return w, b


@pytest.mark.parametrize("case", sorted(KERAS))
def test_update_rule_matches_keras(case):
    name, kwargs, w_keras, b_keras = KERAS[case]
    w, b = run(getattr(optimizers, name)(**kwargs))
    np.testing.assert_allclose(w.numpy(), w_keras, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(b.numpy(), b_keras, rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("case", sorted(KERAS))
def test_compiled_step_equals_eager(case):
    name, kwargs, _, _ = KERAS[case]
    w_eager, b_eager = run(getattr(optimizers, name)(**kwargs))
    w_compiled, b_compiled = run(getattr(optimizers, name)(**kwargs), step_fn=tg.function)
    np.testing.assert_allclose(w_compiled.numpy(), w_eager.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(b_compiled.numpy(), b_eager.numpy(), rtol=1e-6, atol=1e-7)


NEW = ["Nadam", "Adamax", "Adadelta", "Lion", "Ftrl", "Lamb", "Adafactor"]


@pytest.mark.parametrize("name", NEW)
def test_defaults_names_and_get(name):
    cls = getattr(optimizers, name)
    opt = cls()
    assert opt.name == name.lower()
    assert float(opt.learning_rate.numpy()) == pytest.approx(0.001)
    assert type(optimizers.get(name.lower())) is cls
    config = optimizers.serialize(cls(learning_rate=0.05))
    again = optimizers.deserialize(config)
    assert type(again) is cls and again.get_config() == config["config"]


def test_keras_default_hyperparameters():
    assert optimizers.Lion().get_config()["beta_2"] == 0.99
    assert optimizers.Adadelta().get_config()["rho"] == 0.95
    ftrl = optimizers.Ftrl().get_config()
    assert (ftrl["learning_rate_power"], ftrl["initial_accumulator_value"]) == (-0.5, 0.1)
    ada = optimizers.Adafactor().get_config()
    assert (ada["beta_2_decay"], ada["epsilon_1"], ada["epsilon_2"]) == (-0.8, 1e-30, 1e-3)
    assert (ada["clip_threshold"], ada["relative_step"]) == (1.0, True)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optimizers.Lion(beta_1=0.0), "beta_1"),
        (lambda: optimizers.Nadam(beta_2=1.5), "beta_2"),
        (lambda: optimizers.Adadelta(rho=-0.1), "rho"),
        (lambda: optimizers.Ftrl(learning_rate_power=0.5), "learning_rate_power"),
        (lambda: optimizers.Ftrl(l1_regularization_strength=-1.0), "l1_regularization_strength"),
        (lambda: optimizers.Adafactor(clip_threshold=0.0), "clip_threshold"),
        (lambda: optimizers.Adafactor(relative_step="yes"), "relative_step"),
        (lambda: optimizers.Lamb(epsilon=-1.0), "epsilon"),
    ],
)
def test_bad_arguments_name_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_adafactor_factors_only_rank_two_variables():
    opt = optimizers.Adafactor()
    w, b = run(opt, steps=1)
    shapes = sorted(tuple(v.shape) for v in opt.variables[2:])
    # w (2, 3): r (2,), c (3,), velocity (2, 3); b (3,): velocity and two unused scalar
    # placeholders for r and c (Keras 3 creates and saves them too).
    assert shapes == [(), (), (2,), (2, 3), (3,), (3,)]


def test_nadam_u_product_advances_once_per_step():
    opt = optimizers.Nadam()
    run(opt, steps=2)
    u = [0.9 * (1 - 0.5 * 0.96**t) for t in (1, 2)]
    assert float(opt._u_product.numpy()) == pytest.approx(u[0] * u[1], rel=1e-6)


X = np.linspace(-1, 1, 24, dtype=np.float32).reshape(8, 3)
Y = X.sum(axis=1, keepdims=True) ** 2


def fit_model(optimizer, jit_compile):
    tg.utils.set_random_seed(0)
    model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(2), tg.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0)
    return model


@pytest.mark.parametrize("name", NEW)
def test_fit_compiled_equals_eager_and_state_survives_save(name, tmp_path):
    make = getattr(optimizers, name)
    compiled = fit_model(make(learning_rate=0.05), jit_compile=True)
    eager = fit_model(make(learning_rate=0.05), jit_compile=False)
    for a, b in zip(compiled.get_weights(), eager.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    path = tmp_path / f"{name}.keras"
    compiled.save(path)
    loaded = tg.models.load_model(path)
    assert type(loaded.optimizer) is make
    assert loaded.optimizer.get_config() == compiled.optimizer.get_config()
    for saved, live in zip(loaded.optimizer.variables, compiled.optimizer.variables, strict=True):
        np.testing.assert_array_equal(saved.numpy(), live.numpy())
    # Training goes on from the restored state exactly as from the live one.
    compiled.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    loaded.fit(X, Y, epochs=1, batch_size=8, verbose=0)
    for a, b in zip(loaded.get_weights(), compiled.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# Schedule values at SCHEDULE_STEPS, recorded with Keras 3.15 (float32 there, float64 here).
SCHEDULE_STEPS = [0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 14, 20, 33]
SCHEDULES = {
    "poly": (
        "PolynomialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 7, "end_learning_rate": 0.01, "power": 0.5},
        [
            0.10000000149011612,
            0.09332381188869476,
            0.08606388419866562,
            0.07803360372781754,
            0.06891883164644241,
            0.05810702592134476,
            0.044016800820827484,
            0.009999999776482582,
            0.009999999776482582,
            0.009999999776482582,
            0.009999999776482582,
            0.009999999776482582,
            0.009999999776482582,
        ],
    ),
    "poly_cycle": (
        "PolynomialDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 7, "power": 2.0, "cycle": True},
        [
            0.10000000149011612,
            0.07349591702222824,
            0.051069390028715134,
            0.032720405608415604,
            0.018448976799845695,
            0.008255100809037685,
            0.002138775307685137,
            9.999999747378752e-05,
            0.018448976799845695,
            0.004687245469540358,
            9.999999747378752e-05,
            0.00032653060043230653,
            0.00042620403110049665,
        ],
    ),
    "inverse": (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.7},
        [
            0.10000000149011612,
            0.0810810849070549,
            0.06818182021379471,
            0.05882352963089943,
            0.051724135875701904,
            0.046153850853443146,
            0.0416666641831398,
            0.03797468543052673,
            0.03488371893763542,
            0.028037384152412415,
            0.02343750186264515,
            0.01764705963432789,
            0.011494253762066364,
        ],
    ),
    "inverse_stair": (
        "InverseTimeDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 3, "decay_rate": 0.7, "staircase": True},
        [
            0.10000000149011612,
            0.10000000149011612,
            0.10000000149011612,
            0.05882352963089943,
            0.05882352963089943,
            0.05882352963089943,
            0.0416666641831398,
            0.0416666641831398,
            0.0416666641831398,
            0.03225806728005409,
            0.02631578966975212,
            0.01923076994717121,
            0.011494253762066364,
        ],
    ),
    "restarts": (
        "CosineDecayRestarts",
        {"initial_learning_rate": 0.1, "first_decay_steps": 4},
        [
            0.10000000149011612,
            0.08535534143447876,
            0.04999999701976776,
            0.014644661918282509,
            0.10000000149011612,
            0.09619397670030594,
            0.08535534143447876,
            0.0691341683268547,
            0.04999999701976776,
            0.0038060189690440893,
            0.09619397670030594,
            0.04999999701976776,
            0.09409606456756592,
        ],
    ),
    "restarts_mul": (
        "CosineDecayRestarts",
        {
            "initial_learning_rate": 0.1,
            "first_decay_steps": 3,
            "t_mul": 1.0,
            "m_mul": 0.7,
            "alpha": 0.1,
        },
        [
            0.10000000149011612,
            0.07750000059604645,
            0.032499995082616806,
            0.07300000637769699,
            0.0572500005364418,
            0.02575000189244747,
            0.054100003093481064,
            0.04307500272989273,
            0.02102499268949032,
            0.017717495560646057,
            0.015402254648506641,
            0.012647104449570179,
            0.011779594235122204,
        ],
    ),
    "restarts_t": (
        "CosineDecayRestarts",
        {
            "initial_learning_rate": 0.1,
            "first_decay_steps": 2,
            "t_mul": 1.5,
            "m_mul": 0.9,
            "alpha": 0.05,
        },
        [
            0.10000000149011612,
            0.05249999836087227,
            0.09049999713897705,
            0.06912499666213989,
            0.026374995708465576,
            0.08195000141859055,
            0.07294855266809464,
            0.050156112760305405,
            0.02423749677836895,
            0.06615369766950607,
            0.022313745692372322,
            0.04850847274065018,
            0.038631316274404526,
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(SCHEDULES))
def test_schedule_values_match_keras(case):
    name, kwargs, expected = SCHEDULES[case]
    schedule = getattr(optimizers.schedules, name)(**kwargs)
    values = [float(schedule(step)) for step in SCHEDULE_STEPS]
    np.testing.assert_allclose(values, expected, rtol=1e-5, atol=1e-7)
    # A step Variable (what the optimizer passes) and a traced call give the same values.
    traced = tg.function(lambda step: schedule(step))
    for step, value in zip(SCHEDULE_STEPS[:6], expected[:6], strict=True):
        as_variable = tg.Variable(np.array(step, np.int64))
        assert float(schedule(as_variable)) == pytest.approx(value, rel=1e-5)
        assert float(traced(tg.tensor(np.array(step, np.int64)))) == pytest.approx(value, rel=1e-5)
    again = optimizers.schedules.deserialize(optimizers.schedules.serialize(schedule))
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: optimizers.schedules.PolynomialDecay(0.1, 0), "decay_steps"),
        (lambda: optimizers.schedules.PolynomialDecay(0.1, 5, cycle=1), "cycle"),
        (lambda: optimizers.schedules.InverseTimeDecay(0.1, -1, 0.5), "decay_steps"),
        (lambda: optimizers.schedules.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
        (lambda: optimizers.schedules.CosineDecayRestarts(0.1, 5, alpha=2.0), "alpha"),
    ],
)
def test_schedule_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_schedule_drives_a_saved_optimizer(tmp_path):
    schedule = optimizers.schedules.CosineDecayRestarts(0.05, first_decay_steps=3, m_mul=0.5)
    model = fit_model(optimizers.Nadam(learning_rate=schedule), jit_compile=True)
    path = tmp_path / "restarts.keras"
    model.save(path)
    loaded = tg.models.load_model(path)
    assert loaded.optimizer.get_config()["learning_rate"] == optimizers.schedules.serialize(
        schedule
    )
    assert float(loaded.optimizer.learning_rate) == pytest.approx(float(schedule(4)))
