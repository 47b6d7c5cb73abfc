"""Keras-style utilities: gradient checking (`check_grads`) and `set_random_seed`."""

from __future__ import annotations

import random as _python_random
from typing import Any

import numpy as np


def set_random_seed(seed: Any) -> None:
    """Seed every random generator a tapegrad program draws from (Keras' name).

    Seeds Python's `random`, NumPy's global generator (initializers draw from it) and
    tapegrad's global seed, from which layers created without a seed (`Dropout`, the
    recurrent and attention dropouts), ``tapegrad.random`` draws with ``seed=None`` and
    `fit`'s shuffling derive. With it set, two runs of the same program are identical.

    Args:
        seed: A non-negative int.

    Raises:
        ValueError: ``seed`` is not a non-negative int.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> tg.utils.set_random_seed(0)
        >>> a = tg.random.normal((2,)).numpy()
        >>> tg.utils.set_random_seed(0)
        >>> bool((tg.random.normal((2,)).numpy() == a).all())
        True
    """
    from tapegrad import random as tapegrad_random

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise ValueError(
            f"set_random_seed: seed must be an int, got {seed!r} ({type(seed).__name__})"
        )
    if not 0 <= int(seed) < 2**32:
        # NumPy's legacy global generator takes seeds below 2**32.
        raise ValueError(f"set_random_seed: seed must be in [0, 2**32 - 1], got {seed}")
    seed = int(seed)
    _python_random.seed(seed)
    np.random.seed(seed)
    tapegrad_random.set_global_seed(seed)


def get_random_seed() -> int | None:
    """The seed last given to `set_random_seed`, or None if it was never called."""
    from tapegrad import random as tapegrad_random

    return tapegrad_random.get_global_seed()


__all__ = ["get_random_seed", "set_random_seed"]
