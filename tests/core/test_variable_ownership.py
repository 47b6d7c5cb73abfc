"""Variable updates decided by ownership (docs/architecture.md, `core.tensor.Variable`).

An update writes into the Variable's array only while the Variable owns it; every route by
which the array escapes (a view, ``numpy()``, a tape's record, a compiled function's output,
a Tensor made from the Variable, a transform's argument) keeps the old value visible to its
holder after an update. The common training steps stay in place, eager and compiled.
"""

from __future__ import annotations

import gc
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
import tapegrad.numpy as tnp
from tapegrad import layers, losses, optimizers
from tapegrad.core import prims
from tapegrad.core.primitive import PRIMITIVES, Primitive
from tapegrad.core.variable import mark_shared, owns_value, set_value, writable_value


def _variable(n: int = 6) -> tg.Variable:
    return tg.Variable(np.arange(n, dtype=np.float32).reshape(2, n // 2), name="w")


def _data(v: tg.Variable) -> int:
    """Where the Variable's array lives (read without `numpy()`, which hands it out)."""
    return int(v._value.__array_interface__["data"][0])


def _one_update(v: tg.Variable) -> None:
    v.assign_add(np.ones(v.shape, np.float32))


# -- what owning means -------------------------------------------------------------------


def test_a_new_variable_owns_its_array_and_updates_in_place() -> None:
    v = _variable()
    before = _data(v)
    _one_update(v)
    v.assign_sub(tg.tensor(np.ones((2, 3), np.float32)))
    v.assign(np.zeros((2, 3), np.float32))
    assert owns_value(v) and _data(v) == before
    assert v.numpy().tolist() == [[0.0] * 3] * 2


@pytest.mark.parametrize(
    "make",
    [
        lambda a: a,
        lambda a: tg.tensor(a),
        lambda a: tg.Variable(a),
        lambda a: a[:, :2],  # a view of the caller's array
    ],
    ids=["ndarray", "tensor", "variable", "view"],
)
def test_a_variable_never_aliases_the_value_it_was_made_from(make: Callable[[Any], Any]) -> None:
    source = make(np.ones((2, 3), np.float32))
    v = tg.Variable(source)
    _one_update(v)
    held = source._value if isinstance(source, tg.Tensor) else source
    assert np.all(held == 1.0) and not np.shares_memory(v._value, held)
    assert owns_value(v)


def test_ops_whose_result_is_new_leave_the_variable_owning_its_array() -> None:
    v = _variable()
    x = tg.tensor(np.ones((3, 2), np.float32))
    _ = v * 2.0, v @ x, tnp.sum(v), tnp.exp(v), v + v, tg.ops.matmul(v, x)
    assert owns_value(v)


def test_the_alias_fact_comes_from_the_primitive_record() -> None:
    assert not prims.add_p.may_alias and not prims.matmul_p.may_alias
    assert prims.reshape_p.may_alias and prims.transpose_p.may_alias
    assert all(
        p.may_alias == (p.returns not in ("fresh", "fresh_like_inputs"))
        for p in PRIMITIVES.values()
    )
    # An undeclared primitive (a user's) may alias; declaring "fresh" clears it.
    square = Primitive("square_ownership_example", lambda x: x * x, register=False)
    assert square.may_alias
    square.returns = "fresh"
    assert not square.may_alias


def test_an_aliasing_primitive_marks_only_the_variables_it_views() -> None:
    v = _variable()
    y = tnp.astype(v, np.float64)  # `cast` may alias (same dtype), but this is a new array
    assert owns_value(v) and not np.shares_memory(y.numpy(), v._value)
    same = tnp.astype(v, np.float32)
    assert np.shares_memory(same._value, v._value) and not owns_value(v)


# -- every escape route keeps the old value for its holder -------------------------------

VIEWS: dict[str, Callable[[tg.Variable], Any]] = {
    "reshape": lambda v: v.reshape(-1),
    "transpose": lambda v: v.T,
    "basic_index": lambda v: v[1],
    "slice": lambda v: v[:, 1:],
    "squeeze": lambda v: tnp.expand_dims(v, 0),
    "stop_gradient": lambda v: tg.ops.stop_gradient(v),
    "split": lambda v: tnp.split(v, 3, axis=1)[0],
}


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_a_view_keeps_its_value_after_an_update(name: str) -> None:
    v = _variable()
    view = VIEWS[name](v)
    expected = np.array(view.numpy(), copy=True)
    before = _data(v)
    _one_update(v)
    assert np.array_equal(view.numpy(), expected)
    assert np.array_equal(v._value, np.arange(6, dtype=np.float32).reshape(2, 3) + 1)
    # A new array, which the Variable owns: the next update is in place again.
    assert _data(v) != before and owns_value(v)
    after = _data(v)
    _one_update(v)
    assert _data(v) == after


@pytest.mark.parametrize(
    "hand_out",
    [lambda v: v.numpy(), lambda v: np.asarray(v), lambda v: v.__array__()],
    ids=["numpy", "asarray", "__array__"],
)
def test_a_handed_out_array_keeps_its_value(hand_out: Callable[[tg.Variable], Any]) -> None:
    v = _variable()
    held = hand_out(v)
    _one_update(v)
    assert held.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert v.numpy().tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]


def test_copies_and_snapshots_do_not_take_ownership_away() -> None:
    v = _variable()
    copies = np.array(v), v.value, np.asarray(v, dtype=np.float64), float(v[0, 0]), v.tolist()
    assert owns_value(v)
    _one_update(v)
    assert copies[0][0, 0] == 0.0 and copies[1].numpy()[0, 0] == 0.0


def test_a_tensor_made_from_a_variable_keeps_its_value() -> None:
    v = _variable()
    t = tg.tensor(v)
    _one_update(v)
    assert t.numpy()[0, 0] == 0.0 and v.numpy()[0, 0] == 1.0


def test_a_tape_residual_is_the_value_the_op_read() -> None:
    v = _variable()
    x = tg.tensor(np.full((2, 3), 2.0, np.float32))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tnp.sum(v * x)
    assert not owns_value(v)  # the tape's record holds v's array
    _one_update(v)
    grad = tape.gradient(y, x)
    assert grad.numpy().tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert owns_value(v)  # the non-persistent tape released its lease


def test_an_update_inside_the_tape_is_seen_by_later_ops_only() -> None:
    v = tg.Variable(np.array([2.0], np.float32))
    with tg.GradientTape() as tape:
        first = v * v  # reads 2
        v.assign_add(np.array([1.0], np.float32))
        second = v * v  # reads 3
        total = tnp.sum(first + second)
    assert tape.gradient(total, v).numpy().tolist() == [10.0]  # 2*2 + 2*3


def test_a_persistent_tape_holds_its_lease_until_it_is_collected() -> None:
    v = _variable()
    x = tg.tensor(np.ones((2, 3), np.float32))
    tape = tg.GradientTape(persistent=True)
    with tape:
        tape.watch(x)
        y = tnp.sum(v * x)
    for step in range(3):
        first = tape.gradient(y, x).numpy()
        assert first.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]], step
        _one_update(v)
    assert not owns_value(v)
    del tape, y
    gc.collect()
    assert owns_value(v)
    before = _data(v)
    _one_update(v)
    assert _data(v) == before


