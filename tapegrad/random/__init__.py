"""Random numbers the Keras 3 way (``keras.random``): seeds, `SeedGenerator`, draws.

Every draw takes ``seed=``:

* an ``int``: stateless — the same numbers on every call (Keras' rule);
* a `SeedGenerator`: stateful — each call draws new numbers and advances the generator,
  whose state (``[seed, counter]``) can be saved and restored to resume the stream;
* ``None`` (default): the global `SeedGenerator`, seeded by
  `tapegrad.utils.set_random_seed` (or from NumPy's global generator when no seed was set,
  so ``np.random.seed`` makes programs reproducible too).

Draws are the ``random_draw`` primitive on the generator's state, followed by the state's
update: inside `tapegrad.function` a `SeedGenerator`'s state is a Variable of the graph,
so a compiled function draws new numbers at every run — the very numbers an eager run
draws — and an ``int`` seed stays stateless (a constant of the graph).

Draws use Keras 3's NumPy backend's streams (``np.random.default_rng([seed, counter])``)
and sampling rules: normal, uniform, randint, dropout, shuffle, gamma, beta and binomial
give its very numbers for the same seed (categorical up to its softmax's rounding).

Examples:
    >>> import tapegrad as tg
    >>> gen = tg.random.SeedGenerator(42)
    >>> a = tg.random.normal((2, 3), seed=gen)
    >>> b = tg.random.normal((2, 3), seed=gen)
    >>> bool((a.numpy() == b.numpy()).all())
    False
    >>> (tg.random.uniform((2,), seed=7).numpy() == tg.random.uniform((2,), seed=7).numpy()).all()
    np.True_

The package: `seed_generator` holds the seeds (the global seed and generator,
`SeedGenerator`, the state checks and the stream a seed names), `draws` the draw functions.
"""

from tapegrad.random.draws import (
    beta,
    binomial,
    categorical,
    dropout,
    gamma,
    normal,
    randint,
    shuffle,
    truncated_normal,
    uniform,
)
from tapegrad.random.seed_generator import (
    SeedGenerator,
    get_global_seed,
    global_seed_generator,
    make_default_seed,
    set_global_seed,
)
from tapegrad.random.seed_generator import (
    check_state as check_state,  # not in __all__ (as before); nn.random_state uses it
)

__all__ = [
    "SeedGenerator",
    "beta",
    "binomial",
    "categorical",
    "dropout",
    "gamma",
    "get_global_seed",
    "global_seed_generator",
    "make_default_seed",
    "normal",
    "randint",
    "set_global_seed",
    "shuffle",
    "truncated_normal",
    "uniform",
]
