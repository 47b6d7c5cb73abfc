"""Random ops (Keras' ``keras.random`` family) built on the stateful random primitives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tapegrad.core.prims import dropout_mask_p
from tapegrad.core.tensor import shape_of


def dropout(inputs: Any, rate: float, noise_shape: Sequence[int | None] | None = None,
            generator: np.random.Generator | None = None) -> Any:
    """Zero each element with probability ``rate`` and scale the rest by ``1 / (1 - rate)``.

    Args:
        inputs: A float Tensor or array.
        rate: Drop probability in [0, 1).
        noise_shape: Shape of the mask, broadcast against ``inputs`` (None entries take
            the input's size), e.g. ``(batch, 1, features)`` to share it across time.
        generator: NumPy generator to draw from (default: a fresh unseeded one). In a
            traced function each call of the compiled code draws anew from it.

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
        shape = tuple(s if n is None else int(n) for s, n in zip(shape, noise_shape,
                                                                 strict=True))
    mask = dropout_mask_p(inputs, rate=float(rate), shape=shape,
                          generator=generator if generator is not None
                          else np.random.default_rng())
    return inputs * mask


__all__ = ["dropout"]
