"""Window geometry shared by the convolution (`conv.py`) and pooling (`pool.py`) primitives,
channels-last: ``x (N, *spatial, C)``, any number of spatial dims.

Params are canonical tuples (the ops layer builds them): ``strides``, ``dilation`` and
``window`` hold one int per spatial dim, ``padding`` one ``(lo, hi)`` pair per spatial dim
(negative values crop). ``None`` means strides of 1 (pools: the window), no padding, no
dilation.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tapegrad.core.tensor import shape_of


def canonical_params(nd: int, strides: Any, padding: Any, dilation: Any) -> tuple[Any, Any, Any]:
    """``(strides, padding, dilation)`` with ``None`` replaced by its default."""
    return (
        (1,) * nd if strides is None else strides,
        ((0, 0),) * nd if padding is None else padding,
        (1,) * nd if dilation is None else dilation,
    )


def output_shape(
    op: str,
    spatial: tuple[int, ...],
    window: tuple[int, ...],
    strides: Any,
    padding: Any,
    dilation: Any,
) -> tuple[int, ...]:
    """Output spatial shape; a clear error when a window does not fit the padded input."""
    if not len(window) == len(strides) == len(padding) == len(dilation) == len(spatial):
        raise ValueError(
            f"{op}: {len(spatial)} spatial dims but window {window}, strides {strides}, "
            f"padding {padding}, dilation {dilation}"
        )
    out = []
    for n, k, s, (lo, hi), d in zip(spatial, window, strides, padding, dilation, strict=True):
        span = n + lo + hi - d * (k - 1)
        if span < 1 or s < 1:
            raise ValueError(
                f"{op}: window {window} (dilation {dilation}) does not fit spatial shape "
                f"{spatial} padded by {padding} with strides {strides}"
            )
        out.append((span - 1) // s + 1)
    return tuple(out)


def pad_spatial(x: np.ndarray, padding: Any, value: Any = 0) -> np.ndarray:
    """Pad (or, for negative widths, crop) the spatial dims of a channels-last array."""
    if not any(lo or hi for lo, hi in padding):
        return x
    crop = tuple(
        slice(max(-lo, 0), n - max(-hi, 0))
        for (lo, hi), n in zip(padding, x.shape[1:-1], strict=True)
    )
    x = x[(slice(None),) + crop]
    grow = [(max(lo, 0), max(hi, 0)) for lo, hi in padding]
    if not any(lo or hi for lo, hi in grow):
        return x
    spatial = x.shape[1:-1]
    shape = (
        x.shape[0],
        *(n + lo + hi for n, (lo, hi) in zip(spatial, grow, strict=True)),
        x.shape[-1],
    )
    out = np.full(shape, value, dtype=x.dtype)
    inner = tuple(slice(lo, lo + n) for (lo, _), n in zip(grow, spatial, strict=True))
    out[(slice(None),) + inner] = x
    return out


def unpad_spatial(xp: np.ndarray, padding: Any, spatial: tuple[int, ...]) -> np.ndarray:
    """The transpose of `pad_spatial`: the cotangent of the unpadded input."""
    if not any(lo or hi for lo, hi in padding):
        return xp
    inner = tuple(
        slice(max(lo, 0), n - max(hi, 0))
        for (lo, hi), n in zip(padding, xp.shape[1:-1], strict=True)
    )
    if all(lo >= 0 and hi >= 0 for lo, hi in padding):
        return xp[(slice(None),) + inner]
    out = np.zeros((xp.shape[0], *spatial, xp.shape[-1]), dtype=xp.dtype)
    kept = tuple(
        slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(padding, spatial, strict=True)
    )
    out[(slice(None),) + kept] = xp[(slice(None),) + inner]
    return out


def strided_windows(
    xp: np.ndarray, window: tuple[int, ...], out: tuple[int, ...], strides: Any, dilation: Any
) -> np.ndarray:
    """A read-only view ``(N, *out, *window, C)`` of every window of ``xp`` (no copy)."""
    st = xp.strides
    spatial_st = st[1:-1]
    shape = (xp.shape[0], *out, *window, xp.shape[-1])
    view_st = (
        st[0],
        *(a * s for a, s in zip(spatial_st, strides, strict=True)),
        *(a * d for a, d in zip(spatial_st, dilation, strict=True)),
        st[-1],
    )
    return as_strided(xp, shape, view_st, writeable=False)


def window_slots(
    window: tuple[int, ...], out: tuple[int, ...], strides: Any, dilation: Any
) -> list[tuple[Any, ...]]:
    """For each window offset, the index of the padded-input elements it sees in every
    window: a strided slice shaped like the output."""
    return [
        (
            slice(None),
            *(
                slice(o * d, o * d + s * (m - 1) + 1, s)
                for o, d, s, m in zip(offset, dilation, strides, out, strict=True)
            ),
        )
        for offset in itertools.product(*(range(k) for k in window))
    ]


def spatial_shape(x: Any) -> tuple[int, ...]:
    """The spatial dims of a channels-last array or Tensor ``(N, *spatial, C)``."""
    return tuple(shape_of(x)[1:-1])