def test_reset_releases_the_lease() -> None:
    v = _variable()
    with tg.GradientTape(persistent=True) as tape:
        _ = v * 2.0
        assert not owns_value(v)
        tape.reset()
        assert owns_value(v)


def test_variables_a_tape_does_not_watch_are_leased_when_recorded() -> None:
    frozen = tg.Variable(np.array([3.0], np.float32), trainable=False)
    x = tg.tensor(np.array([1.0], np.float32))
    for watch_accessed in (True, False):
        with tg.GradientTape(watch_accessed_variables=watch_accessed) as tape:
            tape.watch(x)
            y = frozen * x
        frozen.assign(np.array([5.0], np.float32))
        assert tape.gradient(y, x).numpy().tolist() == [3.0], watch_accessed
        frozen.assign(np.array([3.0], np.float32))
    # An op that the tape does not record (no watched input) takes no lease.
    with tg.GradientTape() as tape:
        _ = frozen * 2.0
        assert owns_value(frozen)


def test_a_tape_not_watching_variables_leases_them_all_while_it_lives() -> None:
    w = tg.Variable(np.array([2.0], np.float32))
    x = tg.tensor(np.array([3.0], np.float32))
    out, back = tg.vjp(lambda x_: w * x_, x)  # w is read, not differentiated
    assert not owns_value(w) and not owns_value(tg.Variable([0.0]))
    w.assign(np.array([5.0], np.float32))
    assert back(tg.tensor(np.array([1.0], np.float32)))[0].numpy().tolist() == [2.0]
    del out, back
    gc.collect()
    assert owns_value(w)
    # grad's tape is done when grad returns: the update after it is in place.
    before = _data(w)
    g = tg.grad(lambda x_: tnp.sum(w * x_))(x)
    w.assign_sub(g)
    assert _data(w) == before and w._value.tolist() == [0.0]  # 5 - d(w x)/dx


def test_a_transform_argument_keeps_its_value() -> None:
    v = _variable()
    out, back = tg.vjp(lambda w: w * 1.0, v)
    _one_update(v)
    assert out.numpy()[0, 0] == 0.0
    assert back(tg.tensor(np.ones((2, 3), np.float32)))[0].numpy().tolist() == [[1.0] * 3] * 2
    w = _variable()
    same = tg.vjp(lambda a: a, w)[0]
    _one_update(w)
    assert same.numpy()[0, 0] == 0.0


