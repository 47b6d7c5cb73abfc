"""Random primitives: stateful ops whose every call draws new numbers.

They are primitives (not NumPy calls inside a layer) so a traced graph draws fresh
numbers at each run instead of freezing the trace's draw as a constant; `stateful`
keeps graph passes from folding, merging or hoisting them.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from tapegrad.core import tensor as _tensor
from tapegrad.core.primitive import Primitive


def _dropout_mask(x: Any, *, rate: float, shape: tuple[int, ...],
                  generator: np.random.Generator) -> np.ndarray:
    if _tensor._trace_hook is not None:
        # Tracing runs the op once on the traced call's values: draw from a copy, so the
        # trace leaves the generator as it was and the first compiled run draws what an
        # eager call would have (seeded runs match eager ones).
        generator = copy.deepcopy(generator)
    dtype = np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else np.dtype(np.float32)
    keep = generator.random(shape) >= rate
    return keep.astype(dtype) / dtype.type(1.0 - rate)


# dropout_mask(x): kept positions hold 1 / (1 - rate), dropped ones 0, in x's float dtype;
# `x` only ties the draw to the data it masks (and gives the dtype). No gradient flows
# into x through the mask (it does not depend on x's values).
dropout_mask_p = Primitive("dropout_mask", _dropout_mask, differentiable=False)
dropout_mask_p.stateful = True

__all__ = ["dropout_mask_p"]
