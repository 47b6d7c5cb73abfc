"""What fit/evaluate/predict read: arrays, generators, iterables, PyDataset (Keras 3's data
adapters), with steps_per_epoch / validation_steps, bounded memory and clear errors."""

from __future__ import annotations

import itertools
import threading
import time
import warnings
from typing import Any

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.nn.trainers import PyDataset, Sequence, unpack_x_y_sample_weight

L = tg.layers
RNG = np.random.default_rng(1)
X = RNG.standard_normal((40, 3)).astype(np.float32)
Y = (X.sum(axis=1, keepdims=True) * 0.5).astype(np.float32)


def _model(seed: int = 0, **compile_kwargs: Any) -> Any:
    tg.utils.set_random_seed(seed)
    model = tg.Sequential([L.Input(shape=(3,)), L.Dense(4, activation="tanh"), L.Dense(1)])
    model.compile(tg.optimizers.SGD(0.05), "mse", **compile_kwargs)
    return model


def _batches(size: int = 10, weights: bool = False) -> Any:
    for start in range(0, len(X), size):
        part = slice(start, start + size)
        if weights:
            yield X[part], Y[part], np.ones(len(X[part]), np.float32)
        else:
            yield X[part], Y[part]


class _Batches(PyDataset):
    def __init__(self, size: int = 10, delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size, self.delay = size, delay
        self.epochs_ended = 0
        self.requested: list[int] = []
        self.lock = threading.Lock()

    def __len__(self) -> int:
        return -(-len(X) // self.size)

    def __getitem__(self, index: int) -> Any:
        with self.lock:
            self.requested.append(index)
        if self.delay:
            time.sleep(self.delay)
        part = slice(index * self.size, (index + 1) * self.size)
        return X[part], Y[part]

    def on_epoch_end(self) -> None:
        self.epochs_ended += 1


def test_unpack_x_y_sample_weight_as_keras() -> None:
    assert unpack_x_y_sample_weight((1,)) == (1, None, None)
    assert unpack_x_y_sample_weight([1, 2, 3]) == (1, 2, 3)
    with pytest.raises(ValueError, match="Data is expected to be in format"):
        unpack_x_y_sample_weight((1, 2, 3, 4))
    assert Sequence is PyDataset


@pytest.mark.parametrize("jit_compile", ["auto", False])
def test_a_generator_trains_like_the_same_batches_as_arrays(jit_compile: Any) -> None:
    arrays = _model(jit_compile=jit_compile)
    arrays.fit(X, Y, batch_size=10, shuffle=False, verbose=0)
    streamed = _model(jit_compile=jit_compile)
    history = streamed.fit(_batches(10), verbose=0)
    for a, b in zip(arrays.get_weights(), streamed.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert len(history.history["loss"]) == 1
    weighted = _model(jit_compile=jit_compile)
    weighted.fit(_batches(10, weights=True), verbose=0)
    for a, b in zip(arrays.get_weights(), weighted.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_an_endless_generator_with_steps_per_epoch_is_read_on_across_epochs() -> None:
    drawn = []

    def endless() -> Any:
        for index in itertools.count():
            drawn.append(index)
            start = (index * 8) % 32
            yield X[start : start + 8], Y[start : start + 8]

    model = _model()
    history = model.fit(endless(), steps_per_epoch=3, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert drawn == list(range(6))  # six batches read, nothing read ahead or materialized
    assert model.evaluate(endless(), steps=2, verbose=0) > 0
    assert model.predict((x for x, _ in endless()), steps=2, verbose=0).shape == (16, 1)


def test_a_finite_generator_runs_out_after_its_first_epoch_with_a_warning() -> None:
    model = _model()
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(_batches(10), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1  # as Keras: training stops


def test_a_reiterable_iterable_is_read_afresh_every_epoch() -> None:
    # (A list would be array data, a list of inputs, as in Keras: an iterable of batches is
    # any other object with __iter__.)
    iterable = _Iterable(list(_batches(20)))
    model = _model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # never "ran out of data"
        history = model.fit(iterable, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3 and iterable.passes == 3


class _Iterable:
    def __init__(self, batches: list[Any]) -> None:
        self.batches, self.passes = batches, 0

    def __iter__(self) -> Any:
        self.passes += 1
        return iter(self.batches)


def test_validation_data_as_a_generator_with_validation_steps() -> None:
    def endless() -> Any:
        while True:
            yield X[:8], Y[:8]

    model = _model()
    history = model.fit(X, Y, epochs=2, verbose=0, validation_data=endless(), validation_steps=2)
    assert len(history.history["val_loss"]) == 2
    expected = model.evaluate(X[:8], Y[:8], verbose=0)
    assert history.history["val_loss"][-1] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("workers", [1, 3])
def test_py_dataset_feeds_fit_evaluate_predict(workers: int) -> None:
    reference = _model()
    reference.fit(X, Y, batch_size=10, shuffle=False, epochs=2, verbose=0)
    data = _Batches(workers=workers, use_multiprocessing=workers > 1)
    model = _model()
    model.fit(data, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert data.epochs_ended == 2
    assert model.evaluate(data, verbose=0) == pytest.approx(
        reference.evaluate(X, Y, verbose=0), rel=1e-5
    )
    np.testing.assert_allclose(
        model.predict(data, verbose=0), reference.predict(X, verbose=0), rtol=1e-5
    )


def test_py_dataset_shuffles_its_batch_order_from_the_seed() -> None:
    orders = []
    for _ in range(2):
        data = _Batches(size=5)
        _model(seed=4).fit(data, epochs=1, verbose=0)
        orders.append(list(data.requested))
    assert orders[0] == orders[1] and sorted(orders[0]) == list(range(8))
    assert orders[0] != list(range(8))


def test_py_dataset_workers_read_ahead_at_most_max_queue_size() -> None:
    data = _Batches(size=1, delay=0.002, workers=4, max_queue_size=3)
    seen = []

    class Watch(tg.callbacks.Callback):
        def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
            seen.append(len(data.requested) - (batch + 1))

    _model().fit(data, epochs=1, shuffle=False, verbose=0, callbacks=[Watch()])
    assert max(seen) <= 3
    assert data.requested == list(range(40))


def test_py_dataset_without_super_init_warns_like_keras() -> None:
    class NoSuper(PyDataset):
        def __init__(self) -> None:
            pass

        def __len__(self) -> int:
            return 1

        def __getitem__(self, index: int) -> Any:
            return X[:4], Y[:4]

    with pytest.warns(UserWarning, match="should call `super"):
        _model().fit(NoSuper(), verbose=0)


def test_lists_and_dicts_of_arrays_feed_a_two_input_model() -> None:
    first, second = L.Input(shape=(3,), name="first"), L.Input(shape=(3,), name="second")
    joined = L.Concatenate()([first, second])
    model = tg.Model({"first": first, "second": second}, L.Dense(1)(joined))
    model.compile("sgd", "mse")
    history = model.fit({"first": X, "second": X * 2}, Y, epochs=2, batch_size=8, verbose=0)
    assert len(history.history["loss"]) == 2

    def as_dicts() -> Any:
        while True:
            yield {"first": X[:8], "second": X[:8]}, Y[:8]

    model.fit(as_dicts(), steps_per_epoch=2, verbose=0)


class _FakeFrame:
    """Duck-typed like a pandas DataFrame (pandas is not a dependency)."""

    __module__ = "pandas.core.frame"

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def to_numpy(self) -> np.ndarray:
        return self.values

    def __len__(self) -> int:
        return len(self.values)


def test_pandas_objects_are_converted_with_to_numpy() -> None:
    model = _model()
    model.fit(
        _FakeFrame(X.astype(np.float64)), _FakeFrame(Y), batch_size=10, shuffle=False, verbose=0
    )
    reference = _model()
    reference.fit(X, Y, batch_size=10, shuffle=False, verbose=0)
    for a, b in zip(reference.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert model.predict(_FakeFrame(X), verbose=0).shape == (40, 1)


def test_set_random_seed_seeds_the_shuffling() -> None:
    weights = []
    for _ in range(2):
        model = _model(seed=11)
        model.fit(X, Y, batch_size=4, epochs=2, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "data, error, fragments",
    [
        (
            lambda: (b for b in [(X[:4], Y[:4], None, None)]),
            ValueError,
            ("generator", "batch 0", "4 items"),
        ),
        (lambda: (b for b in ["text"]), ValueError, ("batch 0", "str")),
        (lambda: (b for b in [(X[:4], Y[:3])]), ValueError, ("disagree", "batch size")),
        (lambda: object(), TypeError, ("Unrecognized data type", "object")),
        (lambda: "text", TypeError, ("`x`", "string")),
    ],
    ids=["four-items", "string-batch", "mismatched-batch", "object", "string"],
)
def test_what_cannot_be_consumed_is_a_clear_error(
    data: Any, error: type[Exception], fragments: tuple[str, ...]
) -> None:
    with pytest.raises(error) as info:
        _model().fit(data(), verbose=0)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_batches_without_targets_for_a_compiled_loss_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"compiled loss 'mse' needs targets.*yield"):
        _model().fit((x for x, _ in _batches()), verbose=0)


def test_stream_arguments_that_keras_refuses() -> None:
    with pytest.raises(ValueError, match="`validation_split` is only supported"):
        _model().fit(_batches(), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="as a generator, `y` should not be passed"):
        _model().fit(_batches(), Y, verbose=0)
    with pytest.raises(ValueError, match="as a PyDataset, `sample_weights` should not be"):
        _model().fit(_Batches(), sample_weight=np.ones(40), verbose=0)
