"""Exact resume: save -> load -> fit(initial_epoch=k) equals an uninterrupted run, bit for bit.

Model archives carry every random state (`tapegrad.nn.random_state`: layer dropout
generators, SeedGenerators, fit's shuffling, epoch, step): after plain ``model.save`` /
``load_model`` the weights and every optimizer Variable must match an uninterrupted run
exactly, for every optimizer and learning-rate schedules, compiled and eager steps, and
through ModelCheckpoint. (A subclassed model cannot be saved: its test calls `capture` and
`restore` itself.)
"""

from __future__ import annotations

import copy
import json
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import layers
from tapegrad.nn.random_state import capture, restore

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 5)).astype(np.float32)
LABELS = RNG.integers(0, 3, 30)
SEQ = RNG.standard_normal((12, 4, 3)).astype(np.float32)
SEQ_Y = RNG.standard_normal((12, 2)).astype(np.float32)

OPTIMIZERS: dict[str, Callable[[], Any]] = {
    "sgd_momentum": lambda: tg.optimizers.SGD(0.05, momentum=0.9),
    "sgd_nesterov": lambda: tg.optimizers.SGD(0.05, momentum=0.8, nesterov=True),
    "adam": lambda: tg.optimizers.Adam(1e-2),
    "adamw": lambda: tg.optimizers.AdamW(1e-2, weight_decay=0.05),
    "rmsprop": lambda: tg.optimizers.RMSprop(1e-2, momentum=0.5),
    "adagrad": lambda: tg.optimizers.Adagrad(0.1),
    "adam_exponential_decay": lambda: tg.optimizers.Adam(
        tg.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=3, decay_rate=0.7)
    ),
    "adamw_cosine_decay": lambda: tg.optimizers.AdamW(
        tg.optimizers.schedules.CosineDecay(1e-2, decay_steps=12)
    ),
    "sgd_piecewise_constant": lambda: tg.optimizers.SGD(
        tg.optimizers.schedules.PiecewiseConstantDecay([5, 10], [0.1, 0.05, 0.01]), momentum=0.9
    ),
}


