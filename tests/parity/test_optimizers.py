"""Live parity of the optimizers with Keras 3 (JAX backend).

Each case builds one optimizer in Keras and in tapegrad from the same arguments, gives both
the same gradients for several steps (Keras through ``stateless_apply``, the path its JAX
trainer takes) and compares the model variables and every optimizer variable: names, order
(shapes), values. Some cases also run tapegrad's update compiled by `tapegrad.function`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tests.parity.harness import ATOL, RTOL, keras

# The model variables: a matrix, a vector, a 3-D kernel (Adafactor factors it, Muon sends
# it to AdamW) and a second matrix named like an embedding (Muon's exclusion). Few distinct
# shapes: Keras' JAX backend compiles each op once per shape.
SHAPES = {"kernel": (4, 3), "bias": (3,), "conv": (2, 4, 3), "embedding": (4, 3)}
STEPS = 4


def _values(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s).astype(np.float32) for s in SHAPES.values()]


def _gradients(steps: int = STEPS, bad_step: int | None = None) -> list[list[np.ndarray]]:
    rng = np.random.default_rng(1)
    grads = [[rng.normal(size=s).astype(np.float32) for s in SHAPES.values()] for _ in range(steps)]
    if bad_step is not None:  # a non-finite gradient (LossScaleOptimizer skips the step)
        grads[bad_step][1][0] = np.inf
    return grads


def _keras_run(optimizer: Any, grads: list[list[np.ndarray]]) -> tuple[list, list, list]:
    variables = [keras.Variable(v, name=n) for n, v in zip(SHAPES, _values(0), strict=True)]
    optimizer.build(variables)
    trainable = [v.value for v in variables]
    state = [v.value for v in optimizer.variables]
    # Op by op: compiling each case's steps with jax.jit costs more than it saves here.
    for step in grads:
        trainable, state = optimizer.stateless_apply(state, step, trainable)
    names = [v.name for v in optimizer.variables]
    return [np.asarray(t) for t in trainable], names, [np.asarray(s) for s in state]


def _tapegrad_run(
    optimizer: Any, grads: list[list[np.ndarray]], compiled: bool
) -> tuple[list, list, list]:
    variables = [tg.Variable(v, name=n) for n, v in zip(SHAPES, _values(0), strict=True)]
    optimizer.build(variables)

    def step(*gradients: Any) -> None:
        optimizer.apply(list(gradients), variables)

    run = tg.function(step) if compiled else step
    for gradients in grads:
        run(*[tg.tensor(g) for g in gradients])
    names = [v.name for v in optimizer.variables]
    return (
        [v.numpy() for v in variables],
        names,
        [v.numpy() for v in optimizer.variables],
    )


def _compare(keras_result: tuple, tg_result: tuple, rtol: float = RTOL, atol: float = ATOL):
    (k_vars, k_names, k_state), (t_vars, t_names, t_state) = keras_result, tg_result
    assert [s.shape for s in t_state] == [s.shape for s in k_state], (t_names, k_names)
    assert _comparable_names(t_names) == _comparable_names(k_names)
    for name, t, k in zip(t_names, t_state, k_state, strict=True):
        # int counters: int64 here, int32 in Keras' JAX backend; the learning rate is
        # float64 here (cast per variable dtype), float32 there: values compared.
        np.testing.assert_allclose(
            t.astype(np.float64), k.astype(np.float64), rtol=rtol, atol=atol, err_msg=name
        )
    for name, t, k in zip(SHAPES, t_vars, k_vars, strict=True):
        np.testing.assert_allclose(t, k, rtol=rtol, atol=atol, err_msg=name)


# Names that differ on purpose: Keras names Adafactor's factored slots after the variable
# itself (``kernel`` twice), tapegrad ``kernel_r``/``kernel_c``; Keras leaves Nadam's
# momentum-schedule product unnamed (``variable``), tapegrad calls it ``u_product``.
_RENAMED = {"u_product": "variable"}


def _keras_default_name(name: str) -> str:
    # Keras numbers its unnamed Variables in a process: variable, variable_1, ...
    return re.sub(r"^variable_\d+$", "variable", name)


def _comparable_names(names: list[str]) -> list[str]:
    out = []
    for name in names:
        name = _keras_default_name(_RENAMED.get(name, name))
        for suffix in ("_r", "_c"):
            if name.endswith(suffix) and name[: -len(suffix)] in SHAPES:
                name = name[: -len(suffix)]
        out.append(name)
    return out


def _pair(name: str, kwargs: dict[str, Any]) -> tuple[Any, Any]:
    return getattr(keras.optimizers, name)(**kwargs), getattr(tg.optimizers, name)(**kwargs)


LR = {"learning_rate": 0.01}

# (id, class name, arguments, also compiled): every Keras 3.15 optimizer and argument.
CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    ("sgd", "SGD", LR, False),
    ("sgd-momentum-nesterov", "SGD", {**LR, "momentum": 0.9, "nesterov": True}, True),
    ("rmsprop", "RMSprop", LR, False),
    ("rmsprop-centered-momentum", "RMSprop", {**LR, "momentum": 0.5, "centered": True}, False),
    ("adam", "Adam", LR, True),
    ("adam-amsgrad", "Adam", {**LR, "amsgrad": True}, False),
    ("adamw", "AdamW", {**LR, "weight_decay": 0.1}, False),
    ("adadelta", "Adadelta", {"learning_rate": 1.0}, False),
    ("adagrad", "Adagrad", {**LR, "initial_accumulator_value": 0.2}, False),
    ("adamax", "Adamax", LR, False),
    ("adafactor", "Adafactor", LR, False),
    (
        "adafactor-options",
        "Adafactor",
        {**LR, "beta_2_decay": -0.5, "clip_threshold": 0.5, "relative_step": False},
        False,
    ),
    ("nadam", "Nadam", LR, False),
    ("nadam-accumulation", "Nadam", {**LR, "gradient_accumulation_steps": 2}, True),
    ("ftrl", "Ftrl", {**LR, "l1_regularization_strength": 0.01}, False),
    (
        "ftrl-shrinkage-beta",
        "Ftrl",
        {
            **LR,
            "l2_regularization_strength": 0.1,
            "l2_shrinkage_regularization_strength": 0.1,
            "beta": 0.5,
        },
        False,
    ),
    ("lion", "Lion", LR, False),
    ("lion-betas", "Lion", {**LR, "beta_1": 0.5, "beta_2": 0.9}, False),
    ("rmsprop-rho-epsilon", "RMSprop", {**LR, "rho": 0.5, "epsilon": 1e-3}, False),
    ("lamb", "Lamb", LR, False),
    ("muon", "Muon", LR, True),
    (
        "muon-options",
        "Muon",
        {
            **LR,
            "exclude_layers": ["kern"],
            "exclude_embeddings": False,
            "nesterov": False,
            "rms_rate": None,
            "ns_steps": 3,
            "adam_lr_ratio": 0.5,
            "adam_weight_decay": None,
        },
        False,
    ),
    ("schedule-free-adamw", "ScheduleFreeAdamW", LR, True),
    (
        "schedule-free-adamw-warmup",
        "ScheduleFreeAdamW",
        {**LR, "warmup_steps": 3, "weight_decay": 0.05},
        False,
    ),
    # The base optimizer's arguments.
    ("weight-decay", "SGD", {**LR, "weight_decay": 0.5}, False),
    ("clipnorm", "Adam", {**LR, "clipnorm": 1.0}, False),
    ("clipvalue", "SGD", {**LR, "clipvalue": 0.5}, False),
    ("global-clipnorm", "Adam", {**LR, "global_clipnorm": 1.0}, False),
    ("ema", "Adam", {**LR, "use_ema": True, "ema_momentum": 0.9}, False),
    ("ema-overwrite", "SGD", {**LR, "use_ema": True, "ema_overwrite_frequency": 2}, True),
    ("accumulation", "Adam", {**LR, "gradient_accumulation_steps": 2}, True),
    ("accumulation-sgd-3", "SGD", {**LR, "momentum": 0.9, "gradient_accumulation_steps": 3}, False),
    (
        "accumulation-ema-clip",
        "Adam",
        {
            **LR,
            "gradient_accumulation_steps": 2,
            "use_ema": True,
            "global_clipnorm": 1.0,
            "weight_decay": 0.1,
        },
        True,
    ),
    ("loss-scale-factor", "Adam", {**LR, "loss_scale_factor": 64.0}, False),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_optimizer_matches_keras(case: tuple[str, str, dict[str, Any], bool]) -> None:
    _, name, kwargs, compiled = case
    k_opt, t_opt = _pair(name, kwargs)
    grads = _gradients()
    expected = _keras_run(k_opt, grads)
    _compare(expected, _tapegrad_run(t_opt, grads, compiled=False))
    if compiled:
        _compare(expected, _tapegrad_run(_pair(name, kwargs)[1], grads, compiled=True))


# (schedule, arguments, gradient_accumulation_steps). Every schedule's values at many steps
# are in test_schedules.py; here a schedule drives an optimizer.
SCHEDULES: list[tuple[str, dict[str, Any], int | None]] = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 2, "decay_rate": 0.5}, None),
    (
        "CosineDecay",
        {"initial_learning_rate": 0.1, "decay_steps": 4, "warmup_steps": 2, "warmup_target": 0.2},
        None,
    ),
    # With accumulation the schedule sees the raw call counter, as in Keras 3.15.
    ("PiecewiseConstantDecay", {"boundaries": [1, 3], "values": [0.1, 0.05, 0.01]}, 2),
]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_as_learning_rate_matches_keras(schedule: Any) -> None:
    name, kwargs, accumulate = schedule
    k_opt = keras.optimizers.Adam(
        getattr(keras.optimizers.schedules, name)(**kwargs),
        gradient_accumulation_steps=accumulate,
    )
    t_opt = tg.optimizers.Adam(
        getattr(tg.optimizers.schedules, name)(**kwargs), gradient_accumulation_steps=accumulate
    )
    grads = _gradients()
    _compare(_keras_run(k_opt, grads), _tapegrad_run(t_opt, grads, compiled=False))


# (id, inner optimizer, its arguments, LossScaleOptimizer's, the non-finite step, compiled).
LOSS_SCALE_CASES = [
    ("sgd-growth", "SGD", {"learning_rate": 0.1}, {"dynamic_growth_steps": 2}, None, False),
    ("adam-non-finite", "Adam", LR, {"initial_scale": 4.0, "dynamic_growth_steps": 2}, 2, False),
    ("adam-non-finite-compiled", "Adam", LR, {"dynamic_growth_steps": 2}, 2, True),
    ("sgd-ema-non-finite", "SGD", {**LR, "use_ema": True}, {"initial_scale": 8.0}, 1, False),
]


@pytest.mark.parametrize("case", LOSS_SCALE_CASES, ids=[c[0] for c in LOSS_SCALE_CASES])
def test_loss_scale_optimizer_matches_keras(case: Any) -> None:
    _, inner_name, inner_kwargs, kwargs, bad_step, compiled = case
    k_inner, t_inner = _pair(inner_name, inner_kwargs)
    k_opt = keras.optimizers.LossScaleOptimizer(k_inner, **kwargs)
    t_opt = tg.optimizers.LossScaleOptimizer(t_inner, **kwargs)
    grads = _gradients(bad_step=bad_step)
    expected = _keras_run(k_opt, grads)
    _compare(expected, _tapegrad_run(t_opt, grads, compiled=compiled))
    # The loss is scaled by the current dynamic_scale (Keras' state: iteration,
    # learning_rate, step_counter, dynamic_scale, then the inner optimizer's).
    assert float(t_opt.scale_loss(tg.tensor(1.0))) == float(expected[2][3])


@pytest.mark.parametrize(
    "case", CASES + [("lso", "LossScaleOptimizer", {}, False)], ids=[c[0] for c in CASES] + ["lso"]
)
def test_config_keys_match_keras(case: tuple[str, str, dict[str, Any], bool]) -> None:
    _, name, kwargs, _ = case
    if name == "LossScaleOptimizer":
        k_opt = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD())
        t_opt = tg.optimizers.LossScaleOptimizer(tg.optimizers.SGD())
    else:
        k_opt, t_opt = _pair(name, kwargs)
    k_config, t_config = k_opt.get_config(), t_opt.get_config()
    assert sorted(t_config) == sorted(k_config)
    for key, value in t_config.items():
        if key in ("name", "inner_optimizer"):
            continue  # Keras names instances uniquely (adam_1, ...); the inner: below
        assert (
            value == pytest.approx(k_config[key])
            if isinstance(value, float)
            else (value == k_config[key])
        ), key
    # Keras' config loads in tapegrad (its class name resolved by tapegrad).
    rebuilt = type(t_opt).from_config(
        {k: v for k, v in k_config.items() if k != "inner_optimizer"}
        | (
            {"inner_optimizer": tg.optimizers.serialize(tg.optimizers.SGD())}
            if name == "LossScaleOptimizer"
            else {}
        )
    )
    assert type(rebuilt) is type(t_opt)


def _multi(module: Any) -> Any:
    opts = module.optimizers
    mapping = opts.OptimizerMap(
        opts.SGD(learning_rate=0.1, momentum=0.5),
        {"kernel": opts.Adam(learning_rate=0.01), "emb.*|conv": opts.RMSprop(learning_rate=0.01)},
    )
    return opts.MultiOptimizer(mapping, loss_scale_factor=2.0)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compiled"])
def test_multi_optimizer_matches_keras(compiled: bool) -> None:
    grads = _gradients()
    expected = _keras_run(_multi(keras), grads)
    _compare(expected, _tapegrad_run(_multi(tg), grads, compiled=compiled))


def test_multi_optimizer_config_matches_keras() -> None:
    k_config, t_config = _multi(keras).get_config(), _multi(tg).get_config()
    assert sorted(t_config) == sorted(k_config)
    k_map, t_map = k_config["optimizer_map"]["config"], t_config["optimizer_map"]["config"]
    assert sorted(t_map) == sorted(k_map)
    assert sorted(t_map["optimizer_map"]) == sorted(k_map["optimizer_map"])
    # Keras' serialized MultiOptimizer loads in tapegrad.
    loaded = tg.optimizers.deserialize(keras.optimizers.serialize(_multi(keras)))
    assert isinstance(loaded, tg.optimizers.MultiOptimizer)
    assert loaded.loss_scale_factor == 2.0
    assert sorted(type(o).__name__ for o in loaded.optimizers) == ["Adam", "RMSprop", "SGD"]


@pytest.mark.parametrize("wrapped", [False, True], ids=["adam", "loss-scale-adam"])
def test_stateless_apply_matches_keras_and_leaves_the_variables(wrapped: bool) -> None:
    def make(module: Any) -> Any:
        inner = module.optimizers.Adam(learning_rate=0.01)
        if not wrapped:
            return inner
        return module.optimizers.LossScaleOptimizer(inner, initial_scale=4.0)

    grads = _gradients(bad_step=2 if wrapped else None)
    expected = _keras_run(make(keras), grads)
    optimizer = make(tg)
    variables = [tg.Variable(v, name=n) for n, v in zip(SHAPES, _values(0), strict=True)]
    optimizer.build(variables)
    before = [v.numpy().copy() for v in [*variables, *optimizer.variables]]
    trainable, state = list(variables), list(optimizer.variables)
    for step in grads:
        trainable, state = optimizer.stateless_apply(state, [tg.tensor(g) for g in step], trainable)
    names = [v.name for v in optimizer.variables]
    result = ([t.numpy() for t in trainable], names, [s.numpy() for s in state])
    _compare(expected, result)
    for old, variable in zip(before, [*variables, *optimizer.variables], strict=True):
        np.testing.assert_array_equal(variable.numpy(), old)