@pytest.mark.parametrize("jit", [True, False])
def test_a_compiled_output_keeps_its_value_after_eager_and_compiled_updates(jit: bool) -> None:
    v = _variable()
    read = tg.function(lambda: v.reshape(-1), jit=jit)
    out = read()
    _one_update(v)
    assert out.numpy().tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    step = tg.function(lambda: v.assign_add(tnp.ones((2, 3))), jit=jit)
    held = read()
    step()
    step()
    assert held.numpy().tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    assert v.numpy().tolist() == [[3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]


def test_a_compiled_update_leaves_handed_out_arrays_and_tape_records_alone() -> None:
    v = _variable()
    step = tg.function(lambda: v.assign_sub(tnp.ones((2, 3))))
    step()  # traced and compiled; v owns its array again
    held = v.numpy()
    step()
    assert held.tolist() == [[-1.0, 0.0, 1.0], [2.0, 3.0, 4.0]]
    x = tg.tensor(np.ones((2, 3), np.float32))
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tnp.sum(v * x)
    step()
    assert tape.gradient(y, x).numpy().tolist() == [[-2.0, -1.0, 0.0], [1.0, 2.0, 3.0]]


def test_the_ownership_functions() -> None:
    v = _variable()
    assert writable_value(v) is v._value
    mark_shared(v)
    copy = writable_value(v)
    assert copy is not v._value and np.array_equal(copy, v._value)
    set_value(v, copy, exclusive=True)
    assert owns_value(v) and v._value is copy
    set_value(v, np.zeros((2, 3), np.float32), exclusive=False)
    assert not owns_value(v)


# -- the training step stays in place ------------------------------------------------------


def _model() -> Any:
    rng = np.random.default_rng(0)
    model = tg.Sequential(
        [layers.Input(shape=(4,)), layers.Dense(8, activation="relu"), layers.Dense(3)]
    )
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    return model, x, y


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_the_eager_training_step_updates_in_place(name: str) -> None:
    model, x, y = _model()
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = getattr(optimizers, name)(0.01)

    def step() -> None:
        with tg.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_weights)
        optimizer.apply_gradients(zip(grads, model.trainable_weights, strict=True))

    step()  # builds the optimizer's slots
    weights = list(model.trainable_weights) + list(optimizer.variables)
    before = [_data(w) for w in weights]
    values = [np.array(w._value, copy=True) for w in model.trainable_weights]
    for _ in range(3):
        step()
    assert [_data(w) for w in weights] == before
    assert all(owns_value(w) for w in weights)
    assert not any(
        np.array_equal(a, w._value) for a, w in zip(values, model.trainable_weights, strict=True)
    )


@pytest.mark.parametrize("norm", ["BatchNormalization", "LayerNormalization"])
def test_normalization_weights_are_updated_in_place(norm: str) -> None:
    rng = np.random.default_rng(1)
    model = tg.Sequential([layers.Input(shape=(4,)), getattr(layers, norm)(), layers.Dense(2)])
    model.compile(optimizer=optimizers.SGD(0.01), loss="mse")
    x, y = rng.standard_normal((8, 4)).astype(np.float32), np.zeros((8, 2), np.float32)
    model.train_on_batch(x, y)
    # (the moving statistics are assigned during the forward pass, under the step's tape)
    before = [_data(w) for w in model.trainable_weights]
    for _ in range(3):
        model.train_on_batch(x, y)
    assert [_data(w) for w in model.trainable_weights] == before


def test_fit_and_compiled_training_steps_update_in_place() -> None:
    for jit in (False, True):
        model, x, y = _model()
        model.compile(
            optimizer=optimizers.SGD(0.01),
            loss=losses.SparseCategoricalCrossentropy(from_logits=True),
            jit_compile=jit,
        )
        model.train_on_batch(x, y)
        before = [_data(w) for w in model.trainable_weights]
        values = [np.array(w._value, copy=True) for w in model.trainable_weights]
        for _ in range(3):
            model.train_on_batch(x, y)
        assert [_data(w) for w in model.trainable_weights] == before
        assert not np.array_equal(values[0], model.trainable_weights[0]._value)


# -- threads -------------------------------------------------------------------------------


@pytest.fixture()
def _frequent_switches() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.mark.usefixtures("_frequent_switches")
def test_tapes_of_several_threads_lease_a_shared_variable() -> None:
    v = _variable()
    expected = np.array(v._value, copy=True)
    errors: list[str] = []

    def work(seed: int) -> None:
        x = tg.tensor(np.full((2, 3), float(seed), np.float32))
        for _ in range(100):
            with tg.GradientTape() as tape:
                tape.watch(x)
                y = tnp.sum(v * x)
            if not np.array_equal(tape.gradient(y, x).numpy(), expected):
                errors.append(f"thread {seed}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert owns_value(v)  # every lease of every thread released
    before = _data(v)
    _one_update(v)
    assert _data(v) == before


@pytest.mark.usefixtures("_frequent_switches")
def test_a_thread_holding_a_tape_keeps_its_residual_while_another_updates() -> None:
    v = _variable()
    x = tg.tensor(np.ones((2, 3), np.float32))
    recorded, updated = threading.Event(), threading.Event()
    result: list[Any] = []

    def holder() -> None:
        with tg.GradientTape() as tape:
            tape.watch(x)
            y = tnp.sum(v * x)
        recorded.set()
        updated.wait(10)
        result.append(tape.gradient(y, x).numpy())

    thread = threading.Thread(target=holder)
    thread.start()
    recorded.wait(10)
    _one_update(v)  # another thread's update: a new array
    updated.set()
    thread.join()
    assert result[0].tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert v.numpy().tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
