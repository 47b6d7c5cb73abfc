"""tapegrad.random (Keras' keras.random) and tapegrad.utils.set_random_seed."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import random as tr

# name -> (call with a seed, expected shape, expected dtype)
DRAWS = {
    "normal": (lambda s: tr.normal((3, 4), seed=s), (3, 4), "float32"),
    "uniform": (lambda s: tr.uniform((5,), minval=-1.0, maxval=2.0, seed=s), (5,), "float32"),
    "truncated_normal": (lambda s: tr.truncated_normal((2, 3), seed=s), (2, 3), "float32"),
    "randint": (lambda s: tr.randint((4, 2), 0, 10, seed=s), (4, 2), "int32"),
    "categorical": (lambda s: tr.categorical(np.zeros((2, 5)), 7, seed=s), (2, 7), "int32"),
    "dropout": (lambda s: tr.dropout(np.ones((4, 6), np.float32), 0.5, seed=s), (4, 6), "float32"),
    "shuffle": (lambda s: tr.shuffle(np.arange(12.0).reshape(4, 3), seed=s), (4, 3), "float64"),
    "gamma": (lambda s: tr.gamma((6,), alpha=2.0, seed=s), (6,), "float32"),
    "beta": (lambda s: tr.beta((6,), alpha=2.0, beta=3.0, seed=s), (6,), "float32"),
    "binomial": (
        lambda s: tr.binomial((6,), counts=10, probabilities=0.3, seed=s),
        (6,),
        "float32",
    ),
}


@pytest.mark.parametrize("name", sorted(DRAWS))
def test_draw_shapes_dtypes_and_seeds(name: str) -> None:
    draw, shape, dtype = DRAWS[name]
    first = draw(7)
    assert isinstance(first, tg.Tensor)
    assert first.shape == shape and first.dtype == np.dtype(dtype)
    # An int seed is stateless: the same numbers on every call.
    np.testing.assert_array_equal(draw(7).numpy(), first.numpy())
    # A SeedGenerator is stateful: new numbers per call, the same sequence per seed.
    gen_a, gen_b = tr.SeedGenerator(11), tr.SeedGenerator(11)
    a1, a2 = draw(gen_a).numpy(), draw(gen_a).numpy()
    np.testing.assert_array_equal(draw(gen_b).numpy(), a1)
    np.testing.assert_array_equal(draw(gen_b).numpy(), a2)
    assert gen_a.get_state() == {"seed": 11, "counter": 2}
    # The first draw of SeedGenerator(s) is the draw of seed=s (Keras' [seed, 0]).
    np.testing.assert_array_equal(draw(tr.SeedGenerator(7)).numpy(), first.numpy())
    # seed=None: the global generator, which advances.
    assert draw(None).shape == shape


def test_generators_draw_new_numbers() -> None:
    gen = tr.SeedGenerator(0)
    draws = [tr.normal((8,), seed=gen).numpy() for _ in range(3)]
    assert not np.array_equal(draws[0], draws[1])
    assert not np.array_equal(draws[1], draws[2])
    assert not np.array_equal(tr.normal((8,)).numpy(), tr.normal((8,)).numpy())


def test_seed_generator_state_round_trip() -> None:
    gen = tr.SeedGenerator(123, name="g")
    tr.uniform((3,), seed=gen)
    saved = gen.get_state()
    expected = [tr.uniform((3,), seed=gen).numpy() for _ in range(2)]
    other = tr.SeedGenerator(9)
    other.set_state(saved)
    np.testing.assert_array_equal(tr.uniform((3,), seed=other).numpy(), expected[0])
    np.testing.assert_array_equal(tr.uniform((3,), seed=other).numpy(), expected[1])
    assert tr.SeedGenerator.from_config(gen.get_config()).get_state() == {"seed": 123, "counter": 0}
    seed, counter = (int(v) for v in gen.next().numpy())
    assert (seed, counter) == (123, 3) and gen.get_state()["counter"] == 4


@pytest.mark.parametrize(
    "state, fragment",
    [
        ([1, 2], "must be a dict"),
        ({"seed": 1}, "exactly the fields"),
        ({"seed": 1, "counter": 0, "x": 2}, "exactly the fields"),
        ({"seed": -1, "counter": 0}, "'seed'"),
        ({"seed": 1, "counter": 2**63}, "'counter'"),
        ({"seed": 1.5, "counter": 0}, "'seed'"),
        ({"seed": True, "counter": 0}, "'seed'"),
    ],
)
def test_seed_generator_refuses_bad_states(state: object, fragment: str) -> None:
    gen = tr.SeedGenerator(1)
    with pytest.raises(ValueError, match=fragment):
        gen.set_state(state)
    assert gen.get_state() == {"seed": 1, "counter": 0}


def test_compiled_draws_equal_eager_draws_and_advance() -> None:
    compiled_gen, eager_gen = tr.SeedGenerator(5), tr.SeedGenerator(5)

    def body(x: object, gen: tr.SeedGenerator) -> object:
        noisy = x + tr.normal((3,), seed=gen) + tr.uniform((3,), seed=gen)
        return tr.dropout(noisy, 0.5, seed=gen)

    step = tg.function(lambda x: body(x, compiled_gen))
    x = np.ones(3, np.float32)
    outs = []
    for _ in range(3):
        out = step(x).numpy()
        np.testing.assert_array_equal(out, body(x, eager_gen).numpy())
        outs.append(out)
    assert not np.array_equal(outs[0], outs[1])
    assert compiled_gen.get_state() == eager_gen.get_state() == {"seed": 5, "counter": 9}


def test_compiled_int_seed_is_stateless_and_global_draws_advance() -> None:
    fixed = tg.function(lambda x: x + tr.normal((4,), seed=3))
    unseeded = tg.function(lambda x: x + tr.normal((4,)))
    x = np.zeros(4, np.float32)
    np.testing.assert_array_equal(fixed(x).numpy(), fixed(x).numpy())
    np.testing.assert_array_equal(fixed(x).numpy(), tr.normal((4,), seed=3).numpy())
    assert not np.array_equal(unseeded(x).numpy(), unseeded(x).numpy())


def test_set_random_seed_reseeds_global_draws_of_compiled_functions() -> None:
    # A compiled function holds the global generator's state: reseeding works in place.
    unseeded = tg.function(lambda x: x + tr.normal((4,)))
    x = np.zeros(4, np.float32)
    tg.utils.set_random_seed(10)
    first = [unseeded(x).numpy(), tr.normal((4,)).numpy()]
    tg.utils.set_random_seed(10)
    second = [unseeded(x).numpy(), tr.normal((4,)).numpy()]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)


def test_dropout_and_shuffle_carry_gradients() -> None:
    x = tg.tensor(np.arange(1.0, 7.0, dtype=np.float32))
    grad = tg.grad(lambda v: tr.dropout(v, 0.5, seed=1).sum())(x).numpy()
    kept = tr.dropout(x, 0.5, seed=1).numpy() != 0
    np.testing.assert_array_equal(grad, np.where(kept, 2.0, 0.0))
    grad = tg.grad(lambda v: (tr.shuffle(v, seed=2) * np.arange(6.0)).sum())(x).numpy()
    order = tr.shuffle(np.arange(6), seed=2).numpy()
    np.testing.assert_array_equal(grad[order], np.arange(6.0))


def test_dropout_noise_shape_and_limits() -> None:
    x = np.ones((4, 5, 3), np.float32)
    out = tr.dropout(x, 0.5, noise_shape=(None, 1, 3), seed=0).numpy()
    assert (out == out[:, :1, :]).all()  # one mask across axis 1
    np.testing.assert_array_equal(tr.dropout(x, 0.0, seed=0).numpy(), x)
    np.testing.assert_array_equal(tr.dropout(x, 1.0, seed=0).numpy(), np.zeros_like(x))


def test_shuffle_permutes_each_slice() -> None:
    x = np.arange(20).reshape(4, 5)
    out = tr.shuffle(x, axis=1, seed=0).numpy()
    np.testing.assert_array_equal(np.sort(out, axis=1), x)
    out = tr.shuffle(x, axis=0, seed=0).numpy()
    np.testing.assert_array_equal(np.sort(out, axis=0), x)
    assert not np.array_equal(out, x)


def test_distributions_are_sane() -> None:
    # Loose statistical checks (100k samples; the bounds hold with a wide margin).
    n = (100_000,)
    normal = tr.normal(n, mean=2.0, stddev=3.0, seed=0).numpy()
    assert abs(normal.mean() - 2.0) < 0.05 and abs(normal.std() - 3.0) < 0.05
    uniform = tr.uniform(n, minval=-2.0, maxval=4.0, seed=0).numpy()
    assert uniform.min() >= -2.0 and uniform.max() < 4.0 and abs(uniform.mean() - 1.0) < 0.05
    truncated = tr.truncated_normal(n, mean=1.0, stddev=0.5, seed=0).numpy()
    assert truncated.min() >= 0.0 and truncated.max() <= 2.0
    assert abs(truncated.std() - 0.5 * 0.8796) < 0.01  # a normal truncated at 2 sigma
    ints = tr.randint(n, 3, 7, seed=0).numpy()
    assert set(np.unique(ints)) == {3, 4, 5, 6}
    gamma = tr.gamma(n, alpha=3.0, seed=0).numpy()
    assert abs(gamma.mean() - 3.0) < 0.05
    beta = tr.beta(n, alpha=2.0, beta=6.0, seed=0).numpy()
    assert abs(beta.mean() - 0.25) < 0.01
    binomial = tr.binomial(n, counts=20, probabilities=0.25, seed=0).numpy()
    assert abs(binomial.mean() - 5.0) < 0.05 and binomial.max() <= 20
    logits = np.log(np.array([[0.1, 0.6, 0.3]]))
    samples = tr.categorical(logits, 100_000, seed=0).numpy()
    np.testing.assert_allclose(
        np.bincount(samples[0], minlength=3) / 1e5, [0.1, 0.6, 0.3], atol=0.01
    )
    kept = tr.dropout(np.ones(n, np.float32), 0.3, seed=0).numpy()
    assert abs((kept > 0).mean() - 0.7) < 0.01 and abs(kept.mean() - 1.0) < 0.02


def test_uniform_float32_never_reaches_maxval() -> None:
    # float64 draws just below 1.0 round to 1.0 in float32: those are moved below maxval.
    out = tr.uniform((2_000_000,), seed=0).numpy()
    assert out.dtype == np.float32 and out.max() < 1.0


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: tr.normal((2, -1)), "shape must be a tuple of non-negative ints"),
        (lambda: tr.normal("ab"), "shape must be"),
        (lambda: tr.normal((2,), dtype="int32"), "requires a floating point dtype"),
        (lambda: tr.normal((2,), dtype="nonsense"), "dtype"),
        (lambda: tr.normal((2,), seed="x"), "seed must be an int, a SeedGenerator or None"),
        (lambda: tr.normal((2,), seed=-3), "seed must be in"),
        (lambda: tr.normal((2,), seed=1.5), "seed must be"),
        (lambda: tr.normal((2,), mean="a"), "mean must be a number"),
        (lambda: tr.normal((2,), stddev=float("nan")), "stddev must be finite"),
        (lambda: tr.uniform((2,), minval=1.0, maxval=1.0), "minval must be below maxval"),
        (lambda: tr.randint((2,), 5, 5), "minval must be below maxval"),
        (lambda: tr.randint((2,), 0, 1.5), "maxval must be an int"),
        (lambda: tr.randint((2,), 0, 300, dtype="int8"), "does not fit dtype int8"),
        (lambda: tr.randint((2,), 0, 3, dtype="float32"), "requires an integer dtype"),
        (lambda: tr.truncated_normal((2,), stddev=0.0), "stddev must be positive"),
        (lambda: tr.categorical(np.zeros(3), 2), "2-D tensor"),
        (lambda: tr.categorical(np.zeros((2, 3)), -1), "num_samples"),
        (lambda: tr.dropout(np.ones(3, np.float32), 1.5), "rate must be a number in"),
        (lambda: tr.dropout(np.ones(3, np.int32), 0.5), "inputs must be floats"),
        (lambda: tr.dropout(np.ones((2, 3), np.float32), 0.5, noise_shape=(2,)), "noise_shape"),
        (
            lambda: tr.dropout(np.ones((2, 3), np.float32), 0.5, noise_shape=(2, 2)),
            "does not broadcast",
        ),
        (lambda: tr.shuffle(np.arange(3), axis=1), "axis 1 is out of range"),
        (lambda: tr.gamma((2,), alpha=0.0), "alpha must be positive"),
        (lambda: tr.beta((2,), alpha=1.0, beta=-1.0), "beta must be positive"),
        (lambda: tr.binomial((2,), counts=2.5, probabilities=0.5), "counts must be"),
        (lambda: tr.binomial((2,), counts=3, probabilities=1.5), "probabilities must be in"),
        (lambda: tr.SeedGenerator(seed="a"), "seed must be an int"),
        (lambda: tr.SeedGenerator(seed=1, bogus=2), "unrecognized keyword"),
        (lambda: tg.utils.set_random_seed(-1), "seed must be in"),
        (lambda: tg.utils.set_random_seed(2**40), "seed must be in"),
        (lambda: tg.utils.set_random_seed("1"), "seed must be an int"),
    ],
)
def test_bad_arguments_get_clear_errors(call: object, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        call()  # type: ignore[operator]


def _program_result() -> list[np.ndarray]:
    """A small program whose every random choice is unseeded."""
    model = tg.Sequential(
        [
            tg.layers.Input((4,)),
            tg.layers.Dense(6, activation="relu"),
            tg.layers.Dropout(0.4),
            tg.layers.Dense(2),
        ]
    )
    model.compile(optimizer="adam", loss="mse")
    x = np.linspace(-1, 1, 40, dtype=np.float32).reshape(10, 4)
    y = np.ones((10, 2), np.float32)
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    return model.get_weights() + [tr.normal((3,)).numpy()]


def test_set_random_seed_makes_runs_identical() -> None:
    tg.utils.set_random_seed(1234)
    first = _program_result()
    assert tg.utils.get_random_seed() == 1234
    tg.utils.set_random_seed(1234)
    second = _program_result()
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    tg.utils.set_random_seed(4321)
    assert not all(np.array_equal(a, b) for a, b in zip(first, _program_result(), strict=True))


def test_numpy_seed_alone_also_reproduces_unseeded_layers_and_shuffling() -> None:
    # Before any set_random_seed in a process, default seeds come from NumPy's generator.
    script = textwrap.dedent("""
        import numpy as np
        import tapegrad as tg
        np.random.seed(7)
        model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dropout(0.5),
                               tg.layers.Dense(2)])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((9, 3), np.float32), np.arange(18.0).reshape(9, 2), epochs=2,
                  batch_size=2, verbose=0)
        print(np.concatenate([w.ravel() for w in model.get_weights()]).tobytes().hex())
    """)
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and runs[0].strip()


def test_set_random_seed_reproduces_across_processes() -> None:
    script = textwrap.dedent("""
        import numpy as np
        import tapegrad as tg
        tg.utils.set_random_seed(5)
        model = tg.Sequential([tg.layers.Input((3,)), tg.layers.Dense(4),
                               tg.layers.Dropout(0.5), tg.layers.Dense(2)])
        model.compile(optimizer="adam", loss="mse")
        model.fit(np.ones((9, 3), np.float32), np.arange(18.0).reshape(9, 2), epochs=3,
                  batch_size=2, verbose=0)
        values = [w.ravel() for w in model.get_weights()] + [tg.random.normal((2,)).numpy()]
        print(np.concatenate(values).tobytes().hex())
    """)
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and runs[0].strip()


def test_threads_sharing_a_generator_never_draw_the_same_numbers():
    import sys
    import threading

    generator = tg.random.SeedGenerator(7)
    draws: list[tuple[float, ...]] = []
    counters: list[int] = []

    def work() -> None:
        for _ in range(100):
            draws.append(tuple(np.asarray(tg.random.uniform((3,), seed=generator)).tolist()))
            counters.append(int(np.asarray(generator.next())[1]))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so a race would show
    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert len(set(draws)) == 400 and len(set(counters)) == 400
