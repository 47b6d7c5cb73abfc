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
    # w (2, 3): r (2,), c (3,), velocity (2, 3); b (3,): velocity only.
    assert shapes == [(2,), (2, 3), (3,), (3,)]


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
