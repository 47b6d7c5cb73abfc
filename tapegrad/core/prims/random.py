"""Random primitives: ops whose results are random numbers.

They are primitives (not NumPy calls inside a layer) so a traced graph draws fresh
numbers at each run instead of freezing the trace's draw as a constant.

* ``dropout_mask`` draws from a NumPy generator held as a parameter: `stateful` keeps
  graph passes from folding, merging or hoisting it.
* ``random_draw`` is a pure function of a seed *state* (``[seed, counter]``, the shape of
  Keras' ``SeedGenerator`` state): the caller advances the state (a Variable update,
  which a traced graph records as well), so eager and compiled runs draw the same
  numbers and a saved state resumes the stream exactly.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np

from tapegrad.core import tensor as _tensor
from tapegrad.core.primitive import Primitive


def _dropout_mask(
    x: Any, *, rate: float, shape: tuple[int, ...], generator: np.random.Generator
) -> np.ndarray:
    if _tensor._trace_hook is not None:
        # Tracing runs the op once on the traced call's values: draw from a copy, so the
        # trace leaves the generator as it was and the first compiled run draws what an
        # eager call would have (seeded runs match eager ones).
        generator = copy.deepcopy(generator)
    dtype = np.asarray(x).dtype if np.asarray(x).dtype.kind == "f" else np.dtype(np.float32)
    # float32 draws for masks of float32 and narrower (float64 ones only for float64): a
    # 2**-24 grid is far finer than any rate, and the draw takes half the memory and time.
    draw = generator.random(shape, dtype=np.float32 if dtype.itemsize <= 4 else np.float64)
    scale = np.ones((), dtype) / dtype.type(1.0 - rate)
    # The mask is written over the draw: one pass, no second mask-sized array.
    mask = np.multiply(draw >= draw.dtype.type(rate), scale, out=draw)
    return mask if mask.dtype == dtype else mask.astype(dtype)


# dropout_mask(x): kept positions hold 1 / (1 - rate), dropped ones 0, in x's float dtype;
# `x` only ties the draw to the data it masks (and gives the dtype). No gradient flows
# into x through the mask (it does not depend on x's values).
dropout_mask_p = Primitive("dropout_mask", _dropout_mask, differentiable=False, returns="unknown")
dropout_mask_p.stateful = True


# -- random_draw: one distribution per name, each ``f(rng, a, b, shape, dtype)`` ----------
def _normal(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    return rng.normal(loc=a, scale=b, size=shape).astype(dtype)


def _uniform(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    out = np.asarray(rng.uniform(low=a, high=b, size=shape).astype(dtype))
    # Rounding to a narrower dtype can reach `maxval`, which the range excludes.
    high = np.broadcast_to(np.asarray(b, dtype), out.shape)
    at_high = out >= high
    if at_high.any():
        out[at_high] = np.nextafter(high, np.asarray(a, dtype))[at_high]
    return out


def _truncated_normal(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    # Keras' rule: redraw whatever falls more than two standard deviations from the mean.
    size = math.prod(shape)
    kept = np.empty(0)
    while kept.shape[0] < size:
        batch = rng.normal(loc=a, scale=b, size=size)
        kept = np.append(kept, batch[(batch >= a - 2 * b) & (batch <= a + 2 * b)])
    return kept[:size].astype(dtype).reshape(shape)


def _randint(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    return np.asarray(rng.integers(low=a, high=b, size=shape, dtype=dtype))


def _gamma(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    return rng.gamma(a, scale=1.0, size=shape).astype(dtype)


def _beta(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    return rng.beta(a=a, b=b, size=shape).astype(dtype)


def _binomial(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    return rng.binomial(n=a, p=b, size=shape).astype(dtype)


def _categorical(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    # a: logits (batch, classes); shape: (batch, num_samples). One row at a time, as
    # Keras' NumPy backend draws them.
    logits = np.asarray(a, np.float64)
    out = np.empty(shape, dtype)
    classes = np.arange(logits.shape[-1])
    for row, values in enumerate(logits):
        shifted = np.exp(values - values.max())
        out[row] = rng.choice(classes, size=shape[1], p=shifted / shifted.sum())
    return out


def _permuted(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    # Indices that shuffle each slice along axis `b` independently (NumPy's `permuted`,
    # Keras' NumPy and JAX backends): gathering with them keeps the gradient.
    axis = int(b)
    positions = np.arange(shape[axis], dtype=dtype).reshape(
        [-1 if k == axis else 1 for k in range(len(shape))]
    )
    return rng.permuted(np.broadcast_to(positions, shape), axis=axis)


def _dropout_keep(
    rng: np.random.Generator, a: Any, b: Any, shape: tuple[int, ...], dtype: np.dtype
) -> np.ndarray:
    # a: keep probability. Keras' NumPy backend draws the same comparison.
    return rng.uniform(size=shape) < a


#: The distributions `random_draw` knows, by name.
DISTRIBUTIONS = {
    "normal": _normal,
    "uniform": _uniform,
    "truncated_normal": _truncated_normal,
    "randint": _randint,
    "gamma": _gamma,
    "beta": _beta,
    "binomial": _binomial,
    "categorical": _categorical,
    "permuted": _permuted,
    "dropout_keep": _dropout_keep,
}


def _random_draw(
    state: Any, a: Any, b: Any, *, distribution: str, shape: tuple[int, ...], dtype: str
) -> np.ndarray:
    draw = DISTRIBUTIONS.get(distribution)
    if draw is None:
        raise ValueError(
            f"random_draw: unknown distribution {distribution!r}; known: {sorted(DISTRIBUTIONS)}"
        )
    seed = np.asarray(state)
    if seed.shape != (2,) or seed.dtype.kind not in "iu" or (seed < 0).any():
        raise ValueError(
            f"random_draw: the seed state must be two non-negative integers "
            f"[seed, counter], got {seed!r}"
        )
    # The same words give the same stream as Keras' NumPy backend for [seed, counter].
    rng = np.random.default_rng(seed)
    return draw(rng, a, b, tuple(shape), np.dtype(dtype))


# random_draw(state, a, b): numbers of `distribution` (parameters a, b) drawn from the
# stream that state = [seed, counter] names. Pure: the same state gives the same numbers.
random_draw_p = Primitive("random_draw", _random_draw, differentiable=False, returns="unknown")

__all__ = ["DISTRIBUTIONS", "dropout_mask_p", "random_draw_p"]
