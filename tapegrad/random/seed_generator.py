"""Seeds: the global seed and generator, `SeedGenerator`, the state checks, and `_draw`,
which draws from the stream a seed names and advances a generator's state."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from tapegrad.core.prims.random import random_draw_p
from tapegrad.core.tensor import Tensor, Variable

# Seeds are non-negative (NumPy's SeedSequence refuses negative words) and fit an int64
# (the state Variable's dtype).
_MAX_SEED = 2**63 - 1
_ADVANCE = np.array([0, 1], np.int64)

_lock = threading.Lock()
_global_seed: int | None = None
_seed_stream: np.random.Generator | None = None  # derives default seeds after set_seed
_global_generator: SeedGenerator | None = None


def _check_seed_value(seed: Any, where: str) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(f"{where}: seed must be an int, got {seed!r} ({type(seed).__name__})")
    if not 0 <= int(seed) <= _MAX_SEED:
        raise ValueError(f"{where}: seed must be in [0, 2**63 - 1], got {seed}")
    return int(seed)


def make_default_seed() -> int:
    """A seed for something created without one (a layer, a generator, `fit`'s shuffling).

    After `tapegrad.utils.set_random_seed(s)` the seeds come from a stream seeded by ``s``
    (separate from NumPy's global generator, so adding a seeded-by-default object does not
    change the weights initializers draw); before, from NumPy's global generator.

    Returns:
        An int in ``[1, 2**31 - 1)``.

    Examples:
        >>> import tapegrad as tg
        >>> tg.utils.set_random_seed(3)
        >>> first = make_default_seed()
        >>> tg.utils.set_random_seed(3)
        >>> make_default_seed() == first
        True
    """
    with _lock:
        if _seed_stream is not None:
            return int(_seed_stream.integers(1, 2**31 - 1))
    return int(np.random.randint(1, 2**31 - 1))


def set_global_seed(seed: int) -> None:
    """Seed the global `SeedGenerator` and the stream of default seeds (no other seeding).

    `tapegrad.utils.set_random_seed` calls this and also seeds NumPy and Python.

    Args:
        seed: A non-negative int.
    """
    global _global_seed, _seed_stream
    seed = _check_seed_value(seed, "set_random_seed")
    with _lock:
        _global_seed = seed
        _seed_stream = np.random.default_rng(seed)
        generator = _global_generator
    if generator is not None:
        # Reseeded in place: compiled functions that drew with seed=None hold its state.
        generator.set_state({"seed": _global_generator_seed(), "counter": 0})


def _global_generator_seed() -> int:
    """The global generator's seed: a function of the global seed alone when one is set
    (whether the generator exists yet or not), so runs after `set_random_seed` agree."""
    if _global_seed is not None:
        return int(np.random.default_rng([_global_seed, 1]).integers(1, 2**31 - 1))
    return make_default_seed()


def get_global_seed() -> int | None:
    """The seed given to `tapegrad.utils.set_random_seed`, or None when none was."""
    return _global_seed


def global_seed_generator() -> SeedGenerator:
    """The `SeedGenerator` that draws with ``seed=None`` use (made on first use)."""
    global _global_generator
    generator = _global_generator
    if generator is None:
        generator = SeedGenerator(_global_generator_seed(), name="global_seed_generator")
        with _lock:
            if _global_generator is None:
                _global_generator = generator
            generator = _global_generator
    return generator


class SeedGenerator:
    """A stateful source of seeds: each draw that uses it gets new numbers.

    Its state is ``[seed, counter]`` (Keras' layout) in a non-trainable int64 Variable:
    draws read it and add one to the counter, eagerly or inside `tapegrad.function`.
    `get_state` / `set_state` save and restore it (model archives do this for the
    generators layers hold).

    Args:
        seed: A non-negative int, or None for a default seed (`make_default_seed`).
        name: Name of the generator (and of its state Variable).

    Examples:
        >>> from tapegrad.random import normal
        >>> gen = SeedGenerator(seed=1337)
        >>> gen.get_state()
        {'seed': 1337, 'counter': 0}
        >>> first = normal((3,), seed=gen)
        >>> gen.get_state()
        {'seed': 1337, 'counter': 1}
        >>> gen.set_state({"seed": 1337, "counter": 0})
        >>> bool((normal((3,), seed=gen).numpy() == first.numpy()).all())
        True
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments {sorted(kwargs)}")
        if name is not None and not isinstance(name, str):
            raise ValueError(f"SeedGenerator: name must be a str, got {name!r}")
        self.name = name or "seed_generator"
        self._initial_seed = None if seed is None else _check_seed_value(seed, "SeedGenerator")
        start = self._initial_seed if self._initial_seed is not None else make_default_seed()
        self.state = Variable(
            np.array([start, 0], np.int64),
            trainable=False,
            name=f"{self.name}/seed_generator_state",
        )
        # Reading the state and advancing it are two steps: threads sharing a generator
        # (the global one) would otherwise draw the same numbers.
        self.lock = threading.RLock()

    def next(self, ordered: bool = True) -> Tensor:
        """The current ``[seed, counter]`` (a copy), then advance the counter by one.

        Args:
            ordered: Accepted for Keras compatibility; the counter always advances by one.

        Returns:
            An int64 Tensor of shape ``(2,)``.
        """
        with self.lock:
            current = self.state.value
            self.state.assign_add(_ADVANCE)
        return current

    def get_state(self) -> dict[str, int]:
        """The state as ``{"seed": int, "counter": int}`` (JSON-serialisable)."""
        seed, counter = (int(v) for v in np.asarray(self.state._value))
        return {"seed": seed, "counter": counter}

    def set_state(self, state: Any) -> None:
        """Restore a state from `get_state` (checked: a ValueError names the bad field).

        The state Variable is updated in place, so compiled functions that use this
        generator continue from the restored state.
        """
        seed, counter = check_state(state, f"SeedGenerator '{self.name}'")
        self.state.assign(np.array([seed, counter], np.int64))

    def get_config(self) -> dict[str, Any]:
        """Keras' config: the initial seed (None when it was defaulted) and the name."""
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        state = self.get_state()
        return f"<SeedGenerator name={self.name} seed={state['seed']} counter={state['counter']}>"


def check_state(state: Any, where: str) -> tuple[int, int]:
    """Validate a `SeedGenerator.get_state` dict; returns ``(seed, counter)``.

    Raises:
        ValueError: naming ``where`` and the bad field.
    """
    if not isinstance(state, dict):
        raise ValueError(
            f"{where}: state must be a dict {{'seed', 'counter'}}, got {type(state).__name__}"
        )
    if set(state) != {"seed", "counter"}:
        raise ValueError(
            f"{where}: state must have exactly the fields 'seed' and "
            f"'counter', got {sorted(map(str, state))}"
        )
    values = []
    for field in ("seed", "counter"):
        value = state[field]
        if isinstance(value, bool) or not isinstance(value, int) or not (0 <= value <= _MAX_SEED):
            raise ValueError(
                f"{where}: state field {field!r} must be an int in [0, 2**63 - 1], got {value!r}"
            )
        values.append(value)
    return values[0], values[1]


# -- draws ----------------------------------------------------------------------------------
def _draw(
    seed: Any, where: str, a: Any, b: Any, distribution: str, shape: tuple[int, ...], dtype: Any
) -> Tensor:
    """Draw from the stream ``seed`` names, advancing a SeedGenerator's state."""
    if seed is None:
        seed = global_seed_generator()
    if isinstance(seed, SeedGenerator):
        with seed.lock:
            out = random_draw_p(
                seed.state, a, b, distribution=distribution, shape=shape, dtype=np.dtype(dtype).name
            )
            seed.state.assign_add(_ADVANCE)
    elif isinstance(seed, int | np.integer) and not isinstance(seed, bool):
        state = np.array([_check_seed_value(seed, where), 0], np.int64)
        out = random_draw_p(
            state, a, b, distribution=distribution, shape=shape, dtype=np.dtype(dtype).name
        )
    else:
        raise ValueError(
            f"{where}: seed must be an int, a SeedGenerator or None, got "
            f"{seed!r} ({type(seed).__name__})"
        )
    return out if isinstance(out, Tensor) else Tensor._wrap(out)