def _dense_model(optimizer: Callable[[], Any], jit: Any) -> tg.Model:
    tg.utils.set_random_seed(3)  # the same initial weights in every run
    model = tg.Sequential(
        [
            layers.Input((5,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(8, activation="tanh"),
            layers.Dropout(0.2),
            layers.Dense(3),
        ]
    )
    model.compile(
        optimizer=optimizer(),
        jit_compile=jit,
        loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _save_and_load(model: tg.Model, path: str) -> tg.Model:
    """Plain model.save + load_model: the archive carries the random state."""
    model.save(path)
    loaded = tg.models.load_model(path)
    assert capture(loaded) == capture(model)
    return loaded


def _assert_same_state(expected: tg.Model, actual: tg.Model) -> None:
    weights_a, weights_b = expected.get_weights(), actual.get_weights()
    assert len(weights_a) == len(weights_b) > 0
    for a, b in zip(weights_a, weights_b, strict=True):
        assert np.array_equal(a, b)
    slots_a, slots_b = expected.optimizer.variables, actual.optimizer.variables
    assert len(slots_a) == len(slots_b) > 0
    for a, b in zip(slots_a, slots_b, strict=True):
        assert np.array_equal(a.numpy(), b.numpy()), a.name
    assert capture(expected) == capture(actual)


@pytest.mark.parametrize("jit", ["auto", False])
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_resume_equals_uninterrupted_run(name: str, jit: Any, tmp_path: Any) -> None:
    uninterrupted = _dense_model(OPTIMIZERS[name], jit)
    uninterrupted.fit(X, LABELS, epochs=4, batch_size=8, verbose=0)

    first = _dense_model(OPTIMIZERS[name], jit)
    first.fit(X, LABELS, epochs=2, batch_size=8, verbose=0)
    resumed = _save_and_load(first, str(tmp_path / "model.tapegrad"))
    assert resumed.jit_compile == jit
    assert capture(resumed)["epoch"] == 2
    resumed.fit(X, LABELS, epochs=4, batch_size=8, verbose=0, initial_epoch=2)
    _assert_same_state(uninterrupted, resumed)
    if jit == "auto":  # the steps really ran compiled (no fallback to eager)
        assert resumed._compiled_steps["train"] is not None
        assert uninterrupted._compiled_steps["train"] is not None


def _sequence_model(jit: Any) -> tg.Model:
    tg.utils.set_random_seed(4)
    inputs = layers.Input((4, 3))
    hidden = layers.LSTM(5, dropout=0.3, recurrent_dropout=0.2, return_sequences=True)(inputs)
    hidden = layers.GRU(5, dropout=0.2, recurrent_dropout=0.3, return_sequences=True)(hidden)
    attended = layers.MultiHeadAttention(num_heads=2, key_dim=3, dropout=0.4)(hidden, hidden)
    hidden = layers.SimpleRNN(4, dropout=0.3, recurrent_dropout=0.3)(attended)
    outputs = layers.Dense(2)(layers.Dropout(0.25)(hidden))
    model = tg.Model(inputs, outputs)
    model.compile(optimizer=tg.optimizers.Adam(1e-2), loss="mse", jit_compile=jit)
    return model


@pytest.mark.parametrize("jit", ["auto", False])
def test_resume_with_recurrent_and_attention_dropout(jit: Any, tmp_path: Any) -> None:
    uninterrupted = _sequence_model(jit)
    uninterrupted.fit(SEQ, SEQ_Y, epochs=3, batch_size=4, verbose=0)
    first = _sequence_model(jit)
    first.fit(SEQ, SEQ_Y, epochs=1, batch_size=4, verbose=0)
    generators = capture(first)["generators"]
    assert len(generators) == 5  # LSTM, GRU and SimpleRNN cells, attention, Dropout
    resumed = _save_and_load(first, str(tmp_path / "seq.tapegrad"))
    resumed.fit(SEQ, SEQ_Y, epochs=3, batch_size=4, verbose=0, initial_epoch=1)
    _assert_same_state(uninterrupted, resumed)


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_compiled_recurrent_dropout_draws_the_eager_masks(kind: str) -> None:
    # The recurrent mask must be an op of the compiled graph (drawn anew at each run, the
    # masks an eager step draws), not a constant frozen when the step was traced.
    def make() -> Any:
        layer = getattr(layers, kind)(4, dropout=0.3, recurrent_dropout=0.5, seed=6)
        layer(SEQ[:3])
        return layer

    eager, compiled = make(), make()
    compiled.set_weights(eager.get_weights())
    step = tg.function(lambda v: compiled(v, training=True))
    outputs = []
    for _ in range(3):
        outputs.append(step(SEQ[:3]).numpy())
        np.testing.assert_array_equal(outputs[-1], eager(SEQ[:3], training=True).numpy())
    assert not np.array_equal(outputs[0], outputs[1])


class _Noisy(layers.Layer):
    """A user layer drawing from its own SeedGenerator (Keras' pattern)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed_generator = tg.random.SeedGenerator(21)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training:
            return inputs
        noisy = inputs + tg.random.normal(tuple(inputs.shape), stddev=0.1, seed=self.seed_generator)
        return tg.random.dropout(noisy, 0.3, seed=self.seed_generator)


def _noisy_model(jit: Any) -> tg.Model:
    tg.utils.set_random_seed(5)
    model = tg.Sequential([layers.Input((5,)), layers.Dense(6), _Noisy(), layers.Dense(3)])
    model.compile(
        optimizer=tg.optimizers.SGD(0.05, momentum=0.9),
        jit_compile=jit,
        loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.mark.parametrize("jit", [True, False])
def test_resume_with_a_user_seed_generator(jit: Any) -> None:
    # A subclassed layer cannot be loaded from an archive: rebuild it in code, copy the
    # weights and optimizer state, and restore the random state.
    uninterrupted = _noisy_model(jit)
    uninterrupted.fit(X, LABELS, epochs=3, batch_size=8, verbose=0)
    first = _noisy_model(jit)
    first.fit(X, LABELS, epochs=1, batch_size=8, verbose=0)
    state = json.loads(json.dumps(capture(first)))
    assert state["generators"]["_stack[1].seed_generator"] == {
        "kind": "seed_generator",
        "seed": 21,
        "counter": 2 * 4,
    }  # two draws, four steps
    tg.utils.set_random_seed(99)  # a different stream: restore must override it
    resumed = tg.Sequential([layers.Input((5,)), layers.Dense(6), _Noisy(), layers.Dense(3)])
    resumed.compile(
        optimizer=tg.optimizers.SGD(0.05, momentum=0.9),
        jit_compile=jit,
        loss=tg.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    resumed.set_weights(first.get_weights())
    resumed.optimizer.build(resumed.trainable_weights)
    for target, source in zip(resumed.optimizer.variables, first.optimizer.variables, strict=True):
        target.assign(source.numpy())
    restore(resumed, state)
    resumed.fit(X, LABELS, epochs=3, batch_size=8, verbose=0, initial_epoch=1)
    _assert_same_state(uninterrupted, resumed)


@pytest.mark.parametrize("jit", ["auto", False])
def test_resume_through_model_checkpoint(jit: Any, tmp_path: Any) -> None:
    # A run "interrupted" after its third epoch: ModelCheckpoint wrote an archive at the
    # end of each epoch; the last one is loaded and training continues from it.
    path = str(tmp_path / "last.tapegrad")
    uninterrupted = _dense_model(OPTIMIZERS["adam"], jit)
    uninterrupted.fit(X, LABELS, epochs=5, batch_size=8, verbose=0)
    interrupted = _dense_model(OPTIMIZERS["adam"], jit)
    interrupted.fit(
        X,
        LABELS,
        epochs=5,
        batch_size=8,
        verbose=0,
        callbacks=[
            tg.callbacks.ModelCheckpoint(path),
            tg.callbacks.LambdaCallback(
                on_epoch_end=lambda epoch, logs: setattr(interrupted, "stop_training", epoch == 2)
            ),
        ],
    )
    resumed = tg.models.load_model(path)
    epoch = capture(resumed)["epoch"]
    assert epoch == 3
    resumed.fit(
        X,
        LABELS,
        epochs=5,
        batch_size=8,
        verbose=0,
        initial_epoch=epoch,
        callbacks=[tg.callbacks.ModelCheckpoint(path)],
    )
    _assert_same_state(uninterrupted, resumed)
    _assert_same_state(uninterrupted, tg.models.load_model(path))


def test_archive_with_an_edited_random_state_is_refused(tmp_path: Any) -> None:
    model = _dense_model(OPTIMIZERS["sgd_momentum"], False)
    model.fit(X, LABELS, epochs=1, batch_size=8, verbose=0)
    path = str(tmp_path / "model.tapegrad")
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["random_state"]["fit_shuffle"]["counter"] = -1
    members["config.json"] = json.dumps(config).encode()
    edited = str(tmp_path / "edited.tapegrad")
    with zipfile.ZipFile(edited, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match=r"random_state.*'fit_shuffle'.*'counter'"):
        tg.models.load_model(edited)


def test_fit_shuffling_generator_lives_on_the_model() -> None:
    model = _dense_model(OPTIMIZERS["adam"], False)
    assert capture(model)["fit_shuffle"] is None
    model.fit(X, LABELS, epochs=3, batch_size=8, verbose=0)
    state = capture(model)
    assert state["fit_shuffle"]["counter"] == 3  # one draw per epoch
    assert state["epoch"] == 3 and state["step"] == 3 * 4
    model.fit(X, LABELS, epochs=2, batch_size=8, verbose=0, shuffle=False)
    assert capture(model)["fit_shuffle"]["counter"] == 5


def test_unseeded_runs_differ_and_seeded_runs_agree() -> None:
    def run(seed: int | None) -> list[np.ndarray]:
        if seed is not None:
            tg.utils.set_random_seed(seed)
        model = tg.Sequential([layers.Input((5,)), layers.Dropout(0.5), layers.Dense(3)])
        model.compile(optimizer="sgd", loss="mse")
        model.set_weights([np.full((5, 3), 0.1, np.float32), np.zeros(3, np.float32)])
        model.fit(X, np.ones((30, 3), np.float32), epochs=2, batch_size=4, verbose=0)
        return model.get_weights()

    seeded = [run(8), run(8)]
    for a, b in zip(*seeded, strict=True):
        np.testing.assert_array_equal(a, b)
    others = [run(None), run(None)]
    assert not all(np.array_equal(a, b) for a, b in zip(*others, strict=True))


def test_restore_is_in_place_for_compiled_steps() -> None:
    # The compiled step holds the layers' generators: restoring must not replace them.
    model = _dense_model(OPTIMIZERS["sgd_momentum"], True)
    model.fit(X, LABELS, epochs=1, batch_size=8, verbose=0)
    dropout = model.layers[1]
    generator = dropout._rng
    before = capture(model)
    model.fit(X, LABELS, epochs=1, batch_size=8, verbose=0)
    restore(model, before)
    assert dropout._rng is generator and capture(model) == before


def test_a_nested_models_own_fit_generator_is_not_a_layer_generator() -> None:
    inner = tg.Sequential([layers.Input((5,)), layers.Dropout(0.5, seed=1), layers.Dense(3)])
    inner.compile(optimizer="sgd", loss="mse")
    inner.fit(X, np.ones((30, 3), np.float32), epochs=1, verbose=0)  # inner's own fit state
    inputs = layers.Input((5,))
    outer = tg.Model(inputs, inner(inputs))
    state = json.loads(json.dumps(capture(outer)))
    assert [path.endswith("._rng") for path in state["generators"]] == [True]
    rebuilt_inner = tg.Sequential(
        [layers.Input((5,)), layers.Dropout(0.5, seed=2), layers.Dense(3)]
    )
    rebuilt_inputs = layers.Input((5,))
    rebuilt = tg.Model(rebuilt_inputs, rebuilt_inner(rebuilt_inputs))
    restore(rebuilt, state)
    assert capture(rebuilt)["generators"] == state["generators"]


# -- hostile documents ------------------------------------------------------------------------
def _reference_state() -> tuple[tg.Model, dict[str, Any]]:
    model = _dense_model(OPTIMIZERS["adam"], False)
    model.fit(X, LABELS, epochs=1, batch_size=8, verbose=0)
    return model, json.loads(json.dumps(capture(model)))


def _edited(state: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    copied = copy.deepcopy(state)
    edit(copied)
    return copied


PATH = "_stack[1]._rng"  # the first Dropout's generator
BAD_DOCUMENTS: list[tuple[str, Callable[[dict[str, Any]], Any], str]] = [
    ("not an object", lambda s: [s], "expected a JSON object"),
    ("unknown field", lambda s: _edited(s, lambda d: d.update(extra=1)), "unknown fields"),
    ("missing field", lambda s: _edited(s, lambda d: d.pop("step")), "missing fields"),
    ("format", lambda s: _edited(s, lambda d: d.update(format=2)), "'format'"),
    ("format bool", lambda s: _edited(s, lambda d: d.update(format=True)), "'format'"),
    ("negative epoch", lambda s: _edited(s, lambda d: d.update(epoch=-1)), "'epoch'"),
    ("float epoch", lambda s: _edited(s, lambda d: d.update(epoch=1.0)), "'epoch'"),
    ("bool step", lambda s: _edited(s, lambda d: d.update(step=True)), "'step'"),
    ("huge step", lambda s: _edited(s, lambda d: d.update(step=2**80)), "'step'"),
    (
        "shuffle kind",
        lambda s: _edited(s, lambda d: d["fit_shuffle"].update(kind="numpy")),
        "'fit_shuffle'",
    ),
    (
        "shuffle seed",
        lambda s: _edited(s, lambda d: d["fit_shuffle"].update(seed=-5)),
        "'fit_shuffle'",
    ),
    (
        "shuffle counter",
        lambda s: _edited(s, lambda d: d["fit_shuffle"].update(counter="1")),
        "'fit_shuffle'",
    ),
    ("shuffle list", lambda s: _edited(s, lambda d: d.update(fit_shuffle=[1, 2])), "'fit_shuffle'"),
    (
        "generators list",
        lambda s: _edited(s, lambda d: d.update(generators=[])),
        "'generators' must be an object",
    ),
    (
        "unknown generator",
        lambda s: _edited(
            s, lambda d: d["generators"].update({"_stack[9]._rng": d["generators"][PATH]})
        ),
        "does not have",
    ),
    (
        "missing generator",
        lambda s: _edited(s, lambda d: d["generators"].pop(PATH)),
        "lacks generators",
    ),
    (
        "generator kind",
        lambda s: _edited(s, lambda d: d["generators"][PATH].update(kind="seed_generator")),
        PATH,
    ),
    ("generator extra", lambda s: _edited(s, lambda d: d["generators"][PATH].update(more=1)), PATH),
    (
        "bit generator",
        lambda s: _edited(
            s, lambda d: d["generators"][PATH]["state"].update(bit_generator="MT19937")
        ),
        "bit_generator",
    ),
    (
        "state not hex",
        lambda s: _edited(s, lambda d: d["generators"][PATH]["state"]["state"].update(state="12")),
        "state.state.state",
    ),
    (
        "state int",
        lambda s: _edited(s, lambda d: d["generators"][PATH]["state"]["state"].update(state=12)),
        "state.state.state",
    ),
    (
        "state too wide",
        lambda s: _edited(
            s, lambda d: d["generators"][PATH]["state"]["state"].update(inc="0x" + "f" * 33)
        ),
        "state.state.inc",
    ),
    (
        "state missing",
        lambda s: _edited(s, lambda d: d["generators"][PATH]["state"]["state"].pop("inc")),
        "state.state",
    ),
    (
        "uinteger",
        lambda s: _edited(
            s, lambda d: d["generators"][PATH]["state"].update(uinteger="0x1" + "0" * 20)
        ),
        PATH,
    ),
]


@pytest.mark.parametrize("label", [row[0] for row in BAD_DOCUMENTS])
def test_restore_refuses_crafted_documents(label: str) -> None:
    model, state = _reference_state()
    _, make, fragment = next(row for row in BAD_DOCUMENTS if row[0] == label)
    before = capture(model)
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        restore(model, make(state))
    assert capture(model) == before  # nothing changed


_JUNK = [
    None,
    -1,
    0,
    2**200,
    1.5,
    float("nan"),
    True,
    "",
    "0x",
    "0xzz",
    "0x" + "f" * 40,
    [],
    {},
    [1, 2],
    {"a": 1},
    "PCG64",
    "seed_generator",
    "numpy",
]


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        found = [path] if path else []
        for key, value in node.items():
            found.extend(_leaves(value, path + (key,)))
        return found
    return [path]


def test_restore_fuzz_every_mutant_is_restored_or_refused_cleanly() -> None:
    model, state = _reference_state()
    rng = np.random.default_rng(1)
    paths = _leaves(state)
    outcomes = {"restored": 0, "refused": 0}
    for _ in range(600):
        mutant = copy.deepcopy(state)
        for _ in range(int(rng.integers(1, 4))):
            path = paths[int(rng.integers(len(paths)))]
            parent = mutant
            try:
                for key in path[:-1]:
                    parent = parent[key]
            except (KeyError, TypeError):
                continue
            if not isinstance(parent, dict):
                continue
            action = rng.integers(3)
            if action == 0:
                parent.pop(path[-1], None)
            elif action == 1:
                parent[path[-1]] = _JUNK[int(rng.integers(len(_JUNK)))]
            else:
                parent[str(rng.integers(1000))] = _JUNK[int(rng.integers(len(_JUNK)))]
        before = capture(model)
        try:
            restore(model, mutant)
        except ValueError:
            outcomes["refused"] += 1
            assert capture(model) == before
        else:
            outcomes["restored"] += 1
            restore(model, state)
    assert outcomes["refused"] > 500
