"""Random ops for layers: dropout masks drawn by the stateful `dropout_mask` primitive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core.prims import dropout_mask_p
from tapegrad.core.tensor import shape_of


def layer_generator(seed: int | None) -> np.random.Generator:
    """The NumPy generator a layer draws its dropout masks from.

    Args:
        seed: The layer's seed, or None: a seed derived from the global seed
            (`tapegrad.utils.set_random_seed`, else NumPy's global generator), so unseeded
            layers are reproducible under either.

    Returns:
        A PCG64 generator (`tapegrad.nn.random_state` saves and restores its state).

    Examples:
        >>> layer_generator(3).random() == layer_generator(3).random()
        True
    """
    from tapegrad.random import make_default_seed

    return np.random.default_rng(make_default_seed() if seed is None else seed)


def dropout_mask(
    like: Any, rate: float, shape: Sequence[int], generator: np.random.Generator
) -> Any:
    """A keep-mask of ``shape``: ``1 / (1 - rate)`` where kept, ``0`` where dropped.

    Drawn by the stateful `dropout_mask` op, so a traced function draws a new mask every
    time its compiled code runs (a NumPy draw would be frozen into the trace).

    Args:
        like: The Tensor the mask is for: it gives the float dtype (float32 otherwise).
        rate: Drop probability in [0, 1).
        shape: The mask's shape.
        generator: NumPy generator to draw from.

    Returns:
        The mask, not recorded for gradients (it does not depend on ``like``'s values).

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> mask = dropout_mask(tg.tensor(np.ones(4)), 0.5, (4,), np.random.default_rng(0))
        >>> sorted(set(mask.numpy().tolist())) <= [0.0, 2.0]
        True
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout_mask: rate must be in [0, 1), got {rate}")
    return dropout_mask_p(
        like, rate=float(rate), shape=tuple(int(d) for d in shape), generator=generator
    )


def dropout(
    inputs: Any,
    rate: float,
    noise_shape: Sequence[int | None] | None = None,
    generator: np.random.Generator | None = None,
) -> Any:
    """Zero each element with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    Args:
        inputs: A float Tensor or array.
        rate: Drop probability in [0, 1).
        noise_shape: Shape of the mask, broadcast against ``inputs`` (None entries take
            the input's size), e.g. ``(batch, 1, features)`` to share it across time.
        generator: NumPy generator to draw from (default: a fresh one seeded by
            `layer_generator`). In a traced function each call of the compiled code draws
            anew from it.

    Returns:
        ``inputs * mask``; the gradient flows through the kept elements.

    Examples:
        >>> import numpy as np
        >>> import tapegrad as tg
        >>> out = dropout(tg.tensor(np.ones(1000)), 0.5, generator=np.random.default_rng(0))
        >>> sorted(set(np.round(out.numpy(), 3).tolist()))
        [0.0, 2.0]
    """
    if not 0 <= rate < 1:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate}")
    shape = tuple(shape_of(inputs))
    if noise_shape is not None:
        if len(noise_shape) != len(shape):
            raise ValueError(
                f"dropout: noise_shape {tuple(noise_shape)} has rank {len(noise_shape)}, "
                f"inputs {shape} have rank {len(shape)}"
            )
        shape = tuple(s if n is None else int(n) for s, n in zip(shape, noise_shape, strict=True))
    mask = dropout_mask_p(
        inputs,
        rate=float(rate),
        shape=shape,
        generator=generator if generator is not None else layer_generator(None),
    )
    return inputs * mask


__all__ = ["dropout", "dropout_mask", "layer_generator"]
